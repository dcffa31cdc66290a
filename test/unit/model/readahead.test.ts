import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { PAGE_SECTORS, readAheadName, readAheadSetting, sameReadAhead } from "../../../src/core/model/readahead.ts";

test("auto stores nothing, none and 0 store -1", () => {
  assert.deepEqual(readAheadSetting("auto"), { stored: undefined });
  assert.deepEqual(readAheadSetting("none"), { stored: -1 });
  assert.deepEqual(readAheadSetting(0), { stored: -1 });
});

test("whole pages are kept; anything else is rounded down to whole pages, at least one, and reported", () => {
  assert.deepEqual(readAheadSetting(96), { stored: 96 });
  assert.deepEqual(readAheadSetting(100), { stored: 96, overridden: 96 });
  assert.deepEqual(readAheadSetting(3), { stored: 8, overridden: 8 });
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 32 }), (sectors) => {
      const { stored, overridden } = readAheadSetting(sectors);
      assert.equal(stored! % PAGE_SECTORS, 0);
      assert.ok(stored! <= Math.max(sectors, PAGE_SECTORS) && stored! > sectors - PAGE_SECTORS);
      assert.equal(overridden, sectors % PAGE_SECTORS ? stored : undefined);
    }),
  );
});

test("messages name none as 0, and metadata's 0 is auto like no field", () => {
  assert.equal(readAheadName(undefined), "auto");
  assert.equal(readAheadName(0), "auto");
  assert.equal(readAheadName(-1), "0");
  assert.equal(readAheadName(256), "256");
  assert.ok(sameReadAhead(0, undefined));
  assert.ok(!sameReadAhead(-1, undefined));
  assert.ok(!sameReadAhead(8, 16));
});
