/**
 * lvcreate for linear, striped and raid1 LVs: lvm's option checks in its order
 * (tools/lvcreate.c), the size arithmetic and allocation of core/alloc, one
 * commit, then lvm's messages. lvm zeroes the first 4 KiB of a new LV (and of
 * every raid metadata LV) through the activated device; ulvm writes the same
 * bytes on the PVs directly.
 */
import { activateLvs, activationEnabled, deactivates } from "../daemon-client.ts";
import { servableMap } from "../../daemon/lv-export.ts";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type CommandContext, usageError } from "../context.ts";
import type { ExtentsValue, SignedNumber, SizeValue } from "../args.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import { generateId } from "../../core/format/id.ts";
import { isValidName, reservedLvNamePart } from "../../core/model/names.ts";
import { findLv, isVisible } from "../../core/model/relations.ts";
import type { AllocPolicy, LogicalVolume, Segment, VolumeGroup } from "../../core/model/types.ts";
import { allocateLv, stripeParams, type CreateRequest, type NewLvStamp } from "../../core/alloc/lv.ts";
import { createExtentsFromPercent, extentsFromSize } from "../../core/alloc/sizes.ts";
import { buildPvList, type PvArg, type PvListEntry } from "../../core/alloc/pv-map.ts";
import { openBlockDevice } from "../../io/file-device.ts";
import type { LoadedVg, Session } from "../../metadata/session.ts";
import { skipDevDir } from "../resolve.ts";
import {readVgForUpdate, splitLvPath } from "./report.ts";
import { overriddenReadAhead, readAheadSetting } from "../../core/model/readahead.ts";

const RAID1_MAX_IMAGES = 64;
/** A 4 KiB page in sectors. */
/** lvm wipes this much at the start of a new LV (and of each rmeta). */
const ZERO_BYTES = 4096;

/** A Number option, which variants may declare signed. */
export function numberOpt(ctx: CommandContext, name: string): number | undefined {
  const v = ctx.opt<number | SignedNumber>(name);
  return typeof v === "object" ? v.value : v;
}

/**
 * Runs size or allocation code that notes lvm's informational lines, and
 * prints them even when it fails, as lvm has by then; warnings go to stderr
 * as lvm's log_warn does.
 */
export function noted<T>(ctx: CommandContext, fn: (notes: string[]) => T): T {
  const notes: string[] = [];
  try {
    return fn(notes);
  } finally {
    for (const line of notes) {
      if (line.startsWith("WARNING:")) ctx.warn(line);
      else ctx.print(line);
    }
  }
}

/**
 * --readahead as the metadata stores it (-1 for none, nothing for auto); lvm
 * rounds a sector count down to whole 4 KiB pages, at least one.
 */
function readAheadSectors(ctx: CommandContext): number | undefined {
  const value = ctx.opt<"auto" | "none" | SizeValue>("readahead");
  if (value === undefined) return undefined;
  const { stored, overridden } = readAheadSetting(typeof value === "string" ? value : value.sectors);
  if (overridden) ctx.warn(overriddenReadAhead(overridden));
  return stored;
}

/** lvm's generate_lv_name: one more than the highest lvolN (sscanf %d semantics). */
function generateLvName(vg: VolumeGroup): string {
  let high = -1;
  for (const lv of vg.lvs) {
    const m = /^lvol([+-]?\d+)/.exec(lv.name);
    if (m) high = Math.max(high, Number(m[1]));
  }
  return `lvol${high + 1}`;
}

/**
 * The command line's PVs (`/dev/sdb:0-99`) as the allocator's PV list, with lvm's warnings;
 * `allocatableOnly` as buildPvList's (false for the PVs of lvchange --rebuild).
 */
export function pvListFromArgs(ctx: CommandContext, session: Session, vg: VolumeGroup, args: string[], allocatableOnly = true): PvListEntry[] | undefined {
  if (!args.length) return undefined;
  const pvArgs: PvArg[] = args.map((arg) => {
    const colon = arg.indexOf(":");
    const name = colon < 0 ? arg : arg.slice(0, colon);
    const pvId = session.findPv(name)?.pvId;
    return { name, pvId, rangeSpec: colon < 0 ? undefined : arg.slice(colon) };
  });
  const { list, warnings } = buildPvList(vg, pvArgs, allocatableOnly);
  warnings.forEach((w) => ctx.warn(w));
  return list;
}

/** A raid segment's recovery rates, KiB/s per device; 0 (or none) is no limit. */
export interface RecoveryRates {
  min?: number;
  max?: number;
}

/**
 * --minrecoveryrate/--maxrecoveryrate as lvm stores them: the size's sectors,
 * saturated to 32 bits as lvm's arg_uint_value gives them, halved into KiB.
 */
export function recoveryRateArgs(ctx: CommandContext): RecoveryRates {
  const kib = (option: string) => {
    const v = ctx.opt<SizeValue>(option);
    return v && Math.floor(Math.min(v.sectors, 0xffffffff) / 2);
  };
  return { min: kib("minrecoveryrate"), max: kib("maxrecoveryrate") };
}

export const RECOVERY_RATES_INVALID = "Minimum recovery rate cannot be higher than maximum.";

/** Sets the rates given on a raid segment; lvm writes a rate only when it is not 0. */
export function setRecoveryRates(seg: Segment, rates: RecoveryRates): void {
  for (const [key, value] of [["min_recovery_rate", rates.min], ["max_recovery_rate", rates.max]] as const) {
    if (value === undefined) continue;
    seg.extra = seg.extra.filter((e) => !(e.kind === "value" && e.key === key));
    if (value) seg.extra.push({ kind: "value", key, value: { type: "int", value } });
  }
}

/** Writes zeros over the first 4 KiB of each LV, where its logical extent 0 lies. */
/** When, where and with which ids new LVs are made now. */
export function newLvStamp(): NewLvStamp {
  return {
    creationTime: Math.floor(Date.now() / 1000),
    creationHost: hostname(),
    newId: () => generateId((n) => new Uint8Array(randomBytes(n))),
  };
}

export async function zeroLvStarts(loaded: LoadedVg, vg: VolumeGroup, lvs: LogicalVolume[]): Promise<void> {
  for (const lv of lvs) {
    const area = lv.segments[0]?.areas[0];
    if (area?.kind !== "pv") continue;
    const pv = vg.pvs.find((p) => p.id === area.pvId)!;
    const device = loaded.devices.get(area.pvId)!.device;
    const dev = await openBlockDevice(device, { writable: true });
    try {
      await dev.write(new Uint8Array(ZERO_BYTES), (pv.peStart + area.pe * vg.extentSize) * 512);
      await dev.flush();
    } finally {
      await dev.close();
    }
  }
}

interface Params {
  type: "linear" | "striped" | "raid1";
  name?: string;
  vgName: string;
  size?: SizeValue;
  extents?: ExtentsValue;
  stripes: number;
  stripeSize?: number;
  mirrors: number;
  regionSize?: number;
  nosync: boolean;
  recoveryRates: RecoveryRates;
  alloc: AllocPolicy;
  tags: string[];
  zero: boolean;
  readOnly: boolean;
  /** lv flags: ACTIVATION_SKIP (-ky), NOAUTOACTIVATE (--setautoactivation n). */
  flags: string[];
  pvArgs: string[];
  /** -ay (the default) and not skipped by -ky. */
  activate: boolean;
  /** lvm refuses -Zy for an LV it cannot zero, but still exits 0. */
  zeroRefusal?: string;
}

const SUPPORTED_TYPES = ["linear", "striped", "raid1"];

/** _lvcreate_params: everything that can be checked before the VG is read, in lvm's order. */
function readParams(ctx: CommandContext): Params {
  const mirrorsArg = numberOpt(ctx, "mirrors");
  const stripesArg = numberOpt(ctx, "stripes");
  let type = ctx.opt<string>("type");
  if (type === undefined) type = mirrorsArg ? ((stripesArg ?? 1) > 1 ? "raid10" : "raid1") : "striped";
  // lvm says this for segment types whose kernel target is absent; ulvm has no implementation of them yet.
  if (!SUPPORTED_TYPES.includes(type))
    throw usageError(`${type}: Required device-mapper target(s) not detected in your kernel.`);
  const raid = type === "raid1";
  if (!raid) {
    const raidOnly = ["nosync", "regionsize"].find((o) => ctx.has(o));
    if (raidOnly) throw usageError(`--${raidOnly} is supported only with mirrors or raids.`);
    if (mirrorsArg) throw usageError("--mirrors is supported only with mirrors or raids");
  }

  // _lvcreate_name_params
  let name = ctx.opt<string>("name");
  let vgName: string | undefined;
  if (name?.includes("/")) {
    const path = splitLvPath(name, ctx.env.devDir);
    if (path.invalid) throw usageError(path.invalid);
    vgName = path.vg;
    name = path.name;
  }
  if (name !== undefined) {
    if (!isValidName(name)) throw usageError(`Logical volume name "${name}" is invalid.`);
    const reserved = reservedLvNamePart(name);
    if (reserved?.prefix) throw usageError(`Names starting "${reserved.prefix}" are reserved. Please choose a different LV name.`);
    if (reserved?.infix) throw usageError(`Names including "${reserved.infix}" are reserved. Please choose a different LV name.`);
  }
  const [vgArg, ...pvArgs] = ctx.positional;
  if (vgArg !== undefined) {
    const given = skipDevDir(vgArg, ctx.env.devDir);
    if (given.includes("/")) throw usageError("Volume group name expected (no slash)");
    if (vgName !== undefined && vgName !== given)
      throw usageError(`Inconsistent volume group names given: "${vgName}" and "${given}"`);
    vgName = given;
  }
  if (vgName === undefined) throw usageError("Please provide a volume group name");
  if (!isValidName(vgName)) throw usageError(`Volume group name ${vgName} has invalid characters`);

  // _read_size_params
  const size = ctx.opt<SizeValue>("size");
  const extents = ctx.opt<ExtentsValue>("extents");
  const stripeSizeArg = ctx.opt<SizeValue>("stripesize");
  const zeroArg = [
    ["extents", extents?.count],
    ["regionsize", ctx.opt<SizeValue>("regionsize")?.sectors],
    ["size", size?.sectors],
    ["stripes", stripesArg],
    ["stripesize", stripeSizeArg?.sectors],
  ].find(([, v]) => v === 0);
  if (zeroArg) throw usageError(`--${zeroArg[0]} may not be zero.`);
  if (size && extents) throw usageError("Please specify either size or extents (not both).");
  if (!size && !extents) throw usageError("Please specify either size or extents.");

  // get_stripe_params
  const stripes = stripesArg ?? 1;
  let stripeSize = stripeSizeArg?.sectors;
  if (raid) {
    if (stripeSize) ctx.print("Ignoring stripesize argument for raid1 devices.");
    stripeSize = undefined;
  } else {
    try {
      stripeSize = noted(ctx, (notes) => stripeParams(stripes, stripeSize, notes));
    } catch (e) {
      throw e instanceof LvmError ? usageError(e.lines) : e;
    }
  }

  // _read_mirror_and_raid_params
  let mirrors = raid ? 2 : 1;
  if (mirrorsArg !== undefined) {
    mirrors = mirrorsArg + 1;
    if (mirrors === 1) {
      if (raid) throw usageError("--mirrors must be at least 1 with segment type raid1.");
      ctx.print("Redundant mirrors argument: default is 0");
    }
  }
  if (raid && mirrors > RAID1_MAX_IMAGES) throw usageError(`Only up to ${RAID1_MAX_IMAGES} mirrors in raid1 supported currently.`);
  if (raid && stripes > 1) throw usageError("Stripes argument cannot be used with segment type, raid1");
  // _read_raid_params
  const recoveryRates = recoveryRateArgs(ctx);
  // Unlike lvchange's, this check takes a maximum left out as 0: a minimum alone is refused.
  if ((recoveryRates.min ?? 0) > (recoveryRates.max ?? 0)) throw usageError(RECOVERY_RATES_INVALID);
  if (type === "linear" && stripes > 1) throw usageError("Cannot use stripes with linear type.");

  const contiguous = ctx.opt<boolean>("contiguous") ?? false;
  const alloc = (ctx.opt<string>("alloc") ?? (contiguous ? "contiguous" : "inherit")) as AllocPolicy;
  if (contiguous && alloc !== "contiguous") throw usageError("Conflicting contiguous and alloc arguments.");

  // _check_zero_parameters: an LV lvm will not activate cannot be zeroed.
  const readOnly = ctx.opt<string>("permission") === "r";
  const activate = ctx.opt<string>("activate") ?? "y";
  const activationSkip = ctx.opt<boolean>("setactivationskip") ?? false;
  const skipped = activationSkip && !ctx.has("ignoreactivationskip");
  const why =
    (readOnly ? "read-only " : "") +
    (activate === "n" || activate === "ln" ? "inactive " : "") +
    (activate === "ay" ? "auto activated " : "") +
    (skipped ? "skipped from activation " : "");
  let zero = ctx.opt<boolean>("zero") ?? true;
  let zeroRefusal: string | undefined;
  if (why) {
    if (ctx.opt<boolean>("zero") ?? ctx.opt<boolean>("wipesignatures") ?? false)
      zeroRefusal = `Cannot zero ${why}logical volume with option -Zy or -Wy.`;
    zero = false;
  }

  return {
    type: type as Params["type"],
    name,
    vgName,
    size,
    extents,
    stripes,
    stripeSize,
    mirrors,
    regionSize: ctx.opt<SizeValue>("regionsize")?.sectors,
    nosync: ctx.has("nosync"),
    recoveryRates,
    alloc,
    tags: ctx.all<string>("addtag"),
    zero,
    readOnly,
    flags: [
      ...(activationSkip ? ["ACTIVATION_SKIP"] : []),
      ...(ctx.opt<boolean>("setautoactivation") === false ? ["NOAUTOACTIVATE"] : []),
    ],
    pvArgs,
    zeroRefusal,
    activate: !deactivates(activate) && !skipped,
  };
}

async function create(ctx: CommandContext): Promise<number> {
  const p = readParams(ctx);
  const session = await ctx.session();
  const loaded = await readVgForUpdate(session, p.vgName);
  const readAhead = readAheadSectors(ctx);
  if (p.zeroRefusal) {
    ctx.error(p.zeroRefusal);
    return EXIT.OK;
  }
  const { vg } = loaded;

  // _update_extents_params
  let extents: number;
  let approx = false;
  if (p.size) extents = noted(ctx, (notes) => extentsFromSize(p.size!.sectors, vg.extentSize, notes));
  const pvs = pvListFromArgs(ctx, session, vg, p.pvArgs);
  if (p.extents?.percent) {
    const { count, percent } = p.extents;
    extents = noted(ctx, (notes) =>
      createExtentsFromPercent(
        vg,
        { percent: count, kind: percent, pvs, mirrors: p.type === "raid1" ? p.mirrors : 0, stripes: p.stripes, stripeSize: p.stripeSize ?? 0 },
        notes,
      ),
    );
    approx = true;
  } else if (p.extents) extents = p.extents.count;

  const name = p.name ?? generateLvName(vg);
  const request: CreateRequest = {
    name,
    extents: extents!,
    type: p.type === "linear" ? "striped" : p.type,
    stripes: p.stripes,
    stripeSize: p.stripeSize,
    mirrors: p.mirrors - 1,
    regionSize: p.regionSize,
    pvs,
    alloc: p.alloc,
    approx,
    nosync: p.nosync,
    ...newLvStamp(),
  };
  // _vg_check_features comes right after the name check allocateLv makes first.
  if (vg.maxLv && vg.lvs.filter(isVisible).length >= vg.maxLv && !findLv(vg, name))
    throw new LvmError(`Maximum number of logical volumes (${vg.maxLv}) reached in volume group ${vg.name}`);
  const created = noted(ctx, (notes) => allocateLv(vg, request, notes));

  const [top, ...subs] = created as [LogicalVolume, ...LogicalVolume[]];
  if (p.type === "raid1") setRecoveryRates(top.segments[0]!, p.recoveryRates);
  top.tags = [...new Set(p.tags)];
  if (p.readOnly) top.status = top.status.filter((s) => s !== "WRITE");
  top.flags = p.flags;
  if (readAhead !== undefined) top.readAhead = readAhead;
  const next: VolumeGroup = { ...vg, lvs: [...vg.lvs, ...created] };

  // rmeta LVs are always cleared (dm-raid must see no old superblock); the data start only when zeroing.
  const toZero = subs.filter((lv) => lv.name.includes("_rmeta_"));
  if (p.zero) toZero.push(...(subs.length ? subs.filter((lv) => lv.name.includes("_rimage_")) : [top]));
  else ctx.warn(`WARNING: Logical volume ${vg.name}/${name} not zeroed.`);
  // lvm creates, fails to activate and reverts; refusing up front leaves the VG as it would be then.
  if (p.activate && activationEnabled()) {
    try {
      servableMap(next, name);
    } catch (e) {
      if (e instanceof LvmError) throw new LvmError([...e.lines, `Failed to activate new LV ${vg.name}/${name}.`]);
      throw e;
    }
  }
  await zeroLvStarts(loaded, next, toZero);
  await session.writeVg(loaded, next);
  if (p.activate) {
    try {
      await activateLvs(ctx, vg.name, [name]);
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      throw new LvmError([...e.lines, `Failed to activate new LV ${vg.name}/${name}.`]);
    }
  }
  ctx.print(`Logical volume "${name}" created.`);
  return EXIT.OK;
}

export function run(ctx: CommandContext): Promise<number> {
  return create(ctx);
}
