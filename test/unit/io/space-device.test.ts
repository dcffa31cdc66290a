import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { canDiscard, canZeroFast, discardOn, writeZeroesOn } from "../../../src/io/discard.ts";
import { openBlockDevice } from "../../../src/io/file-device.ts";
import { MAX_TOOLS_AT_ONCE, TOOL_MIN_BYTES, runTool, withSpaceOps, type SpaceDevice, type ToolRunner } from "../../../src/io/space-device.ts";
import { readBytes } from "../../helpers/device-bytes.ts";

const MiB = 1 << 20;
const SIZE = 16 * MiB;
const FILL = 0xa5;

/** A fully allocated image of FILL bytes: what a discard frees and a zeroing must not. */
function image(dir: string, name = "pv.img"): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.alloc(SIZE, FILL));
  return path;
}

function withDir<T>(fn: (dir: string) => Promise<T>, parent = tmpdir()): Promise<T> {
  const dir = mkdtempSync(join(parent, "ulvm-space-"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** Whether every byte of `path` in [from, to) is `byte`. */
function uniform(path: string, from: number, to: number, byte: number): boolean {
  return to <= from || readBytes(path, from, to - from).equals(Buffer.alloc(to - from, byte));
}

const allocated = (path: string) => statSync(path).blocks * 512;

/** Runs the real tools and records each call that is not a probe; `fail` replaces a request's run. */
function recording(fail?: (file: string) => Promise<void>) {
  const calls: string[][] = [];
  let running = 0;
  let most = 0;
  const run: ToolRunner = async (file, args) => {
    if (args.some((a) => a.includes(".ulvm-space-probe-"))) return runTool(file, args);
    calls.push([file, ...args]);
    most = Math.max(most, ++running);
    try {
      await (fail ? fail(file) : runTool(file, args));
    } finally {
      running--;
    }
  };
  return { run, calls, most: () => most };
}

async function open(path: string, run?: ToolRunner): Promise<SpaceDevice> {
  return withSpaceOps(await openBlockDevice(path, { writable: true }), run);
}

test("on a file, discard punches a hole (space freed, size kept) and touches nothing outside its range", async () => {
  await withDir(async (dir) => {
    const path = image(dir);
    const dev = await open(path);
    try {
      assert.ok(canDiscard(dev) && canZeroFast(dev), "ext4/xfs under the temp dir punch holes and zero ranges");
      const before = allocated(path);
      const [offset, length] = [3 * MiB + 100, 4 * MiB + 7];
      await discardOn(dev, offset, length);
      assert.equal(statSync(path).size, SIZE);
      assert.ok(before - allocated(path) >= 4 * MiB - 8192, `${before} -> ${allocated(path)} bytes allocated`);
      assert.ok(uniform(path, 0, offset, FILL));
      assert.ok(uniform(path, offset + length, SIZE, FILL));
      assert.equal(readdirSync(dir).length, 1, "the probe's scratch file is gone");
    } finally {
      await dev.close();
    }
  });
});

test("on a file, writeZeroes reads back zeroes at any edges and keeps the range allocated", async () => {
  await withDir(async (dir) => {
    const path = image(dir);
    const dev = await open(path);
    try {
      const before = allocated(path);
      await fc.assert(
        fc.asyncProperty(fc.nat(SIZE - 1), fc.nat(3 * MiB), async (offset, want) => {
          const length = Math.min(want, SIZE - offset);
          await dev.write(Buffer.alloc(SIZE, FILL), 0);
          await dev.writeZeroes!(offset, length);
          assert.ok(uniform(path, 0, offset, FILL));
          assert.ok(uniform(path, offset, offset + length, 0));
          assert.ok(uniform(path, offset + length, SIZE, FILL));
          assert.ok(allocated(path) >= before, "zeroing frees nothing");
        }),
        { numRuns: 12 },
      );
    } finally {
      await dev.close();
    }
  });
});

test("ranges below the threshold spawn nothing: discard is skipped, zeroing writes; larger ones run one tool each", async () => {
  await withDir(async (dir) => {
    const path = image(dir);
    const rec = recording();
    const dev = await open(path, rec.run);
    try {
      const small = TOOL_MIN_BYTES - 512;
      await dev.discard!(0, small);
      await dev.writeZeroes!(2 * MiB, small);
      assert.deepEqual(rec.calls, []);
      assert.ok(uniform(path, 0, small, FILL), "a skipped discard leaves the data");
      assert.ok(uniform(path, 2 * MiB, 2 * MiB + small, 0));
      await dev.discard!(4 * MiB, TOOL_MIN_BYTES);
      await dev.writeZeroes!(8 * MiB, TOOL_MIN_BYTES);
      assert.deepEqual(rec.calls, [
        ["fallocate", "--punch-hole", "--keep-size", "-o", String(4 * MiB), "-l", String(TOOL_MIN_BYTES), path],
        ["fallocate", "--zero-range", "--keep-size", "-o", String(8 * MiB), "-l", String(TOOL_MIN_BYTES), path],
      ]);
      assert.ok(uniform(path, 8 * MiB, 9 * MiB, 0));
    } finally {
      await dev.close();
    }
  });
});

test(`no more than ${MAX_TOOLS_AT_ONCE} tools run at once, over all devices`, async () => {
  await withDir(async (dir) => {
    const rec = recording();
    const a = await open(image(dir, "a.img"), rec.run);
    const b = await open(image(dir, "b.img"), rec.run);
    try {
      const jobs = [];
      for (let i = 0; i < 6; i++) for (const dev of [a, b]) jobs.push(dev.writeZeroes!(i * 2 * MiB, 2 * MiB));
      await Promise.all(jobs);
      assert.equal(rec.calls.length, 12);
      assert.equal(rec.most(), MAX_TOOLS_AT_ONCE);
      for (const dev of [a, b]) assert.ok(uniform(dev.path, 0, 12 * MiB, 0));
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test("tmpfs refuses zero-range: the device discards but has no fast zeroing, and zeroing still writes zeroes", async () => {
  await withDir(async (dir) => {
    const path = image(dir);
    const dev = await open(path);
    try {
      assert.equal(canDiscard(dev), true);
      assert.equal(canZeroFast(dev), false);
      await writeZeroesOn(dev, MiB + 3, 2 * MiB);
      assert.ok(uniform(path, MiB + 3, 3 * MiB + 3, 0));
      assert.ok(uniform(path, 3 * MiB + 3, SIZE, FILL));
      const before = allocated(path);
      await discardOn(dev, 4 * MiB, 4 * MiB);
      assert.ok(before - allocated(path) >= 4 * MiB, "tmpfs punched the hole");
    } finally {
      await dev.close();
    }
  }, "/dev/shm");
});

test("a refusal found on first use falls back, is remembered and is not tried again; other failures are not", async () => {
  await withDir(async (dir) => {
    const path = image(dir);
    const unsupported = Object.assign(new Error("Command failed"), { code: 1, stderr: "fallocate: fallocate failed: Operation not supported\n" });
    const full = Object.assign(new Error("Command failed"), { code: 1, stderr: "fallocate: fallocate failed: No space left on device\n" });
    let failure: Error = full;
    const rec = recording(() => Promise.reject(failure));
    const dev = await open(path, rec.run);
    try {
      await dev.writeZeroes!(0, 2 * MiB);
      await dev.discard!(4 * MiB, 2 * MiB);
      assert.equal(rec.calls.length, 2);
      assert.ok(uniform(path, 0, 2 * MiB, 0), "a failed zeroing writes the zeroes");
      assert.ok(canZeroFast(dev) && canDiscard(dev), "ENOSPC is no refusal");

      failure = unsupported;
      const burst = [];
      for (let i = 0; i < 10; i++) burst.push(discardOn(dev, i * MiB, MiB));
      await Promise.all(burst);
      assert.equal(rec.calls.length, 2 + MAX_TOOLS_AT_ONCE, "requests queued behind the refusal do not try again");
      assert.equal(canDiscard(dev), false);
      await dev.writeZeroes!(8 * MiB, 2 * MiB);
      assert.equal(canZeroFast(dev), false);
      assert.ok(uniform(path, 8 * MiB, 10 * MiB, 0));
      await writeZeroesOn(dev, 14 * MiB, 2 * MiB);
      await discardOn(dev, 4 * MiB, 4 * MiB);
      assert.equal(rec.calls.length, 3 + MAX_TOOLS_AT_ONCE);
      assert.ok(uniform(path, 14 * MiB, SIZE, 0));
    } finally {
      await dev.close();
    }
  });
});

test("a missing tool is a refusal", async () => {
  await withDir(async (dir) => {
    const path = image(dir);
    const rec = recording(() => runTool("ulvm-no-such-tool", []));
    const dev = await open(path, rec.run);
    try {
      await dev.discard!(0, 2 * MiB);
      assert.equal(canDiscard(dev), false);
      assert.ok(uniform(path, 0, SIZE, FILL));
    } finally {
      await dev.close();
    }
  });
});

test("on a loop device, discard skips the unaligned edges and zeroing writes them; the backing file is punched or kept allocated", async () => {
  await withDir(async (dir) => {
    const backing = image(dir);
    const loop = execFileSync("losetup", ["-f", "--show", backing], { encoding: "utf8" }).trim();
    try {
      const rec = recording();
      const dev = await open(loop, rec.run);
      try {
        assert.ok(canDiscard(dev) && canZeroFast(dev), "a loop device on ext4/xfs discards and zeroes");
        const granule = Number(readFileSync(`/sys/block/${loop.slice(5)}/queue/discard_granularity`, "utf8"));
        const before = allocated(backing);
        const [offset, length] = [1000, 3 * MiB + 333];
        await dev.discard!(offset, length);
        await dev.flush();
        const [start, end] = [Math.ceil(offset / granule) * granule, Math.floor((offset + length) / granule) * granule];
        assert.ok(uniform(loop, 0, start, FILL), "the unaligned head is left alone");
        assert.ok(uniform(loop, start, end, 0), "the aligned middle is discarded");
        assert.ok(uniform(loop, end, SIZE, FILL), "the unaligned tail is left alone");
        assert.ok(before - allocated(backing) >= end - start, "the loop device punched its backing file");
        assert.deepEqual(rec.calls, [["blkdiscard", "--force", "-o", String(start), "-l", String(end - start), loop]]);

        await fc.assert(
          fc.asyncProperty(fc.nat(SIZE - 3 * MiB), fc.integer({ min: TOOL_MIN_BYTES + 1024, max: 3 * MiB }), async (at, length) => {
            await dev.write(Buffer.alloc(SIZE, FILL), 0);
            await dev.flush();
            const kept = allocated(backing);
            await dev.writeZeroes!(at, length);
            await dev.flush();
            assert.ok(uniform(loop, 0, at, FILL));
            assert.ok(uniform(loop, at, at + length, 0));
            assert.ok(uniform(loop, at + length, SIZE, FILL));
            assert.ok(allocated(backing) >= kept, "BLKZEROOUT leaves the range allocated");
          }),
          { numRuns: 8 },
        );
        const zeroouts = rec.calls.slice(1);
        assert.equal(zeroouts.length, 8, "every zeroing had an aligned middle worth a tool");
        assert.ok(zeroouts.every((c) => c[2] === "--zeroout" && Number(c[4]) % 512 === 0 && Number(c[6]) % 512 === 0));
      } finally {
        await dev.close();
      }
    } finally {
      execFileSync("losetup", ["-d", loop]);
    }
  });
});
