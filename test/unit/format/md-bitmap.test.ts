import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { errorOf } from "../../helpers/assert-error.ts";
import { FormatError } from "../../../src/core/errors.ts";
import {
  BITMAP_MAGIC,
  BITMAP_SUPERBLOCK_SIZE,
  BITMAP_VERSION,
  BITMAP_VERSION_MAX,
  BITMAP_VERSION_MIN,
  BITMAP_WRITE_BEHIND_MAX,
  bitmapBytes,
  bitmapRegions,
  bitmapSpanBytes,
  clearRegionBit,
  countSetBits,
  decodeBitmapSuperblock,
  encodeBitmapSuperblock,
  getRegionBit,
  setRegionBit,
  type BitmapSuperblock,
} from "../../../src/core/format/md-bitmap.ts";

const KERNEL = new URL("../../fixtures/kernel/", import.meta.url);
/** The bitmap part of an rmeta the kernel wrote (it starts 4096 bytes in). */
const kernelBitmap = (file: string): Uint8Array => new Uint8Array(readFileSync(new URL(file, KERNEL))).slice(4096);
const states = JSON.parse(readFileSync(new URL("rmeta-states.json", KERNEL), "utf8")) as Record<
  string,
  { rmetas: string[]; regionSectors: number; lvSectors: number; dirtyRegions?: number[] }
>;

/** At most md's 2^32 regions, so the sync size depends on the chunk size. */
const chunkAndSyncSize = fc
  .integer({ min: 9, max: 31 })
  .chain((shift) =>
    fc.record({ chunksize: fc.constant(2 ** shift), syncSize: fc.bigInt({ min: 0n, max: 2n ** BigInt(shift - 9 + 32) }) }),
  );

const superblock = fc.record({
  version: fc.integer({ min: BITMAP_VERSION_MIN, max: BITMAP_VERSION_MAX }),
  uuid: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  events: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  eventsCleared: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  sizes: chunkAndSyncSize,
  state: fc.nat({ max: 0xffffffff }),
  daemonSleep: fc.integer({ min: 1, max: 0xffffffff }),
  writeBehind: fc.nat({ max: BITMAP_WRITE_BEHIND_MAX }),
  sectorsReserved: fc.nat({ max: 0xffffffff }),
  nodes: fc.nat({ max: 0xffffffff }),
  clusterName: fc.uint8Array({ minLength: 64, maxLength: 64 }),
}).map(({ sizes, ...rest }): BitmapSuperblock => ({ ...rest, ...sizes }));

function withU32(buf: Uint8Array, at: number, v: number): Uint8Array {
  const b = buf.slice();
  new DataView(b.buffer).setUint32(at, v, true);
  return b;
}

test("every bitmap superblock the kernel wrote decodes and re-encodes byte for byte", () => {
  for (const s of Object.values(states)) {
    for (const file of s.rmetas) {
      const raw = kernelBitmap(file);
      const sb = decodeBitmapSuperblock(raw);
      assert.deepEqual(encodeBitmapSuperblock(sb), raw.subarray(0, BITMAP_SUPERBLOCK_SIZE), file);
      assert.equal(sb.chunksize, s.regionSectors * 512, `${file}: chunksize is the region size in bytes`);
      assert.equal(sb.syncSize, BigInt(s.lvSectors), `${file}: sync_size covers one leg`);
    }
  }
});

test("regions map to bits LSB first from byte 256 of the bitmap, as the kernel set them", () => {
  const dirty = Object.values(states).find((s) => s.dirtyRegions)!;
  const raw = kernelBitmap(dirty.rmetas[0]!);
  const regions = bitmapRegions(decodeBitmapSuperblock(raw).syncSize, dirty.regionSectors * 512);
  const bits = raw.subarray(BITMAP_SUPERBLOCK_SIZE);
  const set = [...Array(regions).keys()].filter((r) => getRegionBit(bits, r));
  assert.deepEqual(set, dirty.dirtyRegions);
  const model = new Uint8Array(bitmapBytes(regions));
  for (const r of dirty.dirtyRegions!) setRegionBit(model, r);
  assert.deepEqual(bits.subarray(0, model.length), model);
  assert.equal(countSetBits(bits, regions), dirty.dirtyRegions!.length);
});

test("decode(encode(sb)) is the identity for every valid superblock", () => {
  fc.assert(
    fc.property(superblock, (sb) => {
      const enc = encodeBitmapSuperblock(sb);
      assert.equal(enc.length, BITMAP_SUPERBLOCK_SIZE);
      assert.equal(new DataView(enc.buffer).getUint32(0, true), BITMAP_MAGIC);
      assert.deepEqual(decodeBitmapSuperblock(enc), sb);
    }),
  );
});

test("superblocks md refuses to load are FormatErrors naming md's reason", () => {
  const good = kernelBitmap(states.vgclean!.rmetas[0]!);
  const cases: [Uint8Array, RegExp][] = [
    [withU32(good, 0x00, 0x6d746963), /bad bitmap magic 0x6d746963/],
    [withU32(good, 0x04, BITMAP_VERSION_MIN - 1), /unrecognized bitmap superblock version 2/],
    [withU32(good, 0x04, BITMAP_VERSION_MAX + 1), /unrecognized bitmap superblock version 6/],
    [withU32(good, 0x34, 256), /chunksize 256 too small/],
    [withU32(good, 0x34, 3 << 10), /chunksize 3072 not a power of 2/],
    [withU32(good, 0x38, 0), /daemon sleep period 0 out of range/],
    [withU32(good, 0x3c, BITMAP_WRITE_BEHIND_MAX + 1), /write-behind limit 16384 out of range/],
    [good.subarray(0, BITMAP_SUPERBLOCK_SIZE - 1), /truncated to 255 bytes/],
  ];
  for (const [buf, reason] of cases) {
    const e = errorOf(() => decodeBitmapSuperblock(buf));
    assert.ok(e instanceof FormatError, String(e));
    assert.match(e.message, reason);
  }
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0x28, 2n ** 63n, true);
  assert.throws(() => decodeBitmapSuperblock(huge), (e) => e instanceof FormatError && /absurd/.test(e.message));
});

test("decoding any bytes yields a superblock or a FormatError, nothing else", () => {
  const good = kernelBitmap(states.vgdirty!.rmetas[0]!).subarray(0, BITMAP_SUPERBLOCK_SIZE);
  const mutated = fc
    .array(fc.tuple(fc.nat({ max: BITMAP_SUPERBLOCK_SIZE - 1 }), fc.nat({ max: 255 })), { maxLength: 8 })
    .map((edits) => {
      const b = good.slice();
      for (const [at, v] of edits) b[at] = v;
      return b;
    });
  fc.assert(
    fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 300 })), (buf) => {
      try {
        // Every field byte survives; the pad after cluster_name (0x88 on) is not kept.
        const sb = decodeBitmapSuperblock(buf);
        assert.deepEqual(encodeBitmapSuperblock(sb).subarray(0, 0x88), buf.subarray(0, 0x88));
      } catch (e) {
        assert.ok(e instanceof FormatError, String(e));
      }
    }),
  );
});

test("encode refuses values that do not fit their fields", () => {
  const sb = decodeBitmapSuperblock(kernelBitmap(states.vgclean!.rmetas[0]!));
  const bad: Partial<BitmapSuperblock>[] = [
    { version: BITMAP_VERSION + 2 },
    { uuid: new Uint8Array(15) },
    { clusterName: new Uint8Array(65) },
    { events: -1n },
    { eventsCleared: 2n ** 64n },
    { state: 2 ** 32 },
    { chunksize: 1.5 * 2 ** 20 },
    { daemonSleep: 0 },
    { sectorsReserved: -1 },
  ];
  for (const over of bad) {
    assert.throws(() => encodeBitmapSuperblock({ ...sb, ...over }), FormatError, JSON.stringify(Object.keys(over)));
  }
});

test("region count, bit bytes and the 512-byte span the kernel writes", () => {
  assert.equal(bitmapRegions(32768n, 512 * 1024), 32);
  assert.equal(bitmapRegions(32769n, 512 * 1024), 33, "a partial last region counts");
  assert.equal(bitmapRegions(0n, 4096), 0);
  fc.assert(
    fc.property(fc.nat({ max: 1 << 24 }), (regions) => {
      const bytes = bitmapBytes(regions);
      assert.ok(bytes * 8 >= regions && (bytes - 1) * 8 < Math.max(regions, 1));
      const span = bitmapSpanBytes(regions);
      assert.equal(span % 512, 0);
      assert.ok(span >= BITMAP_SUPERBLOCK_SIZE + bytes && span - 512 < BITMAP_SUPERBLOCK_SIZE + bytes);
    }),
  );
});

test("bit helpers agree with a set of regions, and the count ignores the padding", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4000 }),
      fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 200 }),
      (regions, ops) => {
        const bits = new Uint8Array(bitmapSpanBytes(regions) - BITMAP_SUPERBLOCK_SIZE).fill(0xff);
        for (let r = 0; r < regions; r++) clearRegionBit(bits, r);
        const model = new Set<number>();
        for (const [set, n] of ops) {
          const r = n % regions;
          if (set) {
            setRegionBit(bits, r);
            model.add(r);
          } else {
            clearRegionBit(bits, r);
            model.delete(r);
          }
        }
        for (let r = 0; r < regions; r++) assert.equal(getRegionBit(bits, r), model.has(r));
        assert.equal(countSetBits(bits, regions), model.size);
      },
    ),
  );
  assert.throws(() => getRegionBit(new Uint8Array(2), 16), RangeError);
  assert.throws(() => setRegionBit(new Uint8Array(2), -1), RangeError);
  assert.throws(() => countSetBits(new Uint8Array(2), 17), RangeError);
});
