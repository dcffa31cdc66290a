/**
 * Facts LVM derives rather than stores: which LV is a sub-LV of which (raid and
 * mirror roles are not flags on disk, they follow from the segments that
 * reference an LV), sizes, and which PV extents are in use.
 */
import type { LogicalVolume, Segment, VolumeGroup } from "./types.ts";

export type SubLvKind = "raid_image" | "raid_meta" | "mirror_image" | "mirror_log";

export interface SubLvRole {
  parent: LogicalVolume;
  segment: Segment;
  kind: SubLvKind;
  /** Position in the parent's image list (leg index); 0 for a mirror log. */
  index: number;
}

const WHOLE_IMAGE_RAIDS = new Set(["raid1"]);
export const STRIPED_RAIDS: ReadonlySet<string> = new Set(["raid0", "raid0_meta"]);

/** Extents each area of a segment covers: stripes share the segment, mirror and raid1 images each hold all of it. */
export function areaLength(segment: Segment): number | undefined {
  const n = segment.areas.length;
  if (n === 0) return 0;
  if (segment.type === "striped" || STRIPED_RAIDS.has(segment.type)) return segment.extentCount / n;
  if (segment.type === "mirror" || WHOLE_IMAGE_RAIDS.has(segment.type)) return segment.extentCount;
  return undefined;
}

export function findLv(vg: VolumeGroup, name: string): LogicalVolume | undefined {
  return vg.lvs.find((lv) => lv.name === name);
}

export function lvExtents(lv: LogicalVolume): number {
  const last = lv.segments[lv.segments.length - 1];
  return last ? last.startExtent + last.extentCount : 0;
}

export function isVisible(lv: LogicalVolume): boolean {
  return lv.status.includes("VISIBLE");
}

/** Roles of every LV referenced by another LV's segments, keyed by LV name. */
export function subLvRoles(vg: VolumeGroup): Map<string, SubLvRole> {
  const roles = new Map<string, SubLvRole>();
  for (const parent of vg.lvs) {
    for (const segment of parent.segments) {
      const isRaid = segment.type.startsWith("raid");
      const isMirror = segment.type === "mirror";
      if (!isRaid && !isMirror) continue;
      segment.areas.forEach((area, index) => {
        if (area.kind === "lv") roles.set(area.lv, { parent, segment, kind: isRaid ? "raid_image" : "mirror_image", index });
      });
      segment.metaAreas.forEach((area, index) => {
        if (area.kind === "lv") roles.set(area.lv, { parent, segment, kind: "raid_meta", index });
      });
      if (segment.mirrorLog) roles.set(segment.mirrorLog, { parent, segment, kind: "mirror_log", index: 0 });
    }
  }
  return roles;
}

/** The top-level LV an LV belongs to (itself when it is not a sub-LV). */
export function topLevelLv(vg: VolumeGroup, lv: LogicalVolume, roles = subLvRoles(vg)): LogicalVolume {
  let current = lv;
  for (let role = roles.get(current.name); role; role = roles.get(current.name)) current = role.parent;
  return current;
}

/** One run of a PV's extents used by an LV segment area. */
export interface PvExtentUse {
  pvId: string;
  pe: number;
  count: number;
  lv: LogicalVolume;
  segment: Segment;
  /** Logical extent of `lv` that maps to `pe`. */
  le: number;
}

/** Areas of a segment that sit on PVs, with the extents each covers. */
export function segmentPvRuns(lv: LogicalVolume, segment: Segment): PvExtentUse[] {
  if (!segment.areas.some((a) => a.kind === "pv")) return [];
  const perArea = areaLength(segment) ?? 0;
  return segment.areas.flatMap((area, i) =>
    area.kind === "pv"
      ? [{ pvId: area.pvId, pe: area.pe, count: perArea, lv, segment, le: segment.startExtent + (perArea === segment.extentCount ? 0 : i * perArea) }]
      : [],
  );
}

/** Every used PV extent run in the VG, grouped by PV id and sorted by PE. */
export function pvUsage(vg: VolumeGroup): Map<string, PvExtentUse[]> {
  const usage = new Map<string, PvExtentUse[]>(vg.pvs.map((pv) => [pv.id, []]));
  for (const lv of vg.lvs)
    for (const segment of lv.segments)
      for (const run of segmentPvRuns(lv, segment)) {
        let list = usage.get(run.pvId);
        if (!list) usage.set(run.pvId, (list = []));
        list.push(run);
      }
  for (const list of usage.values()) list.sort((a, b) => a.pe - b.pe);
  return usage;
}

/** Free extent runs of each PV, in PE order. */
export function pvFreeRuns(vg: VolumeGroup, usage = pvUsage(vg)): Map<string, { pe: number; count: number }[]> {
  const free = new Map<string, { pe: number; count: number }[]>();
  for (const pv of vg.pvs) {
    const runs: { pe: number; count: number }[] = [];
    let next = 0;
    for (const used of usage.get(pv.id) ?? []) {
      if (used.pe > next) runs.push({ pe: next, count: used.pe - next });
      next = Math.max(next, used.pe + used.count);
    }
    if (pv.peCount > next) runs.push({ pe: next, count: pv.peCount - next });
    free.set(pv.id, runs);
  }
  return free;
}

export function pvFreeExtents(vg: VolumeGroup, pvId: string, usage = pvUsage(vg)): number {
  const pv = vg.pvs.find((p) => p.id === pvId);
  if (!pv) return 0;
  return pv.peCount - (usage.get(pvId) ?? []).reduce((n, u) => n + u.count, 0);
}

export function isPvMissing(vg: VolumeGroup, pvId: string): boolean {
  return vg.pvs.find((p) => p.id === pvId)?.flags.includes("MISSING") ?? false;
}

/** Integer entries LVM keeps on segments that ulvm does not model (writebehind, recovery rates, data_copies). */
export function segExtraInt(seg: Segment | undefined, key: string): number | undefined {
  const entry = seg?.extra.find((e) => e.kind === "value" && e.key === key);
  return entry?.kind === "value" && entry.value.type === "int" ? entry.value.value : undefined;
}
