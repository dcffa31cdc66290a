/**
 * lvchange: activation (-a), --refresh, the raid actions --syncaction (a scrub
 * the daemon runs) and --rebuild (legs it recovers in full), and the raid
 * recovery rates kept in the metadata. Like lvm, -ay on an active LV and -an
 * on an inactive one do nothing and say nothing.
 */
import type { CommandContext } from "../context.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import type { Area, LogicalVolume, VolumeGroup } from "../../core/model/types.ts";
import { findLv, segExtraInt, segmentPvRuns } from "../../core/model/relations.ts";
import type { PvListEntry } from "../../core/alloc/pv-map.ts";
import { isMirror, isRaid, isVirtual } from "../../core/report/attrs.ts";
import { getCommand } from "../command-table.ts";
import type { LvStatus } from "../../daemon/protocol.ts";
import { activateLvs, activationInfo, activeLvs, deactivateLvs, deactivates, mustRequest, refreshVg, skipsActivation } from "../daemon-client.ts";
import { RECOVERY_RATES_INVALID, pvListFromArgs, recoveryRateArgs, setRecoveryRates, type RecoveryRates } from "./lvcreate.ts";
import { readVgForUpdate, reportMissingLvs, selectLvs, splitLvPath, type LvGroup } from "./report.ts";

export async function run(ctx: CommandContext): Promise<number> {
  switch (ctx.parsed.variant) {
    case "lvchange_activate":
    case "lvchange_refresh":
      return activation(ctx);
    case "lvchange_syncaction":
      return eachRaidLv(ctx, syncAction);
    case "lvchange_rebuild":
      return eachRaidLv(ctx, rebuild);
    case "lvchange_properties":
      if (changedProperties(ctx).every((o) => o === "minrecoveryrate" || o === "maxrecoveryrate")) return properties(ctx);
  }
  throw new LvmError("ulvm's lvchange supports -a, --refresh, --syncaction, --rebuild, --minrecoveryrate and --maxrecoveryrate only.");
}

async function activation(ctx: CommandContext): Promise<number> {
  const activate = ctx.opt<string>("activate");
  const session = await ctx.session();
  const { groups, failed: notFound } = await selectLvs(ctx, session, ctx.positional, { all: false, select: ctx.opt<string>("select") });
  let failed = notFound;
  for (const group of groups) {
    const vg = group.loaded.vg.name;
    try {
      if (activate === undefined) await refreshVg(ctx, vg);
      else if (deactivates(activate)) await deactivateLvs(ctx, vg, group.lvs.map((lv) => lv.name));
      else await activateLvs(ctx, vg, group.lvs.filter((lv) => !skipsActivation(ctx, lv)).map((lv) => lv.name));
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      e.lines.forEach((line) => ctx.error(line));
      failed = true;
    }
    if (reportMissingLvs(ctx, group)) failed = true;
  }
  return failed ? EXIT.FAILED : EXIT.OK;
}

/** The LV properties the command line changes (the options of which lvchange_properties needs one). */
function changedProperties(ctx: CommandContext): string[] {
  const variant = getCommand("lvchange")!.variants.find((v) => v.id === "lvchange_properties")!;
  return variant.anyOf.map((u) => u.option.id).filter((id) => ctx.has(id));
}

/** lvm's LV type names (lv_types.h) for the segment types ulvm knows. */
function lvTypeName(lv: LogicalVolume): string {
  const seg = lv.segments[0];
  if (!seg) return "unknown";
  if (seg.type === "striped") return seg.areas.length > 1 ? "striped" : "linear";
  return seg.type;
}

/** The LVs named as vg/lv: lvm refuses those of the wrong type; others (a whole VG, a tag) it passes over with a warning. */
function namedLvs(ctx: CommandContext): Set<string> {
  const named = new Set<string>();
  for (const arg of ctx.positional) {
    if (arg.startsWith("@")) continue;
    const path = splitLvPath(arg, ctx.env.devDir);
    if (path.vg !== undefined) named.add(`${path.vg}/${path.name}`);
  }
  return named;
}

interface LvWork {
  group: LvGroup;
  /** The VG as this command changes it. */
  vg: VolumeGroup;
  lv: LogicalVolume;
  /** The daemon's entry for the LV, when it is active. */
  live?: LvStatus;
}

/**
 * process_each_lv for the raid variants: each LV of the arguments in VG order,
 * those of another type refused (`refusal`, after "Command on LV x "), the
 * others handed to `act`, whose LvmError fails the command. `forUpdate` reads
 * each VG for a metadata change, which a VG with missing PVs may take;
 * otherwise lvm still locks the VG for update but refuses it then.
 */
async function eachLv(
  ctx: CommandContext,
  opts: { forUpdate: boolean; refusal(lv: LogicalVolume): string | undefined },
  act: (work: LvWork) => Promise<void>,
  done?: (group: LvGroup) => Promise<void>,
): Promise<number> {
  const session = await ctx.session();
  const { groups, failed: notFound } = await selectLvs(ctx, session, ctx.positional, {
    all: false,
    forUpdate: opts.forUpdate,
    select: ctx.opt<string>("select"),
  });
  const live = new Map((await activeLvs(ctx.env)).map((s) => [`${s.vg}/${s.lv}`, s]));
  const named = namedLvs(ctx);
  let failed = notFound;
  const fail = (e: unknown) => {
    if (!(e instanceof LvmError)) throw e;
    e.lines.forEach((line) => ctx.error(line));
    failed = true;
  };
  for (const group of groups) {
    const vgName = group.loaded.vg.name;
    try {
      if (!opts.forUpdate) await readVgForUpdate(session, vgName);
    } catch (e) {
      fail(e);
      continue;
    }
    const vg = structuredClone(group.loaded.vg);
    for (const lv of group.lvs.map((l) => findLv(vg, l.name)!)) {
      const name = `${vgName}/${lv.name}`;
      const refusal = opts.refusal(lv);
      if (refusal) {
        ctx.warn(`Command on LV ${name} ${refusal}`);
        if (named.has(name)) {
          ctx.error(`Command not permitted on LV ${name}.`);
          failed = true;
        }
        continue;
      }
      try {
        await act({ group, vg, lv, live: live.get(name) });
      } catch (e) {
        fail(e);
      }
    }
    try {
      await done?.(group);
    } catch (e) {
      fail(e);
    }
    if (reportMissingLvs(ctx, group)) failed = true;
  }
  return failed ? EXIT.FAILED : EXIT.OK;
}

/** The variant's LV types check (LV_raid), then `act` for each LV that passes. */
function eachRaidLv(ctx: CommandContext, act: (ctx: CommandContext, work: LvWork) => Promise<void>): Promise<number> {
  const variant = getCommand("lvchange")!.variants.find((v) => v.id === ctx.parsed.variant)!;
  const types = variant.positional[0]!.lvTypes;
  const accepts = (lv: LogicalVolume) => (types.includes("raid") && isRaid(lv)) || (types.includes("mirror") && isMirror(lv));
  const refusal = (lv: LogicalVolume) => (accepts(lv) ? undefined : `does not accept LV type ${lvTypeName(lv)}.`);
  return eachLv(ctx, { forUpdate: false, refusal }, (work) => act(ctx, work));
}

/** lv_raid_message: a check or repair, which only an idle array takes. */
async function syncAction(ctx: CommandContext, { vg, lv, live }: LvWork): Promise<void> {
  const action = ctx.opt<"check" | "repair">("syncaction")!;
  if (!live) throw new LvmError("Unable to send message to an inactive logical volume.");
  const current = live.raid?.syncAction ?? "idle";
  if (current !== "idle") throw new LvmError(`${vg.name}/${lv.name} state is currently "${current}".  Unable to switch to "${action}".`);
  await mustRequest(ctx, { op: "syncaction", vg: vg.name, lv: lv.name, action });
}

/**
 * _lvchange_rebuild and lv_raid_rebuild: the legs whose image or rmeta lies on
 * one of the PVs, or is itself degraded (partial or an error segment), are
 * recovered in full from the others, which must be in sync.
 */
async function rebuild(ctx: CommandContext, { group, vg, lv, live }: LvWork): Promise<void> {
  const name = `${vg.name}/${lv.name}`;
  const pvArgs = ctx.all<string>("rebuild");
  if (!ctx.confirm(`Do you really want to rebuild ${pvArgs.length} PVs of logical volume ${name}`))
    throw new LvmError(`Logical volume ${name} not rebuild.`);
  let pvs: PvListEntry[];
  try {
    pvs = pvListFromArgs(ctx, await ctx.session(), vg, pvArgs, false)!;
  } catch (e) {
    // lvm returns ECMD_FAILED where a yes/no is expected: the refusal passes for success.
    if (!(e instanceof LvmError)) throw e;
    e.lines.forEach((line) => ctx.error(line));
    return;
  }
  if (!live) throw new LvmError(`${name} must be active to perform this operation.`);
  if (activationInfo(live).syncPercent !== 100) throw new LvmError(`Unable to replace devices in ${name} while it is not in-sync.`);
  const onPvs = new Set(pvs.map((p) => p.pvId));
  const affected = (sub: LogicalVolume | undefined) =>
    !sub || group.view.partial.has(sub.name) || isVirtual(sub) || sub.segments.some((s) => segmentPvRuns(sub, s).some((run) => onPvs.has(run.pvId)));
  const seg = lv.segments[0]!;
  const subLv = (area: Area | undefined) => (area?.kind === "lv" ? findLv(vg, area.lv) : undefined);
  const images = seg.areas.flatMap((area, i) => (area.kind === "lv" && (affected(subLv(area)) || affected(subLv(seg.metaAreas[i]))) ? [area.lv] : []));
  if (!images.length) throw new LvmError(`Logical volume ${name} does not contain devices specified to rebuild.`);
  if (images.length === seg.areas.length) throw new LvmError(`Unable to rebuild all PVs from ${name} at once.`);
  await mustRequest(ctx, { op: "rebuild", vg: vg.name, lv: lv.name, images });
}

/** _lvchange_recovery_rate's check of the rates the segment ends up with: a maximum of 0 is no limit. */
function recoveryRatesValid(rates: RecoveryRates): boolean {
  return !rates.max || (rates.min ?? 0) <= rates.max;
}

/**
 * The properties variant for the recovery rates: each raid LV's new rates are
 * checked together (lvm says so once per rate option given), committed, and
 * handed to the daemon; an --activate given as well runs afterwards, as lvm's
 * compatibility pass does.
 */
async function properties(ctx: CommandContext): Promise<number> {
  const rates = recoveryRateArgs(ctx);
  const given = [rates.min, rates.max].filter((r) => r !== undefined).length;
  const changed = new Set<string>();
  const refusal = (lv: LogicalVolume) => (isRaid(lv) ? undefined : "uses options that require LV types raid .");
  const code = await eachLv(
    ctx,
    { forUpdate: true, refusal },
    async ({ group, vg, lv }) => {
      const seg = lv.segments[0]!;
      const next = { min: rates.min ?? segExtraInt(seg, "min_recovery_rate"), max: rates.max ?? segExtraInt(seg, "max_recovery_rate") };
      if (!recoveryRatesValid(next)) throw new LvmError(Array<string>(given).fill(RECOVERY_RATES_INVALID));
      setRecoveryRates(seg, rates);
      await (await ctx.session()).writeVg(group.loaded, vg);
      changed.add(vg.name);
      ctx.print(`Logical volume ${vg.name}/${lv.name} changed.`);
    },
    async (group) => {
      if (changed.has(group.loaded.vg.name)) await refreshVg(ctx, group.loaded.vg.name);
    },
  );
  if (code !== EXIT.OK || !ctx.has("activate")) return code;
  ctx.warn("WARNING: Combining activation change with other commands is not advised.");
  return activation(ctx);
}
