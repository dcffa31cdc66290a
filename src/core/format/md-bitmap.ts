/**
 * The md write-intent bitmap as dm-raid keeps it in each rmeta sub-LV: a
 * 256-byte superblock (bitmap_super_t, little-endian) followed directly by one
 * bit per region, bit i at byte i/8, mask 1 << (i % 8). The kernel writes the
 * superblock and bits together in logical blocks (512 bytes), so the bytes after
 * the last region's bit up to that boundary belong to the bitmap too: a bitmap
 * the kernel created fresh (or found stale) fills them with 0xff and never
 * clears them.
 */
import { FormatError } from "../errors.ts";

export const BITMAP_MAGIC = 0x6d746962;
export const BITMAP_SUPERBLOCK_SIZE = 256;
/** Version 3 is host-endian (the same bytes on x86), 4 little-endian, 5 clustered. */
export const BITMAP_VERSION_MIN = 3;
export const BITMAP_VERSION = 4;
export const BITMAP_VERSION_MAX = 5;
/**
 * `state` bit: md found the bitmap out of date and will set every bit. Only the regions
 * from the dm-raid superblock's resync offset on are then resynced (none when it is MaxSector).
 */
export const BITMAP_STATE_STALE = 1 << 1;
/** md's 14-bit per-region write counter caps write_behind. */
export const BITMAP_WRITE_BEHIND_MAX = 16383;
/** md's own default flush interval, seconds. */
export const BITMAP_DAEMON_SLEEP_DEFAULT = 5;
/** md counts regions in an unsigned long; more than this cannot describe a real device. */
const MAX_REGIONS = 2 ** 32;
const UUID_LEN = 16;
const CLUSTER_NAME_AT = 0x48;
const CLUSTER_NAME_LEN = 64;

export interface BitmapSuperblock {
  version: number;
  /** 16 bytes; md compares it with the array's uuid, which dm-raid leaves zero. */
  uuid: Uint8Array;
  /** The md event count when the superblock was last written; lower than the array's means stale. */
  events: bigint;
  /** The event count when bits were last cleared. */
  eventsCleared: bigint;
  /** Sectors covered: the size of one raid1 leg. */
  syncSize: bigint;
  /** BITMAP_STATE_STALE, 0x4 write error, 0x8000 host-endian (version 3). */
  state: number;
  /** Bytes per region, a power of two, at least 512. */
  chunksize: number;
  /** Seconds between bitmap flushes. */
  daemonSleep: number;
  writeBehind: number;
  sectorsReserved: number;
  nodes: number;
  /** 64 bytes, NUL-padded; used by clustered md only. */
  clusterName: Uint8Array;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function checkU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new FormatError(`bitmap ${what} ${n} is not a 32-bit value`);
}

function checkU64(n: bigint, what: string): void {
  if (BigInt.asUintN(64, n) !== n) throw new FormatError(`bitmap ${what} ${n} is not a 64-bit value`);
}

function checkBytes(b: Uint8Array, len: number, what: string): void {
  if (b.length !== len) throw new FormatError(`bitmap ${what} must be ${len} bytes, not ${b.length}`);
}

/** The reasons md refuses a bitmap superblock, in md's order, plus the sizes md could not allocate. */
function checkSuperblock(sb: BitmapSuperblock): void {
  if (sb.version < BITMAP_VERSION_MIN || sb.version > BITMAP_VERSION_MAX) {
    throw new FormatError(`unrecognized bitmap superblock version ${sb.version}`);
  }
  if (sb.chunksize < 512) throw new FormatError(`bitmap chunksize ${sb.chunksize} too small`);
  if (!isPowerOfTwo(sb.chunksize)) throw new FormatError(`bitmap chunksize ${sb.chunksize} not a power of 2`);
  if (sb.daemonSleep < 1) throw new FormatError(`bitmap daemon sleep period ${sb.daemonSleep} out of range`);
  if (sb.writeBehind > BITMAP_WRITE_BEHIND_MAX) {
    throw new FormatError(`bitmap write-behind limit ${sb.writeBehind} out of range (0 - ${BITMAP_WRITE_BEHIND_MAX})`);
  }
  const regions = bitmapRegions(sb.syncSize, sb.chunksize);
  if (regions > MAX_REGIONS) throw new FormatError(`bitmap of ${regions} regions (sync size ${sb.syncSize}) is absurd`);
}

export function encodeBitmapSuperblock(sb: BitmapSuperblock): Uint8Array {
  for (const [k, v] of [
    ["version", sb.version],
    ["state", sb.state],
    ["chunksize", sb.chunksize],
    ["daemon sleep", sb.daemonSleep],
    ["write-behind", sb.writeBehind],
    ["sectors reserved", sb.sectorsReserved],
    ["nodes", sb.nodes],
  ] as const) {
    checkU32(v, k);
  }
  checkU64(sb.events, "events");
  checkU64(sb.eventsCleared, "events cleared");
  checkU64(sb.syncSize, "sync size");
  checkBytes(sb.uuid, UUID_LEN, "uuid");
  checkBytes(sb.clusterName, CLUSTER_NAME_LEN, "cluster name");
  checkSuperblock(sb);
  const buf = new Uint8Array(BITMAP_SUPERBLOCK_SIZE);
  const view = new DataView(buf.buffer);
  view.setUint32(0x00, BITMAP_MAGIC, true);
  view.setUint32(0x04, sb.version, true);
  buf.set(sb.uuid, 0x08);
  view.setBigUint64(0x18, sb.events, true);
  view.setBigUint64(0x20, sb.eventsCleared, true);
  view.setBigUint64(0x28, sb.syncSize, true);
  view.setUint32(0x30, sb.state, true);
  view.setUint32(0x34, sb.chunksize, true);
  view.setUint32(0x38, sb.daemonSleep, true);
  view.setUint32(0x3c, sb.writeBehind, true);
  view.setUint32(0x40, sb.sectorsReserved, true);
  view.setUint32(0x44, sb.nodes, true);
  buf.set(sb.clusterName, CLUSTER_NAME_AT);
  return buf;
}

/** Reads the first 256 bytes of `buf`; FormatError for anything md would refuse to load. */
export function decodeBitmapSuperblock(buf: Uint8Array): BitmapSuperblock {
  if (buf.length < BITMAP_SUPERBLOCK_SIZE) {
    throw new FormatError(`bitmap superblock truncated to ${buf.length} bytes`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, BITMAP_SUPERBLOCK_SIZE);
  const magic = view.getUint32(0, true);
  if (magic !== BITMAP_MAGIC) throw new FormatError(`bad bitmap magic 0x${magic.toString(16).padStart(8, "0")}`);
  const sb: BitmapSuperblock = {
    version: view.getUint32(0x04, true),
    uuid: buf.slice(0x08, 0x08 + UUID_LEN),
    events: view.getBigUint64(0x18, true),
    eventsCleared: view.getBigUint64(0x20, true),
    syncSize: view.getBigUint64(0x28, true),
    state: view.getUint32(0x30, true),
    chunksize: view.getUint32(0x34, true),
    daemonSleep: view.getUint32(0x38, true),
    writeBehind: view.getUint32(0x3c, true),
    sectorsReserved: view.getUint32(0x40, true),
    nodes: view.getUint32(0x44, true),
    clusterName: buf.slice(CLUSTER_NAME_AT, CLUSTER_NAME_AT + CLUSTER_NAME_LEN),
  };
  checkSuperblock(sb);
  return sb;
}

/** Regions a bitmap covers: md's DIV_ROUND_UP(sync_size, chunk sectors). */
export function bitmapRegions(syncSize: bigint, chunksize: number): number {
  if (!Number.isInteger(chunksize) || chunksize < 512) throw new FormatError(`bitmap chunksize ${chunksize} too small`);
  const chunkSectors = BigInt(Math.floor(chunksize / 512));
  return Number((syncSize + chunkSectors - 1n) / chunkSectors);
}

/** Bytes holding the bits of `regions` regions. */
export function bitmapBytes(regions: number): number {
  return Math.ceil(regions / 8);
}

/**
 * Bytes the kernel reads and writes for a bitmap of `regions` regions: superblock,
 * bits, and padding to a whole logical block of the rmeta's device.
 */
export function bitmapSpanBytes(regions: number, blockSize = 512): number {
  return Math.ceil((BITMAP_SUPERBLOCK_SIZE + bitmapBytes(regions)) / blockSize) * blockSize;
}

function checkRegion(bits: Uint8Array, region: number): void {
  if (!Number.isInteger(region) || region < 0 || region >= bits.length * 8) {
    throw new RangeError(`region ${region} is outside a bitmap of ${bits.length} bytes`);
  }
}

export function getRegionBit(bits: Uint8Array, region: number): boolean {
  checkRegion(bits, region);
  return (bits[region >> 3]! & (1 << (region & 7))) !== 0;
}

export function setRegionBit(bits: Uint8Array, region: number): void {
  checkRegion(bits, region);
  bits[region >> 3]! |= 1 << (region & 7);
}

export function clearRegionBit(bits: Uint8Array, region: number): void {
  checkRegion(bits, region);
  bits[region >> 3]! &= ~(1 << (region & 7));
}

/** Set bits among the first `regions`; the padding after them does not count. */
export function countSetBits(bits: Uint8Array, regions: number): number {
  if (regions > 0) checkRegion(bits, regions - 1);
  let n = 0;
  for (let i = 0; i < regions; i++) if (bits[i >> 3]! & (1 << (i & 7))) n++;
  return n;
}
