/**
 * The rmeta sub-LV of an LVM raid LV as the kernel's dm-raid target keeps it:
 * the dm-raid superblock (struct dm_raid_superblock, little-endian, packed) at
 * byte 0 filling one logical block with zeros after it, and md's write-intent
 * bitmap at byte 4096 (see md-bitmap.ts). dm-raid writes the superblock of
 * every leg on each md superblock update, so in a healthy array they differ only
 * in array_position.
 */
import { FormatError } from "../errors.ts";
import {
  BITMAP_SUPERBLOCK_SIZE,
  bitmapRegions,
  bitmapSpanBytes,
  decodeBitmapSuperblock,
  encodeBitmapSuperblock,
  type BitmapSuperblock,
} from "./md-bitmap.ts";

export const DM_RAID_MAGIC = 0x64526d44;
/** The packed struct; the rest of its logical block is zero. */
export const DM_RAID_SUPERBLOCK_SIZE = 0x94;
/** compat_features bit: the fields from `flags` on (dm-raid 1.9.0) are present. */
export const DM_RAID_FEATURE_V190 = 0x1;
/** md's limit on the devices of one array; failed_devices has room for 256. */
export const DM_RAID_MAX_DEVICES = 253;
/** md's MaxSector: "complete" for recovery/resync offsets, "none" for reshape_position. */
export const MAX_SECTOR = 0xffffffffffffffffn;
/** Byte offset of the md bitmap in the rmeta (dm-raid's bitmap_info.offset, 8 sectors). */
export const RMETA_BITMAP_OFFSET = 4096;

const FAILED_WORDS = 4;
const EXTENDED_FAILED_AT = 0x78;

export interface DmRaidSuperblock {
  /** 0 for a pre-1.9.0 superblock (its later fields are then meaningless), else DM_RAID_FEATURE_V190. */
  compatFeatures: number;
  numDevices: number;
  /** This leg's slot; -1 when md had no slot for it. */
  arrayPosition: number;
  /** md's event counter; the superblock with the highest wins. */
  events: bigint;
  /** Bit i set: leg i failed. failed_devices and extended_failed_devices as one 256-bit mask. */
  failedDevices: bigint;
  /** Sectors of this leg rebuilt; MAX_SECTOR when it is in sync. */
  diskRecoveryOffset: bigint;
  /**
   * Sectors of the array resynced (md's recovery_cp); MAX_SECTOR when in sync, and it stays so while
   * the array is active and written. Mid-resync, the last checkpoint, where the kernel resumes.
   * The kernel resyncs only regions at or past it whose bitmap bit is set.
   */
  arrayResyncOffset: bigint;
  level: number;
  layout: number;
  stripeSectors: number;
  /** 0x1 reshape active, 0x2 reshape backwards. */
  flags: number;
  /** MAX_SECTOR when no reshape is under way. */
  reshapePosition: bigint;
  newLevel: number;
  newLayout: number;
  newStripeSectors: number;
  /** Signed. */
  deltaDisks: number;
  arraySectors: bigint;
  dataOffset: bigint;
  newDataOffset: bigint;
  /** Sectors of each leg in use. */
  sectors: bigint;
  incompatFeatures: number;
}

export interface Rmeta {
  superblock: DmRaidSuperblock;
  bitmap: BitmapSuperblock;
  /** The bitmap bytes after its superblock as far as the kernel writes them: the bits, then padding. */
  bits: Uint8Array;
}

function checkU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new FormatError(`dm-raid ${what} ${n} is not a 32-bit value`);
}

function checkI32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) {
    throw new FormatError(`dm-raid ${what} ${n} is not a signed 32-bit value`);
  }
}

function checkU64(n: bigint, what: string): void {
  if (BigInt.asUintN(64, n) !== n) throw new FormatError(`dm-raid ${what} ${n} is not a 64-bit value`);
}

/** What dm-raid refuses to assemble, and values no array can have. */
function checkSuperblock(sb: DmRaidSuperblock): void {
  if (sb.compatFeatures !== 0 && sb.compatFeatures !== DM_RAID_FEATURE_V190) {
    throw new FormatError(`dm-raid superblock has unknown compatible feature flags 0x${sb.compatFeatures.toString(16)}`);
  }
  if (sb.incompatFeatures !== 0) {
    throw new FormatError(`dm-raid superblock has incompatible feature flags 0x${sb.incompatFeatures.toString(16)}`);
  }
  if (sb.numDevices < 1 || sb.numDevices > DM_RAID_MAX_DEVICES) {
    throw new FormatError(`dm-raid superblock gives ${sb.numDevices} devices (1 to ${DM_RAID_MAX_DEVICES})`);
  }
  if (sb.arrayPosition < -1 || sb.arrayPosition >= DM_RAID_MAX_DEVICES) {
    throw new FormatError(`dm-raid superblock gives array position ${sb.arrayPosition}`);
  }
  if (BigInt.asUintN(FAILED_WORDS * 64, sb.failedDevices) !== sb.failedDevices) {
    throw new FormatError(`dm-raid failed device mask ${sb.failedDevices} is not a ${FAILED_WORDS * 64}-bit mask`);
  }
}

/** dm-raid sizes its superblock, and md its bitmap writes, by the device's logical block. */
function checkBlockSize(blockSize: number): void {
  if (![512, 1024, 2048, 4096].includes(blockSize)) {
    throw new FormatError(`logical block size ${blockSize} is not 512, 1024, 2048 or 4096`);
  }
}

/** One logical block (512 bytes unless the rmeta's device says otherwise), zero after the struct. */
export function encodeDmRaidSuperblock(sb: DmRaidSuperblock, blockSize = 512): Uint8Array {
  checkBlockSize(blockSize);
  for (const [k, v] of [
    ["compat features", sb.compatFeatures],
    ["num devices", sb.numDevices],
    ["level", sb.level],
    ["layout", sb.layout],
    ["stripe sectors", sb.stripeSectors],
    ["flags", sb.flags],
    ["new level", sb.newLevel],
    ["new layout", sb.newLayout],
    ["new stripe sectors", sb.newStripeSectors],
    ["incompat features", sb.incompatFeatures],
  ] as const) {
    checkU32(v, k);
  }
  checkI32(sb.arrayPosition, "array position");
  checkI32(sb.deltaDisks, "delta disks");
  for (const [k, v] of [
    ["events", sb.events],
    ["recovery offset", sb.diskRecoveryOffset],
    ["resync offset", sb.arrayResyncOffset],
    ["reshape position", sb.reshapePosition],
    ["array sectors", sb.arraySectors],
    ["data offset", sb.dataOffset],
    ["new data offset", sb.newDataOffset],
    ["sectors", sb.sectors],
  ] as const) {
    checkU64(v, k);
  }
  checkSuperblock(sb);
  const buf = new Uint8Array(blockSize);
  const view = new DataView(buf.buffer);
  view.setUint32(0x00, DM_RAID_MAGIC, true);
  view.setUint32(0x04, sb.compatFeatures, true);
  view.setUint32(0x08, sb.numDevices, true);
  view.setInt32(0x0c, sb.arrayPosition, true);
  view.setBigUint64(0x10, sb.events, true);
  view.setBigUint64(0x18, BigInt.asUintN(64, sb.failedDevices), true);
  view.setBigUint64(0x20, sb.diskRecoveryOffset, true);
  view.setBigUint64(0x28, sb.arrayResyncOffset, true);
  view.setUint32(0x30, sb.level, true);
  view.setUint32(0x34, sb.layout, true);
  view.setUint32(0x38, sb.stripeSectors, true);
  view.setUint32(0x3c, sb.flags, true);
  view.setBigUint64(0x40, sb.reshapePosition, true);
  view.setUint32(0x48, sb.newLevel, true);
  view.setUint32(0x4c, sb.newLayout, true);
  view.setUint32(0x50, sb.newStripeSectors, true);
  view.setInt32(0x54, sb.deltaDisks, true);
  view.setBigUint64(0x58, sb.arraySectors, true);
  view.setBigUint64(0x60, sb.dataOffset, true);
  view.setBigUint64(0x68, sb.newDataOffset, true);
  view.setBigUint64(0x70, sb.sectors, true);
  for (let w = 1; w < FAILED_WORDS; w++) {
    view.setBigUint64(EXTENDED_FAILED_AT + (w - 1) * 8, BigInt.asUintN(64, sb.failedDevices >> BigInt(w * 64)), true);
  }
  view.setUint32(0x90, sb.incompatFeatures, true);
  return buf;
}

/** True when `buf` starts with dm-raid's magic; dm-raid takes a leg without it for a new device. */
export function hasDmRaidMagic(buf: Uint8Array): boolean {
  return buf.length >= 4 && new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0, true) === DM_RAID_MAGIC;
}

/** Reads the struct at the start of `buf`; FormatError for what dm-raid would refuse or no array can have. */
export function decodeDmRaidSuperblock(buf: Uint8Array): DmRaidSuperblock {
  if (buf.length < DM_RAID_SUPERBLOCK_SIZE) throw new FormatError(`dm-raid superblock truncated to ${buf.length} bytes`);
  const view = new DataView(buf.buffer, buf.byteOffset, DM_RAID_SUPERBLOCK_SIZE);
  const magic = view.getUint32(0, true);
  if (magic !== DM_RAID_MAGIC) throw new FormatError(`bad dm-raid superblock magic 0x${magic.toString(16).padStart(8, "0")}`);
  let failedDevices = view.getBigUint64(0x18, true);
  for (let w = 1; w < FAILED_WORDS; w++) {
    failedDevices |= view.getBigUint64(EXTENDED_FAILED_AT + (w - 1) * 8, true) << BigInt(w * 64);
  }
  const sb: DmRaidSuperblock = {
    compatFeatures: view.getUint32(0x04, true),
    numDevices: view.getUint32(0x08, true),
    arrayPosition: view.getInt32(0x0c, true),
    events: view.getBigUint64(0x10, true),
    failedDevices,
    diskRecoveryOffset: view.getBigUint64(0x20, true),
    arrayResyncOffset: view.getBigUint64(0x28, true),
    level: view.getUint32(0x30, true),
    layout: view.getUint32(0x34, true),
    stripeSectors: view.getUint32(0x38, true),
    flags: view.getUint32(0x3c, true),
    reshapePosition: view.getBigUint64(0x40, true),
    newLevel: view.getUint32(0x48, true),
    newLayout: view.getUint32(0x4c, true),
    newStripeSectors: view.getUint32(0x50, true),
    deltaDisks: view.getInt32(0x54, true),
    arraySectors: view.getBigUint64(0x58, true),
    dataOffset: view.getBigUint64(0x60, true),
    newDataOffset: view.getBigUint64(0x68, true),
    sectors: view.getBigUint64(0x70, true),
    incompatFeatures: view.getUint32(0x90, true),
  };
  checkSuperblock(sb);
  return sb;
}

/** Bytes of an rmeta that hold state: up to the end of the bitmap span of `regions` regions. */
export function rmetaBytes(regions: number, blockSize = 512): number {
  return RMETA_BITMAP_OFFSET + bitmapSpanBytes(regions, blockSize);
}

/**
 * Both superblocks and the bitmap span, as the kernel lays them out for logical
 * blocks of `blockSize`; `bits` must fill the span exactly. Bytes between the
 * superblock's block and the bitmap are zero.
 */
export function encodeRmeta(rmeta: Rmeta, blockSize = 512): Uint8Array {
  const sb = encodeDmRaidSuperblock(rmeta.superblock, blockSize);
  const bitmap = encodeBitmapSuperblock(rmeta.bitmap);
  const regions = bitmapRegions(rmeta.bitmap.syncSize, rmeta.bitmap.chunksize);
  const out = new Uint8Array(rmetaBytes(regions, blockSize));
  const want = out.length - RMETA_BITMAP_OFFSET - BITMAP_SUPERBLOCK_SIZE;
  if (rmeta.bits.length !== want) {
    throw new FormatError(`bitmap of ${regions} regions needs ${want} bytes of bits and padding, not ${rmeta.bits.length}`);
  }
  out.set(sb, 0);
  out.set(bitmap, RMETA_BITMAP_OFFSET);
  out.set(rmeta.bits, RMETA_BITMAP_OFFSET + BITMAP_SUPERBLOCK_SIZE);
  return out;
}

/** Reads an rmeta from its start; `buf` must reach the end of the bitmap span. */
export function decodeRmeta(buf: Uint8Array, blockSize = 512): Rmeta {
  checkBlockSize(blockSize);
  const superblock = decodeDmRaidSuperblock(buf);
  if (buf.length < RMETA_BITMAP_OFFSET + BITMAP_SUPERBLOCK_SIZE) {
    throw new FormatError(`rmeta of ${buf.length} bytes ends before its bitmap superblock`);
  }
  const bitmap = decodeBitmapSuperblock(buf.subarray(RMETA_BITMAP_OFFSET));
  const end = rmetaBytes(bitmapRegions(bitmap.syncSize, bitmap.chunksize), blockSize);
  if (end > buf.length) {
    throw new FormatError(`bitmap of sync size ${bitmap.syncSize} needs ${end} bytes of rmeta, only ${buf.length} given`);
  }
  return { superblock, bitmap, bits: buf.slice(RMETA_BITMAP_OFFSET + BITMAP_SUPERBLOCK_SIZE, end) };
}
