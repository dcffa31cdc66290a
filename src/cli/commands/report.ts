/**
 * pvs, vgs, lvs, and the argument handling lvm shares between its reporting
 * and LV-processing commands (toollib.c's process_each_vg/lv/pv): which VGs,
 * LVs and PVs the arguments name, in lvm's processing order, with lvm's
 * messages for those that do not exist. Missing objects fail the command
 * (exit 5) while the ones found are still processed.
 */
import { activationMap } from "../daemon-client.ts";
import type { CommandContext } from "../context.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import type { LogicalVolume } from "../../core/model/types.ts";
import type { LoadedVg, ScannedPv, Session } from "../../metadata/session.ts";
import { buildReport, type ReportCommand, type ReportInput } from "../../core/report/report.ts";
import type { FieldEnv } from "../../core/report/fields.ts";
import { parseSelection } from "../../core/report/select.ts";
import { DEFAULT_UNITS } from "../../core/report/units.ts";
import {
  activeOnMissingPvs,
  makeVgView,
  orphanPvView,
  orphanVgView,
  type ActivationMap,
  type PvView,
  type VgView,
} from "../../core/report/view.ts";
import { isVisible } from "../../core/model/relations.ts";
import { resolveDevice, skipDevDir, vgNotFound } from "../resolve.ts";

export type ReportKind = "pv" | "vg" | "lv";

function printLines(ctx: CommandContext, e: LvmError): void {
  for (const line of e.lines) ctx.error(line);
}

/**
 * VG names in the order lvm processes them: lvmcache puts each newly found VG
 * at the head of its list, so VGs come in reverse order of their first PV in
 * the device scan.
 */
export function vgOrder(session: Session): string[] {
  const found: string[] = [];
  for (const pv of session.scannedPvs()) if (pv.vgName && !found.includes(pv.vgName)) found.push(pv.vgName);
  for (const name of session.vgNames()) if (!found.includes(name)) found.push(name);
  return found.reverse();
}

/**
 * vg_read for a command that writes the VG: locked first, then read; lvm
 * refuses a read-only VG, and one with missing PVs unless the command copes
 * with them (lvremove, vgreduce).
 */
export async function readVgForUpdate(session: Session, name: string, opts: { allowMissing?: boolean } = {}): Promise<LoadedVg> {
  await session.lockVg(name);
  const loaded = session.readVg(name);
  if (!loaded) throw vgNotFound(name);
  const { vg, devices } = loaded;
  const cannot = `Cannot process volume group ${name}`;
  if (!vg.status.includes("WRITE")) throw new LvmError([`Volume group ${name} is read-only.`, cannot]);
  if (!opts.allowMissing && vg.pvs.some((pv) => pv.flags.includes("MISSING") || !devices.has(pv.id)))
    throw new LvmError([`Cannot change VG ${name} while PVs are missing.`, "See vgreduce --removemissing and vgextend --restoremissing.", cannot]);
  return loaded;
}

export interface LvPath {
  /** Undefined when the argument has no slash. */
  vg?: string;
  /** The part after the slash(es), or the whole name. */
  name: string;
  /** lvm's message when the path has more than one run of slashes. */
  invalid?: string;
}

/** lvm's _extract_vgname on `vg/lv` or `/dev/vg/lv`: exactly one run of slashes separates the names. */
export function splitLvPath(arg: string, devDir: string): LvPath {
  const full = skipDevDir(arg, devDir);
  const slash = full.indexOf("/");
  if (slash < 0) return { name: full };
  const name = full.slice(slash).replace(/^\/+/, "");
  const invalid = slash === 0 || name.includes("/") ? `"${arg}": Invalid path for Logical Volume.` : undefined;
  return { vg: full.slice(0, slash), name, invalid };
}

/** A tag argument (`@tag`), or undefined. */
function tagOf(arg: string): string | undefined {
  return arg.startsWith("@") ? arg.slice(1) : undefined;
}

export interface VgSelection {
  loaded: LoadedVg[];
  failed: boolean;
}

/** Called with each VG as it is read, before anything else is printed about it. */
export type OnVgRead = (loaded: LoadedVg) => void;

/**
 * The VGs to process: those named, in argument order (lvm keeps unknown names
 * in place so that their "not found" comes in turn); all VGs in lvm's order
 * when none is named or a tag is given.
 */
function vgsToProcess(session: Session, names: string[], tags: string[]): string[] {
  return names.length && !tags.length ? [...new Set(names)] : vgOrder(session);
}

/** process_each_vg: the VGs named (by name or `@tag`), or all of them. */
export function selectVgs(ctx: CommandContext, session: Session, args: string[], onRead?: OnVgRead): VgSelection {
  const tags = args.map(tagOf).filter((t): t is string => t !== undefined);
  const names = args.filter((a) => tagOf(a) === undefined).map((a) => skipDevDir(a, ctx.env.devDir));
  const result: VgSelection = { loaded: [], failed: false };
  for (const name of vgsToProcess(session, names, tags)) {
    const loaded = session.readVg(name);
    if (!loaded) {
      printLines(ctx, vgNotFound(name));
      result.failed = true;
      continue;
    }
    onRead?.(loaded);
    if (args.length && !names.includes(name) && !loaded.vg.tags.some((t) => tags.includes(t))) continue;
    result.loaded.push(loaded);
  }
  return result;
}

export interface LvGroup {
  loaded: LoadedVg;
  view: VgView;
  /** In the VG's LV order. */
  lvs: LogicalVolume[];
  /** LV names given as vg/lv that the VG does not have. */
  missing: string[];
}

export interface LvSelection {
  groups: LvGroup[];
  failed: boolean;
}

interface LvArgs {
  /** VG name → LV names given for it; an empty set means the whole VG. */
  byVg: Map<string, Set<string>>;
  tags: string[];
  failed: boolean;
}

/** lvm's _get_arg_lvnames: `vg`, `vg/lv`, `/dev/vg/lv`, `@tag`. */
function parseLvArgs(ctx: CommandContext, args: string[]): LvArgs {
  const parsed: LvArgs = { byVg: new Map(), tags: [], failed: false };
  const whole = new Set<string>();
  for (const arg of args) {
    const tag = tagOf(arg);
    if (tag !== undefined) {
      parsed.tags.push(tag);
      continue;
    }
    const path = splitLvPath(arg, ctx.env.devDir);
    if (path.invalid) {
      ctx.error(path.invalid);
      parsed.failed = true;
      continue;
    }
    const vgName = path.vg ?? path.name;
    const set = parsed.byVg.get(vgName) ?? new Set<string>();
    parsed.byVg.set(vgName, set);
    if (path.vg === undefined) whole.add(vgName);
    else set.add(path.name);
  }
  for (const vgName of whole) parsed.byVg.get(vgName)!.clear();
  return parsed;
}

export interface LvSelectOptions {
  all: boolean;
  forUpdate?: boolean;
  select?: string;
  onRead?: OnVgRead;
}

/**
 * process_each_lv: the LVs the arguments name, grouped by VG in lvm's order.
 * Hidden LVs come only when named or with `all`; with `select` (-S), only
 * those the selection matches. With `forUpdate`, each VG is read for a change
 * (lvremove, which copes with missing PVs). Each group goes to `each` as soon
 * as its VG is read: lvm is done with one VG before it reads the next, so what
 * a command prints about its LVs comes before a later VG's "not found".
 * Resolves to true when anything named was not found.
 */
export async function forEachLvGroup(
  ctx: CommandContext,
  session: Session,
  args: string[],
  opts: LvSelectOptions,
  each: (group: LvGroup) => Promise<void> | void,
): Promise<boolean> {
  const parsed = parseLvArgs(ctx, args);
  const selection = opts.select === undefined ? undefined : parseSelection(opts.select, "lv_");
  const env: FieldEnv = { ...fieldEnv(ctx), units: DEFAULT_UNITS, suffix: true };
  let failed = parsed.failed;
  for (const vgName of vgsToProcess(session, [...parsed.byVg.keys()], parsed.tags)) {
    const lvNames = parsed.byVg.get(vgName);
    let loaded: LoadedVg | undefined;
    try {
      loaded = opts.forUpdate ? await readVgForUpdate(session, vgName, { allowMissing: true }) : session.readVg(vgName);
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      printLines(ctx, e);
    }
    if (!loaded) {
      if (!opts.forUpdate) printLines(ctx, vgNotFound(vgName));
      failed = true;
      continue;
    }
    opts.onRead?.(loaded);
    const { vg } = loaded;
    const vgTagged = vg.tags.some((t) => parsed.tags.includes(t));
    const wholeVg = args.length === 0 || (lvNames !== undefined && lvNames.size === 0) || vgTagged;
    const lvs = vg.lvs.filter((lv) => {
      if (lvNames?.has(lv.name)) return true;
      if (!opts.all && !isVisible(lv)) return false;
      return wholeVg || lv.tags.some((t) => parsed.tags.includes(t));
    });
    const missing = [...(lvNames ?? [])].filter((n) => !vg.lvs.some((lv) => lv.name === n));
    if (!lvs.length && !missing.length && !lvNames) continue;
    const view = makeVgView(loaded, undefined);
    const selected = selection ? lvs.filter((lv) => selection.matches((f) => f.value({ vg: view, lv, seg: lv.segments[0] }, env))) : lvs;
    await each({ loaded, view, lvs: selected, missing });
  }
  return failed;
}

/** forEachLvGroup, with every group collected first. */
export async function selectLvs(ctx: CommandContext, session: Session, args: string[], opts: LvSelectOptions): Promise<LvSelection> {
  const groups: LvGroup[] = [];
  const failed = await forEachLvGroup(ctx, session, args, opts, (group) => void groups.push(group));
  return { groups, failed };
}

/** lvm's message for LVs named but not found; true when there were any. */
export function reportMissingLvs(ctx: CommandContext, group: LvGroup): boolean {
  for (const name of group.missing) ctx.error(`Failed to find logical volume "${group.loaded.vg.name}/${name}"`);
  return group.missing.length > 0;
}

export interface PvRow {
  view: VgView;
  pv: PvView;
}

export interface PvSelection {
  /** The VGs holding PVs to process, in lvm's order. */
  loaded: LoadedVg[];
  orphans: ScannedPv[];
  /** The PVs named; undefined for all. */
  pvIds?: Set<string>;
  failed: boolean;
}

/**
 * process_each_pv: the PVs of every VG in lvm's VG order, then the orphans;
 * with arguments only the devices named (or PVs with a named `@tag`).
 */
export function selectPvs(ctx: CommandContext, session: Session, args: string[], onRead?: OnVgRead): PvSelection {
  const tags = args.map(tagOf).filter((t): t is string => t !== undefined);
  const devices = args.filter((a) => tagOf(a) === undefined);
  const named: ScannedPv[] = [];
  let failed = false;
  const allowed = new Set(session.allowedDevices().map((d) => resolveDevice(d) ?? d));
  for (const arg of devices) {
    const device = resolveDevice(arg);
    if (!device || !allowed.has(device)) {
      ctx.error(`Cannot use ${arg}: ${device ? "device is not in devices list" : "device not found"}`);
      failed = true;
      continue;
    }
    const pv = session.findPv(arg);
    if (!pv) {
      ctx.error(`Failed to find physical volume "${arg}".`);
      failed = true;
      continue;
    }
    named.push(pv);
  }
  const read = (name: string): LoadedVg[] => {
    const loaded = session.readVg(name);
    if (loaded) onRead?.(loaded);
    return loaded ? [loaded] : [];
  };
  if (!args.length) return { loaded: vgOrder(session).flatMap(read), orphans: session.orphans(), failed };
  const pvIds = new Set(named.map((pv) => pv.pvId));
  // Only VGs that hold a named PV are read, unless tags can match anywhere.
  const loaded = vgOrder(session)
    .filter((n) => tags.length || named.some((pv) => pv.vgName === n))
    .flatMap(read);
  for (const { vg } of loaded) for (const pv of vg.pvs) if (pv.tags.some((t) => tags.includes(t))) pvIds.add(pv.id);
  return { loaded, orphans: session.orphans().filter((o) => pvIds.has(o.pvId)), pvIds, failed };
}

/** A selection as rows for the display commands. */
export function pvRows(selection: PvSelection): PvRow[] {
  const wanted = (id: string) => !selection.pvIds || selection.pvIds.has(id);
  const rows: PvRow[] = [];
  for (const loaded of selection.loaded) {
    const view = makeVgView(loaded, undefined);
    for (const pv of loaded.vg.pvs) if (wanted(pv.id)) rows.push({ view, pv: { pv, scanned: loaded.devices.get(pv.id) } });
  }
  for (const scanned of selection.orphans) rows.push({ view: orphanVgView(scanned), pv: orphanPvView(scanned) });
  return rows;
}

/** strftime("%Y-%m-%d %T %z") in local time, as lvm prints LV times; empty for an unset time. */
export function formatLocalTime(unixSeconds: number | undefined): string {
  if (!unixSeconds) return "";
  const d = new Date(unixSeconds * 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  const offset = -d.getTimezoneOffset();
  const abs = Math.abs(offset);
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ` +
    `${offset < 0 ? "-" : "+"}${two(Math.floor(abs / 60))}${two(abs % 60)}`
  );
}

const REPORT_COMMAND: Record<ReportKind, ReportCommand> = { pv: "pvs", vg: "vgs", lv: "lvs" };

/** What report fields need from the command's environment. */
function fieldEnv(ctx: CommandContext): Pick<FieldEnv, "devDir" | "formatTime" | "warn"> {
  return { devDir: ctx.env.devDir.replace(/\/+$/, ""), formatTime: formatLocalTime, warn: (line) => ctx.warn(line) };
}

/**
 * lvm's check of the devices active LVs use against the PVs found, which the
 * report commands make as they read each VG (lvm2-observed: lvs, vgs and pvs
 * print it, lvchange, lvconvert and vgreduce do not).
 */
function checkDevicesUsed(ctx: CommandContext, activation: ActivationMap): OnVgRead {
  return (loaded) => {
    for (const lv of activeOnMissingPvs(makeVgView(loaded, activation)))
      ctx.warn(`WARNING: Couldn't find all devices for LV ${loaded.vg.name}/${lv.name} while checking used and assumed devices.`);
  };
}

/** pvs, vgs, lvs (and the display commands' -C): rows for what the arguments name; rc 5 if any was missing. */
export async function report(ctx: CommandContext, kind: ReportKind): Promise<number> {
  const session = await ctx.session();
  // Live state comes from a running daemon; a report never starts one.
  const activation = await activationMap(ctx.env);
  const onRead = checkDevicesUsed(ctx, activation);
  const input: ReportInput = { vgs: [], activation };
  let failed: boolean;
  if (kind === "pv") {
    const selection = selectPvs(ctx, session, ctx.positional, onRead);
    Object.assign(input, { vgs: selection.loaded, orphans: selection.orphans, pvIds: selection.pvIds });
    failed = selection.failed;
  } else if (kind === "vg") {
    const selection = selectVgs(ctx, session, ctx.positional, onRead);
    input.vgs = selection.loaded;
    failed = selection.failed;
  } else {
    const selection = await selectLvs(ctx, session, ctx.positional, { all: ctx.has("all"), onRead });
    input.vgs = selection.groups.map((g) => g.loaded);
    input.lvs = new Map(selection.groups.map((g) => [g.loaded.vg.name, g.lvs]));
    failed = selection.failed;
    for (const group of selection.groups) if (reportMissingLvs(ctx, group)) failed = true;
  }
  const text = buildReport(REPORT_COMMAND[kind], input, {
    options: ctx.all<string>("options"),
    sort: ctx.opt<string>("sort"),
    units: ctx.opt<string>("units"),
    nosuffix: ctx.has("nosuffix"),
    noheadings: ctx.has("noheadings"),
    separator: ctx.opt<string>("separator"),
    aligned: ctx.has("aligned"),
    nameprefixes: ctx.has("nameprefixes"),
    unquoted: ctx.has("unquoted"),
    rows: ctx.has("rows"),
    reportFormat: ctx.opt<string>("reportformat"),
    select: ctx.opt<string>("select"),
    all: ctx.has("all"),
    segments: ctx.has("segments"),
    ...fieldEnv(ctx),
  });
  ctx.io.stdout(text);
  return failed ? EXIT.FAILED : EXIT.OK;
}

export function run(ctx: CommandContext): Promise<number> {
  return report(ctx, ctx.parsed.command.slice(0, 2) as ReportKind);
}
