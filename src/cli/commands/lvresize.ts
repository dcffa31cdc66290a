/**
 * lvextend, lvreduce, lvresize: lvm's lvresize.c argument rules and
 * lv_resize's size arithmetic (lib/metadata/lv_manip.c), with the allocation
 * of core/alloc; raid1 LVs grow and shrink in every image. ulvm LVs are never
 * active yet, so, as lvm for an inactive LV, a reduction asks nothing and
 * --resizefs is refused because the file system cannot be reached.
 */
import { refreshVg } from "../daemon-client.ts";
import { type CommandContext, usageError } from "../context.ts";
import type { ExtentsValue, Sign, SignedNumber, SizeValue } from "../args.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import { isValidName } from "../../core/model/names.ts";
import { findLv, lvExtents } from "../../core/model/relations.ts";
import type { AllocPolicy, LogicalVolume, Segment, VolumeGroup } from "../../core/model/types.ts";
import { checkResizable, DEFAULT_STRIPE_SIZE, extendLv, reduceLv, STRIPE_SIZE_MIN } from "../../core/alloc/lv.ts";
import { calcAreaMultiple, segAreaLen, segTypeInfo } from "../../core/alloc/allocator.ts";
import { resizeExtentsFromPercent, resizeExtentsFromSize, vgFreeExtents } from "../../core/alloc/sizes.ts";
import { displaySize } from "../../core/report/units.ts";
import {readVgForUpdate, splitLvPath } from "./report.ts";
import { noted, numberOpt, pvListFromArgs } from "./lvcreate.ts";
import { subLvsOf } from "./lvrename.ts";

type Mode = "extend" | "reduce" | "any";
const MAX_EXTENTS = 0xffffffff;
/** STRIPE_SIZE_LIMIT * 2, in sectors. */
const STRIPE_SIZE_MAX = 2 ** 31;

interface Params {
  mode: Mode;
  vgName: string;
  lvName: string;
  size?: SizeValue;
  extents?: ExtentsValue;
  /** The sign that applies, "" for an absolute size. */
  sign: Sign;
  stripes?: number;
  stripeSize?: number;
  /** Images asked for with -m (legs), when given. */
  mirrors?: number;
  pvArgs: string[];
  alloc?: AllocPolicy;
  nosync: boolean;
  resizefs: boolean;
}

/** _lvresize_params: the checks lvm makes before reading the VG, all exit 3. */
function readParams(ctx: CommandContext): Params {
  const command = ctx.parsed.command;
  const mode: Mode = command === "lvextend" ? "extend" : command === "lvreduce" ? "reduce" : "any";
  const onlyLinear = ctx.opt<string>("type") === "linear";
  let extents = ctx.opt<ExtentsValue>("extents");
  let size = ctx.opt<SizeValue>("size");
  const zero = [
    ["extents", extents?.count],
    ["regionsize", ctx.opt<SizeValue>("regionsize")?.sectors],
    ["size", size?.sectors],
    ["stripes", numberOpt(ctx, "stripes")],
    ["stripesize", ctx.opt<SizeValue>("stripesize")?.sectors],
  ].find(([, v]) => v === 0);
  if (zero) throw usageError(`--${zero[0]} may not be zero.`);
  if (size && extents) throw usageError("Please specify either size or extents but not both.");
  const [lvArg, ...pvArgs] = ctx.positional;
  // PVs without a size mean "all the space those PVs have".
  if (!size && !extents && pvArgs.length) extents = { sign: "+", count: 100, percent: "PVS" };
  const sign = size?.sign ?? extents?.sign ?? "";
  if (mode === "extend" && sign === "-") throw usageError("Negative argument not permitted - use lvreduce.");
  if (mode === "reduce" && sign === "+") throw usageError("Positive sign not permitted - use lvextend.");
  if (lvArg === undefined) throw usageError("Please provide the logical volume name.");

  const path = splitLvPath(lvArg, ctx.env.devDir);
  if (path.invalid) throw usageError(path.invalid);
  const { vg: vgName, name: lvName } = path;
  if (!isValidName(lvName)) throw usageError(`Logical volume name "${lvName}" is invalid.`);
  if (vgName === undefined) throw usageError("Please specify a logical volume path.");

  let mirrors: number | undefined;
  if (ctx.has("mirrors")) {
    const m = ctx.opt<number | SignedNumber>("mirrors")!;
    if (typeof m === "object" && m.sign) throw usageError("Mirrors argument may not be signed.");
    const value = numberOpt(ctx, "mirrors")!;
    if (value) mirrors = value + 1;
  }
  const stripes = numberOpt(ctx, "stripes");
  if (onlyLinear && (stripes ?? 1) > 1) throw usageError("Cannot use stripes with linear type.");
  return {
    mode,
    vgName,
    lvName,
    size,
    extents,
    sign,
    stripes,
    stripeSize: ctx.opt<SizeValue>("stripesize")?.sectors,
    mirrors,
    pvArgs,
    alloc: ctx.opt<string>("alloc") as AllocPolicy | undefined,
    nosync: ctx.has("nosync"),
    resizefs: ctx.has("resizefs"),
  };
}

/** _lv_pe_count: physical extents of the LV and all its sub-LVs. */
function physicalExtents(vg: VolumeGroup, lv: LogicalVolume): number {
  return [lv, ...subLvsOf(vg, lv)]
    .flatMap((l) => l.segments)
    .reduce((n, seg) => n + seg.areas.filter((a) => a.kind === "pv").length * segAreaLen(seg), 0);
}

function mirrorCount(seg: Segment): number {
  return segTypeInfo(seg.type).mirrored ? seg.areas.length : 0;
}

/** _validate_stripesize. */
function validateStripeSize(ctx: CommandContext, vg: VolumeGroup, p: Params): void {
  if (!p.stripeSize) return;
  if (p.stripeSize > STRIPE_SIZE_MAX) throw new LvmError(`Stripe size cannot be larger than ${displaySize(STRIPE_SIZE_MAX / 2)}.`);
  if (p.stripeSize > vg.extentSize) {
    ctx.print(`Reducing stripe size ${displaySize(p.stripeSize)} to maximum, physical extent size ${displaySize(vg.extentSize)}.`);
    p.stripeSize = vg.extentSize;
  }
  if (p.stripeSize & (p.stripeSize - 1)) throw new LvmError("Stripe size must be power of 2.");
}

interface Target {
  /** New size in logical extents. */
  extents: number;
  approx: boolean;
  stripes: number;
  stripeSize?: number;
}

/** _lvresize_prepare and _lvresize_adjust_extents: the new size, with lvm's messages and refusals. */
function newSize(ctx: CommandContext, vg: VolumeGroup, lv: LogicalVolume, p: Params, pvs: ReturnType<typeof pvListFromArgs>): Target {
  const name = `${vg.name}/${lv.name}`;
  const existing = lvExtents(lv);
  let requested: number;
  let pes = false;
  let approx = false;
  if (p.size) {
    const sectors = p.size.sectors;
    requested = noted(ctx, (notes) => resizeExtentsFromSize(sectors, vg.extentSize, p.sign, notes));
  } else {
    const ext = p.extents!;
    if (ext.percent) {
      const kind = ext.percent;
      const pct = noted(ctx, (notes) =>
        resizeExtentsFromPercent(vg, { percent: ext.count, kind, sign: p.sign, lvExtents: existing, pvs }, notes),
      );
      requested = pct.extents;
      pes = pct.extentsArePes;
      approx = pct.approx;
    } else requested = ext.count;
  }

  const last = lv.segments[lv.segments.length - 1]!;
  let physical = physicalExtents(vg, lv);
  if (!physical) {
    physical = existing;
    pes = false;
  }
  const current = pes ? physical : existing;
  const reducing = p.sign === "-" || (p.sign === "" && requested < current);
  let stripes = p.stripes ?? 0;
  let stripeSize = p.stripeSize;
  let target: number;
  /** The extents the last segment gains or keeps, which stripes must divide. */
  let segSize = 0;
  if (!reducing) {
    const legs = mirrorCount(last);
    let mirrors = p.mirrors;
    if (!mirrors && legs) {
      ctx.print(`Extending ${legs} mirror images.`);
      mirrors = legs;
    } else if ((mirrors || legs) && mirrors !== legs) throw new LvmError("Cannot vary number of mirrors in LV yet.");
    if (!(stripes === 1 || (stripes > 1 && stripeSize))) {
      // The stripes of the existing segments (of the first image of a mirror) decide what is not given.
      const image = legs && last.areas[0]?.kind === "lv" ? findLv(vg, last.areas[0].lv) : undefined;
      let segStripes = 0;
      let segStripeSize = 0;
      for (const seg of (image ?? lv).segments) {
        if (seg.type !== "striped") continue;
        const size = seg.stripeSize ?? 0;
        if ((segStripeSize && segStripeSize !== size && size && !stripeSize) || (segStripes && segStripes !== seg.areas.length && !stripes))
          throw new LvmError("Please specify number of stripes (-i) and stripesize (-I)");
        segStripeSize = size;
        segStripes = seg.areas.length;
      }
      if (!stripes) stripes = segStripes;
      if (!stripeSize && stripes > 1) {
        if (segStripeSize) {
          ctx.print(`Using stripesize of last segment ${displaySize(segStripeSize)}`);
          stripeSize = segStripeSize;
        } else {
          stripeSize = DEFAULT_STRIPE_SIZE;
          ctx.print(`Using default stripesize ${displaySize(stripeSize)}`);
        }
      }
    }
    segSize = p.sign === "+" ? requested : requested - current;
    // Percentages of physical space count every image of a raid1.
    if (pes && last.type !== "striped") {
      const multiple = calcAreaMultiple(last.type, last.areas.length, 0);
      segSize = Math.floor(Math.floor((segSize * multiple) / last.areas.length) / multiple) * multiple;
    }
    if (segSize >= MAX_EXTENTS - existing)
      throw new LvmError(`Unable to extend ${name} by ${segSize} logical extents: exceeds limit (${MAX_EXTENTS}).`);
    target = existing + segSize;
  } else {
    if (p.stripes || p.stripeSize || p.mirrors) ctx.print("Ignoring stripes, stripesize and mirrors arguments when reducing.");
    let wanted = requested;
    if (p.sign === "-") {
      if (requested >= current) throw new LvmError(`Unable to reduce ${name} below 1 extent.`);
      wanted = current - requested;
    }
    target = wanted;
    let logicalUsed = 0;
    let physicalUsed = 0;
    for (const seg of lv.segments) {
      const segPhysical = segAreaLen(seg) * seg.areas.length;
      // The segment the new end falls in decides the stripes to round to.
      stripes = seg.type === "striped" ? seg.areas.length : 0;
      stripeSize = seg.stripeSize;
      if (pes && wanted <= physicalUsed + segPhysical) {
        const legs = mirrorCount(seg);
        segSize = legs ? Math.floor((wanted - physicalUsed) / legs) : wanted - physicalUsed;
        target = logicalUsed + segSize;
        break;
      }
      if (!pes && wanted <= logicalUsed + seg.extentCount) {
        segSize = wanted - logicalUsed;
        break;
      }
      logicalUsed += seg.extentCount;
      physicalUsed += segPhysical;
    }
  }

  if (!target) throw new LvmError("New size of 0 not permitted.");
  if (target === existing) throw new LvmError(`New size (${target} extents) matches existing size (${existing} extents).`);
  if (stripes > 1) {
    if ((stripeSize ?? 0) < STRIPE_SIZE_MIN) throw new LvmError(`Invalid stripe size ${displaySize(stripeSize ?? 0)}.`);
    const stripeExtents = stripes * Math.max(1, Math.floor(stripeSize! / vg.extentSize));
    const rest = segSize % stripeExtents;
    if (rest && (target < existing || !p.extents?.percent || vgFreeExtents(vg) >= target - existing - rest + stripeExtents)) {
      ctx.print(`Rounding size (${target} extents) up to stripe boundary size for segment (${target - rest + stripeExtents} extents).`);
      target = target - rest + stripeExtents;
    } else if (rest) {
      ctx.print(`Rounding size (${target} extents) down to stripe boundary size for segment (${target - rest} extents)`);
      target -= rest;
    }
  }
  if (target < existing && p.mode === "extend")
    throw new LvmError(`New size given (${target} extents) not larger than existing size (${existing} extents)`);
  if (target > existing && p.mode === "reduce")
    throw new LvmError(`New size given (${target} extents) not less than existing size (${existing} extents)`);
  if (target === existing) throw new LvmError(`New size (${target} extents) matches existing size (${existing} extents)`);
  return { extents: target, approx, stripes, stripeSize };
}

async function resize(ctx: CommandContext): Promise<number> {
  const p = readParams(ctx);
  const session = await ctx.session();
  const loaded = await readVgForUpdate(session, p.vgName);
  const { vg } = loaded;
  const lv = findLv(vg, p.lvName);
  if (!lv) throw new LvmError(`Logical volume ${p.lvName} not found in volume group ${vg.name}.`);
  const pvs = pvListFromArgs(ctx, session, vg, p.pvArgs);
  const name = `${vg.name}/${lv.name}`;

  checkResizable(vg, lv);
  validateStripeSize(ctx, vg, p);
  const target = newSize(ctx, vg, lv, p, pvs);
  const existing = lvExtents(lv);
  const reducing = target.extents < existing;
  if (reducing && pvs) ctx.print("Ignoring PVs on command line when reducing.");
  if (p.resizefs) throw new LvmError(`Logical volume ${name} must be activated before resizing filesystem.`);

  const next = reducing
    ? reduceLv(vg, lv.name, existing - target.extents)
    : extendLv(vg, lv.name, target.extents - existing, {
        stripes: target.stripes || undefined,
        stripeSize: target.stripeSize,
        pvs,
        alloc: p.alloc,
        approx: target.approx,
      });
  const resized = findLv(next, lv.name)!;
  if (!reducing && p.nosync && mirrorCount(lv.segments[0]!) && !resized.status.includes("NOTSYNCED"))
    resized.status.push("NOTSYNCED");
  const size = (extents: number) => `${displaySize(extents * vg.extentSize)} (${extents} extents)`;
  const now = lvExtents(resized);
  if (now === existing) ctx.print(`Size of logical volume ${name} unchanged from ${size(existing)}.`);
  else {
    ctx.print(`Size of logical volume ${name} changed from ${size(existing)} to ${size(now)}.`);
    await session.writeVg(loaded, next);
    // An active LV takes its new size live, as lvm resumes it with the new table.
    await refreshVg(ctx, vg.name);
  }
  ctx.print(`Logical volume ${name} successfully resized.`);
  return EXIT.OK;
}

export function run(ctx: CommandContext): Promise<number> {
  return resize(ctx);
}
