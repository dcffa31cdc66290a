/**
 * The attribute strings of lvs/vgs/pvs and the LV facts they rest on (LVM's
 * lv_attr_dup_with_info_and_seg_status, vg_attr_dup, pv_attr_dup,
 * lv_layout_and_role, the health status). ulvm stands for a host with
 * device-mapper: an LV without ActivationInfo is inactive (`-` in positions 5
 * and 6), never unknown (`X`) as on a host where activation is off.
 */
import type { AllocPolicy, LogicalVolume, Segment } from "../model/types.ts";
import { isVisible } from "../model/relations.ts";
import type { VgView, PvView } from "./view.ts";

/** Segment types LVM knows; any other (or an unknown `+FLAG`) makes it an "unknown" segment. */
const KNOWN_SEGTYPES = new Set([
  "striped", "mirror", "snapshot", "error", "zero", "free", "thin", "thin-pool", "cache", "cache-pool",
  "writecache", "integrity", "vdo", "vdo-pool",
  "raid0", "raid0_meta", "raid1", "raid10", "raid10_near", "raid4", "raid5", "raid5_n", "raid5_la", "raid5_ra",
  "raid5_ls", "raid5_rs", "raid6", "raid6_zr", "raid6_nr", "raid6_nc", "raid6_n_6", "raid6_ls_6", "raid6_rs_6",
  "raid6_la_6", "raid6_ra_6",
]);
const KNOWN_SEGTYPE_FLAGS = new Set([
  "RESHAPE", "RESHAPE_DATA_OFFSET", "RESHAPE_DELTA_DISKS_PLUS", "RESHAPE_DELTA_DISKS_MINUS",
  "REMOVE_AFTER_RESHAPE", "METADATA_FORMAT", "CROP_METADATA", "CACHE_USES_CACHEVOL",
]);

export function isRaidSeg(seg: Segment): boolean {
  return seg.type.startsWith("raid") && KNOWN_SEGTYPES.has(seg.type);
}

function isRaid0Seg(seg: Segment): boolean {
  return seg.type === "raid0" || seg.type === "raid0_meta";
}

function isVirtualSeg(seg: Segment): boolean {
  return seg.type === "error" || seg.type === "zero" || seg.type === "free";
}

function isUnknownSeg(seg: Segment): boolean {
  return !KNOWN_SEGTYPES.has(seg.type) || seg.typeFlags.some((f) => !KNOWN_SEGTYPE_FLAGS.has(f));
}

function hasStatus(lv: LogicalVolume, flag: string): boolean {
  return lv.status.includes(flag) || lv.flags.includes(flag);
}

export function isWritable(lv: LogicalVolume): boolean {
  return hasStatus(lv, "WRITE") || hasStatus(lv, "WRITE_LOCKED");
}

export const isRaid = (lv: LogicalVolume): boolean => lv.segments.some(isRaidSeg);
export const isMirror = (lv: LogicalVolume): boolean => lv.segments.some((s) => s.type === "mirror");
const isPvmove = (lv: LogicalVolume): boolean => hasStatus(lv, "PVMOVE");
/** lv_is_virtual: an error, zero or free segment (a raid leg vgreduce --removemissing --force replaced). */
export const isVirtual = (lv: LogicalVolume): boolean => lv.segments.some(isVirtualSeg);

function roleKind(view: VgView, lv: LogicalVolume): string | undefined {
  return view.roles.get(lv.name)?.kind;
}

export function isRaidType(view: VgView, lv: LogicalVolume): boolean {
  const kind = roleKind(view, lv);
  return isRaid(lv) || kind === "raid_image" || kind === "raid_meta";
}

function isMirrorType(view: VgView, lv: LogicalVolume): boolean {
  const kind = roleKind(view, lv);
  return isMirror(lv) || kind === "mirror_image" || kind === "mirror_log";
}

export function isActive(view: VgView, lv: LogicalVolume): boolean {
  return view.activation(lv)?.active ?? false;
}

/**
 * LVM's lv_raid_healthy: a raid LV has no dead ('D') leg in the kernel's health
 * string, a sub-LV's own leg is not dead. Inactive LVs count as healthy.
 */
function raidHealthy(view: VgView, lv: LogicalVolume): boolean {
  if (!isActive(view, lv)) return true;
  if (isRaid(lv)) return !(view.activation(lv)?.health ?? "").includes("D");
  return legHealth(view, lv) !== "D";
}

function legHealth(view: VgView, lv: LogicalVolume): string | undefined {
  const role = view.roles.get(lv.name);
  if (!role) return undefined;
  return view.activation(role.parent)?.health?.[role.index];
}

/** A raid image in sync: active, still part of the array (hidden) and 'A' in the kernel's health string. */
function raidImageInSync(view: VgView, lv: LogicalVolume): boolean {
  return isActive(view, lv) && !isVisible(lv) && legHealth(view, lv) === "A";
}

function mirrorImageInSync(view: VgView, lv: LogicalVolume): boolean {
  const parent = view.roles.get(lv.name)?.parent;
  const info = parent ? view.activation(parent) : undefined;
  return info?.active === true && info.syncPercent === 100;
}

/** lv_image_synced: a raid or mirror image whose leg is in sync. */
export function imageSynced(view: VgView, lv: LogicalVolume): boolean {
  const kind = roleKind(view, lv);
  if (kind === "raid_image") return raidImageInSync(view, lv);
  return kind === "mirror_image" && mirrorImageInSync(view, lv);
}

export function mismatchCount(view: VgView, lv: LogicalVolume): number | undefined {
  const info = view.activation(lv);
  return isRaid(lv) && info?.active ? (info.mismatchCount ?? 0) : undefined;
}

export function syncAction(view: VgView, lv: LogicalVolume): string | undefined {
  const info = view.activation(lv);
  return isRaid(lv) && info?.active ? (info.syncAction ?? "idle") : undefined;
}

/** LVM's percent for copy_percent: raid (not raid0) and mirror LVs while active; undefined otherwise. */
export function copyPercent(view: VgView, lv: LogicalVolume): number | undefined {
  const first = lv.segments[0];
  const eligible = (isRaid(lv) && first !== undefined && !isRaid0Seg(first)) || isMirror(lv);
  const info = view.activation(lv);
  return eligible && info?.active ? (info.syncPercent ?? 100) : undefined;
}

const ALLOC_CHAR: Record<AllocPolicy, string> = {
  contiguous: "c",
  cling: "l",
  cling_by_tags: "l",
  normal: "n",
  anywhere: "a",
  inherit: "i",
};

/** LVM reads cling_by_tags as cling. */
export function allocPolicyName(policy: AllocPolicy): string {
  return policy === "cling_by_tags" ? "cling" : policy;
}

export function lvAttr(view: VgView, lv: LogicalVolume): string {
  // A free-space stand-in has no name and no attributes.
  if (lv.name === "") return "";
  const kind = roleKind(view, lv);
  const info = view.activation(lv);
  let type = "-";
  if (isPvmove(lv)) type = "p";
  else if (hasStatus(lv, "CONVERTING")) type = "c";
  else if (kind === "raid_meta") type = "e";
  else if (isRaid(lv)) type = hasStatus(lv, "NOTSYNCED") ? "R" : "r";
  else if (isMirror(lv)) type = hasStatus(lv, "NOTSYNCED") ? "M" : "m";
  else if (isVirtual(lv)) type = "v";
  else if (kind === "mirror_image") type = mirrorImageInSync(view, lv) ? "i" : "I";
  // A visible raid image is one split off with --trackchanges: always 'I'.
  else if (kind === "raid_image") type = raidImageInSync(view, lv) ? "i" : "I";
  else if (kind === "mirror_log") type = "l";

  let perm = "-";
  if (!isPvmove(lv)) perm = isWritable(lv) ? "w" : hasStatus(lv, "READ") ? "r" : "-";

  let alloc = ALLOC_CHAR[lv.allocationPolicy ?? "inherit"];
  if (hasStatus(lv, "LOCKED")) alloc = alloc.toUpperCase();
  const minor = hasStatus(lv, "FIXED_MINOR") ? "m" : "-";
  const state = info?.active ? "a" : "-";
  const open = info?.active && info.open ? "o" : "-";

  let target = "-";
  if (isRaidType(view, lv)) target = "r";
  else if (isMirrorType(view, lv) || isPvmove(lv)) target = "m";
  else if (lv.segments.some(isUnknownSeg)) target = "u";
  else if (isVirtual(lv)) target = "v";

  let health = "-";
  if (view.partial.has(lv.name)) health = "p";
  else if (isRaidType(view, lv)) {
    if (!raidHealthy(view, lv)) health = "r";
    else if (isRaid(lv)) {
      if (mismatchCount(view, lv)) health = "m";
      else if (syncAction(view, lv) === "reshape") health = "s";
    } else if (hasStatus(lv, "WRITEMOSTLY")) health = "w";
  }
  const skip = hasStatus(lv, "ACTIVATION_SKIP") ? "k" : "-";
  return `${type}${perm}${alloc}${minor}${state}${open}${target}-${health}${skip}`;
}

export function lvHealthStatus(view: VgView, lv: LogicalVolume): string {
  if (view.partial.has(lv.name)) return "partial";
  if (!isRaidType(view, lv)) return "";
  if (!raidHealthy(view, lv)) return "refresh needed";
  if (isRaid(lv)) return mismatchCount(view, lv) ? "mismatches exist" : "";
  return hasStatus(lv, "WRITEMOSTLY") ? "writemostly" : "";
}

/**
 * lv_layout and lv_role, in LVM's order (the role list starts with public/private).
 * `undetected` counts the segments LVM could not place (it warns once for each).
 */
export function lvLayoutAndRole(view: VgView, lv: LogicalVolume): { layout: string[]; role: string[]; undetected: number } {
  const layout: string[] = [];
  const role: string[] = [];
  const kind = roleKind(view, lv);
  let isPublic = true;
  if (isMirrorType(view, lv) || isPvmove(lv)) {
    if (kind === "mirror_image") role.push("mirror", "image");
    else if (kind === "mirror_log") role.push("mirror", "log");
    else if (isPvmove(lv)) role.push("pvmove");
    if (kind !== undefined || isPvmove(lv)) isPublic = false;
    if (isMirror(lv)) layout.push("mirror");
  }
  if (isRaidType(view, lv)) {
    if (kind === "raid_image") role.push("raid", "image");
    else if (kind === "raid_meta") role.push("raid", "metadata");
    if (kind === "raid_image" || kind === "raid_meta") isPublic = false;
    else {
      const type = lv.segments[0]!.type;
      layout.push("raid");
      if (type === "raid0" || type === "raid0_meta") layout.push("raid0");
      else if (type === "raid1") layout.push("raid1");
      else if (type.startsWith("raid10")) layout.push("raid10");
      else if (type === "raid4") layout.push("raid4");
      else if (type.startsWith("raid5")) layout.push("raid5", ...(type === "raid5" || type === "raid5_n" ? [] : [type]));
      else if (type.startsWith("raid6")) layout.push("raid6", ...(["raid6_zr", "raid6_nr", "raid6_nc"].includes(type) ? [type] : []));
    }
  }
  let undetected = 0;
  if (layout.length === 0) {
    const linear = lv.segments.some((s) => s.type === "striped" && s.areas.length === 1);
    const striped = lv.segments.some((s) => s.type === "striped" && s.areas.length > 1);
    undetected = lv.segments.filter((s) => s.type !== "striped").length;
    if (linear) layout.push("linear");
    if (striped) layout.push("striped");
    if (!linear && !striped) layout.push("unknown");
  }
  role.unshift(isPublic ? "public" : "private");
  return { layout, role, undetected };
}

/** The LV a sub-LV belongs to; none for visible LVs (a split-off image included). */
export function lvParent(view: VgView, lv: LogicalVolume): LogicalVolume | undefined {
  return isVisible(lv) ? undefined : view.roles.get(lv.name)?.parent;
}

/** The mirror log LV of a mirror LV. */
export function mirrorLog(view: VgView, lv: LogicalVolume): LogicalVolume | undefined {
  const name = lv.segments.find((s) => s.type === "mirror" && s.mirrorLog)?.mirrorLog;
  return name === undefined ? undefined : view.lvs.get(name);
}

export function vgAttr(view: VgView): string {
  const { vg } = view;
  const perm = vg.status.includes("WRITE") ? "w" : "r";
  const resizeable = vg.status.includes("RESIZEABLE") ? "z" : "-";
  const exported = vg.status.includes("EXPORTED") ? "x" : "-";
  const partial = view.missing.size ? "p" : "-";
  // The orphans' stand-in VG has no valid policy: '-'.
  const alloc = view.orphan ? "-" : ALLOC_CHAR[vg.allocationPolicy ?? "normal"];
  const cluster = vg.status.includes("CLUSTERED") ? "c" : vg.status.includes("SHARED") ? "s" : "-";
  return `${perm}${resizeable}${exported}${partial}${alloc}${cluster}`;
}

/** pv_in_use: a PV of a VG is used; an orphan only while its label still carries the USED flag. */
export function pvInUse(view: VgView, pv: PvView): boolean {
  return view.orphan ? pv.scanned?.used === true : true;
}

export function pvAttr(view: VgView, pv: PvView): string {
  let first = "-";
  if (pv.pv.status.includes("ALLOCATABLE")) first = "a";
  else if (pvInUse(view, pv)) first = "u";
  const exported = pv.pv.status.includes("EXPORTED") ? "x" : "-";
  const missing = view.missing.has(pv.pv.id) ? "m" : "-";
  return `${first}${exported}${missing}`;
}
