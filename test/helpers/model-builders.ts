/**
 * VG, PV, LV and segment models for tests and benches: the fields LVM writes for
 * a plain new object, so that a test spells out only what it is about.
 */
import type { LogicalVolume, PhysicalVolume, Segment, VolumeGroup } from "../../src/core/model/types.ts";

export function makeVg(fields: Partial<VolumeGroup> = {}): VolumeGroup {
  return {
    name: "vg0",
    id: "V".repeat(32),
    seqno: 1,
    format: "lvm2",
    status: ["RESIZEABLE", "READ", "WRITE"],
    flags: [],
    tags: [],
    extentSize: 8192,
    maxLv: 0,
    maxPv: 0,
    metadataCopies: 0,
    pvs: [],
    lvs: [],
    extra: [],
    ...fields,
  };
}

export function makePv(id: string, peCount: number, fields: Partial<PhysicalVolume> = {}): PhysicalVolume {
  return { id, status: ["ALLOCATABLE"], flags: [], tags: [], peStart: 2048, peCount, extra: [], ...fields };
}

/** A visible LV; its id is derived from the name unless given. */
export function makeLv(name: string, segments: Segment[], fields: Partial<LogicalVolume> = {}): LogicalVolume {
  return { name, id: name.padEnd(32, "i").slice(0, 32), status: ["READ", "WRITE", "VISIBLE"], flags: [], tags: [], segments, extra: [], ...fields };
}

/** `count` extents from LE `start`, contiguous on one PV from `pe`. */
export function linearSegment(start: number, count: number, pvId: string, pe: number): Segment {
  return {
    startExtent: start,
    extentCount: count,
    type: "striped",
    typeFlags: [],
    tags: [],
    areas: [{ kind: "pv", pvId, pe }],
    metaAreas: [],
    extra: [],
  };
}
