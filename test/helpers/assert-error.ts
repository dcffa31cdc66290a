/** The error `f` throws; fails the test when it throws none. */
import assert from "node:assert/strict";

export function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  assert.fail("no error thrown");
}
