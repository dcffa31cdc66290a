/**
 * What a raid1 array is when it is activated, decided from the rmetas of its
 * legs the way md and dm-raid decide it: the freshest superblock (highest
 * events) speaks for the array, a leg it marks failed or that lags behind it
 * catches up through the write-intent bitmap, a leg without a superblock is new
 * and is recovered in full, and regions whose bit is set are resynced. Pure:
 * the caller reads the rmetas and writes what this returns.
 */
import { LvmError } from "../core/errors.ts";
import {
  DM_RAID_FEATURE_V190,
  MAX_SECTOR,
  RMETA_BITMAP_OFFSET,
  hasDmRaidMagic,
  decodeRmeta,
  encodeDmRaidSuperblock,
  type DmRaidSuperblock,
  type Rmeta,
} from "../core/format/dmraid.ts";
import {
  BITMAP_DAEMON_SLEEP_DEFAULT,
  BITMAP_SUPERBLOCK_SIZE,
  BITMAP_VERSION,
  bitmapBytes,
  bitmapRegions,
  bitmapSpanBytes,
  encodeBitmapSuperblock,
  type BitmapSuperblock,
} from "../core/format/md-bitmap.ts";
import { FormatError } from "../core/errors.ts";

export const SECTOR = 512;
/** dm-raid's superblock and md's bitmap are written in logical blocks of the rmeta's device. */
export const META_BLOCK = 512;

/** The shape of the array, from the LV's metadata. */
export interface ArrayGeometry {
  /** Bytes of each leg in use (the raid LV's size). */
  size: number;
  /** Bytes per bitmap region. */
  regionSize: number;
  legs: number;
}

/** What was found in one leg's rmeta. */
export type LegMeta =
  /** The leg has no device: an error segment, or a PV that is missing. */
  | { kind: "absent" }
  /** Split off with --trackchanges: not part of the array until it is merged back. */
  | { kind: "split" }
  /** No dm-raid superblock: a leg dm-raid would take as a new device. */
  | { kind: "blank" }
  /**
   * An image replaced by an error segment (vgreduce --removemissing --force) in an array being reloaded: as
   * with dm-error under dm-raid, the leg counts as it was until I/O reaches it and fails.
   */
  | { kind: "errored" }
  | { kind: "rmeta"; rmeta: Rmeta };

export type LegState = "in-sync" | "recovering" | "failed" | "split";

export interface LegPlan {
  state: LegState;
  /** recovering: copy every region from this one on (a new or rebuilt leg); undefined: only the regions whose bit is set. */
  fullFrom?: number;
}

export interface Assembly {
  events: bigint;
  legs: LegPlan[];
  /** Region bits as the array starts: set where legs may differ (what a recovering leg's delta copies). */
  bits: Uint8Array;
  /** Regions to resync among the in-sync legs. */
  resync: Uint8Array;
  /** The array was created just now (no leg had a superblock). */
  fresh: boolean;
}

export function regionCount(g: ArrayGeometry): number {
  return bitmapRegions(BigInt(g.size / SECTOR), g.regionSize);
}

/** Bytes of the bitmap span after its superblock: the bits of every region, then padding to a block. */
export function bitsBytes(regions: number): number {
  return bitmapSpanBytes(regions, META_BLOCK) - BITMAP_SUPERBLOCK_SIZE;
}

/** Reads a leg's rmeta from its first bytes; FormatError when it has dm-raid's magic but cannot be an array's. */
export function readLegMeta(head: Uint8Array): LegMeta {
  if (!hasDmRaidMagic(head)) return { kind: "blank" };
  return { kind: "rmeta", rmeta: decodeRmeta(head, META_BLOCK) };
}

/** Bytes of an rmeta that must be read to know a leg: up to the end of the bitmap span. */
export function rmetaReadBytes(g: ArrayGeometry): number {
  return RMETA_BITMAP_OFFSET + bitmapSpanBytes(regionCount(g), META_BLOCK);
}

function allSet(regions: number): Uint8Array {
  const bits = new Uint8Array(bitsBytes(regions)).fill(0xff);
  return bits;
}

function noneSet(regions: number): Uint8Array {
  // The kernel pads with ones after the last region's byte; it never reads them.
  const bits = new Uint8Array(bitsBytes(regions)).fill(0xff);
  bits.fill(0, 0, bitmapBytes(regions));
  return bits;
}

function bit(bits: Uint8Array, r: number): boolean {
  return (bits[r >> 3]! & (1 << (r & 7))) !== 0;
}

function setBit(bits: Uint8Array, r: number): void {
  bits[r >> 3]! |= 1 << (r & 7);
}

/**
 * The array as activation finds it. `nosync`: the LV was created with
 * --nosync (a fresh array starts in sync). Throws LvmError when no leg holds
 * the data.
 */
export function assemble(name: string, g: ArrayGeometry, metas: readonly LegMeta[], nosync: boolean): Assembly {
  const regions = regionCount(g);
  const valid = metas.flatMap((m, i) => (m.kind === "rmeta" ? [{ i, rmeta: m.rmeta }] : []));
  const present = metas.filter((m) => m.kind === "blank" || m.kind === "rmeta" || m.kind === "errored").length;
  if (present === 0) throw new LvmError(`Cannot activate ${name}: none of its images is available.`);
  if (valid.length === 0) {
    // Every leg blank: dm-raid's "Superblocks created for new raid set".
    const legs = metas.map((m): LegPlan => ({ state: m.kind === "blank" || m.kind === "errored" ? "in-sync" : m.kind === "split" ? "split" : "failed" }));
    const resync = nosync ? noneSet(regions) : allSet(regions);
    return { events: 0n, legs, bits: resync.slice(), resync, fresh: true };
  }
  const freshest = valid.reduce((a, b) => (b.rmeta.superblock.events > a.rmeta.superblock.events ? b : a)).rmeta;
  const sb = freshest.superblock;
  const failedMask = sb.failedDevices;
  const bits = noneSet(regions);
  const resync = noneSet(regions);
  const sameChunk = (r: Rmeta) => r.bitmap.chunksize === g.regionSize;
  const oldRegions = (r: Rmeta) => bitmapRegions(r.bitmap.syncSize, r.bitmap.chunksize);

  let grownFrom = regions;
  const legs = metas.map((m, i): LegPlan => {
    if (m.kind === "absent") return { state: "failed" };
    if (m.kind === "split") return { state: "split" };
    if (m.kind === "blank") return { state: "recovering", fullFrom: 0 };
    if (m.kind === "errored") return (failedMask >> BigInt(i)) & 1n ? { state: "failed" } : { state: "in-sync" };
    const own = m.rmeta.superblock;
    if (own.diskRecoveryOffset !== MAX_SECTOR) {
      const from = Math.floor(Number(own.diskRecoveryOffset) / (g.regionSize / SECTOR));
      return { state: "recovering", fullFrom: Math.min(from, regions) };
    }
    if ((failedMask >> BigInt(i)) & 1n || own.events < sb.events) return { state: "recovering" };
    return { state: "in-sync" };
  });
  if (!legs.some((l) => l.state === "in-sync"))
    throw new LvmError(`Cannot activate ${name}: no image of it is in sync.`);

  // Regions where legs may differ: the union of the bitmaps of the legs that were part of the array. A leg
  // returning from a failure catches up on all of them.
  for (const { i, rmeta } of valid) {
    if (legs[i]!.state === "split") continue;
    if (!sameChunk(rmeta)) {
      bits.set(allSet(regions).subarray(0, bitmapBytes(regions)));
      continue;
    }
    const n = Math.min(oldRegions(rmeta), regions);
    for (let r = 0; r < n; r++) if (bit(rmeta.bits, r)) setBit(bits, r);
    grownFrom = Math.min(grownFrom, n);
  }
  // Regions past the old end (lvextend): never synced, as dm-raid syncs the new part of a grown array.
  for (let r = grownFrom; r < regions; r++) {
    setBit(bits, r);
    if (!nosync) setBit(resync, r);
  }
  // The in-sync legs themselves are resynced as md does it: the set bits at or past the resync offset, which
  // is MaxSector after a clean stop (the kernel keeps it so even while written; ulvm lowers it to 0 while
  // active, so that a crash of ulvm is resynced by either). A stale bitmap below an unfinished resync counts
  // for nothing: everything from the offset on is resynced.
  if (sb.arrayResyncOffset !== MAX_SECTOR) {
    const from = Math.min(regions, Number(sb.arrayResyncOffset / BigInt(g.regionSize / SECTOR)));
    const stale = freshest.bitmap.events < sb.events;
    for (let r = from; r < regions; r++) if (stale || bit(bits, r)) setBit(resync, r);
  }
  return { events: sb.events, legs, bits, resync, fresh: false };
}

/** The dm-raid superblock of leg `position`. */
export function superblockFor(g: ArrayGeometry, position: number, state: ArrayState): DmRaidSuperblock {
  const sectors = BigInt(g.size / SECTOR);
  return {
    compatFeatures: DM_RAID_FEATURE_V190,
    numDevices: g.legs,
    arrayPosition: position,
    events: state.events,
    failedDevices: state.failedDevices,
    diskRecoveryOffset: state.recoveryOffsets[position] ?? MAX_SECTOR,
    arrayResyncOffset: state.resyncOffset,
    level: 1,
    layout: 0,
    stripeSectors: 0,
    flags: 0,
    reshapePosition: MAX_SECTOR,
    newLevel: 1,
    newLayout: 0,
    newStripeSectors: 0,
    deltaDisks: 0,
    arraySectors: sectors,
    dataOffset: 0n,
    newDataOffset: 0n,
    sectors,
    incompatFeatures: 0,
  };
}

/** What the superblocks record of the whole array. */
export interface ArrayState {
  events: bigint;
  failedDevices: bigint;
  /** Sectors; MAX_SECTOR when no resync is owed (a clean stop), 0 while the array is written (the bitmap then says what is dirty). */
  resyncOffset: bigint;
  /** Per leg, sectors of a full recovery done; MAX_SECTOR (or absent) when the leg needs none. */
  recoveryOffsets: bigint[];
}

export function bitmapSuperblockFor(g: ArrayGeometry, events: bigint, eventsCleared: bigint): BitmapSuperblock {
  return {
    version: BITMAP_VERSION,
    uuid: new Uint8Array(16),
    events,
    eventsCleared,
    syncSize: BigInt(g.size / SECTOR),
    state: 0,
    chunksize: g.regionSize,
    daemonSleep: BITMAP_DAEMON_SLEEP_DEFAULT,
    writeBehind: 0,
    sectorsReserved: 0,
    nodes: 0,
    clusterName: new Uint8Array(64),
  };
}

/** The superblock's block of leg `position`, ready to write at byte 0 of its rmeta. */
export function superblockBlock(g: ArrayGeometry, position: number, state: ArrayState): Uint8Array {
  return encodeDmRaidSuperblock(superblockFor(g, position, state), META_BLOCK);
}

/** Writes the bitmap superblock into the first bytes of the bitmap span image. */
export function putBitmapSuperblock(span: Uint8Array, sb: BitmapSuperblock): void {
  if (span.length < BITMAP_SUPERBLOCK_SIZE) throw new FormatError("bitmap span shorter than its superblock");
  span.set(encodeBitmapSuperblock(sb), 0);
}
