/**
 * LVM 2.03's extent allocator (lib/metadata/lv_manip.c: _alloc_init, _allocate
 * and the search beneath it), reproduced decision for decision so that ulvm
 * puts extents exactly where lvm2 would.
 *
 * In outline: each policy up to the requested one is tried in turn
 * (contiguous, cling, normal, anywhere). A pass looks at every allowed PV,
 * picks at most one candidate area per PV (the smallest that is big enough,
 * else the largest), sorts the candidates by usable size and takes the first
 * `areaCount` of them as one set of parallel areas, all of the same length.
 * Passes repeat while space is missing; with `maximise_cling` (LVM's default)
 * later passes first stick to PVs already used. Cling and contiguous compare
 * against the LV's existing segments. Raid images get their rmeta split off
 * the front of the first area found for them.
 *
 * Defaults assumed, as shipped: allocation/maximise_cling = 1,
 * mirror_logs_require_separate_pvs = 0, no cling_tag_list.
 */
import { EXIT, LvmError } from "../errors.ts";
import { lvExtents } from "../model/relations.ts";
import type { LogicalVolume, Segment, VolumeGroup } from "../model/types.ts";
import {
  consumePvArea,
  createPvMaps,
  firstArea,
  nextArea,
  pvMapsSize,
  reinsertChangedPvArea,
  type PvArea,
  type PvListEntry,
  type PvMap,
} from "./pv-map.ts";

/** LVM's alloc_policy_t values; the order is the order policies are tried in. */
const CONTIGUOUS = 1;
const CLING = 2;
const CLING_BY_TAGS = 3;
const NORMAL = 4;
const ANYWHERE = 5;

export const POLICY_BY_NAME: Record<string, number> = {
  contiguous: CONTIGUOUS,
  cling: CLING,
  cling_by_tags: CLING_BY_TAGS,
  normal: NORMAL,
  anywhere: ANYWHERE,
};

const A_CONTIGUOUS_TO_LVSEG = 0x01;
const A_CLING_TO_LVSEG = 0x02;
const A_CLING_TO_ALLOCED = 0x04;
const A_CAN_SPLIT = 0x10;
const A_AREA_COUNT_MATCHES = 0x20;
const A_POSITIONAL_FILL = 0x40;

export interface SegTypeInfo {
  /** SEG_AREAS_STRIPED: striped and raid0 (area lengths add up). */
  striped: boolean;
  /** SEG_AREAS_MIRRORED: raid1, raid10, mirror. */
  mirrored: boolean;
  raid: boolean;
  raid1: boolean;
  raid10: boolean;
  parity: number;
}

export function segTypeInfo(type: string): SegTypeInfo {
  const raid = type.startsWith("raid");
  return {
    striped: type === "striped" || type === "raid0" || type === "raid0_meta",
    mirrored: type === "mirror" || type === "raid1" || type.startsWith("raid10"),
    raid,
    raid1: type === "raid1",
    raid10: type.startsWith("raid10"),
    parity: type.startsWith("raid6") ? 2 : type.startsWith("raid4") || type.startsWith("raid5") ? 1 : 0,
  };
}

/** How many logical extents one extent of each area stands for (_calc_area_multiple). */
export function calcAreaMultiple(type: string, areaCount: number, stripes: number): number {
  if (!areaCount) return 1;
  const info = segTypeInfo(type);
  if (info.striped) return areaCount;
  if (info.raid && info.parity) return areaCount <= info.parity ? 1 : areaCount - info.parity;
  if (info.raid10) return stripes || areaCount / 2;
  return stripes || 1;
}

/** Extents of each area of a segment. */
export function segAreaLen(seg: Segment): number {
  return seg.extentCount / calcAreaMultiple(seg.type, seg.areas.length, 0);
}

/** Size of an rmeta for an image of `rimageExtents` (superblock, bitmap superblock, one bit per region). */
function raidRmetaExtents(rimageExtents: number, regionSize: number, extentSize: number): number {
  const regions = Math.floor((rimageExtents * extentSize) / regionSize);
  const bytes = 2 * 4096 + Math.ceil(regions / 8);
  return Math.ceil(Math.ceil(bytes / 512) / extentSize);
}

/** Change of rmeta size when images grow or shrink (raid_rmeta_extents_delta). */
export function raidRmetaExtentsDelta(cur: number, next: number, regionSize: number, extentSize: number): number {
  const curMeta = raidRmetaExtents(cur, regionSize, extentSize);
  const nextMeta = raidRmetaExtents(next, regionSize, extentSize);
  if (!cur) return nextMeta;
  if (!next) return curMeta;
  return Math.abs(nextMeta - curMeta);
}

function raidRimageExtents(type: string, extents: number, stripes: number): number {
  const info = segTypeInfo(type);
  if (!extents || !info.raid || info.raid1) return extents;
  return Math.ceil(extents / (stripes || 1));
}

function stripesPerMimage(seg: Segment, lvByName: (name: string) => LogicalVolume | undefined): number {
  const first = seg.areas[0];
  if (segTypeInfo(seg.type).mirrored && first?.kind === "lv") {
    const image = lvByName(first.lv);
    const last = image?.segments[image.segments.length - 1];
    if (last && segTypeInfo(last.type).striped) return last.areas.length;
  }
  return 1;
}

interface AllocedArea {
  pvId: string;
  pe: number;
  len: number;
}

/** One PV-level piece of an LV segment area, as LVM's pv_segment. */
interface PvSeg {
  pvId: string;
  pe: number;
  len: number;
}

export interface AllocRequest {
  vg: VolumeGroup;
  /** Segment type being allocated for: "striped", "raid1" or "raid0_meta" (raid image pairs). */
  segtype: string;
  stripes: number;
  /** Data copies for raid1 (legs), 0 when not mirrored. */
  mirrors: number;
  /** rmeta areas wanted alongside the images (raid creation), else 0. */
  metadataAreaCount: number;
  regionSize: number;
  /** Logical extents to add. */
  extents: number;
  /** The LV being extended: its last segment is what cling/contiguous follow. */
  lv?: LogicalVolume;
  /** Name used in "Insufficient ... for logical volume" ("" when allocating sub-LVs for no LV). */
  lvName: string;
  pvs?: PvListEntry[];
  /** Already resolved: never inherit. */
  policy: number;
  /** Take as much as possible up to `extents` (sizes given as a percentage). */
  approx: boolean;
  /** PVs the new areas must avoid, for LEs [le, le+len) of `lv` (build_parallel_areas_from_lv). */
  parallelAreas?: { le: number; len: number; pvs: Set<string> }[];
}

export interface AllocHandle {
  areaCount: number;
  areaMultiple: number;
  /** Total logical extents after allocation, including the LV's existing ones and rmeta. */
  newExtents: number;
  /** Extents of each rmeta allocated (0 when none). */
  logLen: number;
  /** For each parallel slot (data slots, then rmeta slots), the areas allocated to it in order. */
  alloced: AllocedArea[][];
}

interface Handle extends AllocHandle {
  req: AllocRequest;
  parityCount: number;
  allocAndSplitMeta: boolean;
  splitMetadataIsAllocated: boolean;
  lvByName: (name: string) => LogicalVolume | undefined;
}

interface AllocParms {
  alloc: number;
  flags: number;
  prevSeg?: Segment;
  extentsStillNeeded: number;
}

interface AreaUsed {
  pva: PvArea | null;
  used: number;
}

interface AllocState {
  parms: AllocParms;
  areas: AreaUsed[];
  numPositionalAreas: number;
  allocated: number;
}

const PREFERRED = 0;
const USE_AREA = 1;
const NEXT_PV = 2;
const NEXT_AREA = 3;

/**
 * Finds the extents for a request, or throws LVM's error. Nothing in `req.vg`
 * is changed; the caller turns `alloced` into segments.
 */
export function allocate(req: AllocRequest): AllocHandle {
  const ah = initHandle(req);
  runAllocation(ah);
  return ah;
}

function initHandle(req: AllocRequest): Handle {
  const stripes = req.mirrors && !req.stripes ? 1 : req.stripes;
  const areaCount = req.mirrors > 1 ? req.mirrors * stripes : stripes;
  const info = segTypeInfo(req.segtype);
  const areaMultiple = calcAreaMultiple(req.segtype, areaCount, stripes);
  const existing = req.lv ? lvExtents(req.lv) : 0;
  let total = req.extents;
  let logLen = 0;
  if (info.raid && req.metadataAreaCount) {
    logLen = raidRmetaExtentsDelta(
      raidRimageExtents(req.segtype, existing, stripes),
      raidRimageExtents(req.segtype, existing + req.extents, stripes),
      req.regionSize,
      req.vg.extentSize,
    );
    total += logLen * (info.raid1 ? 1 : areaMultiple);
  }
  const lvs = new Map(req.vg.lvs.map((lv) => [lv.name, lv]));
  return {
    req,
    areaCount,
    parityCount: 0,
    areaMultiple,
    logLen,
    allocAndSplitMeta: logLen > 0,
    splitMetadataIsAllocated: false,
    newExtents: total + existing,
    alloced: Array.from({ length: areaCount * (req.metadataAreaCount ? 2 : 1) }, () => []),
    lvByName: (name) => lvs.get(name),
  };
}

function runAllocation(ah: Handle): void {
  const { req } = ah;
  const state: AllocState = {
    parms: { alloc: 0, flags: 0, extentsStillNeeded: 0 },
    areas: [],
    numPositionalAreas: 0,
    allocated: req.lv ? lvExtents(req.lv) : 0,
  };
  if (state.allocated >= ah.newExtents) return;
  if (ah.areaMultiple > 1 && (ah.newExtents - state.allocated) % ah.areaMultiple)
    throw new LvmError(
      `Number of extents requested (${ah.newExtents - state.allocated}) needs to be divisible by ${ah.areaMultiple}.`,
      EXIT.FAILED,
    );
  const canSplit = req.policy !== CONTIGUOUS;
  const prevSeg = req.lv?.segments[req.lv.segments.length - 1];
  const pvms = createPvMaps(req.vg, req.pvs);

  let areasSize = pvms.length;
  if (areasSize && areasSize < ah.areaCount + ah.parityCount) areasSize = ah.areaCount + ah.parityCount;
  if (prevSeg) areasSize += stripesPerMimage(prevSeg, ah.lvByName) * prevSeg.areas.length;
  state.areas = Array.from({ length: areasSize }, () => ({ pva: null, used: 0 }));

  // Every policy up to the requested one is tried; cling_by_tags does nothing without a cling_tag_list.
  for (let alloc = CONTIGUOUS; alloc <= req.policy; alloc++) {
    if (alloc === CLING_BY_TAGS) continue;
    const old = state.allocated;
    if (!req.approx) checkSufficientPesFree(ah, pvms, state.allocated);
    state.parms = initAllocParms(ah, alloc, prevSeg, canSplit, state.allocated);
    findMaxParallelSpaceForOnePolicy(ah, pvms, state);
    if (state.allocated === ah.newExtents || (!canSplit && state.allocated !== old)) break;
  }

  if (state.allocated !== ah.newExtents) {
    const contiguous = canSplit ? "" : "contiguous ";
    if (!req.approx)
      throw new LvmError(
        `Insufficient suitable ${contiguous}allocatable extents for logical volume ${req.lvName}: ` +
          `${((ah.newExtents - state.allocated) * ah.areaCount) / ah.areaMultiple} more required`,
        EXIT.FAILED,
      );
    if (!state.allocated)
      throw new LvmError(
        `Insufficient suitable ${contiguous}allocatable extents found for logical volume ${req.lvName}.`,
        EXIT.FAILED,
      );
    ah.newExtents = state.allocated;
  }
}

/** Gives up at once when the allowed PVs cannot hold the request (rmeta included: it is part of newExtents). */
function checkSufficientPesFree(ah: Handle, pvms: PvMap[], allocated: number): void {
  const needed = ((ah.newExtents - allocated) * ah.areaCount) / ah.areaMultiple;
  const free = pvMapsSize(pvms);
  if (needed > free)
    throw new LvmError(`Insufficient free space: ${needed} extents needed, but only ${free} available`, EXIT.FAILED);
}

function initAllocParms(ah: Handle, alloc: number, prevSeg: Segment | undefined, canSplit: boolean, allocated: number): AllocParms {
  const parms: AllocParms = { alloc, flags: 0, prevSeg, extentsStillNeeded: ah.newExtents };
  // Only follow on from the previous segment when the number of areas matches.
  if (prevSeg && ah.areaCount + ah.parityCount === prevSeg.areas.length) {
    parms.flags |= A_AREA_COUNT_MATCHES;
    if (alloc === CONTIGUOUS) parms.flags |= A_CONTIGUOUS_TO_LVSEG | A_POSITIONAL_FILL;
    else if (alloc === CLING) parms.flags |= A_CLING_TO_LVSEG | A_POSITIONAL_FILL;
  } else if (alloc === CLING) parms.flags |= A_CLING_TO_ALLOCED | A_POSITIONAL_FILL;
  // maximise_cling: once something is found, keep further extents on the same PVs.
  if (alloc === NORMAL && allocated !== parms.extentsStillNeeded) parms.flags |= A_CLING_TO_ALLOCED;
  if (canSplit) parms.flags |= A_CAN_SPLIT;
  return parms;
}

function findMaxParallelSpaceForOnePolicy(ah: Handle, pvms: PvMap[], state: AllocState): void {
  const parms = state.parms;
  do {
    let parallelPvs: Set<string> | undefined;
    let maxToAllocate = parms.extentsStillNeeded - state.allocated;
    const metaPending = ah.allocAndSplitMeta && !ah.splitMetadataIsAllocated;
    if (ah.req.parallelAreas) {
      const prev = parms.prevSeg;
      const nextLe = (prev ? prev.startExtent + prev.extentCount : 0) + Math.floor(state.allocated / ah.areaMultiple);
      for (const spvs of ah.req.parallelAreas) {
        if (nextLe >= spvs.le + spvs.len) continue;
        const maxTmp = maxToAllocate + state.allocated - (metaPending ? ah.logLen : 0);
        if (maxTmp > (spvs.le + spvs.len) * ah.areaMultiple)
          maxToAllocate = (spvs.le + spvs.len) * ah.areaMultiple - state.allocated + (metaPending ? ah.logLen : 0);
        parallelPvs = spvs.pvs;
        break;
      }
    }
    const old = state.allocated;
    findSomeParallelSpace(ah, pvms, state, parallelPvs, maxToAllocate);
    // Nothing found: cling retries without keeping each area in its position, normal without clinging.
    if (old === state.allocated) {
      if (parms.alloc === CLING && parms.flags & A_CLING_TO_LVSEG && parms.flags & A_POSITIONAL_FILL)
        parms.flags &= ~A_POSITIONAL_FILL;
      else if (parms.alloc === NORMAL && parms.flags & A_CLING_TO_ALLOCED) parms.flags &= ~A_CLING_TO_ALLOCED;
      else break;
    } else if (parms.alloc === NORMAL && !(parms.flags & A_CLING_TO_ALLOCED)) parms.flags |= A_CLING_TO_ALLOCED;
  } while (
    parms.alloc !== CONTIGUOUS &&
    state.allocated !== parms.extentsStillNeeded &&
    parms.flags & A_CAN_SPLIT &&
    (!ah.req.approx || pvMapsSize(pvms))
  );
}

function findSomeParallelSpace(
  ah: Handle,
  pvms: PvMap[],
  state: AllocState,
  parallelPvs: Set<string> | undefined,
  maxToAllocate: number,
): void {
  const parms = state.parms;
  const devicesNeeded = ah.areaCount + ah.parityCount;
  let ix = 0;
  let preferredCount = 0;

  for (const a of state.areas) a.pva = null;
  state.numPositionalAreas = 0;
  resetUnreserved(pvms);

  if (!(parms.flags & A_POSITIONAL_FILL)) state.numPositionalAreas = 0;
  else if (parms.flags & (A_CONTIGUOUS_TO_LVSEG | A_CLING_TO_LVSEG))
    state.numPositionalAreas = stripesPerMimage(parms.prevSeg!, ah.lvByName) * parms.prevSeg!.areas.length;
  else if (parms.flags & A_CLING_TO_ALLOCED) state.numPositionalAreas = ah.areaCount;

  let lastIx: number;
  do {
    lastIx = ix;
    for (const pvm of pvms) {
      pv: {
        if (!firstArea(pvm)) continue;
        if (parms.alloc !== ANYWHERE && parallelPvs?.has(pvm.pv.id)) break pv;
        let alreadyFoundOne = false;
        for (let pva = firstArea(pvm); pva; pva = nextArea(pvm, pva)) {
          const use = checkPva(ah, pva, maxToAllocate, state, alreadyFoundOne);
          if (use === PREFERRED) preferredCount++;
          if (use === PREFERRED || use === NEXT_PV) break pv;
          if (use === NEXT_AREA) continue;
          // Except with anywhere, a later (smaller but big enough) area replaces this PV's candidate.
          if (!alreadyFoundOne || parms.alloc === ANYWHERE) {
            ix++;
            alreadyFoundOne = true;
          }
          const slot = ix + state.numPositionalAreas - 1;
          const required = calcRequiredExtents(ah, pva, slot, maxToAllocate, parms.alloc);
          reserveArea(state, pva, required, slot);
        }
      }
      if (
        (parms.alloc === ANYWHERE && ix + state.numPositionalAreas >= devicesNeeded) ||
        (preferredCount === state.numPositionalAreas && state.numPositionalAreas === devicesNeeded)
      )
        break;
    }
  } while (parms.alloc === ANYWHERE && lastIx !== ix && ix < devicesNeeded);

  if (preferredCount < state.numPositionalAreas && !(parms.flags & A_CLING_TO_ALLOCED) && !ix) return;
  if (ix + preferredCount < devicesNeeded) return;

  if (ix > 1) {
    // glibc's qsort is a merge sort here: equal sizes keep PV order.
    const from = state.numPositionalAreas;
    const sorted = state.areas.slice(from, from + ix).sort((a, b) => b.used - a.used);
    state.areas.splice(from, ix, ...sorted);
  }

  if (preferredCount && preferredCount !== state.numPositionalAreas) {
    for (let s = 0; s < devicesNeeded; s++)
      if (!state.areas[s]!.pva) {
        const from = state.areas[state.numPositionalAreas]!;
        state.areas[s] = { pva: from.pva, used: from.used };
        state.areas[state.numPositionalAreas++]!.pva = null;
      }
  }

  if (ix + state.numPositionalAreas < devicesNeeded) return;
  allocParallelArea(ah, maxToAllocate, state);
}

function resetUnreserved(pvms: PvMap[]): void {
  for (const pvm of pvms)
    for (let pva = firstArea(pvm); pva; pva = nextArea(pvm, pva))
      if (pva.unreserved !== pva.count) {
        pva.unreserved = pva.count;
        reinsertChangedPvArea(pva);
      }
}

function reserveArea(state: AllocState, pva: PvArea, required: number, slot: number): void {
  // LVM doubles its array when a split area lands beyond it.
  while (slot >= state.areas.length) {
    const grow = state.areas.length || 1;
    for (let i = 0; i < grow; i++) state.areas.push({ pva: null, used: 0 });
  }
  state.areas[slot] = { pva, used: required };
}

function checkPva(ah: Handle, pva: PvArea, stillNeeded: number, state: AllocState, alreadyFoundOne: boolean): number {
  const parms = state.parms;
  if (!pva.unreserved) return NEXT_AREA;

  if (parms.flags & (A_CONTIGUOUS_TO_LVSEG | A_CLING_TO_LVSEG | A_CLING_TO_ALLOCED)) {
    const countMatches = (parms.flags & A_AREA_COUNT_MATCHES) !== 0;
    if ((parms.flags & A_CONTIGUOUS_TO_LVSEG || countMatches) && checkContiguous(ah, parms.prevSeg!, pva, state))
      return found(parms);
    if (parms.flags & A_CONTIGUOUS_TO_LVSEG) return NEXT_AREA;
    if ((parms.flags & A_CLING_TO_LVSEG || countMatches) && checkCling(ah, parms.prevSeg!, pva, state)) return found(parms);
    if (parms.flags & A_CLING_TO_ALLOCED && checkClingToAlloced(ah, pva, state)) return found(parms);
    // Without a cling_tag_list every area of this PV gives the same answer.
    return NEXT_PV;
  }

  // Normal/anywhere: is it big enough on its own?
  if (
    pva.unreserved * ah.areaMultiple < stillNeeded &&
    (!(parms.flags & A_CAN_SPLIT) || (alreadyFoundOne && parms.alloc !== ANYWHERE))
  )
    return NEXT_PV;
  return found(parms);
}

function found(parms: AllocParms): number {
  return parms.flags & A_POSITIONAL_FILL ? PREFERRED : USE_AREA;
}

function calcRequiredExtents(ah: Handle, pva: PvArea, slot: number, maxToAllocate: number, alloc: number): number {
  let required = Math.floor(maxToAllocate / ah.areaMultiple);
  if (alloc === ANYWHERE) {
    if (slot >= ah.areaCount + ah.parityCount) required = ah.logLen;
  } else if (required < ah.logLen) required = ah.logLen;
  if (required >= pva.unreserved) {
    required = pva.unreserved;
    pva.unreserved = 0;
  } else {
    pva.unreserved -= required;
    reinsertChangedPvArea(pva);
  }
  return required;
}

/**
 * A match of `pva` against area `s` of an existing segment: in a positional
 * fill it claims slot `s` (all of the area) unless that slot is taken.
 */
function matchSlot(state: AllocState, pva: PvArea, s: number): boolean {
  const positional = (state.parms.flags & A_POSITIONAL_FILL) !== 0;
  if (positional && state.areas[s]?.pva) return false;
  if (positional && (s >= state.numPositionalAreas || s >= state.areas.length)) return false;
  if (positional) reserveArea(state, pva, pva.count, s);
  return true;
}

/** Is `pva` on the same PV as the LV's first segment (maximise_cling looks there, as LVM's walk does)? */
function checkCling(ah: Handle, prevSeg: Segment, pva: PvArea, state: AllocState): boolean {
  const lv = ah.req.lv!;
  return forEachPv(ah, lv, 0, prevSeg.startExtent + prevSeg.extentCount, 0, -1, (pvseg, s) =>
    pvseg.pvId === pva.map.pv.id && matchSlot(state, pva, s),
  );
}

/** Does `pva` start right where an area of the LV's last extent ends? */
function checkContiguous(ah: Handle, prevSeg: Segment, pva: PvArea, state: AllocState): boolean {
  const lv = ah.req.lv!;
  return forEachPv(ah, lv, prevSeg.startExtent + prevSeg.extentCount - 1, 1, 0, -1, (pvseg, s) =>
    pvseg.pvId === pva.map.pv.id && pvseg.pe + pvseg.len === pva.start && matchSlot(state, pva, s),
  );
}

function checkClingToAlloced(ah: Handle, pva: PvArea, state: AllocState): boolean {
  const positional = (state.parms.flags & A_POSITIONAL_FILL) !== 0;
  for (let s = 0; s < ah.areaCount; s++) {
    if (positional && state.areas[s]?.pva) continue;
    if (ah.alloced[s]!.some((aa) => aa.pvId === pva.map.pv.id)) {
      if (positional) reserveArea(state, pva, pva.count, s);
      return true;
    }
  }
  return false;
}

/**
 * LVM's _for_each_pv for cling/contiguous checks: the PV areas under the one
 * segment at `le` (descending into sub-LVs, first segment only), numbered by
 * top-level parallel position. Stops at the first area `fn` accepts.
 */
function forEachPv(
  ah: Handle,
  lv: LogicalVolume,
  le: number,
  len: number,
  maxAreas: number,
  topLevelAreaIndex: number,
  fn: (pvseg: PvSeg, s: number) => boolean,
): boolean {
  const seg = lv.segments.find((sg) => le >= sg.startExtent && le < sg.startExtent + sg.extentCount);
  if (!seg) return false;
  const remaining = Math.min(seg.extentCount - (le - seg.startExtent), len);
  const areaMultiple = calcAreaMultiple(seg.type, seg.areas.length, 0);
  const areaLen = Math.floor(remaining / areaMultiple) || 1;
  const perMimage = topLevelAreaIndex === -1 ? stripesPerMimage(seg, ah.lvByName) : 1;
  for (let s = 0; s < seg.areas.length && (!maxAreas || s <= maxAreas); s++) {
    const area = seg.areas[s]!;
    if (area.kind === "lv") {
      const sub = ah.lvByName(area.lv);
      if (!sub) return false;
      const subLe = area.le + Math.floor((le - seg.startExtent) / areaMultiple);
      const top = topLevelAreaIndex !== -1 ? topLevelAreaIndex : s * perMimage;
      if (forEachPv(ah, sub, subLe, areaLen, perMimage === 1 ? 1 : 0, top, fn)) return true;
    } else {
      const pvseg = { pvId: area.pvId, pe: area.pe, len: segAreaLen(seg) };
      if (fn(pvseg, topLevelAreaIndex !== -1 ? topLevelAreaIndex + s : s)) return true;
    }
  }
  return false;
}

/** Takes one set of parallel areas, all `areaLen` long; the first set also yields the rmeta of each image. */
function allocParallelArea(ah: Handle, maxToAllocate: number, state: AllocState): void {
  const total = ah.areaCount + ah.parityCount;
  let areaLen = Math.floor(maxToAllocate / ah.areaMultiple);
  for (let s = 0; s < total; s++) areaLen = Math.min(areaLen, state.areas[s]!.used);
  const splitMeta = ah.allocAndSplitMeta && !ah.splitMetadataIsAllocated;
  for (let s = 0; s < total; s++) {
    const pva = state.areas[s]!.pva!;
    if (splitMeta) {
      if (ah.logLen > pva.count) throw new LvmError("Metadata does not fit on a single PV.", EXIT.FAILED);
      ah.alloced[s + total]!.push({ pvId: pva.map.pv.id, pe: pva.start, len: ah.logLen });
      consumePvArea(pva, ah.logLen);
    }
    const len = splitMeta ? areaLen - ah.logLen : areaLen;
    if (!len) continue;
    ah.alloced[s]!.push({ pvId: pva.map.pv.id, pe: pva.start, len });
    consumePvArea(pva, len);
  }
  if (ah.allocAndSplitMeta) ah.splitMetadataIsAllocated = true;
  state.allocated += areaLen * ah.areaMultiple;
}
