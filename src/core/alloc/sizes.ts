/**
 * Size arithmetic of lvcreate/lvresize before allocation: `-L` sizes to
 * extents, `-l` percentages (%VG, %FREE, %PVS, %LV, %ORIGIN) to extents, and the
 * raid region size. LVM's informational lines are appended to `notes` as they
 * arise (so those printed before a failure survive it); invalid input raises
 * LVM's error.
 */
import { EXIT, LvmError } from "../errors.ts";
import { pvFreeExtents } from "../model/relations.ts";
import type { VolumeGroup } from "../model/types.ts";
import { pvListFreeExtents, type PvListEntry } from "./pv-map.ts";
import { displaySize } from "../report/units.ts";

const UINT32_MAX = 0xffffffff;
/** MAX_EXTENT_COUNT. */
const MAX_EXTENTS = UINT32_MAX;
/** activation/raid_region_size default, 2 MiB in sectors. */
export const DEFAULT_REGION_SIZE = 4096;
/** The MD bitmap tracks at most this many regions. */
const MAX_REGIONS = 2 ** 21;
/** Page size in sectors (4 KiB pages). */
const PAGE_SECTORS = 8;


/** lvcreate `-L`: rounds up to whole extents. */
export function extentsFromSize(sectors: number, extentSize: number, notes: string[]): number {
  let size = sectors;
  if (size % extentSize) {
    size += extentSize - (size % extentSize);
    notes.push(`Rounding up size to full physical extent ${displaySize(size)}`);
  }
  if (size > MAX_EXTENTS * extentSize)
    throw new LvmError(
      `Volume too large (${displaySize(size)}) for extent size ${displaySize(extentSize)}. ` +
        `Upper limit is less than ${displaySize(MAX_EXTENTS * extentSize)}.`,
      EXIT.FAILED,
    );
  return size / extentSize;
}

/** lvresize `-L [+|-]size`: absolute sizes and growth round up, a reduction removes at most what was asked. */
export function resizeExtentsFromSize(sectors: number, extentSize: number, sign: Sign, notes: string[]): number {
  const adjust = sectors % extentSize;
  if (!adjust) return sectors / extentSize;
  const size = sectors - adjust + (sign === "-" ? 0 : extentSize);
  notes.push(`Rounding size to boundary between physical extents: ${displaySize(size)}.`);
  return size / extentSize;
}

function percentOf(percent: number, count: number, roundUp: boolean): number {
  return Math.floor((percent * count + (roundUp ? 99 : 0)) / 100);
}

export type Sign = "" | "+" | "-";
export type PercentKind = "VG" | "FREE" | "PVS" | "LV" | "ORIGIN";

export function vgFreeExtents(vg: VolumeGroup): number {
  return vg.pvs.reduce((n, pv) => n + pvFreeExtents(vg, pv.id), 0);
}

function vgExtentCount(vg: VolumeGroup): number {
  return vg.pvs.reduce((n, pv) => n + pv.peCount, 0);
}

export interface CreatePercentInput {
  percent: number;
  kind: PercentKind;
  /** The command line's PV list, if one was given. */
  pvs?: PvListEntry[];
  /** Data copies (raid1 legs), 1 when not mirrored. */
  mirrors: number;
  stripes: number;
  /** Sectors; 0 when not striped. */
  stripeSize: number;
  /** For %ORIGIN: the origin's size and the snapshot chunk size (sectors). */
  origin?: { extents: number; chunkSize: number };
}

/**
 * lvcreate `-l N%KIND`: the logical extents to ask for. The result is an upper
 * bound: allocate with `approx` and allocation takes what it finds up to it.
 */
export function createExtentsFromPercent(vg: VolumeGroup, input: CreatePercentInput, notes: string[]): number {
  const free = vgFreeExtents(vg);
  let extents: number;
  switch (input.kind) {
    case "VG":
      extents = percentOf(input.percent, vgExtentCount(vg), false);
      if (extents > free) {
        extents = free;
        notes.push(`Reducing ${input.percent}%VG to remaining free space ${displaySize(extents * vg.extentSize)} in VG.`);
      }
      break;
    case "FREE":
      extents = percentOf(input.percent, free, false);
      break;
    case "PVS":
      extents = percentOf(input.percent, input.pvs ? pvListFreeExtents(vg, input.pvs) : vgExtentCount(vg), false);
      break;
    case "LV":
      throw new LvmError("Please express size as %FREE, %PVS or %VG.", EXIT.FAILED);
    case "ORIGIN": {
      const origin = input.origin!;
      extents =
        cowMaxExtents(origin.extents, origin.chunkSize, vg.extentSize) -
        origin.extents +
        percentOf(input.percent, origin.extents, true);
      break;
    }
  }
  if (!extents) throw new LvmError("Calculated size of logical volume is 0 extents. Needs to be larger.", EXIT.FAILED);
  if (input.kind !== "ORIGIN" && input.mirrors) extents = Math.floor(extents / input.mirrors) || 1;

  const stripeExtents = Math.floor(input.stripeSize / vg.extentSize) || 1;
  const rest = extents % (input.stripes * stripeExtents);
  if (input.stripes && rest && free < extents - rest + input.stripes * stripeExtents) {
    notes.push(`Rounding size (${extents} extents) down to stripe boundary size (${extents - rest} extents)`);
    extents -= rest;
  }
  return extents;
}

/**
 * Largest useful snapshot for an origin: header chunk, exception chunks, one
 * metadata chunk per chunk_size*32 data chunks, plus the spare chunks LVM adds
 * for kernels that may leak (assumed, as without device-mapper).
 */
function cowMaxExtents(originExtents: number, chunkSize: number, extentSize: number): number {
  const originChunks = Math.ceil((originExtents * extentSize) / chunkSize);
  const perMetadataChunk = chunkSize * 32;
  const metadataChunks = Math.floor((originChunks + perMetadataChunk) / perMetadataChunk);
  const chunks = 1 + originChunks + metadataChunks;
  const size = (chunks + Math.floor((chunks + 63) / 64)) * chunkSize;
  return Math.min(Math.ceil(size / extentSize), MAX_EXTENTS);
}

export interface ResizePercentInput {
  percent: number;
  kind: PercentKind;
  sign: Sign;
  /** Current size of the LV in logical extents. */
  lvExtents: number;
  pvs?: PvListEntry[];
  /** %ORIGIN: the origin's size when the LV is a snapshot. */
  originExtents?: number;
}

export interface ResizePercent {
  /** Extents the percentage stands for (a delta when signed). */
  extents: number;
  /** Physical extents (all copies) rather than logical ones: %VG, %FREE, %PVS. */
  extentsArePes: boolean;
  /** Upper bound: allocation takes what it finds. */
  approx: boolean;
}

/** lvextend/lvreduce/lvresize `-l [+|-]N%KIND`. */
export function resizeExtentsFromPercent(vg: VolumeGroup, input: ResizePercentInput, notes: string[]): ResizePercent {
  const roundUp = input.sign !== "-";
  let extents: number;
  switch (input.kind) {
    case "VG": {
      extents = percentOf(input.percent, vgExtentCount(vg), roundUp);
      const limit = input.lvExtents + vgFreeExtents(vg);
      if (input.sign === "" && extents > limit) {
        extents = limit;
        notes.push(`Reducing ${input.percent}%VG to remaining free space ${displaySize(extents * vg.extentSize)} in VG.`);
      }
      break;
    }
    case "FREE":
      extents = percentOf(input.percent, vgFreeExtents(vg), roundUp);
      break;
    case "LV":
      extents = percentOf(input.percent, input.lvExtents, roundUp);
      break;
    case "PVS":
      extents = percentOf(input.percent, input.pvs ? pvListFreeExtents(vg, input.pvs) : vgExtentCount(vg), roundUp);
      break;
    case "ORIGIN":
      if (input.originExtents === undefined) throw new LvmError("Specified LV does not have an origin LV.", EXIT.FAILED);
      extents = percentOf(input.percent, input.originExtents, roundUp);
      break;
  }
  const pes = input.kind === "VG" || input.kind === "FREE" || input.kind === "PVS";
  const approx = (input.sign === "" && pes) || (input.sign === "+" && input.kind === "FREE");
  return { extents, extentsArePes: pes, approx };
}

/**
 * `--regionsize` as LVM accepts it (sectors, checked like the command line
 * does: exit 3; `argText` is what the user typed) and the region size a raid1
 * of `lvSectors` gets: the default 2 MiB, cut to a power of 2 not above the LV
 * size, and doubled until the bitmap needs at most 2^21 regions.
 */
export function regionSizeFor(lvSectors: number, notes: string[], requested?: number, argText = `${requested}s`): number {
  if (requested !== undefined) validateRegionSize(requested, argText);
  let regionSize = requested ?? DEFAULT_REGION_SIZE;
  if (lvSectors < UINT32_MAX && regionSize > lvSectors) {
    regionSize = 2 ** Math.floor(Math.log2(lvSectors));
    notes.push(`Using reduced mirror region size of ${displaySize(regionSize)}`);
  }
  return ensureMinRegionSize(lvSectors, regionSize);
}

/** Doubles the region size until the bitmap of an LV this big fits in 2^21 regions. */
export function ensureMinRegionSize(lvSectors: number, regionSize: number): number {
  const min = Math.floor(lvSectors / MAX_REGIONS);
  let size = regionSize;
  while (size < min) size *= 2;
  return size;
}

function validateRegionSize(sectors: number, argText: string): void {
  const invalid = (line: string): never => {
    throw new LvmError(
      [line, `Invalid argument for --regionsize: ${argText}`, "Error during parsing of command line."],
      EXIT.INVALID_CMD_LINE,
    );
  };
  if (sectors < 0) invalid("Region size may not be negative.");
  if (sectors > UINT32_MAX) invalid(`Region size is too big (max ${UINT32_MAX}).`);
  if (sectors === 0) invalid("Region size may not be zero.");
  if (sectors % PAGE_SECTORS) invalid(`Region size must be a multiple of machine memory page size (${PAGE_SECTORS * 512} bytes).`);
  if (sectors & (sectors - 1)) invalid("Region size must be a power of 2.");
}
