/**
 * lvchange: activation (-a), --refresh, the raid actions --syncaction (a scrub
 * the daemon runs) and --rebuild (legs it recovers in full), and the LV
 * properties kept in the metadata (permission, allocation policy, read-ahead,
 * tags, activation skip, raid recovery rates), which the daemon then applies
 * to active LVs. Like lvm, -ay on an active LV and -an on an inactive one do
 * nothing and say nothing.
 */
import type { CommandContext } from "../context.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import type { AllocPolicy, Area, LogicalVolume, Segment, VolumeGroup } from "../../core/model/types.ts";
import { findLv, isVisible, segExtraInt, segmentPvRuns, subLvRoles } from "../../core/model/relations.ts";
import { overriddenReadAhead, readAheadName, readAheadSetting, sameReadAhead } from "../../core/model/readahead.ts";
import type { SizeValue } from "../args.ts";
import type { PvListEntry } from "../../core/alloc/pv-map.ts";
import { isMirror, isRaid, isVirtual } from "../../core/report/attrs.ts";
import { getCommand } from "../command-table.ts";
import type { LvStatus } from "../../daemon/protocol.ts";
import { activateLvs, activationInfo, activeLvs, deactivateLvs, deactivates, mustRequest, refreshVg, skipsActivation } from "../daemon-client.ts";
import { RECOVERY_RATES_INVALID, pvListFromArgs, recoveryRateArgs, setRecoveryRates, zeroLvStarts, type RecoveryRates } from "./lvcreate.ts";
import { isMounted } from "./lvconvert.ts";
import { trackedImage } from "../../core/alloc/lv.ts";
import { forEachLvGroup, readVgForUpdate, reportMissingLvs, splitLvPath, type LvGroup } from "./report.ts";

export async function run(ctx: CommandContext): Promise<number> {
  switch (ctx.parsed.variant) {
    case "lvchange_activate":
    case "lvchange_refresh":
      return activation(ctx);
    case "lvchange_syncaction":
      return eachRaidLv(ctx, syncAction);
    case "lvchange_rebuild":
      return eachRaidLv(ctx, rebuild);
    case "lvchange_resync":
      return resyncCommand(ctx);
    case "lvchange_properties":
      if (changedProperties(ctx).every((o) => PROPERTIES.includes(o))) return properties(ctx);
  }
  throw new LvmError(
    "ulvm's lvchange supports -a, --refresh, --syncaction, --rebuild, --resync, -p, --alloc, -C, -r, --addtag, --deltag, -k, " +
      "--errorwhenfull, --minrecoveryrate and --maxrecoveryrate only.",
  );
}

async function activation(ctx: CommandContext): Promise<number> {
  const activate = ctx.opt<string>("activate");
  const session = await ctx.session();
  let failed = false;
  const notFound = await forEachLvGroup(ctx, session, ctx.positional, { all: false, select: ctx.opt<string>("select") }, async (group) => {
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
  });
  return failed || notFound ? EXIT.FAILED : EXIT.OK;
}

/** The options of lvchange_properties that ulvm takes, in the order lvm applies them to each LV (its option table's). */
const PROPERTIES = [
  "addtag", "deltag", "alloc", "contiguous", "permission", "readahead", "setactivationskip", "errorwhenfull",
  "minrecoveryrate", "maxrecoveryrate",
];

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
 * process_each_lv for the raid and properties variants: each LV of the arguments in VG order,
 * those of another type refused (`refusal`, after "Command on LV x "), the
 * others handed to `act`, whose LvmError fails the command. `forUpdate` reads
 * each VG for a metadata change, which a VG with missing PVs may take;
 * otherwise lvm still locks the VG for update but refuses it then.
 */
async function eachLv(
  ctx: CommandContext,
  opts: { forUpdate: boolean; refusal(lv: LogicalVolume, vg: VolumeGroup): string | string[] | undefined },
  act: (work: LvWork) => Promise<void>,
  done?: (group: LvGroup) => Promise<void>,
): Promise<number> {
  const session = await ctx.session();
  const live = new Map((await activeLvs(ctx.env)).map((s) => [`${s.vg}/${s.lv}`, s]));
  const named = namedLvs(ctx);
  let failed = false;
  const fail = (e: unknown) => {
    if (!(e instanceof LvmError)) throw e;
    e.lines.forEach((line) => ctx.error(line));
    failed = true;
  };
  const selection = { all: false, forUpdate: opts.forUpdate, select: ctx.opt<string>("select") };
  const notFound = await forEachLvGroup(ctx, session, ctx.positional, selection, async (group) => {
    const vgName = group.loaded.vg.name;
    try {
      if (!opts.forUpdate) await readVgForUpdate(session, vgName);
    } catch (e) {
      fail(e);
      return;
    }
    const vg = structuredClone(group.loaded.vg);
    for (const lv of group.lvs.map((l) => findLv(vg, l.name)!)) {
      const name = `${vgName}/${lv.name}`;
      const refusals = [opts.refusal(lv, vg) ?? []].flat();
      if (refusals.length) {
        for (const refusal of refusals) ctx.warn(`Command on LV ${name} ${refusal}`);
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
  });
  return failed || notFound ? EXIT.FAILED : EXIT.OK;
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

const segmentRates = (seg: Segment): RecoveryRates => ({ min: segExtraInt(seg, "min_recovery_rate"), max: segExtraInt(seg, "max_recovery_rate") });

/**
 * command-lines.in's rules for the options given, in lvm's words: the recovery
 * rates need a raid LV, --errorwhenfull a thin pool (which ulvm does not have,
 * so it is refused everywhere, as lvm refuses it on every other type), and
 * raid images and rmetas take no --permission.
 */
function propertyRefusals(ctx: CommandContext, lv: LogicalVolume, vg: VolumeGroup): string[] {
  const lines: string[] = [];
  if ((ctx.has("minrecoveryrate") || ctx.has("maxrecoveryrate")) && !isRaid(lv)) lines.push("uses options that require LV types raid .");
  if (ctx.has("errorwhenfull")) lines.push("uses options that require LV types thinpool .");
  const role = ctx.has("permission") ? subLvRoles(vg).get(lv.name)?.kind : undefined;
  if (role === "raid_image" || role === "raid_meta")
    lines.push(`uses options that are invalid with LV properties: lv_is_raid_${role === "raid_image" ? "image" : "metadata"} .`);
  return lines;
}

/** One property set on an LV of the VG being changed; an LvmError is lvm's refusal of it, which leaves the others to go on. */
type PropertyChange = (lv: LogicalVolume, name: string) => void;

/** The changes the options ask for, in the order lvm makes them. */
function propertyChanges(ctx: CommandContext): PropertyChange[] {
  const changes: Record<string, PropertyChange> = {
    addtag: (lv) => {
      for (const tag of ctx.all<string>("addtag")) if (!lv.tags.includes(tag)) lv.tags.push(tag);
    },
    deltag: (lv) => {
      const drop = ctx.all<string>("deltag");
      lv.tags = lv.tags.filter((t) => !drop.includes(t));
    },
    alloc: (lv, name) => {
      const contiguous = ctx.opt<boolean>("contiguous");
      const policy = ctx.opt<AllocPolicy>("alloc") ?? (contiguous ? "contiguous" : "inherit");
      if ((lv.allocationPolicy ?? "inherit") === policy) throw new LvmError(`Allocation policy of logical volume ${name} is already ${policy}.`);
      if (policy === "inherit") delete lv.allocationPolicy;
      else lv.allocationPolicy = policy;
    },
    permission: (lv, name) => {
      const writable = lv.status.includes("WRITE");
      if (ctx.opt("permission") === "r") {
        if (!writable) throw new LvmError(`Logical volume "${name}" is already read only.`);
        lv.status = lv.status.filter((s) => s !== "WRITE");
      } else {
        if (writable) throw new LvmError(`Logical volume ${name} is already writable.`);
        lv.status.push("WRITE");
      }
    },
    readahead: (lv, name) => {
      const value = ctx.opt<"auto" | "none" | SizeValue>("readahead")!;
      const { stored, overridden } = readAheadSetting(typeof value === "string" ? value : value.sectors);
      // lvm rounds for each LV, so it warns for each.
      if (overridden) ctx.warn(overriddenReadAhead(overridden));
      if (sameReadAhead(lv.readAhead, stored)) throw new LvmError(`Read ahead is already ${readAheadName(stored)} for ${name}.`);
      if (stored === undefined) delete lv.readAhead;
      else lv.readAhead = stored;
    },
    setactivationskip: (lv) => {
      lv.flags = lv.flags.filter((f) => f !== "ACTIVATION_SKIP");
      if (ctx.opt<boolean>("setactivationskip")) lv.flags.push("ACTIVATION_SKIP");
    },
    minrecoveryrate: (lv) => {
      const rates = recoveryRateArgs(ctx);
      const seg = lv.segments[0]!;
      // lvm sets the rates before it checks them: a commit for another option then fails on them.
      setRecoveryRates(seg, rates);
      const given = [rates.min, rates.max].filter((r) => r !== undefined).length;
      if (!recoveryRatesValid(segmentRates(seg))) throw new LvmError(Array<string>(given).fill(RECOVERY_RATES_INVALID));
    },
  };
  changes.contiguous = changes.alloc!;
  changes.maxrecoveryrate = changes.minrecoveryrate!;
  return [...new Set(PROPERTIES.filter((o) => ctx.has(o)).map((o) => changes[o]!))];
}

/** vg_write's validation of raid rates, which lvm reaches when a rate it refused was set along with another property. */
function invalidRates(lv: LogicalVolume, name: string): string[] {
  const seg = isRaid(lv) ? lv.segments.find((s) => !recoveryRatesValid(segmentRates(s))) : undefined;
  if (!seg) return [];
  return [
    `LV ${name} invalid: min recovery larger than max recovery (is ${segmentRates(seg).min}) for ${seg.type} segment`,
    `Internal error: LV segments corrupted in ${lv.name}.`,
    `Failed to update metadata of ${name} on disk.`,
  ];
}

/**
 * The properties variant: each LV gets every change asked for, those lvm
 * refuses (already so, invalid) saying so while the others go on, then one
 * commit and "changed" if any was made; the daemon then applies the new
 * metadata to active LVs (a read-only LV's export refuses writes). An
 * --activate given as well runs afterwards, as lvm's compatibility pass does.
 */
async function properties(ctx: CommandContext): Promise<number> {
  const changes = propertyChanges(ctx);
  const changed = new Set<string>();
  const code = await eachLv(
    ctx,
    { forUpdate: true, refusal: (lv, vg) => propertyRefusals(ctx, lv, vg) },
    async ({ group, vg, lv }) => {
      const name = `${vg.name}/${lv.name}`;
      if (!isVisible(lv)) throw new LvmError(`Operation not permitted on hidden LV ${name}.`);
      let applied = false;
      let failed = false;
      for (const change of changes) {
        try {
          change(lv, name);
          applied = true;
        } catch (e) {
          if (!(e instanceof LvmError)) throw e;
          e.lines.forEach((line) => ctx.error(line));
          failed = true;
        }
      }
      if (applied) {
        const invalid = invalidRates(lv, name);
        invalid.forEach((line) => ctx.error(line));
        if (invalid.length) failed = true;
        else {
          await (await ctx.session()).writeVg(group.loaded, vg);
          changed.add(vg.name);
        }
        // lvm says so even when its commit failed.
        ctx.print(`Logical volume ${name} changed.`);
      }
      // The lines are out already, in lvm's order around "changed": this only fails the command.
      if (failed) throw new LvmError([]);
    },
    async (group) => {
      if (changed.has(group.loaded.vg.name)) await refreshVg(ctx, group.loaded.vg.name);
    },
  );
  return thenActivation(ctx, code);
}

/** An --activate given with another change runs after it succeeded, as lvm's compatibility pass does. */
function thenActivation(ctx: CommandContext, code: number): Promise<number> | number {
  if (code !== EXIT.OK || !ctx.has("activate")) return code;
  ctx.warn("WARNING: Combining activation change with other commands is not advised.");
  return activation(ctx);
}

/** lvchange_resync_cmd: the resync of each LV, then an --activate given as well. */
async function resyncCommand(ctx: CommandContext): Promise<number> {
  return thenActivation(ctx, await eachRaidLv(ctx, resync));
}

/**
 * _lvchange_resync for raid: with NOTSYNCED gone and every rmeta blank, the
 * next activation takes the array for a new one and syncs it in full from
 * image 0, as dm-raid does. The intermediate commit marks the LV to be
 * skipped on activation while its rmetas are being wiped, so that a crash in
 * between leaves an LV that does not come up claiming to be in sync. lvm also
 * makes the rmetas visible in that commit, only so that it can activate them
 * alone to wipe them; ulvm writes them through their PVs and leaves them hidden.
 */
async function resync(ctx: CommandContext, { group, vg, lv, live }: LvWork): Promise<void> {
  const name = `${vg.name}/${lv.name}`;
  if (!isRaid(lv)) throw new LvmError(`ulvm's lvchange --resync supports raid LVs only.`);
  // The wipe would take the split image's rmeta, whose bitmap the merge needs (lvm's words for lvrename and lvresize).
  if (trackedImage(vg, lv)) throw new LvmError(`Cannot resync ${lv.name} while it is tracking a split image`);
  if (live) {
    if (live.openCount > 0) {
      // lv_check_not_in_use's line comes first.
      const why = isMounted(live.node) ? "contains a filesystem in use" : "in use";
      throw new LvmError([`Logical volume ${name} ${why}.`, `Can't resync open logical volume ${name}.`]);
    }
    if (!ctx.confirm(`Do you really want to deactivate logical volume ${name} to resync it?`))
      throw new LvmError(`Logical volume ${name} not resynced.`);
    try {
      await deactivateLvs(ctx, vg.name, [lv.name]);
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      throw new LvmError([...e.lines, `Unable to deactivate ${name} for resync.`]);
    }
  }
  /** The lines of a failed reactivation; none when it worked or the LV was not active. */
  const reactivate = async (): Promise<string[]> => {
    if (!live) return [];
    try {
      await activateLvs(ctx, vg.name, [lv.name]);
      return [];
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      return e.lines;
    }
  };
  const commit = async (what: string): Promise<string[]> => {
    try {
      await (await ctx.session()).writeVg(group.loaded, vg);
      return [];
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      return [...e.lines, `Failed to update ${what}metadata of ${name} on disk.`];
    }
  };
  lv.status = lv.status.filter((f) => f !== "NOTSYNCED");
  if (!lv.flags.includes("ACTIVATION_SKIP")) lv.flags.push("ACTIVATION_SKIP");
  const intermediate = await commit("intermediate ");
  // Nothing was wiped yet: lvm brings the LV back as it was.
  if (intermediate.length) throw new LvmError([...intermediate, ...(await reactivate())]);
  const rmetas = lv.segments.flatMap((seg) => seg.metaAreas.flatMap((area) => (area.kind === "lv" ? [findLv(vg, area.lv)!] : [])));
  await zeroLvStarts(group.loaded, vg, rmetas);
  // lvm clears the flag whether or not the LV had it before.
  lv.flags = lv.flags.filter((f) => f !== "ACTIVATION_SKIP");
  const final = await commit("");
  if (final.length) throw new LvmError(final);
  const failed = await reactivate();
  if (failed.length) throw new LvmError([...failed, `Failed to reactivate ${name} after resync.`]);
}
