/**
 * What the report fields read: the model plus the facts LVM derives when it loads
 * a VG (which PVs are missing, which LVs are partial, sub-LV roles, PV segments)
 * and the live device-mapper state a daemon reports for each LV.
 */
import type { LogicalVolume, PhysicalVolume, Segment, VolumeGroup } from "../model/types.ts";
import { isVisible, pvFreeRuns, pvUsage, subLvRoles, type PvExtentUse, type SubLvRole } from "../model/relations.ts";
import type { LoadedVg, ScannedPv } from "../../metadata/session.ts";

/** Device-mapper state of one LV, as the activation daemon reports it. */
export interface ActivationInfo {
  /** A live table is loaded. */
  active: boolean;
  /** The device is open (mounted, or held by a raid/mirror above it). */
  open: boolean;
  /** raid/mirror: percent in sync (0..100), as `makePercent` gives it. */
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

/**
 * libdm's dm_make_percent of a ratio, as a percent: 0 and 100 only when nothing
 * or everything is in sync, otherwise a whole number of millionths between them.
 */
export function makePercent(numerator: number, denominator: number): number {
  if (!denominator || numerator === denominator) return 100;
  if (!numerator) return 0;
  const millionths = Math.trunc(100_000_000 * (numerator / denominator));
  return Math.min(Math.max(millionths, 1), 99_999_999) / 1_000_000;
}

/**
 * The live state of every LV of a VG from the daemon's entries, which name only
 * the LVs it activated. A sub-LV is a device-mapper device of its own in LVM:
 * active whenever the LV above it is, and held open by that LV's table. The
 * exception is a raid image split off with --trackchanges: the raid table has
 * "- -" in its place, so the image is active only as an LV of its own, and its
 * rmeta, left active beside it, is no longer held.
 */
function liveState(vg: VolumeGroup, lvs: Map<string, LogicalVolume>, roles: Map<string, SubLvRole>, activation: ActivationMap | undefined) {
  const own = (name: string) => activation?.get(activationKey(vg.name, name));
  const state = (lv: LogicalVolume): ActivationInfo | undefined => {
    const role = roles.get(lv.name);
    if (!role || !state(role.parent)?.active) return own(lv.name);
    // The image of this sub-LV's leg (itself, unless it is the leg's rmeta).
    const leg = role.kind === "raid_meta" ? role.segment.areas[role.index] : undefined;
    const image = leg ? (leg.kind === "lv" ? lvs.get(leg.lv) : undefined) : lv;
    if (!image || !isVisible(image)) return { active: true, open: true };
    if (image === lv) return own(lv.name);
    return { active: own(image.name)?.active ?? false, open: false };
  };
  return state;
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
  const roles = subLvRoles(vg);
  return {
    vg,
    orphan: false,
    devices,
    lvs,
    roles,
    usage,
    free: pvFreeRuns(vg, usage),
    missing,
    partial,
    activation: liveState(vg, lvs, roles, activation),
  };
}

/**
 * LVs whose live table still maps extents onto a PV that is now missing, in VG
 * order: lvm warns of each when it checks the devices active LVs use against
 * the PVs it found ("Couldn't find all devices for LV ... while checking used
 * and assumed devices"). Only LVs with extents on PVs themselves: a raid LV
 * uses its sub-LVs. (An LV activated with the PV already missing has its
 * extents there mapped to error devices by lvm and no warning; the daemon's
 * status does not tell that case apart.)
 */
export function activeOnMissingPvs(view: VgView): LogicalVolume[] {
  return view.vg.lvs.filter(
    (lv) => view.activation(lv)?.active && lv.segments.some((seg) => seg.areas.some((a) => a.kind === "pv" && view.missing.has(a.pvId))),
  );
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
