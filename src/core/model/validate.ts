/**
 * Consistency checks on a VG model: what LVM refuses when it imports metadata
 * (check_lv_segments, PV extent assignment) and what its vg_validate refuses
 * before a write. The first problem found is thrown as a FormatError whose text
 * follows LVM's message for it.
 */
import { FormatError } from "../errors.ts";
import { formatId } from "../format/id.ts";
import { MAX_NAME_LENGTH, isValidName } from "./names.ts";
import type { LogicalVolume, PhysicalVolume, Segment, VolumeGroup } from "./types.ts";
import { areaLength, lvExtents, STRIPED_RAIDS } from "./relations.ts";

/** Segment types of LVM's raid target. */
export const RAID_TYPES: ReadonlySet<string> = new Set([
  "raid0", "raid0_meta", "raid1", "raid10", "raid10_near", "raid4", "raid5", "raid5_n", "raid5_la", "raid5_ls",
  "raid5_ra", "raid5_rs", "raid6", "raid6_n_6", "raid6_nc", "raid6_nr", "raid6_zr", "raid6_ls_6", "raid6_rs_6",
  "raid6_la_6", "raid6_ra_6",
]);
/** Raid levels whose images hold the whole LV (no striping); other raids' image sizes depend on parity. */

/**
 * Extents each area of a segment covers: stripes split the segment, mirror and
 * raid1 images each hold all of it. Undefined where it depends on parity layout.
 */


function pvLabel(pv: PhysicalVolume): string {
  return pv.deviceHint ?? formatId(pv.id);
}

const isPowerOf2 = (n: number): boolean => n > 0 && Number.isInteger(Math.log2(n));

function checkExtentSize(vg: VolumeGroup): void {
  if (vg.extentSize === 0) throw new FormatError("Physical extent size may not be zero");
  // 256 sectors = 128 KiB.
  if (!isPowerOf2(vg.extentSize) && vg.extentSize % 256 !== 0)
    throw new FormatError("Physical Extent size must be a multiple of 128.00 KiB when not a power of 2.");
}

function checkUnique(vg: VolumeGroup): void {
  const pvIds = new Set<string>();
  for (const pv of vg.pvs) {
    if (pvIds.has(pv.id))
      throw new FormatError(`Internal error: Duplicate PV id ${formatId(pv.id)} detected for ${pvLabel(pv)} in ${vg.name}.`);
    pvIds.add(pv.id);
  }
  const names = new Set<string>();
  const ids = new Set<string>();
  for (const lv of vg.lvs) {
    if (!isValidName(lv.name)) throw new FormatError(`Internal error: LV name ${lv.name} has invalid form.`);
    const devNameLength = lv.name.length + vg.name.length + 3;
    if (devNameLength > MAX_NAME_LENGTH)
      throw new FormatError(`Internal error: LV name "${vg.name}/${lv.name}" length ${devNameLength} is not supported.`);
    if (names.has(lv.name)) throw new FormatError(`Internal error: Duplicate LV name ${lv.name} detected in ${vg.name}.`);
    if (ids.has(lv.id))
      throw new FormatError(`Internal error: Duplicate LV id ${formatId(lv.id)} detected for ${lv.name} in ${vg.name}.`);
    names.add(lv.name);
    ids.add(lv.id);
  }
}

interface PvRun {
  pe: number;
  end: number;
  lv: string;
}

/** Segments contiguous from LE 0, areas that exist and fit, raid/mirror shapes; collects PV extent runs. */
function checkLv(vg: VolumeGroup, lv: LogicalVolume, pvs: Map<string, PhysicalVolume>, lvs: Map<string, LogicalVolume>, runs: Map<string, PvRun[]>): void {
  const display = `${vg.name}/${lv.name}`;
  if (lv.segments.length === 0) throw new FormatError(`LV ${lv.name}: has no segment.`);
  let le = 0;
  lv.segments.forEach((seg, i) => {
    const n = i + 1;
    if (seg.startExtent !== le)
      throw new FormatError(`LV ${lv.name} invalid: segment ${n} should begin at LE ${le} (found ${seg.startExtent}).`);
    if (seg.extentCount <= 0) throw new FormatError(`LV ${lv.name}: segment ${n} has no extents.`);
    le += seg.extentCount;
    const len = areaLength(seg);
    if (len !== undefined && !Number.isInteger(len))
      throw new FormatError(`LV ${lv.name}: segment ${n} with len=${seg.extentCount}  has inconsistent area_len ${Math.floor(len)}`);
    if (seg.metaAreas.length !== 0 && seg.metaAreas.length !== seg.areas.length)
      throw new FormatError(`LV ${display} invalid: ${seg.metaAreas.length} meta areas for ${seg.areas.length} images for ${seg.type} segment`);
    const isRaid = RAID_TYPES.has(seg.type);
    [...seg.areas, ...seg.metaAreas].forEach((area, s) => {
      if (area.kind === "pv") {
        const pv = pvs.get(area.pvId);
        if (!pv) throw new FormatError(`Internal error: Referenced PV ${formatId(area.pvId)} not listed in VG ${vg.name}.`);
        if (isRaid) throw new FormatError(`LV ${display} invalid: no DataLV for ${seg.type} segment`);
        if (len === undefined) return;
        if (area.pe + len > pv.peCount)
          throw new FormatError(`Segment with extent ${Math.max(area.pe, pv.peCount)} in PV ${pvLabel(pv)} not found`);
        let list = runs.get(pv.id);
        if (!list) runs.set(pv.id, (list = []));
        list.push({ pe: area.pe, end: area.pe + len, lv: lv.name });
        return;
      }
      const sub = lvs.get(area.lv);
      if (!sub || sub === lv) throw new FormatError(`LV ${lv.name}: segment ${n} has inconsistent LV area ${s}`);
      const isMeta = s >= seg.areas.length;
      const need = isMeta ? undefined : len;
      if (need !== undefined && area.le + need > lvExtents(sub))
        throw new FormatError(`LV ${lv.name}: segment ${n} has inconsistent LV area ${s}`);
    });
    if (seg.mirrorLog !== undefined && !lvs.has(seg.mirrorLog))
      throw new FormatError(`Unrecognised mirror log in segment ${n} of logical volume ${display}.`);
    if (isRaid) checkRaid(display, seg, lvs);
  });
}

/** LVM's raid image and metadata sub-LVs must be uniform in size; region size a power of 2. */
function checkRaid(display: string, seg: Segment, lvs: Map<string, LogicalVolume>): void {
  const fail = (what: string): never => {
    throw new FormatError(`LV ${display} invalid: ${what} for ${seg.type} segment`);
  };
  if (seg.areas.length === 0) fail("zero area count");
  for (const [areas, what] of [[seg.areas, "DataLV"], [seg.metaAreas, "MetaLV"]] as const) {
    let size: number | undefined;
    for (const area of areas) {
      if (area.kind !== "lv") return fail(`no ${what}`);
      const extents = lvExtents(lvs.get(area.lv)!);
      if (size !== undefined && size !== extents) fail(`${what} size variations (is ${extents})`);
      size = extents;
    }
  }
  if (!STRIPED_RAIDS.has(seg.type) && seg.regionSize !== undefined && !isPowerOf2(seg.regionSize))
    fail(seg.regionSize === 0 ? "zero region_size" : `non power of 2 region size (is ${seg.regionSize})`);
}

function checkPvOverlaps(vg: VolumeGroup, runs: Map<string, PvRun[]>): void {
  for (const [pvId, list] of runs) {
    list.sort((a, b) => a.pe - b.pe);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      const cur = list[i]!;
      if (cur.pe < prev.end) {
        const pv = vg.pvs.find((p) => p.id === pvId)!;
        throw new FormatError(`Physical extent ${cur.pe} of PV ${pvLabel(pv)} is used by both LV ${prev.lv} and LV ${cur.lv}.`);
      }
    }
  }
}

export function validateVg(vg: VolumeGroup): void {
  checkExtentSize(vg);
  checkUnique(vg);
  const pvs = new Map(vg.pvs.map((pv) => [pv.id, pv]));
  const lvs = new Map(vg.lvs.map((lv) => [lv.name, lv]));
  const runs = new Map<string, PvRun[]>();
  for (const lv of vg.lvs) checkLv(vg, lv, pvs, lvs, runs);
  checkPvOverlaps(vg, runs);
}
