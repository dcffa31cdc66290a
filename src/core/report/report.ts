/**
 * pvs, vgs and lvs: which fields (-o), which rows (the report type the fields
 * widen to, as lvm's reporter does), selection (-S), sorting (-O) and output
 * format, from loaded VGs, orphan PVs and the daemon's activation state.
 */
import { EXIT, LvmError } from "../errors.ts";
import type { LogicalVolume } from "../model/types.ts";
import type { LoadedVg, ScannedPv } from "../../metadata/session.ts";
import { DEFAULT_UNITS, parseUnits } from "./units.ts";
import { allFieldTypes, fieldHelp, FIELDS, findField, REPORT_TYPES, type FieldDef, type FieldEnv, type ReportType, type Row, type Value } from "./fields.ts";
import { renderReport, sortRows, type Layout, type ReportColumn, type SortKey } from "./output.ts";
import { parseSelection, SELECTION_HELP } from "./select.ts";
import { isVisible } from "../model/relations.ts";
import {
  freeLv,
  makeVgView,
  orphanPvView,
  orphanVgView,
  pvSegments,
  type ActivationMap,
  type PvView,
  type VgView,
} from "./view.ts";

export type ReportCommand = "pvs" | "vgs" | "lvs";

export interface ReportInput {
  /** The VGs to report, in lvm's processing order. */
  vgs: LoadedVg[];
  /** Devices with a PV label and no VG (pvs only). */
  orphans?: ScannedPv[];
  /** Live state per LV, keyed "vg/lv" (see activationKey); LVs without an entry are inactive. */
  activation?: ActivationMap;
  /**
   * The LVs named on the command line, per VG name, in the VG's order (hidden
   * ones included when named). VGs not in the map report all their LVs: the
   * visible ones, hidden ones too with `all`.
   */
  lvs?: Map<string, LogicalVolume[]>;
  /** The PVs named on the command line (ids); all PVs when absent. */
  pvIds?: Set<string>;
}

export interface ReportOptions {
  /** Every -o/--options value in command-line order: "f1,f2" replaces, "+f" adds, "-f" removes. */
  options?: string[];
  /** -O/--sort (the last one given): keys with an optional '-' (descending) or '+'. */
  sort?: string;
  /** --units. */
  units?: string;
  nosuffix?: boolean;
  noheadings?: boolean;
  separator?: string;
  aligned?: boolean;
  nameprefixes?: boolean;
  unquoted?: boolean;
  rows?: boolean;
  /** --reportformat: basic (default) or json. */
  reportFormat?: string;
  /** -S/--select. */
  select?: string;
  /** -a/--all: hidden LVs too. */
  all?: boolean;
  /** --segments: one row per LV segment (lvs) or PV segment (pvs). */
  segments?: boolean;
  /** Where lv_path points; lvm's /dev. */
  devDir?: string;
  /** lv_time text; UTC in LVM's "%Y-%m-%d %T %z" format by default. */
  formatTime?: (seconds: number) => string;
  /** Lines lvm prints on stderr without failing (field help, warnings). */
  warn?: (line: string) => void;
}

const DEFAULT_COLUMNS: Record<string, string> = {
  lvs: "lv_name,vg_name,lv_attr,lv_size,pool_lv,origin,data_percent,metadata_percent,move_pv,mirror_log,copy_percent,convert_lv",
  vgs: "vg_name,pv_count,lv_count,snap_count,vg_attr,vg_size,vg_free",
  label: "pv_name,vg_name,pv_fmt,pv_attr,pv_size,pv_free",
  segs: "lv_name,vg_name,lv_attr,stripes,segtype,seg_size",
  pvsegs: "pv_name,vg_name,pv_fmt,pv_attr,pv_size,pv_free,pvseg_start,pvseg_size",
};

const DEFAULT_SORT: Record<string, string> = {
  lvs: "vg_name,lv_name",
  vgs: "vg_name",
  label: "pv_name",
  segs: "vg_name,lv_name,seg_start",
  pvsegs: "pv_name,pvseg_start",
};

function utcTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/**
 * The -o list after applying every -o group as lvm's _get_report_options does,
 * and the fields of the last `#` group (columns hidden when blank in every row).
 */
function optionList(defaults: string, groups: string[], prefix: string): { list: string[]; compact: string[] } {
  let list = defaults.split(",").filter(Boolean);
  let compact: string[] = [];
  for (const group of groups) {
    if (!group) throw new LvmError("Invalid options string: ", EXIT.INVALID_CMD_LINE);
    const items = group.slice(1).split(",").filter(Boolean);
    if (group[0] === "+") list = [...list, ...items];
    else if (group[0] === "-") for (const item of items) list = removeOption(list, item, prefix);
    else if (group[0] === "#") compact = items;
    else list = group.split(",").filter(Boolean);
  }
  return { list, compact };
}

/** `-o #f1,f2`: hides those displayed columns that are blank in every row; an unknown name cancels it all. */
function compactColumns(columns: ReportColumn[], rows: Value[][], names: string[], prefix: string, warn: (line: string) => void): void {
  const targets: number[] = [];
  for (const name of names) {
    const field = findField(name, prefix);
    if (!field) {
      warn(`dm_report: Unrecognized field: ${name}`);
      warn("Failed to compact given columns in report output.");
      return;
    }
    const at = columns.findIndex((c) => c.field === field);
    if (at >= 0) targets.push(at);
  }
  if (!rows.length) return;
  for (const at of targets) if (!columns[at]!.hidden && rows.every((row) => row[at]!.text === "")) columns[at]!.hidden = true;
}

/** Drops the last entry that names `item`, with or without the report's prefix. */
function removeOption(list: string[], item: string, prefix: string): string[] {
  const short = prefix.replace(/_$/, "");
  const strip = (s: string) => (s.startsWith(short) ? s.slice(short.length).replace(/^_/, "") : s);
  for (let i = list.length - 1; i >= 0; i--) {
    if (list[i] === item || strip(list[i]!) === strip(item)) return [...list.slice(0, i), ...list.slice(i + 1)];
  }
  return list;
}

const isHelp = (name: string) => name === "?" || name.replaceAll("_", "").toLowerCase() === "help";

/** The row type the fields require (lvm's _get_final_report_type). */
function finalType(initial: ReportType, types: Set<ReportType>, command: ReportCommand): ReportType {
  const has = (...t: ReportType[]) => t.some((x) => types.has(x));
  if (has("segs")) types.add("lvs");
  if (has("pvsegs")) types.add("pvs");
  const lvLike = has("lvs", "lvsinfo", "lvsstatus", "lvsinfostatus");
  const pvLike = has("pvs", "label");
  if (lvLike && pvLike && command !== "pvs")
    throw new LvmError(`Can't report LV and PV fields at the same time in report type "${REPORT_TYPES[initial].prefix.replace(/_$/, "")}".`);
  if (has("pvsegs") || (pvLike && lvLike)) return "pvsegs";
  if (has("pvs") || (has("label") && has("vgs"))) return "pvs";
  if (has("segs")) return "segs";
  if (lvLike) return "lvs";
  return initial;
}

function buildRows(type: ReportType, command: ReportCommand, views: VgView[], input: ReportInput, all: boolean): Row[] {
  const lvRows = (): Row[] =>
    views.flatMap((vg) => (input.lvs?.get(vg.vg.name) ?? vg.vg.lvs.filter((lv) => all || isVisible(lv))).map((lv) => ({ vg, lv })));
  const pvRows = (labelsOnly: boolean): { vg: VgView; pv: PvView }[] => {
    const wanted = (id: string) => !input.pvIds || input.pvIds.has(id);
    const rows = views.flatMap((vg) =>
      vg.vg.pvs.filter((pv) => wanted(pv.id) && (!labelsOnly || vg.devices.has(pv.id))).map((pv) => ({ vg, pv: { pv, scanned: vg.devices.get(pv.id) } })),
    );
    if (command !== "pvs") return rows;
    const orphans = (input.orphans ?? []).filter((o) => wanted(o.pvId));
    return [...rows, ...orphans.map((o) => ({ vg: orphanVgView(o), pv: orphanPvView(o) }))];
  };
  switch (type) {
    case "vgs":
      return views.map((vg) => ({ vg }));
    case "segs":
      // lvm lists segments of hidden LVs only with --all, even when they are named.
      return lvRows()
        .filter((r) => all || isVisible(r.lv!))
        .flatMap((r) => r.lv!.segments.map((seg) => ({ ...r, seg })));
    case "label":
      return pvRows(true);
    case "pvs":
      return pvRows(false);
    case "pvsegs":
      return pvRows(false).flatMap((r) =>
        pvSegments(r.vg, r.pv.pv).map((pvseg) => {
          const stand = pvseg.use ? { lv: pvseg.use.lv, seg: pvseg.use.segment } : freeLv(pvseg.len);
          return { ...r, pvseg, ...stand };
        }),
      );
    default:
      return lvRows();
  }
}

/** The stdout text of pvs/vgs/lvs; LVM's errors are thrown as LvmError. */
export function buildReport(command: ReportCommand, input: ReportInput, opts: ReportOptions = {}): string {
  const format = opts.reportFormat ?? "basic";
  if (format !== "basic" && format !== "json")
    throw new LvmError([`Invalid argument for --reportformat: ${format}`, "Error during parsing of command line."], EXIT.INVALID_CMD_LINE);
  const json = format === "json";
  const units = opts.units === undefined ? DEFAULT_UNITS : parseUnits(opts.units);
  const warn = opts.warn ?? (() => undefined);

  const initial: ReportType =
    command === "vgs" ? "vgs" : command === "lvs" ? (opts.segments ? "segs" : "lvs") : opts.segments ? "pvsegs" : "label";
  const prefix = REPORT_TYPES[initial].prefix;
  const columns: ReportColumn[] = [];
  let help = false;

  const { list, compact } = optionList(DEFAULT_COLUMNS[initial]!, opts.options ?? [], prefix);
  for (const name of list) {
    if (isHelp(name)) {
      help = true;
      continue;
    }
    const field = findField(name, prefix);
    const allTypes = field ? [] : allFieldTypes(name, prefix, [initial]);
    if (!field && !allTypes.length) throw new LvmError([...fieldHelp(true, false), " ", `Unrecognised field: ${name}`]);
    for (const f of field ? [field] : FIELDS.filter((x) => allTypes.includes(x.type))) columns.push({ field: f, hidden: false });
  }

  const sortKeys: SortKey[] = [];
  const columnOf = (field: FieldDef): number => {
    let at = columns.findIndex((c) => c.field === field);
    if (at < 0) at = columns.push({ field, hidden: true }) - 1;
    return at;
  };
  for (const raw of (opts.sort ?? DEFAULT_SORT[initial]!).split(",").filter(Boolean)) {
    const descending = raw[0] === "-";
    const name = raw[0] === "-" || raw[0] === "+" ? raw.slice(1) : raw;
    if (!name) throw new LvmError("dm_report: Missing sort field name");
    const field = findField(name, prefix);
    if (!field) throw new LvmError([...fieldHelp(true, false), " ", `dm_report: Unrecognised field: ${name}`]);
    const column = columnOf(field);
    if (sortKeys.some((k) => k.column === column)) warn(`dm_report: Ignoring duplicate sort field: ${field.id}.`);
    else sortKeys.push({ column, descending, kind: field.kind });
  }

  if (help) {
    [...fieldHelp(true, false), " "].forEach(warn);
    return "";
  }
  if (opts.select !== undefined && (opts.select === "?" || opts.select.toLowerCase() === "help")) {
    [...fieldHelp(false, true), " ", ...SELECTION_HELP].forEach(warn);
    return "";
  }
  const selection = opts.select === undefined ? undefined : parseSelection(opts.select, prefix);
  for (const field of selection?.fields ?? []) columnOf(field);

  const type = finalType(initial, new Set([initial, ...columns.map((c) => c.field.type)]), command);
  const views = input.vgs.map((loaded) => makeVgView(loaded, input.activation));
  const env: FieldEnv = {
    units,
    suffix: !opts.nosuffix,
    devDir: opts.devDir ?? "/dev",
    formatTime: opts.formatTime ?? utcTime,
    warn,
  };
  let rows: Value[][] = buildRows(type, command, views, input, opts.all ?? false).map((row) => columns.map((c) => c.field.value(row, env)));
  if (selection) rows = rows.filter((values) => selection.matches((field) => values[columns.findIndex((c) => c.field === field)]!));
  compactColumns(columns, rows, compact, prefix, warn);

  const layout: Layout = {
    json,
    headings: !opts.noheadings && !json,
    aligned: !json && !opts.rows && !opts.nameprefixes && (opts.separator === undefined || opts.aligned === true),
    separator: opts.separator ?? " ",
    nameprefixes: opts.nameprefixes ?? false,
    quoted: !opts.unquoted,
    rows: !json && (opts.rows ?? false),
    name: prefix.replace(/_$/, ""),
  };
  return renderReport(columns, sortRows(rows, sortKeys), layout);
}
