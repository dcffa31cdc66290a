/**
 * An LV's logical address space compiled into byte runs on PVs, as the kernel's
 * device-mapper table for it would be: one run per segment, linear and striped
 * segments resolved to PV byte offsets, raid1/mirror segments left as a node
 * holding their images' own maps for the raid engine. A map is immutable, so a
 * metadata change compiles a new one and the device swaps it in.
 */
import { FormatError, LvmError } from "../core/errors.ts";
import { findLv, lvExtents } from "../core/model/relations.ts";
import type { Area, LogicalVolume, Segment, VolumeGroup } from "../core/model/types.ts";

const SECTOR = 512;

/** A place on a PV. `slot` indexes the owning map's `pvs`, so a device can find the PV's I/O handle without a hash lookup per piece. */
export interface PvArea {
  readonly kind: "pv";
  readonly pv: string;
  readonly slot: number;
  /** Byte on the PV where the area starts (pe_start included). */
  readonly pvOffset: number;
}

/** dm-stripe: chunk i of the segment goes to area i mod stripes, at row i div stripes of that area. */
export interface StripedTarget {
  readonly kind: "striped";
  readonly stripeSize: number;
  readonly areas: readonly PvArea[];
}

export interface SubLv {
  readonly name: string;
  readonly map: LvMap;
  /** Byte of the sub-LV where this segment's data starts. */
  readonly offset: number;
}

/**
 * A raid1 or mirror segment, served by the raid engine: every image holds the
 * whole segment. Piece offsets for it are bytes from the segment's start.
 * `slot` indexes the owning map's `mirrors`.
 */
export interface MirrorTarget {
  readonly kind: "raid1" | "mirror";
  readonly slot: number;
  readonly length: number;
  readonly images: readonly SubLv[];
  /** raid1: the rmeta of each image (same index), empty without metadata; mirror: the log, empty with a core log. */
  readonly metas: readonly SubLv[];
  /** Bytes; 0 when the metadata gives none. */
  readonly regionSize: number;
}

/** dm-zero (reads zeroes, drops writes) and dm-error (fails everything). */
export type FillTarget = { readonly kind: "zero" } | { readonly kind: "error" };

export type Target = PvArea | StripedTarget | MirrorTarget | FillTarget;
/** Where one piece of a request goes: a striped target resolves to one of its areas. */
export type Dest = PvArea | MirrorTarget | FillTarget;

export interface Run {
  readonly lvOffset: number;
  readonly length: number;
  readonly target: Target;
}

export interface LvMap {
  readonly lv: string;
  readonly size: number;
  /** Sorted, contiguous from 0 to size. */
  readonly runs: readonly Run[];
  readonly pvs: readonly string[];
  readonly mirrors: readonly MirrorTarget[];
}

/**
 * The map of an LV of `vg`. Throws FormatError for geometry device-mapper would
 * refuse and LvmError (LVM's message for a missing kernel target) for segment
 * types ulvm cannot serve.
 */
export function compileLv(vg: VolumeGroup, lvName: string): LvMap {
  return compile(vg, lvName, []);
}

function compile(vg: VolumeGroup, lvName: string, parents: string[]): LvMap {
  if (parents.includes(lvName)) throw new FormatError(`LV ${lvName} is its own sub-LV (${[...parents, lvName].join(" -> ")})`);
  const lv = findLv(vg, lvName);
  if (!lv) {
    const parent = parents[parents.length - 1];
    if (parent === undefined) throw new LvmError(`Failed to find logical volume "${vg.name}/${lvName}"`);
    throw new FormatError(`LV ${parent} refers to LV ${lvName}, which is not in VG ${vg.name}`);
  }
  const extent = vg.extentSize * SECTOR;
  const pvs: string[] = [];
  const mirrors: MirrorTarget[] = [];
  const lineage = [...parents, lvName];

  const pvArea = (pvId: string, pe: number, extents: number): PvArea => {
    const pv = vg.pvs.find((p) => p.id === pvId);
    if (!pv) throw new FormatError(`LV ${lvName} uses PV ${pvId}, which is not in VG ${vg.name}`);
    if (pe + extents > pv.peCount) throw new FormatError(`LV ${lvName} uses extents ${pe}-${pe + extents - 1} of PV ${pvId}, which has ${pv.peCount}`);
    let slot = pvs.indexOf(pvId);
    if (slot < 0) slot = pvs.push(pvId) - 1;
    return freeze({ kind: "pv", pv: pvId, slot, pvOffset: pv.peStart * SECTOR + pe * extent });
  };
  /** `needed`: bytes the sub-LV must hold from the area's start. */
  const subLv = (segment: Segment, area: Area, needed: number): SubLv => {
    if (area.kind !== "lv") throw unsupported(vg, lv, `${segment.type} over PV areas`);
    const sub: SubLv = freeze({ name: area.lv, map: compile(vg, area.lv, lineage), offset: area.le * extent });
    if (sub.offset + needed > sub.map.size)
      throw new FormatError(`LV ${lvName} needs ${needed} bytes of ${area.lv} from byte ${sub.offset}, which has ${sub.map.size}`);
    return sub;
  };

  let next = 0;
  const runs = lv.segments.map((segment): Run => {
    if (segment.startExtent !== next) throw new FormatError(`LV ${lvName}: segment at extent ${segment.startExtent} should start at ${next}`);
    next += segment.extentCount;
    const length = segment.extentCount * extent;
    const { type, areas } = segment;
    if (segment.typeFlags.length > 0) throw unsupported(vg, lv, [type, ...segment.typeFlags].join("+"));
    let target: Target;
    if (type === "striped") {
      const stripes = areas.length;
      const perArea = segment.extentCount / stripes;
      if (!Number.isInteger(perArea)) throw new FormatError(`LV ${lvName}: ${segment.extentCount} extents do not divide into ${stripes} stripes`);
      const pvAreas = areas.map((a) => {
        if (a.kind !== "pv") throw unsupported(vg, lv, "striped over LV areas");
        return pvArea(a.pvId, a.pe, perArea);
      });
      if (stripes === 1) target = pvAreas[0]!;
      else {
        const stripeSize = (segment.stripeSize ?? 0) * SECTOR;
        if (stripeSize <= 0 || (perArea * extent) % stripeSize !== 0)
          throw new FormatError(`LV ${lvName}: stripe size ${segment.stripeSize ?? 0} does not divide a stripe of ${perArea} extents`);
        target = freeze({ kind: "striped", stripeSize, areas: freeze(pvAreas) });
      }
    } else if (type === "raid1" || type === "mirror") {
      const metas =
        type === "raid1"
          ? segment.metaAreas.map((a) => subLv(segment, a, 0))
          : segment.mirrorLog
            ? [subLv(segment, { kind: "lv", lv: segment.mirrorLog, le: 0 }, 0)]
            : [];
      const node: MirrorTarget = freeze({
        kind: type,
        slot: mirrors.length,
        length,
        images: freeze(areas.map((a) => subLv(segment, a, length))),
        metas: freeze(metas),
        regionSize: (segment.regionSize ?? 0) * SECTOR,
      });
      mirrors.push(node);
      target = node;
    } else if (type === "zero" || type === "error") target = freeze({ kind: type });
    else throw unsupported(vg, lv, type);
    return freeze({ lvOffset: segment.startExtent * extent, length, target });
  });
  return freeze({ lv: lvName, size: lvExtents(lv) * extent, runs: freeze(runs), pvs: freeze(pvs), mirrors: freeze(mirrors) });
}

function unsupported(vg: VolumeGroup, lv: LogicalVolume, what: string): LvmError {
  return new LvmError(`Can't process LV ${vg.name}/${lv.name}: ${what} target support missing from kernel?`);
}

function freeze<T extends object>(o: T): T {
  return Object.freeze(o);
}

/** Index of the run holding byte `offset` (0 <= offset < size). */
export function findRun(map: LvMap, offset: number): number {
  const runs = map.runs;
  let lo = 0;
  let hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (runs[mid]!.lvOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Receives one piece of a request: `length` bytes at `bufOffset` of the
 * caller's buffer go to `destOffset` of `dest` (a PV byte, bytes into a mirror
 * segment, or nothing for fills). `ctx` is passed through so that a visitor
 * needs no closure per request.
 */
export type PieceVisitor<C> = (ctx: C, dest: Dest, destOffset: number, bufOffset: number, length: number) => void;

/**
 * Splits the request [offset, offset + length) at run and stripe-chunk
 * boundaries, in LV order, allocating nothing. Returns the number of pieces.
 */
export function forEachPiece<C>(map: LvMap, offset: number, length: number, visit: PieceVisitor<C>, ctx: C): number {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > map.size)
    throw new RangeError(`${map.lv}: I/O of ${length} bytes at ${offset} is outside the LV (${map.size} bytes)`);
  if (length === 0) return 0;
  const runs = map.runs;
  let pieces = 0;
  let bufOffset = 0;
  for (let i = findRun(map, offset); bufOffset < length; i++) {
    const run = runs[i]!;
    const inRun = offset + bufOffset - run.lvOffset;
    const end = bufOffset + Math.min(length - bufOffset, run.length - inRun);
    const t = run.target;
    if (t.kind === "striped") {
      const size = t.stripeSize;
      const stripes = t.areas.length;
      let chunk = Math.floor(inRun / size);
      let within = inRun - chunk * size;
      while (bufOffset < end) {
        const n = Math.min(size - within, end - bufOffset);
        const area = t.areas[chunk % stripes]!;
        visit(ctx, area, area.pvOffset + Math.floor(chunk / stripes) * size + within, bufOffset, n);
        pieces++;
        bufOffset += n;
        chunk++;
        within = 0;
      }
    } else {
      visit(ctx, t, t.kind === "pv" ? t.pvOffset + inRun : inRun, bufOffset, end - bufOffset);
      pieces++;
      bufOffset = end;
    }
  }
  return pieces;
}
