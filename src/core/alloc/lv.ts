/**
 * lvcreate, lvextend and lvreduce on the model: new LVs (linear, striped,
 * raid1 with its rimage/rmeta sub-LVs), growth of the last segment or new
 * segments as LVM lays them out, and shrinking from the end. The input VG is
 * never changed; results are fresh objects.
 */
import { EXIT, LvmError } from "../errors.ts";
import { findLv, lvExtents, subLvRoles } from "../model/relations.ts";
import type { AllocPolicy, LogicalVolume, Segment, VolumeGroup } from "../model/types.ts";
import {
  allocate,
  calcAreaMultiple,
  POLICY_BY_NAME,
  raidRmetaExtentsDelta,
  segAreaLen,
  segTypeInfo,
  type AllocHandle,
} from "./allocator.ts";
import { type PvListEntry } from "./pv-map.ts";
import { DEFAULT_REGION_SIZE, ensureMinRegionSize, regionSizeFor, vgFreeExtents } from "./sizes.ts";
import { displaySize } from "../report/units.ts";

/** Stripe size lvcreate uses without -I: 64 KiB in sectors. */
export const DEFAULT_STRIPE_SIZE = 128;

/** STRIPE_SIZE_MIN (a 4 KiB page) and LVM's upper bound, in sectors. */
export const STRIPE_SIZE_MIN = 8;
const STRIPE_SIZE_LIMIT = 2 ** 30;

/**
 * -i/-I as lvcreate checks them before anything else (toollib
 * get_stripe_params): the stripe size to use (undefined for one stripe).
 * Refusals are command line errors (exit 3).
 */
export function stripeParams(stripes: number, stripeSize: number | undefined, notes: string[]): number | undefined {
  const invalid = (line: string): never => {
    throw new LvmError(line, EXIT.INVALID_CMD_LINE);
  };
  if (stripes < 1 || stripes > 128) invalid(`Number of stripes (${stripes}) must be between 1 and 128.`);
  if (stripes === 1) {
    if (stripeSize) notes.push("Ignoring stripesize argument with single stripe.");
    return undefined;
  }
  let size = stripeSize;
  if (!size) {
    size = DEFAULT_STRIPE_SIZE;
    notes.push(`Using default stripesize ${displaySize(size)}.`);
  }
  if (size > STRIPE_SIZE_LIMIT * 2) invalid(`Stripe size cannot be larger than ${displaySize(STRIPE_SIZE_LIMIT)}.`);
  if (size < STRIPE_SIZE_MIN || size & (size - 1)) invalid(`Invalid stripe size ${displaySize(size)}.`);
  return size;
}

export interface CreateRequest {
  name: string;
  /** Logical extents (with `approx`, the most to take). */
  extents: number;
  type: "linear" | "striped" | "raid1";
  stripes?: number;
  /** Sectors, as stripeParams settled it. */
  stripeSize?: number;
  /** raid1: legs - 1 (`-m`). */
  mirrors?: number;
  /** Sectors; validated and adjusted as LVM does. */
  regionSize?: number;
  /** The command line's PV list; all PVs of the VG when absent. */
  pvs?: PvListEntry[];
  alloc: AllocPolicy;
  /** The size was a percentage: allocate what can be found up to `extents`. */
  approx?: boolean;
  /** raid1 `--nosync`. */
  nosync?: boolean;
  creationTime: number;
  creationHost: string;
  newId: () => string;
}

export function displayLvName(vg: VolumeGroup, name: string): string {
  return `${vg.name}/${name}`;
}

/** The effective policy: an LV's own, else the VG's, else normal. */
export function resolvePolicy(vg: VolumeGroup, policy: AllocPolicy | undefined): number {
  const p = !policy || policy === "inherit" ? vg.allocationPolicy : policy;
  return POLICY_BY_NAME[!p || p === "inherit" ? "normal" : p]!;
}

/** What a new LV is stamped with: LVM gives every LV it creates, sub-LVs too, an id and the creation time and host. */
export type NewLvStamp = Pick<CreateRequest, "newId" | "creationTime" | "creationHost">;

export function newLv(name: string, status: string[], alloc: AllocPolicy | undefined, stamp: NewLvStamp): LogicalVolume {
  const lv: LogicalVolume = {
    name,
    id: stamp.newId(),
    status,
    flags: [],
    tags: [],
    creationTime: stamp.creationTime,
    creationHost: stamp.creationHost,
    segments: [],
    extra: [],
  };
  if (alloc && alloc !== "inherit") lv.allocationPolicy = alloc;
  return lv;
}

/** Appends one segment per allocated set of areas from slots [first, first+count), then merges as LVM does. */
export function addAllocatedSegments(lv: LogicalVolume, ah: AllocHandle, first: number, count: number, stripeSize?: number): void {
  ah.alloced[first]!.forEach((head, row) => {
    lv.segments.push({
      startExtent: lvExtents(lv),
      extentCount: head.len * calcAreaMultiple("striped", count, 0),
      type: "striped",
      typeFlags: [],
      tags: [],
      stripeSize: count > 1 ? stripeSize : undefined,
      areas: Array.from({ length: count }, (_, s) => {
        const aa = ah.alloced[first + s]![row]!;
        return { kind: "pv" as const, pvId: aa.pvId, pe: aa.pe };
      }),
      metaAreas: [],
      extra: [],
    });
  });
  mergeSegments(lv);
}

/** Joins neighbouring striped segments whose every area continues on the same PV (lv_merge_segments). */
function mergeSegments(lv: LogicalVolume): void {
  const merged: Segment[] = [];
  for (const seg of lv.segments) {
    const prev = merged[merged.length - 1];
    if (prev && canMerge(prev, seg)) {
      prev.extentCount += seg.extentCount;
    } else merged.push(seg);
  }
  lv.segments = merged;
}

function canMerge(first: Segment, second: Segment): boolean {
  if (first.type !== "striped" || second.type !== "striped") return false;
  if (first.typeFlags.length || second.typeFlags.length) return false;
  if (first.areas.length !== second.areas.length || (first.stripeSize ?? 0) !== (second.stripeSize ?? 0)) return false;
  const width = segAreaLen(first);
  const areasContinue = first.areas.every((a, s) => {
    const b = second.areas[s]!;
    return a.kind === "pv" && b.kind === "pv" && a.pvId === b.pvId && a.pe + width === b.pe;
  });
  return areasContinue && first.tags.length === second.tags.length && first.tags.every((t) => second.tags.includes(t));
}

export function requireLv(vg: VolumeGroup, name: string): LogicalVolume {
  const lv = findLv(vg, name);
  if (!lv) throw new LvmError(`Failed to find logical volume "${displayLvName(vg, name)}"`, EXIT.FAILED);
  return lv;
}

function checkNameFree(vg: VolumeGroup, name: string): void {
  if (findLv(vg, name))
    throw new LvmError(`Unable to create LV ${name} in Volume Group ${vg.name}: name already in use.`, EXIT.FAILED);
}

/**
 * lvcreate: the new LVs, to append to vg.lvs in this order (top LV first, then
 * rimage_0, rmeta_0, rimage_1, ... for raid1), or LVM's error. Informational
 * lines go to `notes`.
 */
export function allocateLv(vg: VolumeGroup, req: CreateRequest, notes: string[]): LogicalVolume[] {
  const raid = req.type === "raid1";
  const legs = raid ? (req.mirrors ?? 1) + 1 : 0;
  if (raid && legs < 2)
    throw new LvmError(
      "--mirrors must be at least 1 with segment type raid1.",
      EXIT.INVALID_CMD_LINE,
    );
  if (findLv(vg, req.name))
    throw new LvmError(`Logical Volume "${req.name}" already exists in volume group "${vg.name}"`, EXIT.FAILED);
  const stripes = req.type === "striped" ? (req.stripes ?? 1) : 1;
  let stripeSize = stripes > 1 ? (req.stripeSize ?? DEFAULT_STRIPE_SIZE) : undefined;
  if (stripeSize !== undefined && stripeSize > vg.extentSize) {
    notes.push(
      `Reducing requested stripe size ${displaySize(stripeSize)} to maximum, physical extent size ${displaySize(vg.extentSize)}.`,
    );
    stripeSize = vg.extentSize;
  }

  let extents = req.extents;
  const rest = extents % stripes;
  if (rest) {
    const rounded = extents + stripes - rest;
    notes.push(
      `Rounding size ${displaySize(extents * vg.extentSize)} (${extents} extents) up to stripe boundary size ` +
        `${displaySize(rounded * vg.extentSize)} (${rounded} extents).`,
    );
    extents = rounded;
  }
  if (!extents) throw new LvmError("Internal error: Unable to create new logical volume with no extents.", EXIT.FAILED);

  const pvCount = req.pvs ? req.pvs.length : vg.pvs.length;
  if (req.alloc !== "anywhere" && stripes > pvCount)
    throw new LvmError(`Number of stripes (${stripes}) must not exceed number of physical volumes (${pvCount})`, EXIT.FAILED);

  let regionSize = 0;
  if (raid) {
    regionSize = regionSizeFor(extents * vg.extentSize, notes, req.regionSize);
    if (req.nosync) notes.push("WARNING: New raid1 won't be synchronised. Don't read what you didn't write!");
  }

  const free = vgFreeExtents(vg);
  if (!req.approx && free < extents)
    throw new LvmError(`Volume group "${vg.name}" has insufficient free space (${free} extents): ${extents} required.`, EXIT.FAILED);

  const top = newLv(req.name, ["READ", "WRITE", "VISIBLE", ...(req.nosync ? ["NOTSYNCED"] : [])], req.alloc, req);
  const ah = allocate({
    vg: { ...vg, lvs: [...vg.lvs, top] },
    segtype: raid ? "raid1" : "striped",
    stripes,
    mirrors: legs,
    metadataAreaCount: legs,
    regionSize,
    extents,
    lv: top,
    lvName: req.name,
    pvs: req.pvs,
    policy: resolvePolicy(vg, req.alloc),
    approx: req.approx ?? false,
  });
  if (!raid) {
    addAllocatedSegments(top, ah, 0, ah.areaCount, stripeSize);
    return [top];
  }

  const imageExtents = ah.newExtents - ah.logLen * ah.areaMultiple;
  // With a percentage LVM may find room for the rmetas only; it would then fail writing the empty LV.
  if (!imageExtents)
    throw new LvmError(`Insufficient suitable allocatable extents found for logical volume ${req.name}.`, EXIT.FAILED);

  // Sub-LVs come after the allocation, in LVM's order: rimage_0, rmeta_0, rimage_1, ...
  const created = [top];
  const images: LogicalVolume[] = [];
  const metas: LogicalVolume[] = [];
  for (let i = 0; i < legs; i++)
    for (const [kind, list] of [["rimage", images], ["rmeta", metas]] as const) {
      const name = `${req.name}_${kind}_${i}`;
      checkNameFree(vg, name);
      const sub = newLv(name, ["READ", "WRITE"], req.alloc, req);
      list.push(sub);
      created.push(sub);
    }
  images.forEach((image, i) => addAllocatedSegments(image, ah, i, 1));
  metas.forEach((meta, i) => addAllocatedSegments(meta, ah, ah.areaCount + i, 1));
  top.segments = [raidSegment(imageExtents, regionSize, images, metas)];
  return created;
}

export function raidSegment(extents: number, regionSize: number, images: LogicalVolume[], metas: LogicalVolume[]): Segment {
  return {
    startExtent: 0,
    extentCount: extents,
    type: "raid1",
    typeFlags: [],
    tags: [],
    regionSize,
    areas: images.map((lv) => ({ kind: "lv" as const, lv: lv.name, le: 0 })),
    metaAreas: metas.map((lv) => ({ kind: "lv" as const, lv: lv.name, le: 0 })),
    extra: [],
  };
}

export interface ExtendOptions {
  /** -i; default: the last segment's. */
  stripes?: number;
  /** -I in sectors; default: the last segment's. */
  stripeSize?: number;
  pvs?: PvListEntry[];
  /** --alloc; default: the LV's own policy. */
  alloc?: AllocPolicy;
  /** Take what can be found up to `addExtents`. */
  approx?: boolean;
}

/** Refusals lvresize makes before looking at sizes. */
export function checkResizable(vg: VolumeGroup, lv: LogicalVolume): void {
  const role = subLvRoles(vg).get(lv.name);
  if (role?.kind === "raid_image" || role?.kind === "raid_meta")
    throw new LvmError(`Cannot resize a RAID ${role.kind === "raid_image" ? "image" : "metadata area"} directly`, EXIT.FAILED);
  if (trackedImage(vg, lv))
    throw new LvmError(
      `Cannot resize logical volume ${displayLvName(vg, lv.name)} while it is tracking a split image.`,
      EXIT.FAILED,
    );
  if (!lv.status.includes("VISIBLE"))
    throw new LvmError(`Can't resize internal logical volume ${displayLvName(vg, lv.name)}.`, EXIT.FAILED);
}

/** The image of a raid1 split off with --trackchanges: visible and without WRITE. */
export function trackedImage(vg: VolumeGroup, lv: LogicalVolume): LogicalVolume | undefined {
  const seg = lv.segments[0];
  if (seg?.type !== "raid1") return undefined;
  for (const area of seg.areas) {
    const image = area.kind === "lv" ? findLv(vg, area.lv) : undefined;
    if (image?.status.includes("VISIBLE") && !image.status.includes("WRITE")) return image;
  }
  return undefined;
}

/**
 * lvextend by `addExtents` logical extents: linear/striped LVs grow by new
 * segments (merged into the last one when they continue it on the same PVs);
 * a raid1 grows every image, each preferring its own leg's PV, and the top
 * segment (whose region size may have to double).
 */
export function extendLv(vg: VolumeGroup, lvName: string, addExtents: number, opts: ExtendOptions = {}): VolumeGroup {
  const work = structuredClone(vg);
  const lv = requireLv(work, lvName);
  checkResizable(work, lv);
  const last = lv.segments[lv.segments.length - 1]!;
  // Virtual segments take no extents: the last one just grows (lv_add_virtual_segment).
  if (last.type === "error" || last.type === "zero") {
    last.extentCount += addExtents;
    return work;
  }
  if (last.type !== "striped" && last.type !== "raid1")
    throw new LvmError(`Extending ${last.type} segments of ${displayLvName(work, lvName)} is not supported.`, EXIT.FAILED);
  const policy = resolvePolicy(work, opts.alloc ?? lv.allocationPolicy);
  const base = { vg: work, extents: addExtents, lv, lvName, pvs: opts.pvs, policy, approx: opts.approx ?? false };

  if (last.type === "raid1") {
    const seg = lv.segments[0]!;
    const regionSize = ensureMinRegionSize(
      (lvExtents(lv) + addExtents) * work.extentSize,
      seg.regionSize ?? DEFAULT_REGION_SIZE,
    );
    seg.regionSize = regionSize;
    const legs = seg.areas.length;
    const ah = allocate({ ...base, segtype: "raid1", stripes: 1, mirrors: legs, metadataAreaCount: 0, regionSize });
    seg.areas.forEach((area, s) => {
      if (area.kind === "lv") addAllocatedSegments(requireLv(work, area.lv), ah, s, 1);
    });
    seg.extentCount = ah.newExtents;
    return work;
  }

  const stripes = opts.stripes ?? last.areas.length;
  const stripeSize = stripes > 1 ? (opts.stripeSize ?? last.stripeSize ?? DEFAULT_STRIPE_SIZE) : undefined;
  const ah = allocate({ ...base, segtype: "striped", stripes, mirrors: 0, metadataAreaCount: 0, regionSize: 0 });
  addAllocatedSegments(lv, ah, 0, ah.areaCount, stripeSize);
  return work;
}

/** Shrinks a segment by `reduction` logical extents from its end, freeing the tail of each area. */
function reduceSegment(vg: VolumeGroup, seg: Segment, reduction: number): void {
  const info = segTypeInfo(seg.type);
  const dataAreas = seg.areas.length - info.parity;
  const areaReduction = info.striped || (info.raid && !info.raid1 && !info.raid10) ? reduction / dataAreas : reduction;
  if (info.raid) {
    seg.areas.forEach((area, s) => {
      if (area.kind !== "lv") return;
      const image = requireLv(vg, area.lv);
      const meta = seg.metaAreas[s];
      if (meta?.kind === "lv") {
        const metaLv = requireLv(vg, meta.lv);
        const imageLen = lvExtents(image);
        let metaReduction = raidRmetaExtentsDelta(
          imageLen,
          imageLen - areaReduction,
          seg.regionSize ?? DEFAULT_REGION_SIZE,
          vg.extentSize,
        );
        if (metaReduction > lvExtents(metaLv) || imageLen === areaReduction) metaReduction = lvExtents(metaLv);
        if (metaReduction) reduceFromEnd(vg, metaLv, metaReduction);
      }
      reduceFromEnd(vg, image, areaReduction);
    });
  }
  seg.extentCount -= reduction;
}

function reduceFromEnd(vg: VolumeGroup, lv: LogicalVolume, extents: number): void {
  let count = extents;
  while (count) {
    const seg = lv.segments[lv.segments.length - 1]!;
    const reduction = Math.min(seg.extentCount, count);
    reduceSegment(vg, seg, reduction);
    if (!seg.extentCount) lv.segments.pop();
    count -= reduction;
  }
}

/** lvreduce by `removeExtents` logical extents from the end (every image and, when it shrinks, rmeta of a raid1). */
export function reduceLv(vg: VolumeGroup, lvName: string, removeExtents: number): VolumeGroup {
  const work = structuredClone(vg);
  const lv = requireLv(work, lvName);
  checkResizable(work, lv);
  if (removeExtents >= lvExtents(lv))
    throw new LvmError(`Unable to reduce ${displayLvName(work, lvName)} below 1 extent.`, EXIT.FAILED);
  reduceFromEnd(work, lv, removeExtents);
  return work;
}
