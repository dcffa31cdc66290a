/**
 * The free space an allocation may use: for each allowed PV a list of free
 * areas kept largest first, and the command line's PV list (`/dev/sdb:0-99`).
 *
 * LVM's allocator walks these lists while it reorders them (an area whose
 * unreserved part shrinks is moved further down and the walk continues from
 * its new place), and which area ends up chosen depends on that. So the lists
 * are intrusive circular lists with LVM's exact insert/remove semantics rather
 * than sorted arrays.
 */
import { EXIT, LvmError } from "../errors.ts";
import { pvFreeRuns } from "../model/relations.ts";
import type { PhysicalVolume, VolumeGroup } from "../model/types.ts";

export interface PeRange {
  start: number;
  /** Inclusive, as on the command line. */
  end: number;
}

/** One entry of an allocatable PV list: a PV and, when given, the PE ranges allowed on it. */
export interface PvListEntry {
  pvId: string;
  ranges?: PeRange[];
}

interface Link {
  n: Link;
  p: Link;
}

export interface PvArea extends Link {
  map: PvMap;
  start: number;
  count: number;
  /** Part of `count` not yet set aside in the current search pass. */
  unreserved: number;
}

export interface PvMap {
  pv: PhysicalVolume;
  /** List head; items are PvAreas. */
  areas: Link;
  peCount: number;
}

function listInit(head: Link): void {
  head.n = head;
  head.p = head;
}

/** Inserts `elem` before `before` (at the tail when `before` is the head). */
function listAdd(before: Link, elem: Link): void {
  elem.n = before;
  elem.p = before.p;
  before.p.n = elem;
  before.p = elem;
}

/** Unlinks `elem`; its own links are left as they were, which the list walk relies on. */
function listDel(elem: Link): void {
  elem.n.p = elem.p;
  elem.p.n = elem.n;
}

export function areaList(map: PvMap): PvArea[] {
  const out: PvArea[] = [];
  for (let l = map.areas.n; l !== map.areas; l = l.n) out.push(l as PvArea);
  return out;
}

export function firstArea(map: PvMap): PvArea | undefined {
  return map.areas.n === map.areas ? undefined : (map.areas.n as PvArea);
}

/** The next area in the walk, undefined at the end of the list. */
export function nextArea(map: PvMap, area: PvArea): PvArea | undefined {
  return area.n === map.areas ? undefined : (area.n as PvArea);
}

/** Keeps the list largest first; `reduced` places by the unreserved size but compares with the others' full size. */
function insertArea(area: PvArea, reduced: boolean): void {
  const head = area.map.areas;
  const count = reduced ? area.unreserved : area.count;
  let at = head.n;
  while (at !== head && !(count > (at as PvArea).count)) at = at.n;
  listAdd(at, area);
  area.map.peCount += area.count;
}

function removeArea(area: PvArea): void {
  listDel(area);
  area.map.peCount -= area.count;
}

export function consumePvArea(area: PvArea, toGo: number): void {
  removeArea(area);
  if (toGo < area.count) {
    area.start += toGo;
    area.count -= toGo;
    area.unreserved = area.count;
    insertArea(area, false);
  }
}

export function reinsertChangedPvArea(area: PvArea): void {
  removeArea(area);
  insertArea(area, true);
}

export function pvMapsSize(maps: PvMap[]): number {
  return maps.reduce((n, m) => n + m.peCount, 0);
}

function isAllocatable(pv: PhysicalVolume): boolean {
  return pv.status.includes("ALLOCATABLE") && !pv.flags.includes("MISSING") && !pv.status.includes("MISSING");
}

/**
 * Free areas of the allowed PVs, in the order of `list` (the VG's PV order when
 * no list was given). Non-allocatable and missing PVs contribute nothing; a PV
 * named twice shares one map.
 */
export function createPvMaps(vg: VolumeGroup, list?: PvListEntry[]): PvMap[] {
  const free = pvFreeRuns(vg);
  const maps: PvMap[] = [];
  const entries: PvListEntry[] = list ?? vg.pvs.map((pv) => ({ pvId: pv.id }));
  for (const entry of entries) {
    const pv = vg.pvs.find((p) => p.id === entry.pvId);
    if (!pv || !isAllocatable(pv)) continue;
    let map = maps.find((m) => m.pv.id === pv.id);
    if (!map) {
      map = { pv, areas: {} as Link, peCount: 0 };
      listInit(map.areas);
      maps.push(map);
    }
    const ranges = entry.ranges ?? [{ start: 0, end: pv.peCount - 1 }];
    for (const range of ranges) addFreeAreas(map, free.get(pv.id) ?? [], range);
  }
  return maps;
}

function addFreeAreas(map: PvMap, free: { pe: number; count: number }[], range: PeRange): void {
  const end = Math.min(range.end, map.pv.peCount - 1);
  for (const run of free) {
    const start = Math.max(run.pe, range.start);
    const last = Math.min(run.pe + run.count - 1, end);
    if (start > last) continue;
    const area = { map, start, count: last - start + 1, unreserved: last - start + 1 } as PvArea;
    insertArea(area, false);
  }
}

/** Free extents of a PV list, counting only the given ranges (`%PVS`). */
export function pvListFreeExtents(vg: VolumeGroup, list: PvListEntry[]): number {
  const free = pvFreeRuns(vg);
  let total = 0;
  for (const entry of list) {
    const pv = vg.pvs.find((p) => p.id === entry.pvId);
    if (!pv) continue;
    for (const range of entry.ranges ?? [{ start: 0, end: pv.peCount - 1 }])
      for (const run of free.get(pv.id) ?? [])
        total += Math.max(0, Math.min(run.pe + run.count - 1, range.end) - Math.max(run.pe, range.start) + 1);
  }
  return total;
}

/** A PV argument as the command line gave it, already matched to a PV of the VG. */
export interface PvArg {
  /** Undefined when the device is not a PV of this VG. */
  pvId?: string;
  /** The device name the user typed, for messages. */
  name: string;
  /** Everything from the first `:` on (`:0-99:200+10`), if any. */
  rangeSpec?: string;
}

/**
 * LVM's PV list from command line arguments: repeated PVs merge their ranges
 * into the first entry, and ranges must not overlap. For allocating commands
 * (`allocatableOnly`, lvcreate/lvextend) PVs that cannot take extents are
 * dropped with a warning; lvconvert keeps them. Errors carry the warnings
 * printed before them.
 */
export function buildPvList(
  vg: VolumeGroup,
  args: PvArg[],
  allocatableOnly = true,
): { list: PvListEntry[]; warnings: string[] } {
  const list: PvListEntry[] = [];
  const warnings: string[] = [];
  const free = pvFreeRuns(vg);
  const fail = (line: string): never => {
    throw new LvmError([...warnings, line], EXIT.FAILED);
  };
  for (const arg of args) {
    const pv = vg.pvs.find((p) => p.id === arg.pvId);
    if (!pv) return fail(`Physical Volume "${arg.name}" not found in Volume Group "${vg.name}".`);
    const refusal = !allocatableOnly
      ? undefined
      : !pv.status.includes("ALLOCATABLE")
        ? `WARNING: Physical volume ${arg.name} not allocatable.`
        : pv.flags.includes("MISSING")
          ? `WARNING: Physical volume ${arg.name} is missing.`
          : (free.get(pv.id) ?? []).length === 0
            ? `WARNING: No free extents on physical volume "${arg.name}".`
            : undefined;
    if (refusal) {
      warnings.push(refusal);
      continue;
    }
    let entry = list.find((e) => e.pvId === pv.id);
    if (!entry) list.push((entry = { pvId: pv.id, ranges: [] }));
    for (const range of parsePeRanges(arg.rangeSpec, pv.peCount, fail)) {
      const clash = entry.ranges!.find((r) => range.start <= r.end && r.start <= range.end);
      if (clash)
        fail(`Overlapping PE ranges specified (${range.start}-${range.end}, ${clash.start}-${clash.end}) on ${arg.name}.`);
      entry.ranges!.push(range);
    }
  }
  if (list.length === 0) fail("No specified PVs have space available.");
  return { list, warnings };
}

/** `:a-b`, `:a+len`, `:a`, `:-b`, `:a-` items of a PV argument; no spec means the whole PV. */
function parsePeRanges(spec: string | undefined, peCount: number, error: (line: string) => never): PeRange[] {
  if (spec === undefined) return [{ start: 0, end: peCount - 1 }];
  const ranges: PeRange[] = [];
  let rest = spec;
  const fail = (): never => error(`Physical extent parsing error at ${rest}.`);
  while (rest.length) {
    if (rest[0] !== ":") fail();
    rest = rest.slice(1);
    if (rest === "" || rest[0] === ":") fail();
    let start = 0;
    let end = peCount - 1;
    const first = /^\d+/.exec(rest);
    if (first) {
      start = toUint32(first[0]) ?? fail();
      rest = rest.slice(first[0].length);
      if (rest === "" || rest[0] === ":") end = start;
    }
    if (rest[0] === "-" || rest[0] === "+") {
      const isLength = rest[0] === "+";
      rest = rest.slice(1);
      const num = /^\d+/.exec(rest);
      if (num) {
        const value = toUint32(num[0]) ?? fail();
        rest = rest.slice(num[0].length);
        end = isLength ? start + (value ? value - 1 : 0) : value;
      }
    }
    if (rest !== "" && rest[0] !== ":") fail();
    if (start > end || end > peCount - 1) error(`PE range error: start extent ${start} to end extent ${end}.`);
    ranges.push({ start, end });
  }
  return ranges;
}

function toUint32(digits: string): number | undefined {
  const v = Number(digits);
  return v <= 0xffffffff ? v : undefined;
}
