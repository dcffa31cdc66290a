/**
 * Small file-device requests run synchronously while they are fast: the guard
 * that decides it, and a file device whose requests go either way agreeing with
 * a plain model of the file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SYNC_GUARD, SYNC_MAX, SyncGuard, openBlockDevice } from "../../../src/io/file-device.ts";

const FAST = SYNC_GUARD.slowReadMs / 10;
const SLOW = SYNC_GUARD.slowReadMs * 100;
const TRIP = SYNC_GUARD.slowOf32;

/** A guard on a clock the test moves. */
function guard() {
  const clock = { now: 0 };
  return { clock, g: new SyncGuard(SYNC_GUARD.slowReadMs, () => clock.now) };
}

/** Milliseconds until the guard allows synchronous requests again, in 1 ms steps. */
function pauseOf(clock: { now: number }, g: SyncGuard): number {
  const start = clock.now;
  while (!g.allowed()) clock.now += 1;
  return clock.now - start;
}

test("the guard stays synchronous through fast requests and slow ones fewer than the limit in any 32", () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 300 }), (slowness) => {
      const { g } = guard();
      // Thin the slow ones out so that no 32 in a row hold TRIP of them.
      const recent: boolean[] = [];
      for (const wanted of slowness) {
        const slow = wanted && recent.slice(-31).filter(Boolean).length < TRIP - 1;
        recent.push(slow);
        assert.equal(g.allowed(), true);
        g.took(slow ? SLOW : FAST);
      }
    }),
  );
});

test("enough slow requests in 32 pause synchronous requests; a slow one right after the pause pauses them again, twice as long, up to a limit", () => {
  const { clock, g } = guard();
  for (let i = 1; i < TRIP; i++) {
    g.took(SLOW);
    g.took(FAST);
  }
  assert.equal(g.allowed(), true, "one slow request fewer is not enough");
  g.took(SLOW);
  assert.equal(g.allowed(), false, "the last one is");
  const pauses = [pauseOf(clock, g)];
  assert.ok(pauses[0]! > 0);
  for (let i = 0; i < 12; i++) {
    g.took(SLOW);
    pauses.push(pauseOf(clock, g));
  }
  assert.equal(pauses[1], 2 * pauses[0]!);
  assert.equal(pauses[2], 4 * pauses[0]!);
  const limit = pauses.at(-1)!;
  assert.ok(limit < 2 ** 12 * pauses[0]!, "the pause stops growing");
  assert.equal(pauses.at(-2), limit);

  // A long fast run shortens the next pause.
  for (let i = 0; i < 20 * SYNC_GUARD.fastRun; i++) g.took(FAST);
  for (let i = 0; i < TRIP; i++) g.took(SLOW);
  assert.ok(pauseOf(clock, g) < limit);
});

test("a file device gives the same bytes as a model whatever the request sizes, synchronous or not, at once or one by one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-sync-"));
  const SIZE = 256 * 1024;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            write: fc.boolean(),
            at: fc.nat(SIZE - 1),
            // Around SYNC_MAX: below, at and above it.
            length: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: SYNC_MAX - 8, max: SYNC_MAX + 8 }), fc.integer({ min: 1, max: 3 * SYNC_MAX })),
            seed: fc.nat(255),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        fc.boolean(),
        async (ops, together) => {
          const path = join(dir, "img");
          const model = Buffer.alloc(SIZE, 0x5a);
          writeFileSync(path, model);
          const dev = await openBlockDevice(path, { writable: true });
          try {
            // Concurrent requests may land in any order: those that run together touch disjoint ranges.
            const busy = new Uint8Array(SIZE);
            const run = async (op: (typeof ops)[number]) => {
              const at = Math.min(op.at, SIZE - op.length);
              if (together) {
                if (busy.subarray(at, at + op.length).some((b) => b !== 0)) return;
                busy.fill(1, at, at + op.length);
              }
              if (op.write) {
                const data = Buffer.alloc(op.length, op.seed);
                model.set(data, at);
                await dev.write(data, at);
              } else {
                const want = Buffer.from(model.subarray(at, at + op.length));
                const got = Buffer.alloc(op.length);
                await dev.read(got, at);
                assert.ok(got.equals(want), `read of ${op.length} at ${at}`);
              }
            };
            if (together) await Promise.all(ops.map(run));
            else for (const op of ops) await run(op);
          } finally {
            await dev.close();
          }
          assert.ok(readFileSync(path).equals(model));
        },
      ),
      { numRuns: 60 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
