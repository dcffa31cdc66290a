import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { FormatError } from "../../../src/core/errors.ts";
import {
  DM_RAID_FEATURE_V190,
  DM_RAID_MAX_DEVICES,
  DM_RAID_SUPERBLOCK_SIZE,
  MAX_SECTOR,
  RMETA_BITMAP_OFFSET,
  decodeDmRaidSuperblock,
  decodeRmeta,
  encodeDmRaidSuperblock,
  encodeRmeta,
  hasDmRaidMagic,
  rmetaBytes,
  type DmRaidSuperblock,
  type Rmeta,
} from "../../../src/core/format/dmraid.ts";
import {
  BITMAP_DAEMON_SLEEP_DEFAULT,
  BITMAP_STATE_STALE,
  BITMAP_SUPERBLOCK_SIZE,
  BITMAP_VERSION,
  bitmapBytes,
  bitmapRegions,
  countSetBits,
  getRegionBit,
} from "../../../src/core/format/md-bitmap.ts";

interface Scenario {
  state: "clean" | "nosync" | "dirty" | "syncing";
  legs: number;
  lvSectors: number;
  regionSectors: number;
  rmetas: string[];
  dirtyRegions?: number[];
}

const KERNEL = new URL("../../fixtures/kernel/", import.meta.url);
const raw = (file: string): Uint8Array => new Uint8Array(readFileSync(new URL(file, KERNEL)));
const scenarios = JSON.parse(readFileSync(new URL("rmeta-states.json", KERNEL), "utf8")) as Record<string, Scenario>;
const all = Object.entries(scenarios).flatMap(([vg, s]) => s.rmetas.map((file, leg) => ({ vg, s, file, leg, bytes: raw(file) })));
const of = (state: Scenario["state"]) => Object.values(scenarios).find((s) => s.state === state)!;

const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: MAX_SECTOR });
const superblock: fc.Arbitrary<DmRaidSuperblock> = fc.record(
  {
    compatFeatures: fc.constantFrom(0, DM_RAID_FEATURE_V190),
    numDevices: fc.integer({ min: 1, max: DM_RAID_MAX_DEVICES }),
    arrayPosition: fc.integer({ min: -1, max: DM_RAID_MAX_DEVICES - 1 }),
    events: u64,
    failedDevices: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
    diskRecoveryOffset: u64,
    arrayResyncOffset: u64,
    level: u32,
    layout: u32,
    stripeSectors: u32,
    flags: u32,
    reshapePosition: u64,
    newLevel: u32,
    newLayout: u32,
    newStripeSectors: u32,
    deltaDisks: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    arraySectors: u64,
    dataOffset: u64,
    newDataOffset: u64,
    sectors: u64,
    incompatFeatures: fc.constant(0),
  },
  { noNullPrototype: true },
);

function withU32(buf: Uint8Array, at: number, v: number): Uint8Array {
  const b = buf.slice();
  new DataView(b.buffer).setUint32(at, v, true);
  return b;
}

const zero = (b: Uint8Array): boolean => b.every((x) => x === 0);

test("every rmeta the kernel wrote re-encodes byte for byte: superblock block, bitmap span, zeros elsewhere", () => {
  for (const { file, bytes } of all) {
    const rmeta = decodeRmeta(bytes);
    const enc = encodeRmeta(rmeta);
    assert.deepEqual(enc, bytes.subarray(0, enc.length), file);
    assert.ok(zero(bytes.subarray(enc.length)), `${file}: nothing after the bitmap span`);
    assert.deepEqual(encodeDmRaidSuperblock(decodeDmRaidSuperblock(bytes)), bytes.subarray(0, 512), file);
    assert.ok(zero(bytes.subarray(DM_RAID_SUPERBLOCK_SIZE, RMETA_BITMAP_OFFSET)), `${file}: zero between the superblocks`);
  }
});

test("the dm-raid superblock of a raid1 leg holds what dm-raid's super_sync puts there", () => {
  for (const { file, s, leg, bytes } of all) {
    const sb = decodeDmRaidSuperblock(bytes);
    assert.ok(hasDmRaidMagic(bytes), file);
    assert.equal(sb.compatFeatures, DM_RAID_FEATURE_V190, file);
    assert.equal(sb.numDevices, s.legs, file);
    assert.equal(sb.arrayPosition, leg, file);
    assert.equal(sb.failedDevices, 0n, file);
    assert.equal(sb.level, 1, file);
    assert.equal(sb.newLevel, 1, file);
    assert.equal(sb.layout, 0, file);
    assert.equal(sb.stripeSectors, 0, file);
    assert.equal(sb.flags, 0, file);
    assert.equal(sb.deltaDisks, 0, file);
    assert.equal(sb.reshapePosition, MAX_SECTOR, `${file}: no reshape`);
    assert.equal(sb.arraySectors, BigInt(s.lvSectors), file);
    assert.equal(sb.sectors, BigInt(s.lvSectors), `${file}: the whole rimage is used`);
    assert.equal(sb.dataOffset, 0n, `${file}: raid1 data starts at rimage offset 0`);
    assert.equal(sb.newDataOffset, 0n, file);
    assert.equal(sb.diskRecoveryOffset, MAX_SECTOR, `${file}: no leg is being rebuilt`);
  }
});

test("legs agree: the superblocks differ only in array_position, the bitmaps not at all", () => {
  for (const s of Object.values(scenarios)) {
    const decoded = s.rmetas.map((f) => decodeRmeta(raw(f)));
    const first = decoded[0]!;
    for (const r of decoded.slice(1)) {
      assert.deepEqual({ ...r.superblock, arrayPosition: 0 }, { ...first.superblock, arrayPosition: 0 }, s.rmetas.join());
      assert.deepEqual(r.bitmap, first.bitmap);
      assert.deepEqual(r.bits, first.bits);
    }
  }
});

test("the bitmap superblock: one region per bit, md's event count, not stale after activation", () => {
  for (const { file, s, bytes } of all) {
    const { superblock: sb, bitmap, bits } = decodeRmeta(bytes);
    assert.equal(bitmap.version, BITMAP_VERSION, file);
    assert.ok(zero(bitmap.uuid), `${file}: dm-raid has no md uuid`);
    assert.equal(bitmap.events, sb.events, `${file}: written with the dm-raid superblock`);
    assert.ok(bitmap.eventsCleared <= bitmap.events, file);
    assert.equal(bitmap.chunksize, s.regionSectors * 512, `${file}: chunksize is LVM's region size in bytes`);
    assert.equal(bitmap.syncSize, BigInt(s.lvSectors), file);
    assert.equal(bitmap.state & BITMAP_STATE_STALE, 0, file);
    assert.equal(bitmap.daemonSleep, BITMAP_DAEMON_SLEEP_DEFAULT, file);
    assert.equal(bitmap.writeBehind, 0, file);
    assert.equal(bitmap.nodes, 0, file);
    assert.ok(zero(bitmap.clusterName), file);
    const regions = bitmapRegions(bitmap.syncSize, bitmap.chunksize);
    assert.equal(regions, Math.ceil(s.lvSectors / s.regionSectors), file);
    // A bitmap the kernel created fills its whole first write with ones; clearing touches region bits only.
    assert.ok(
      bits.subarray(bitmapBytes(regions)).every((b) => b === 0xff),
      `${file}: padding after the region bits is 0xff`,
    );
  }
});

test("a cleanly stopped or nosync raid1 is in sync with every region bit clear", () => {
  for (const s of [of("clean"), of("nosync")]) {
    for (const file of s.rmetas) {
      const { superblock: sb, bitmap, bits } = decodeRmeta(raw(file));
      assert.equal(sb.arrayResyncOffset, MAX_SECTOR, file);
      assert.equal(countSetBits(bits, bitmapRegions(bitmap.syncSize, bitmap.chunksize)), 0, file);
      assert.equal(bitmap.eventsCleared, bitmap.events, `${file}: the stop after writes cleared bits at the last event`);
    }
  }
});

test("an unclean stop shows only in the bitmap: the written regions' bits, resync offset still MaxSector", () => {
  const s = of("dirty");
  for (const file of s.rmetas) {
    const { superblock: sb, bitmap, bits } = decodeRmeta(raw(file));
    const regions = bitmapRegions(bitmap.syncSize, bitmap.chunksize);
    const set = [...Array(regions).keys()].filter((r) => getRegionBit(bits, r));
    assert.deepEqual(set, s.dirtyRegions, file);
    assert.equal(sb.arrayResyncOffset, MAX_SECTOR, `${file}: dm-raid records no dirty state in its superblock`);
  }
});

test("a stop during the initial resync keeps its checkpoint, and every region past it is dirty", () => {
  const s = of("syncing");
  for (const file of s.rmetas) {
    const { superblock: sb, bitmap, bits } = decodeRmeta(raw(file));
    const offset = sb.arrayResyncOffset;
    assert.ok(offset > 0n && offset < BigInt(s.lvSectors), `${file}: resync offset ${offset} is mid-array`);
    const regions = bitmapRegions(bitmap.syncSize, bitmap.chunksize);
    const firstUnsynced = Number(offset / BigInt(s.regionSectors));
    for (let r = firstUnsynced; r < regions; r++) assert.ok(getRegionBit(bits, r), `${file}: region ${r} past the checkpoint`);
    assert.ok(countSetBits(bits, regions) < regions, `${file}: resynced regions get cleared`);
  }
});

test("the kernel resumes an interrupted resync exactly at the superblock's checkpoint", () => {
  const s = Object.entries(scenarios).find(([, sc]) => sc.state === "syncing")!;
  const transcript = readFileSync(new URL("reactivate.transcript.txt", KERNEL), "utf8");
  const section = transcript.slice(transcript.indexOf(`######## ${s[0]}`));
  const resumedAt = /first status: \S+ \S+ raid raid1 \d+ \S+ (\d+)\/(\d+)/.exec(section);
  assert.ok(resumedAt, "reactivation status line");
  assert.equal(BigInt(resumedAt[1]!), decodeDmRaidSuperblock(raw(s[1].rmetas[0]!)).arrayResyncOffset);
  assert.equal(Number(resumedAt[2]), s[1].lvSectors);
});

test("decode(encode(sb)) is the identity for every valid superblock and block size", () => {
  fc.assert(
    fc.property(superblock, fc.constantFrom(512, 1024, 4096), (sb, blockSize) => {
      const enc = encodeDmRaidSuperblock(sb, blockSize);
      assert.equal(enc.length, blockSize);
      assert.ok(zero(enc.subarray(DM_RAID_SUPERBLOCK_SIZE)));
      assert.deepEqual(decodeDmRaidSuperblock(enc), sb);
    }),
  );
});

test("failed legs 0-63 go to failed_devices, 64-255 to extended_failed_devices", () => {
  const sb = decodeDmRaidSuperblock(raw(all[0]!.file));
  const enc = encodeDmRaidSuperblock({ ...sb, failedDevices: (1n << 1n) | (1n << 64n) | (1n << 255n) });
  const view = new DataView(enc.buffer);
  assert.equal(view.getBigUint64(0x18, true), 2n);
  assert.equal(view.getBigUint64(0x78, true), 1n);
  assert.equal(view.getBigUint64(0x88, true), 1n << 63n);
});

test("superblocks dm-raid refuses, or that no array has, are FormatErrors", () => {
  const good = raw(of("clean").rmetas[0]!);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(512), /bad dm-raid superblock magic 0x00000000/],
    [good.subarray(0, DM_RAID_SUPERBLOCK_SIZE - 1), /truncated/],
    [withU32(good, 0x04, 0x2), /unknown compatible feature flags 0x2/],
    [withU32(good, 0x90, 0x1), /incompatible feature flags 0x1/],
    [withU32(good, 0x08, 0), /0 devices/],
    [withU32(good, 0x08, DM_RAID_MAX_DEVICES + 1), /254 devices/],
    [withU32(good, 0x0c, 0xfffffffe), /array position -2/],
  ];
  for (const [buf, reason] of cases) {
    assert.throws(() => decodeDmRaidSuperblock(buf), (e) => e instanceof FormatError && reason.test(e.message), String(reason));
    assert.throws(() => decodeRmeta(buf), FormatError);
  }
  assert.equal(decodeDmRaidSuperblock(withU32(good, 0x0c, 0xffffffff)).arrayPosition, -1, "md's 'no slot'");
  assert.equal(hasDmRaidMagic(new Uint8Array(512)), false, "a zeroed rmeta is a new device to dm-raid");
});

test("on 4 KiB logical blocks the superblock and the bitmap span fill whole blocks", () => {
  const rmeta = decodeRmeta(raw(of("dirty").rmetas[0]!));
  const regions = bitmapRegions(rmeta.bitmap.syncSize, rmeta.bitmap.chunksize);
  const bits = new Uint8Array(4096 - BITMAP_SUPERBLOCK_SIZE).fill(0xff);
  bits.set(rmeta.bits.subarray(0, bitmapBytes(regions)));
  const enc = encodeRmeta({ ...rmeta, bits }, 4096);
  assert.equal(enc.length, RMETA_BITMAP_OFFSET + 4096);
  assert.ok(zero(enc.subarray(DM_RAID_SUPERBLOCK_SIZE, RMETA_BITMAP_OFFSET)));
  assert.deepEqual(decodeRmeta(enc, 4096), { ...rmeta, bits });
  assert.throws(() => decodeRmeta(enc.subarray(0, enc.length - 1), 4096), FormatError);
  assert.throws(() => encodeRmeta(rmeta, 4096), FormatError, "bits sized for 512-byte blocks");
});

test("an rmeta cut short of its bitmap span is a FormatError", () => {
  const bytes = raw(of("dirty").rmetas[0]!);
  const end = rmetaBytes(bitmapRegions(decodeRmeta(bytes).bitmap.syncSize, decodeRmeta(bytes).bitmap.chunksize));
  assert.equal(decodeRmeta(bytes.subarray(0, end)).bits.length, end - RMETA_BITMAP_OFFSET - BITMAP_SUPERBLOCK_SIZE);
  assert.throws(() => decodeRmeta(bytes.subarray(0, end - 1)), (e) => e instanceof FormatError && /needs 4608 bytes/.test(e.message));
  assert.throws(() => decodeRmeta(bytes.subarray(0, RMETA_BITMAP_OFFSET + 10)), FormatError);
  const huge = bytes.slice();
  new DataView(huge.buffer).setBigUint64(RMETA_BITMAP_OFFSET + 0x28, 2n ** 40n, true);
  assert.throws(() => decodeRmeta(huge), FormatError, "sync size beyond the buffer");
});

test("decoding any mutation of a real rmeta yields an rmeta or a FormatError, nothing else", () => {
  const base = raw(of("syncing").rmetas[1]!).subarray(0, 4608);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.nat({ max: base.length }),
      (edits, cut) => {
        const b = base.slice(0, Math.max(cut, base.length - 64));
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        try {
          const r = decodeRmeta(b);
          assert.deepEqual(encodeRmeta(r).subarray(0, DM_RAID_SUPERBLOCK_SIZE), b.subarray(0, DM_RAID_SUPERBLOCK_SIZE));
        } catch (e) {
          assert.ok(e instanceof FormatError, String(e));
        }
      },
    ),
  );
});

test("encode refuses values that do not fit their fields, and bits that do not fill the span", () => {
  const rmeta: Rmeta = decodeRmeta(raw(of("clean").rmetas[0]!));
  const bad: Partial<DmRaidSuperblock>[] = [
    { numDevices: 0 },
    { arrayPosition: -2 },
    { events: -1n },
    { arrayResyncOffset: MAX_SECTOR + 1n },
    { failedDevices: 1n << 256n },
    { failedDevices: -1n },
    { deltaDisks: 2 ** 31 },
    { level: -1 },
    { compatFeatures: 3 },
    { incompatFeatures: 1 },
  ];
  for (const over of bad) {
    assert.throws(() => encodeDmRaidSuperblock({ ...rmeta.superblock, ...over }), FormatError, JSON.stringify(Object.keys(over)));
  }
  assert.throws(() => encodeDmRaidSuperblock(rmeta.superblock, DM_RAID_SUPERBLOCK_SIZE - 1), FormatError);
  assert.throws(() => encodeRmeta(rmeta, 8192), FormatError, "no logical block is larger than a page");
  assert.throws(() => decodeRmeta(raw(of("clean").rmetas[0]!), 768), FormatError);
  assert.throws(() => encodeRmeta({ ...rmeta, bits: rmeta.bits.subarray(1) }), FormatError);
});
