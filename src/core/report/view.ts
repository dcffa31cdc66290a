/**
 * What the report fields read: the model plus the facts LVM derives when it loads
 * a VG (which PVs are missing, which LVs are partial, sub-LV roles, PV segments)
 * and the live device-mapper state a daemon reports for each LV.
 */
import type { LogicalVolume, PhysicalVolume, Segment, VolumeGroup } from "../model/types.ts";
import { pvFreeRuns, pvUsage, subLvRoles, type PvExtentUse, type SubLvRole } from "../model/relations.ts";
import type { LoadedVg, ScannedPv } from "../../metadata/session.ts";

/** Device-mapper state of one LV, as the activation daemon reports it. */
export interface ActivationInfo {
  /** A live table is loaded. */
  active: boolean;
  /** The device is open (mounted, or held by a raid/mirror above it). */
  open: boolean;
  /** raid/mirror: percent in sync (0..100). */
  syncPercent?: number;
  /** raid: idle, resync, recover, check, repair, frozen, reshape. */
  syncAction?: string;
  /** raid: mismatch count (sectors) from the last scrub. */
  mismatchCount?: number;
  /** raid LV: the kernel's per-image health string, e.g. "AA", "aA", "DA". */
  health?: string;
  /** Read-ahead of the live device, sectors. */
  readAhead?: number;
}

export interface VgView {
  vg: VolumeGroup;
  /** The stand-in VG that orphan PVs report ("" or "[unknown]" for a used orphan). */
  orphan: boolean;
  devices: Map<string, ScannedPv>;
  lvs: Map<string, LogicalVolume>;
  roles: Map<string, SubLvRole>;
  usage: Map<string, PvExtentUse[]>;
  free: Map<string, { pe: number; count: number }[]>;
  /** Ids of PVs that are missing: not found here, or flagged MISSING in the metadata. */
  missing: Set<string>;
  /** Names of LVs with extents on a missing PV, directly or through their sub-LVs. */
  partial: Set<string>;
  activation(lv: LogicalVolume): ActivationInfo | undefined;
}

/** One PV row: a PV of a VG, or an orphan device with a label. */
export interface PvView {
  pv: PhysicalVolume;
  scanned?: ScannedPv;
}

/** A run of a PV's extents: used by an LV segment, or free. */
export interface PvSegment {
  pe: number;
  len: number;
  use?: PvExtentUse;
}

export type ActivationMap = Map<string, ActivationInfo>;

export function activationKey(vgName: string, lvName: string): string {
  return `${vgName}/${lvName}`;
}

/** The LVs an LV's segments reference (images, metadata LVs, mirror log). */
function lvDependencies(seg: Segment): string[] {
  const names: string[] = [];
  for (const area of [...seg.areas, ...seg.metaAreas]) if (area.kind === "lv") names.push(area.lv);
  if (seg.mirrorLog) names.push(seg.mirrorLog);
  return names;
}

export function makeVgView(loaded: LoadedVg, activation: ActivationMap | undefined): VgView {
  const { vg, devices } = loaded;
  const missing = new Set(vg.pvs.filter((pv) => pv.flags.includes("MISSING") || !devices.has(pv.id)).map((pv) => pv.id));
  const lvs = new Map(vg.lvs.map((lv) => [lv.name, lv]));
  const partial = new Set<string>();
  const visiting = new Set<string>();
  // LVM marks partial LVs bottom-up: an LV is partial when any area is on a missing PV or any LV it uses is partial.
  const isPartial = (lv: LogicalVolume): boolean => {
    if (partial.has(lv.name)) return true;
    if (visiting.has(lv.name)) return false;
    visiting.add(lv.name);
    const result = lv.segments.some(
      (seg) =>
        seg.areas.some((a) => a.kind === "pv" && missing.has(a.pvId)) ||
        lvDependencies(seg).some((name) => {
          const dep = lvs.get(name);
          return dep !== undefined && isPartial(dep);
        }),
    );
    if (result) partial.add(lv.name);
    return result;
  };
  vg.lvs.forEach(isPartial);
  const usage = pvUsage(vg);
  return {
    vg,
    orphan: false,
    devices,
    lvs,
    roles: subLvRoles(vg),
    usage,
    free: pvFreeRuns(vg, usage),
    missing,
    partial,
    activation: (lv) => activation?.get(activationKey(vg.name, lv.name)),
  };
}

const EMPTY_VG: VolumeGroup = {
  name: "",
  id: "",
  seqno: 0,
  format: "lvm2",
  status: [],
  flags: [],
  tags: [],
  extentSize: 0,
  maxLv: 0,
  maxPv: 0,
  metadataCopies: 0,
  pvs: [],
  lvs: [],
  extra: [],
};

/** LVM reports orphans against a dummy VG; an orphan still flagged as used shows VG "[unknown]". */
export function orphanVgView(scanned: ScannedPv): VgView {
  return {
    vg: scanned.used ? { ...EMPTY_VG, name: "[unknown]" } : EMPTY_VG,
    orphan: true,
    devices: new Map([[scanned.pvId, scanned]]),
    lvs: new Map(),
    roles: new Map(),
    usage: new Map(),
    free: new Map(),
    missing: new Set(),
    partial: new Set(),
    activation: () => undefined,
  };
}

export function orphanPvView(scanned: ScannedPv): PvView {
  return {
    scanned,
    pv: {
      id: scanned.pvId,
      deviceHint: scanned.device,
      status: [],
      flags: [],
      tags: [],
      devSize: scanned.size / 512,
      peStart: scanned.peStart / 512,
      peCount: 0,
      baStart: scanned.bootloaderArea ? scanned.bootloaderArea.offset / 512 : undefined,
      baSize: scanned.bootloaderArea ? scanned.bootloaderArea.size / 512 : undefined,
      extra: [],
    },
  };
}

/** The PV's extents in order, used runs and free gaps, as LVM's PV segments (one empty one for an orphan). */
export function pvSegments(view: VgView, pv: PhysicalVolume): PvSegment[] {
  const used: PvSegment[] = (view.usage.get(pv.id) ?? []).map((use) => ({ pe: use.pe, len: use.count, use }));
  const free: PvSegment[] = (view.free.get(pv.id) ?? []).map((run) => ({ pe: run.pe, len: run.count }));
  const all = [...used, ...free].sort((a, b) => a.pe - b.pe);
  return all.length ? all : [{ pe: 0, len: 0 }];
}

/** The name LVM shows for a PV of the VG: where it was found, or "[unknown]". */
export function pvDeviceName(view: VgView, pvId: string): string {
  return view.devices.get(pvId)?.device ?? "[unknown]";
}

/** The stand-in LV and segment LVM reports for a free PV segment. */
export function freeLv(len: number): { lv: LogicalVolume; seg: Segment } {
  const seg: Segment = { startExtent: 0, extentCount: len, type: "free", typeFlags: [], tags: [], areas: [], metaAreas: [], extra: [] };
  const lv: LogicalVolume = { name: "", id: "", status: ["VISIBLE"], flags: [], tags: [], segments: [], extra: [] };
  return { lv, seg };
}
