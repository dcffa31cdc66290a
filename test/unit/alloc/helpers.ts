/** Small VG models for allocation tests. */
import type { LogicalVolume, Segment, VolumeGroup } from "../../../src/core/model/types.ts";
import { linearSegment, makeLv as lvModel, makePv, makeVg as vgModel } from "../../helpers/model-builders.ts";

export const EXTENT_4M = 8192;

export function pvId(i: number): string {
  return `PV${i}`.padEnd(32, "x");
}

export function makeVg(peCounts: number[], lvs: LogicalVolume[] = [], extentSize = EXTENT_4M): VolumeGroup {
  return vgModel({
    name: "vg_data",
    extentSize,
    pvs: peCounts.map((peCount, i) => makePv(pvId(i), peCount, { deviceHint: `/dev/sd${"bcdefgh"[i]}` })),
    lvs,
  });
}

export function linearSeg(start: number, count: number, pv: number, pe: number): Segment {
  return linearSegment(start, count, pvId(pv), pe);
}

export function makeLv(name: string, segments: Segment[], status = ["READ", "WRITE", "VISIBLE"]): LogicalVolume {
  return lvModel(name, segments, { status });
}

/** A linear LV of `count` extents at `pe` on PV `pv`. */
export function linearLv(name: string, pv: number, pe: number, count: number): LogicalVolume {
  return makeLv(name, [linearSeg(0, count, pv, pe)]);
}

/** A raid1 LV whose leg i is rmeta at legs[i].pe and the image right after, as lvcreate lays it out. */
export function raid1Lvs(name: string, extents: number, legs: { pv: number; pe: number }[]): LogicalVolume[] {
  const top = makeLv(name, [
    {
      startExtent: 0,
      extentCount: extents,
      type: "raid1",
      typeFlags: [],
      tags: [],
      regionSize: 4096,
      areas: legs.map((_, i) => ({ kind: "lv" as const, lv: `${name}_rimage_${i}`, le: 0 })),
      metaAreas: legs.map((_, i) => ({ kind: "lv" as const, lv: `${name}_rmeta_${i}`, le: 0 })),
      extra: [],
    },
  ]);
  return [
    top,
    ...legs.flatMap((leg, i) => [
      makeLv(`${name}_rimage_${i}`, [linearSeg(0, extents, leg.pv, leg.pe + 1)], ["READ", "WRITE"]),
      makeLv(`${name}_rmeta_${i}`, [linearSeg(0, 1, leg.pv, leg.pe)], ["READ", "WRITE"]),
    ]),
  ];
}

/** Where each segment area of an LV lies, as "pvIndex:pe+len" strings. */
export function placement(vg: VolumeGroup, name: string): string[] {
  const lv = vg.lvs.find((l) => l.name === name);
  if (!lv) throw new Error(`no LV ${name}`);
  return lv.segments.flatMap((s) =>
    s.areas.map((a) =>
      a.kind === "pv"
        ? `${vg.pvs.findIndex((p) => p.id === a.pvId)}:${a.pe}+${s.extentCount / s.areas.length}`
        : `${a.lv}`,
    ),
  );
}

export const REQ = { creationTime: 1796060081, creationHost: "vm", newId: () => "N".repeat(32) } as const;
