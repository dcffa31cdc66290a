/**
 * Every report field ulvm supports, in the order and with the headings, widths,
 * types and descriptions of LVM's lib/report/columns.h, each with the function
 * that computes its value for a row.
 */
import type { LogicalVolume, PhysicalVolume, Segment } from "../model/types.ts";
import { isVisible, lvExtents, pvFreeExtents, segExtraInt } from "../model/relations.ts";
import { formatId } from "../format/id.ts";
import { formatFixed, formatSize, type Units } from "./units.ts";
import {
  allocPolicyName,
  copyPercent,
  isMirror,
  isRaid,
  isRaidSeg,
  isRaidType,
  isWritable,
  isActive,
  lvAttr,
  lvHealthStatus,
  lvLayoutAndRole,
  lvParent,
  mirrorLog,
  mismatchCount,
  pvAttr,
  pvInUse,
  imageSynced,
  syncAction,
  vgAttr,
} from "./attrs.ts";
import { pvDeviceName, type PvSegment, type PvView, type VgView } from "./view.ts";
import type { MetadataAreaInfo } from "../../metadata/session.ts";

/** LVM's report object types; a field belongs to one, and the fields asked for decide the rows. */
export type ReportType = "lvs" | "lvsinfo" | "lvsstatus" | "lvsinfostatus" | "label" | "pvs" | "vgs" | "segs" | "pvsegs";

/** How a field's values align, sort and compare in selections. */
export type ValueKind = "string" | "number" | "size" | "percent" | "time" | "strlist";

/** LVM's reserved "undefined" number (UINT64_MAX): sorts after every real value. */
export const NUM_UNDEF = 2 ** 64;

export interface Value {
  text: string;
  /** Sort and comparison value: numbers for number/size/percent/time (sizes in sectors, percents ×10⁶), else the string. */
  sort: number | string;
  /** String lists: the items, sorted, for selection. */
  items?: string[];
}

/** One report row: the objects its fields read. */
export interface Row {
  vg: VgView;
  pv?: PvView;
  lv?: LogicalVolume;
  seg?: Segment;
  pvseg?: PvSegment;
}

export interface FieldEnv {
  units: Units;
  suffix: boolean;
  /** Directory of /dev/<vg>/<lv> links (lv_path). */
  devDir: string;
  /** lv_time text for a Unix time (LVM's "%Y-%m-%d %T %z" in local time). */
  formatTime(seconds: number): string;
  /** Warnings lvm prints while computing a value. */
  warn(line: string): void;
}

export interface FieldDef {
  id: string;
  heading: string;
  /** Minimum column width: columns.h's width, or the heading's length where that is 0. */
  width: number;
  type: ReportType;
  kind: ValueKind;
  desc: string;
  value(row: Row, env: FieldEnv): Value;
}

const str = (text: string): Value => ({ text, sort: text });
const num = (n: number): Value => ({ text: String(n), sort: n });
const undefNum = (text = ""): Value => ({ text, sort: NUM_UNDEF });
const bin = (flag: boolean, word: string): Value => ({ text: flag ? word : "", sort: flag ? 1 : 0 });
const binUndef = (): Value => ({ text: "unknown", sort: NUM_UNDEF });
const size = (sectors: number, env: FieldEnv): Value => ({ text: formatSize(sectors, env.units, { suffix: env.suffix }), sort: sectors });
const uuid = (id: string): Value => str(id ? formatId(id) : "");

/** A string list; `sorted` lists are shown sorted (tags), others in their order. */
function list(items: string[], sorted: boolean, delimiter = ","): Value {
  const byCode = [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const text = (sorted ? byCode : items).join(delimiter);
  return { text, sort: text, items: byCode };
}

/**
 * dm_percent_t (millionths of a percent) of a live percent: makePercent made it
 * whole millionths, so rounding recovers them exactly; 0 and 100 only when exact.
 */
function dmPercent(percent: number): number {
  if (percent <= 0) return 0;
  if (percent >= 100) return 100_000_000;
  return Math.min(Math.max(Math.round(percent * 1_000_000), 1), 99_999_999);
}

/** dm_report_field_percent: "%.2f" of dm_percent_to_round_float, computed in single precision as libdm does. */
function pct(percent: number | undefined): Value {
  if (percent === undefined) return { text: "", sort: NUM_UNDEF };
  const p = dmPercent(percent);
  const f32 = Math.fround;
  const r = f32(1_000_000 * f32(0.01));
  let f = f32(f32(p) / 1_000_000);
  if (p < r && p > 0) f = f32(0.01);
  else if (p > 100_000_000 - r && p < 100_000_000) f = f32(f32(100_000_000 - r) / 1_000_000);
  return { text: formatFixed(f, 2), sort: p };
}

/** Brackets mark hidden LVs wherever LVM names one (report/mark_hidden_devices). */
function lvNameValue(lv: LogicalVolume): Value {
  return { text: isVisible(lv) ? lv.name : `[${lv.name}]`, sort: lv.name };
}

/** Extents of one area of a segment on its PV or sub-LV. */
function areaLen(seg: Segment): number {
  return seg.type === "striped" ? seg.extentCount / Math.max(seg.areas.length, 1) : seg.extentCount;
}

function segTypeName(seg: Segment): string {
  if (seg.type === "striped") return seg.areas.length === 1 ? "linear" : "striped";
  return seg.type;
}

function parityDevs(seg: Segment): number {
  if (seg.type === "raid4" || seg.type.startsWith("raid5")) return 1;
  if (seg.type.startsWith("raid6")) return 2;
  return 0;
}

/** seg->data_copies after LVM's import: 1 unless a raid type says otherwise. */
function dataCopies(seg: Segment): number {
  const stored = segExtraInt(seg, "data_copies") ?? 1;
  if (!isRaidSeg(seg) || stored >= 2) return stored;
  if (seg.type.startsWith("raid10")) return 2;
  if (seg.type === "raid1") return seg.areas.length;
  return parityDevs(seg) + 1;
}

/** The devices/seg_pe_ranges/seg_le_ranges items of a segment (LVM's _format_pvsegs). */
function areaItems(row: Row, ranges: boolean, markHidden: boolean, meta: boolean): string[] {
  const seg = row.seg!;
  const view = row.vg;
  if (meta && (!isRaidSeg(seg) || seg.metaAreas.length === 0)) return [];
  const items: string[] = [];
  for (const area of meta ? seg.metaAreas : seg.areas) {
    let name: string;
    let start: number;
    let len: number;
    if (area.kind === "lv") {
      const sub = view.lvs.get(area.lv);
      name = sub && markHidden && !isVisible(sub) ? `[${area.lv}]` : area.lv;
      start = meta ? area.le : 0;
      len = sub ? lvExtents(sub) : 0;
    } else {
      if (meta) continue;
      name = pvDeviceName(view, area.pvId);
      start = area.pe;
      len = areaLen(seg);
    }
    items.push(ranges ? `${name}:${start}-${start + len - 1}` : `${name}(${start})`);
  }
  return items;
}

function pvOf(row: Row): PhysicalVolume {
  return row.pv!.pv;
}

function pvSizeSectors(row: Row): number {
  const pv = pvOf(row);
  if (pv.peCount) return pv.peCount * row.vg.vg.extentSize;
  return row.pv!.scanned ? row.pv!.scanned.size / 512 : (pv.devSize ?? 0);
}

function allocated(row: Row): number {
  const pv = pvOf(row);
  return pv.peCount - pvFreeExtents(row.vg.vg, pv.id, row.vg.usage);
}

/** Sectors: the smallest metadata area and the least free space among them (lvm's pv/vg_mda_size and _free). */
function mdaStats(mdas: MetadataAreaInfo[]): { size: number; free: number } {
  if (mdas.length === 0) return { size: 0, free: 0 };
  return { size: Math.min(...mdas.map((m) => m.size)) / 512, free: Math.min(...mdas.map((m) => m.free)) / 512 };
}

/** The metadata areas of a VG's PVs that were found. */
function vgMdas(view: VgView): MetadataAreaInfo[] {
  return view.vg.pvs.flatMap((pv) => view.devices.get(pv.id)?.mdas ?? []);
}

function lvOf(row: Row): LogicalVolume {
  return row.lv!;
}

function readAheadValue(sectors: number | undefined, env: FieldEnv): Value {
  // Metadata 0 (or none) means auto, -1 means none: LVM reads them as DM_READ_AHEAD_AUTO and 0.
  if (sectors === undefined || sectors === 0) return { text: "auto", sort: Number.MAX_VALUE };
  return size(sectors === -1 ? 0 : sectors, env);
}

type Def = [ReportType, ValueKind, string, number, string, string, FieldDef["value"]];

const DEFS: Def[] = [
  // LVS
  ["lvs", "string", "LV UUID", 38, "lv_uuid", "Unique identifier.", (r) => uuid(lvOf(r).id)],
  ["lvs", "string", "LV", 4, "lv_name", "Name.  LVs created for internal use are enclosed in brackets.", (r) => lvNameValue(lvOf(r))],
  ["lvs", "string", "LV", 4, "lv_full_name", "Full name of LV including its VG, namely VG/LV.", (r) => str(`${r.vg.vg.name}/${lvOf(r).name}`)],
  ["lvs", "string", "Path", 0, "lv_path", "Full pathname for LV. Blank for internal LVs.", (r, env) =>
    str(r.vg.vg.name && isVisible(lvOf(r)) ? `${env.devDir.replace(/\/?$/, "/")}${r.vg.vg.name}/${lvOf(r).name}` : "")],
  ["lvs", "string", "DMPath", 0, "lv_dm_path", "Internal device-mapper pathname for LV (in /dev/mapper directory).", (r) =>
    str(r.vg.vg.name ? `/dev/mapper/${r.vg.vg.name.replaceAll("-", "--")}-${lvOf(r).name.replaceAll("-", "--")}` : "")],
  ["lvs", "string", "Parent", 0, "lv_parent", "For LVs that are components of another LV, the parent LV.", (r) => {
    const parent = lvParent(r.vg, lvOf(r));
    return parent ? lvNameValue(parent) : str("");
  }],
  ["lvs", "strlist", "Layout", 10, "lv_layout", "LV layout.", (r, env) => list(layoutAndRole(r, env).layout, false)],
  ["lvs", "strlist", "Role", 10, "lv_role", "LV role.", (r, env) => list(layoutAndRole(r, env).role, false)],
  ["lvs", "number", "InitImgSync", 10, "lv_initial_image_sync", "Set if mirror/RAID images underwent initial resynchronization.", (r) => {
    const lv = lvOf(r);
    return bin((isRaid(lv) || isMirror(lv)) && !lv.status.includes("NOTSYNCED"), "initial image sync");
  }],
  ["lvs", "number", "ImgSynced", 10, "lv_image_synced", "Set if mirror/RAID image is synchronized.", (r) => bin(imageSynced(r.vg, lvOf(r)), "image synced")],
  ["lvs", "number", "Merging", 10, "lv_merging", "Set if snapshot LV is being merged to origin.", () => bin(false, "merging")],
  ["lvs", "number", "Converting", 0, "lv_converting", "Set if LV is being converted.", (r) => bin(lvOf(r).status.includes("CONVERTING"), "converting")],
  ["lvs", "string", "AllocPol", 10, "lv_allocation_policy", "LV allocation policy.", (r) => str(allocPolicyName(lvOf(r).allocationPolicy ?? "inherit"))],
  ["lvs", "number", "AllocLock", 10, "lv_allocation_locked", "Set if LV is locked against allocation changes.", (r) => bin(lvOf(r).status.includes("LOCKED"), "allocation locked")],
  ["lvs", "number", "FixMin", 10, "lv_fixed_minor", "Set if LV has fixed minor number assigned.", (r) => bin(lvOf(r).status.includes("FIXED_MINOR"), "fixed minor")],
  ["lvs", "number", "SkipAct", 15, "lv_skip_activation", "Set if LV is skipped on activation.", (r) => bin(lvOf(r).flags.includes("ACTIVATION_SKIP"), "skip activation")],
  ["lvs", "string", "WhenFull", 15, "lv_when_full", "For thin pools, behavior when full.", () => str("")],
  ["lvs", "string", "Active", 0, "lv_active", "Active state of the LV.", (r) => str(isActive(r.vg, lvOf(r)) ? "active" : "")],
  ["lvs", "number", "ActLocal", 10, "lv_active_locally", "Set if the LV is active locally.", (r) => bin(isActive(r.vg, lvOf(r)), "active locally")],
  ["lvs", "number", "ActRemote", 10, "lv_active_remotely", "Set if the LV is active remotely.", () => bin(false, "active remotely")],
  ["lvs", "number", "ActExcl", 10, "lv_active_exclusively", "Set if the LV is active exclusively.", (r) => bin(isActive(r.vg, lvOf(r)), "active exclusively")],
  ["lvs", "number", "Maj", 0, "lv_major", "Persistent major number or -1 if not persistent.", (r) => intOrUndef(lvOf(r).major)],
  ["lvs", "number", "Min", 0, "lv_minor", "Persistent minor number or -1 if not persistent.", (r) => intOrUndef(lvOf(r).minor)],
  ["lvs", "size", "Rahead", 0, "lv_read_ahead", "Read ahead setting in current units.", (r, env) => readAheadValue(lvOf(r).readAhead, env)],
  ["lvs", "size", "LSize", 0, "lv_size", "Size of LV in current units.", (r, env) => size(lvExtents(lvOf(r)) * r.vg.vg.extentSize, env)],
  ["lvs", "number", "#Seg", 0, "seg_count", "Number of segments in LV.", (r) => num(lvOf(r).segments.length)],
  ["lvs", "string", "Origin", 0, "origin", "For snapshots and thins, the origin device of this LV.", () => str("")],
  ["lvs", "number", "Mismatches", 0, "raid_mismatch_count", "For RAID, number of mismatches found or repaired.", (r) => {
    const n = mismatchCount(r.vg, lvOf(r));
    return n === undefined ? undefNum() : num(n);
  }],
  ["lvs", "string", "SyncAction", 0, "raid_sync_action", "For RAID, the current synchronization action being performed.", (r) => str(syncAction(r.vg, lvOf(r)) ?? "")],
  ["lvs", "number", "WBehind", 0, "raid_write_behind", "For RAID1, the number of outstanding writes allowed to writemostly devices.", (r) => raidSetting(r, "writebehind")],
  ["lvs", "number", "MinSync", 0, "raid_min_recovery_rate", "For RAID1, the minimum recovery I/O load in kiB/sec/disk.", (r) => raidSetting(r, "min_recovery_rate")],
  ["lvs", "number", "MaxSync", 0, "raid_max_recovery_rate", "For RAID1, the maximum recovery I/O load in kiB/sec/disk.", (r) => raidSetting(r, "max_recovery_rate")],
  ["lvs", "string", "Move", 0, "move_pv", "For pvmove, Source PV of temporary LV created by pvmove.", () => str("")],
  ["lvs", "string", "Convert", 0, "convert_lv", "For lvconvert, Name of temporary LV created by lvconvert.", () => str("")],
  ["lvs", "string", "Log", 0, "mirror_log", "For mirrors, the LV holding the synchronisation log.", (r) => {
    const log = mirrorLog(r.vg, lvOf(r));
    return log ? lvNameValue(log) : str("");
  }],
  ["lvs", "string", "Data", 0, "data_lv", "For cache/thin/vdo pools, the LV holding the associated data.", () => str("")],
  ["lvs", "string", "Meta", 0, "metadata_lv", "For cache/thin pools, the LV holding the associated metadata.", () => str("")],
  ["lvs", "string", "Pool", 0, "pool_lv", "For cache/thin/vdo volumes, the cache/thin/vdo pool LV for this volume.", () => str("")],
  ["lvs", "strlist", "LV Tags", 0, "lv_tags", "Tags, if any.", (r) => list(lvOf(r).tags, true)],
  ["lvs", "string", "LProfile", 0, "lv_profile", "Configuration profile attached to this LV.", (r) => str(lvOf(r).profile ?? "")],
  ["lvs", "string", "LLockArgs", 0, "lv_lockargs", "Lock args of the LV used by lvmlockd.", (r) => str(lvOf(r).lockArgs ?? "")],
  ["lvs", "time", "CTime", 26, "lv_time", "Creation time of the LV, if known", (r, env) => {
    const t = lvOf(r).creationTime;
    return { text: t ? env.formatTime(t) : "", sort: t ?? 0 };
  }],
  ["lvs", "string", "Host", 10, "lv_host", "Creation host of the LV, if known.", (r) => str(lvOf(r).creationHost ?? "")],
  // LVSINFO
  ["lvsinfo", "size", "KRahead", 0, "lv_kernel_read_ahead", "Currently-in-use read ahead setting in current units.", (r, env) => {
    const info = r.vg.activation(lvOf(r));
    return info?.active ? size(info.readAhead ?? 0, env) : undefNum("-1");
  }],
  ["lvsinfo", "string", "LPerms", 8, "lv_permissions", "LV permissions.", (r) => {
    const lv = lvOf(r);
    if (lv.status.includes("PVMOVE")) return str("");
    if (isWritable(lv)) return str(isActive(r.vg, lv) ? "writeable" : "unknown");
    return str(lv.status.includes("READ") ? "read-only" : "unknown");
  }],
  ["lvsinfo", "number", "Suspended", 10, "lv_suspended", "Set if LV is suspended.", (r) => (isActive(r.vg, lvOf(r)) ? bin(false, "suspended") : binUndef())],
  ["lvsinfo", "number", "LiveTable", 20, "lv_live_table", "Set if LV has live table present.", (r) => (isActive(r.vg, lvOf(r)) ? bin(true, "live table present") : binUndef())],
  ["lvsinfo", "number", "InactiveTable", 20, "lv_inactive_table", "Set if LV has inactive table present.", (r) => (isActive(r.vg, lvOf(r)) ? bin(false, "inactive table present") : binUndef())],
  ["lvsinfo", "number", "DevOpen", 10, "lv_device_open", "Set if LV device is open.", (r) => {
    const info = r.vg.activation(lvOf(r));
    return info?.active ? bin(info.open, "open") : binUndef();
  }],
  // LVSSTATUS
  ["lvsstatus", "percent", "Data%", 6, "data_percent", "For snapshot, cache and thin pools and volumes, the percentage full if LV is active.", () => pct(undefined)],
  ["lvsstatus", "percent", "Snap%", 6, "snap_percent", "For snapshots, the percentage full if LV is active.", () => pct(undefined)],
  ["lvsstatus", "percent", "Meta%", 6, "metadata_percent", "For cache and thin pools, the percentage of metadata full if LV is active.", () => pct(undefined)],
  ["lvsstatus", "percent", "Cpy%Sync", 0, "copy_percent", "For Cache, RAID, mirrors and pvmove, current percentage in-sync.", (r) => pct(copyPercent(r.vg, lvOf(r)))],
  ["lvsstatus", "percent", "Cpy%Sync", 0, "sync_percent", "For Cache, RAID, mirrors and pvmove, current percentage in-sync.", (r) => pct(copyPercent(r.vg, lvOf(r)))],
  ["lvsstatus", "string", "Health", 15, "lv_health_status", "LV health status.", (r) => str(lvHealthStatus(r.vg, lvOf(r)))],
  // LVSINFOSTATUS
  ["lvsinfostatus", "string", "Attr", 0, "lv_attr", "Various attributes - see man page.", (r) => str(lvAttr(r.vg, lvOf(r)))],
  // LABEL
  ["label", "string", "Fmt", 0, "pv_fmt", "Type of metadata.", () => str("lvm2")],
  ["label", "string", "PV UUID", 38, "pv_uuid", "Unique identifier.", (r) => uuid(pvOf(r).id)],
  ["label", "size", "DevSize", 0, "dev_size", "Size of underlying device in current units.", (r, env) => size((r.pv!.scanned?.size ?? 0) / 512, env)],
  ["label", "string", "PV", 10, "pv_name", "Name.", (r) => str(r.pv!.scanned?.device ?? "[unknown]")],
  ["label", "size", "PMdaFree", 9, "pv_mda_free", "Free metadata area space on this device in current units.", (r, env) => size(mdaStats(r.pv!.scanned?.mdas ?? []).free, env)],
  ["label", "size", "PMdaSize", 9, "pv_mda_size", "Size of smallest metadata area on this device in current units.", (r, env) => size(mdaStats(r.pv!.scanned?.mdas ?? []).size, env)],
  // ScannedPv does not carry the extension version; every label ulvm reads or writes is version 2.
  ["label", "number", "PExtVsn", 0, "pv_ext_vsn", "PV header extension version.", (r) => (r.pv!.scanned ? num(2) : undefNum())],
  // PVS
  ["pvs", "number", "1st PE", 7, "pe_start", "Offset to the start of data on the underlying device.", (r, env) => size(pvOf(r).peStart, env)],
  ["pvs", "size", "PSize", 0, "pv_size", "Size of PV in current units.", (r, env) => size(pvSizeSectors(r), env)],
  ["pvs", "size", "PFree", 0, "pv_free", "Total amount of unallocated space in current units.", (r, env) => {
    if (r.vg.orphan) return size(pvInUse(r.vg, r.pv!) ? 0 : pvSizeSectors(r), env);
    return size((pvOf(r).peCount - allocated(r)) * r.vg.vg.extentSize, env);
  }],
  ["pvs", "size", "Used", 0, "pv_used", "Total amount of allocated space in current units.", (r, env) => size(allocated(r) * r.vg.vg.extentSize, env)],
  ["pvs", "string", "Attr", 0, "pv_attr", "Various attributes - see man page.", (r) => str(pvAttr(r.vg, r.pv!))],
  ["pvs", "number", "Allocatable", 0, "pv_allocatable", "Set if this device can be used for allocation.", (r) => bin(pvOf(r).status.includes("ALLOCATABLE"), "allocatable")],
  ["pvs", "number", "Exported", 10, "pv_exported", "Set if this device is exported.", (r) => bin(pvOf(r).status.includes("EXPORTED"), "exported")],
  ["pvs", "number", "Missing", 10, "pv_missing", "Set if this device is missing in system.", (r) => bin(r.vg.missing.has(pvOf(r).id), "missing")],
  ["pvs", "number", "PE", 3, "pv_pe_count", "Total number of Physical Extents.", (r) => num(pvOf(r).peCount)],
  ["pvs", "number", "Alloc", 0, "pv_pe_alloc_count", "Total number of allocated Physical Extents.", (r) => num(allocated(r))],
  ["pvs", "strlist", "PV Tags", 0, "pv_tags", "Tags, if any.", (r) => list(pvOf(r).tags, true)],
  ["pvs", "number", "#PMda", 0, "pv_mda_count", "Number of metadata areas on this device.", (r) => num(r.pv!.scanned?.mdas.length ?? 0)],
  ["pvs", "number", "#PMdaUse", 0, "pv_mda_used_count", "Number of metadata areas in use on this device.", (r) => num(r.pv!.scanned?.mdas.filter((m) => !m.ignored).length ?? 0)],
  ["pvs", "size", "BA Start", 0, "pv_ba_start", "Offset to the start of PV Bootloader Area on the underlying device in current units.", (r, env) => size(pvOf(r).baStart ?? 0, env)],
  ["pvs", "size", "BA Size", 0, "pv_ba_size", "Size of PV Bootloader Area in current units.", (r, env) => size(pvOf(r).baSize ?? 0, env)],
  ["pvs", "number", "PInUse", 0, "pv_in_use", "Set if PV is used.", (r) => bin(pvInUse(r.vg, r.pv!), "used")],
  ["pvs", "number", "Duplicate", 0, "pv_duplicate", "Set if PV is an unchosen duplicate.", () => bin(false, "duplicate")],
  ["pvs", "string", "DeviceID", 0, "pv_device_id", "Device ID such as the WWID.", (r) => str(pvOf(r).deviceId ?? "")],
  ["pvs", "string", "DeviceIDType", 0, "pv_device_id_type", "Type of device ID such as WWID.", (r) => str(pvOf(r).deviceIdType ?? "")],
  // VGS
  ["vgs", "string", "Fmt", 0, "vg_fmt", "Type of metadata.", (r) => str(r.vg.vg.format)],
  ["vgs", "string", "VG UUID", 38, "vg_uuid", "Unique identifier.", (r) => uuid(r.vg.vg.id)],
  ["vgs", "string", "VG", 0, "vg_name", "Name.", (r) => str(r.vg.vg.name)],
  ["vgs", "string", "Attr", 5, "vg_attr", "Various attributes - see man page.", (r) => str(vgAttr(r.vg))],
  ["vgs", "string", "VPerms", 10, "vg_permissions", "VG permissions.", (r) => str(r.vg.vg.status.includes("WRITE") ? "writeable" : "read-only")],
  ["vgs", "number", "Extendable", 0, "vg_extendable", "Set if VG is extendable.", (r) => bin(r.vg.vg.status.includes("RESIZEABLE"), "extendable")],
  ["vgs", "number", "Exported", 10, "vg_exported", "Set if VG is exported.", (r) => bin(r.vg.vg.status.includes("EXPORTED"), "exported")],
  ["vgs", "number", "Partial", 10, "vg_partial", "Set if VG is partial.", (r) => bin(r.vg.missing.size > 0, "partial")],
  ["vgs", "string", "AllocPol", 10, "vg_allocation_policy", "VG allocation policy.", (r) =>
    str(r.vg.orphan ? "unknown" : allocPolicyName(r.vg.vg.allocationPolicy ?? "normal"))],
  ["vgs", "number", "Clustered", 10, "vg_clustered", "Set if VG is clustered.", (r) => bin(r.vg.vg.status.includes("CLUSTERED"), "clustered")],
  ["vgs", "number", "Shared", 7, "vg_shared", "Set if VG is shared.", (r) => bin(r.vg.vg.status.includes("SHARED"), "shared")],
  ["vgs", "size", "VSize", 0, "vg_size", "Total size of VG in current units.", (r, env) => size(vgExtentCount(r.vg) * r.vg.vg.extentSize, env)],
  ["vgs", "size", "VFree", 0, "vg_free", "Total amount of free space in current units.", (r, env) => size(vgFreeCount(r.vg) * r.vg.vg.extentSize, env)],
  ["vgs", "string", "SYS ID", 0, "vg_sysid", "System ID of the VG indicating which host owns it.", (r) => str(r.vg.vg.systemId ?? "")],
  ["vgs", "string", "System ID", 0, "vg_systemid", "System ID of the VG indicating which host owns it.", (r) => str(r.vg.vg.systemId ?? "")],
  ["vgs", "string", "LockType", 0, "vg_lock_type", "Lock type of the VG used by lvmlockd.", (r) => str(r.vg.vg.lockType === "none" ? "" : (r.vg.vg.lockType ?? ""))],
  ["vgs", "string", "VLockArgs", 0, "vg_lock_args", "Lock args of the VG used by lvmlockd.", (r) => str(r.vg.vg.lockArgs ?? "")],
  ["vgs", "size", "Ext", 0, "vg_extent_size", "Size of Physical Extents in current units.", (r, env) => size(r.vg.vg.extentSize, env)],
  ["vgs", "number", "#Ext", 0, "vg_extent_count", "Total number of Physical Extents.", (r) => num(vgExtentCount(r.vg))],
  ["vgs", "number", "Free", 0, "vg_free_count", "Total number of unallocated Physical Extents.", (r) => num(vgFreeCount(r.vg))],
  ["vgs", "number", "MaxLV", 0, "max_lv", "Maximum number of LVs allowed in VG or 0 if unlimited.", (r) => num(r.vg.vg.maxLv)],
  ["vgs", "number", "MaxPV", 0, "max_pv", "Maximum number of PVs allowed in VG or 0 if unlimited.", (r) => num(r.vg.vg.maxPv)],
  ["vgs", "number", "#PV", 0, "pv_count", "Number of PVs in VG.", (r) => num(r.vg.vg.pvs.length)],
  ["vgs", "number", "#PV Missing", 0, "vg_missing_pv_count", "Number of PVs in VG which are missing.", (r) => num(r.vg.missing.size)],
  ["vgs", "number", "#LV", 0, "lv_count", "Number of LVs.", (r) => num(r.vg.vg.lvs.filter(isVisible).length)],
  ["vgs", "number", "#SN", 0, "snap_count", "Number of snapshots.", () => num(0)],
  ["vgs", "number", "Seq", 0, "vg_seqno", "Revision number of internal metadata.  Incremented whenever it changes.", (r) => num(r.vg.vg.seqno)],
  ["vgs", "strlist", "VG Tags", 0, "vg_tags", "Tags, if any.", (r) => list(r.vg.vg.tags, true)],
  ["vgs", "string", "VProfile", 0, "vg_profile", "Configuration profile attached to this VG.", (r) => str(r.vg.vg.profile ?? "")],
  ["vgs", "number", "#VMda", 0, "vg_mda_count", "Number of metadata areas on this VG.", (r) => num(vgMdas(r.vg).length)],
  ["vgs", "number", "#VMdaUse", 0, "vg_mda_used_count", "Number of metadata areas in use on this VG.", (r) => num(vgMdas(r.vg).filter((m) => !m.ignored).length)],
  ["vgs", "size", "VMdaFree", 9, "vg_mda_free", "Free metadata area space for this VG in current units.", (r, env) => size(mdaStats(vgMdas(r.vg).filter((m) => !m.ignored)).free, env)],
  ["vgs", "size", "VMdaSize", 9, "vg_mda_size", "Size of smallest metadata area for this VG in current units.", (r, env) => size(mdaStats(vgMdas(r.vg).filter((m) => !m.ignored)).size, env)],
  ["vgs", "number", "#VMdaCps", 0, "vg_mda_copies", "Target number of in use metadata areas in the VG.", (r) =>
    r.vg.vg.metadataCopies ? num(r.vg.vg.metadataCopies) : undefNum("unmanaged")],
  // SEGS
  ["segs", "string", "Type", 0, "segtype", "Type of LV segment.", (r) => str(segTypeName(r.seg!))],
  ["segs", "number", "#Str", 0, "stripes", "Number of stripes or mirror/raid1 legs.", (r) => num(r.seg!.areas.length)],
  ["segs", "number", "#DStr", 0, "data_stripes", "Number of data stripes or mirror/raid1 legs.", (r) => {
    const seg = r.seg!;
    const stripes = seg.areas.length - parityDevs(seg);
    return num(seg.type.startsWith("raid10") ? Math.floor(stripes / dataCopies(seg)) : stripes);
  }],
  ["segs", "number", "#Cpy", 0, "data_copies", "Number of data copies.", (r) => num(dataCopies(r.seg!))],
  ["segs", "size", "Stripe", 0, "stripe_size", "For stripes, amount of data placed on one device before switching to the next.", (r, env) => size(r.seg!.stripeSize ?? 0, env)],
  ["segs", "size", "Region", 0, "region_size", "For mirrors/raids, the unit of data per leg when synchronizing devices.", (r, env) => size(r.seg!.regionSize ?? 0, env)],
  ["segs", "size", "Chunk", 0, "chunk_size", "For snapshots, the unit of data used when tracking changes.", (r, env) => size(0, env)],
  ["segs", "size", "Start", 0, "seg_start", "Offset within the LV to the start of the segment in current units.", (r, env) => size(r.seg!.startExtent * r.vg.vg.extentSize, env)],
  ["segs", "number", "Start", 0, "seg_start_pe", "Offset within the LV to the start of the segment in physical extents.", (r) => num(r.seg!.startExtent)],
  ["segs", "size", "SSize", 0, "seg_size", "Size of segment in current units.", (r, env) => size(r.seg!.extentCount * r.vg.vg.extentSize, env)],
  ["segs", "size", "SSize", 0, "seg_size_pe", "Size of segment in physical extents.", (r) => num(r.seg!.extentCount)],
  ["segs", "strlist", "Seg Tags", 0, "seg_tags", "Tags, if any.", (r) => list(r.seg!.tags, true)],
  ["segs", "strlist", "PE Ranges", 0, "seg_pe_ranges", "Ranges of Physical Extents of underlying devices in command line format (deprecated, use seg_le_ranges for common format).", (r) => list(areaItems(r, true, false, false), false, " ")],
  ["segs", "strlist", "LE Ranges", 0, "seg_le_ranges", "Ranges of Logical Extents of underlying devices in command line format.", (r) => list(areaItems(r, true, true, false), false)],
  ["segs", "strlist", "Metadata LE Ranges", 0, "seg_metadata_le_ranges", "Ranges of Logical Extents of underlying metadata devices in command line format.", (r) => list(areaItems(r, true, true, true), false)],
  ["segs", "strlist", "Devices", 0, "devices", "Underlying devices used with starting extent numbers.", (r) => list(areaItems(r, false, false, false), false)],
  ["segs", "strlist", "Metadata Devs", 0, "metadata_devices", "Underlying metadata devices used with starting extent numbers.", (r) => list(areaItems(r, false, false, true), false)],
  // Monitoring needs dmeventd, which ulvm does not run.
  ["segs", "string", "Monitor", 0, "seg_monitor", "Dmeventd monitoring status of the segment.", () => str("")],
  // PVSEGS
  ["pvsegs", "number", "Start", 0, "pvseg_start", "Physical Extent number of start of segment.", (r) => num(r.pvseg!.pe)],
  ["pvsegs", "number", "SSize", 0, "pvseg_size", "Number of extents in segment.", (r) => num(r.pvseg!.len)],
];

/** LVM warns (as an internal error) for every segment it cannot give a layout. */
function layoutAndRole(row: Row, env: FieldEnv): { layout: string[]; role: string[] } {
  const result = lvLayoutAndRole(row.vg, lvOf(row));
  for (let i = 0; i < result.undetected; i++)
    env.warn(`Internal error: WARNING: Failed to properly detect layout and role for LV ${row.vg.vg.name}/${lvOf(row).name}.`);
  return result;
}

function intOrUndef(n: number | undefined): Value {
  return n === undefined || n < 0 ? { text: "-1", sort: NUM_UNDEF } : num(n);
}

/** writebehind and recovery rates live on the raid segment; sub-LVs and other LVs show nothing. */
function raidSetting(row: Row, key: string): Value {
  const lv = lvOf(row);
  const value = isRaidType(row.vg, lv) ? segExtraInt(lv.segments[0], key) : undefined;
  return value ? num(value) : undefNum();
}

function vgExtentCount(view: VgView): number {
  return view.vg.pvs.reduce((n, pv) => n + pv.peCount, 0);
}

function vgFreeCount(view: VgView): number {
  return view.vg.pvs.reduce((n, pv) => n + pvFreeExtents(view.vg, pv.id, view.usage), 0);
}

export const FIELDS: readonly FieldDef[] = DEFS.map(([type, kind, heading, width, id, desc, value]) => ({
  id,
  heading,
  width: width || heading.length,
  type,
  kind,
  desc,
  value,
}));

/** Section titles of the field help, and each type's field name prefix. */
export const REPORT_TYPES: Record<ReportType, { desc: string; prefix: string }> = {
  lvs: { desc: "Logical Volume", prefix: "lv_" },
  lvsinfo: { desc: "Logical Volume Device Info", prefix: "lv_" },
  lvsstatus: { desc: "Logical Volume Device Status", prefix: "lv_" },
  lvsinfostatus: { desc: "Logical Volume Device Info and Status Combined", prefix: "lv_" },
  label: { desc: "Physical Volume Label", prefix: "pv_" },
  pvs: { desc: "Physical Volume", prefix: "pv_" },
  vgs: { desc: "Volume Group", prefix: "vg_" },
  segs: { desc: "Logical Volume Segment", prefix: "seg_" },
  pvsegs: { desc: "Physical Volume Segment", prefix: "pvseg_" },
};

/** Right for numbers and sizes, left for everything else (percents included), as libdm aligns. */
export function alignRight(field: FieldDef): boolean {
  return field.kind === "number" || field.kind === "size";
}

function canonical(name: string): string {
  return name.replaceAll("_", "").toLowerCase();
}

/**
 * LVM's field name matching: underscores are ignored, case is ignored, and a name
 * may leave out the report's prefix (`name` is lv_name in lvs, vg_name in vgs).
 */
export function findField(name: string, prefix: string): FieldDef | undefined {
  const wanted = canonical(name);
  if (!wanted) return undefined;
  const short = canonical(prefix);
  return FIELDS.find((f) => {
    const id = canonical(f.id);
    return id === wanted || (id.startsWith(short) && id.slice(short.length) === wanted);
  });
}

/** The report types whose fields `<prefix>all` (or `all`) adds. */
export function allFieldTypes(name: string, prefix: string, current: ReportType[]): ReportType[] {
  const wanted = canonical(name);
  if (wanted === "all") {
    if (!prefix) return current;
    return (Object.keys(REPORT_TYPES) as ReportType[]).filter((t) => REPORT_TYPES[t].prefix === prefix);
  }
  return (Object.keys(REPORT_TYPES) as ReportType[]).filter((t) => {
    const p = canonical(REPORT_TYPES[t].prefix);
    return wanted === `${p}all`;
  });
}

/** LVM's longest field id (writecache_writeback_blocks) sets the help's name column. */
const HELP_ID_WIDTH = 27;

const KIND_NAME: Record<ValueKind, string> = {
  string: "string",
  number: "number",
  size: "size",
  percent: "percent",
  time: "time",
  strlist: "string list",
};

/** The field list LVM prints for an unknown field (withAll) or selection field (withTypes). */
export function fieldHelp(withAll: boolean, withTypes: boolean): string[] {
  const lines: string[] = [];
  const section = (title: string) => {
    lines.push(`${title} Fields`, "-".repeat(title.length + 7));
  };
  const line = (id: string, desc: string, type: string) =>
    lines.push(`  ${id.padEnd(HELP_ID_WIDTH)} - ${desc}${withTypes ? ` [${type}]` : ""}`);
  let last: ReportType | undefined;
  for (const f of FIELDS) {
    if (f.type !== last) {
      if (last) lines.push(" ");
      const t = REPORT_TYPES[f.type];
      section(t.desc);
      if (withAll) lines.push(`  ${`${t.prefix}all`.padEnd(HELP_ID_WIDTH)} - All fields in this section.`);
      last = f.type;
    }
    line(f.id, f.desc, KIND_NAME[f.kind]);
  }
  lines.push(" ");
  section("Special");
  line("selected", "Set if item passes selection criteria.", "number");
  line("help", "Show help.", "unselectable number");
  line("?", "Show help.", "unselectable number");
  lines.push(" ");
  return lines;
}
