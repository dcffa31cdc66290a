/**
 * lvconvert for raid1 LVs (tools/lvconvert.c with raid_manip.c): image counts
 * (-m, and linear to raid1), --splitmirrors with --trackchanges or --name,
 * --merge of a tracked image, --repair and --replace. lvm's checks come in
 * lvm's order: the LV and its type, the PV lists, then the raid checks, then
 * what only the running array knows. That comes from the daemon: an LV it
 * does not serve is inactive, and with activation off (ULVM_ACTIVATION=0,
 * lvm's activation = 0) every LV is, so these commands then refuse as lvm's
 * do. After a commit the daemon takes the new layout (refresh); a tracked
 * split image is activated on its own, and deactivated before its merge.
 */
import { readFileSync, realpathSync } from "node:fs";
import { readLvmConf } from "../../config/lvm-conf.ts";
import { activateLvs, activationInfo, activeLvs, deactivateLvs, refreshVg } from "../daemon-client.ts";
import { type CommandContext, fail } from "../context.ts";
import type { SignedNumber, SizeValue } from "../args.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import { validateLvName } from "../../core/model/names.ts";
import { findLv, isPvMissing, isVisible, subLvRoles } from "../../core/model/relations.ts";
import type { LogicalVolume, VolumeGroup } from "../../core/model/types.ts";
import { displayLvName, trackedImage } from "../../core/alloc/lv.ts";
import type { PvListEntry } from "../../core/alloc/pv-map.ts";
import { imageCount, raidAddImages, raidRemoveImages } from "../../core/alloc/raid.ts";
import {
  planMerge,
  planReplace,
  planSplitAndKeep,
  planSplitAndTrack,
  requestedImageCount,
  type RaidSync,
} from "../../core/alloc/raid-split.ts";
import type { LvStatus } from "../../daemon/protocol.ts";
import type { LoadedVg, Session } from "../../metadata/session.ts";
import { lvNotFoundLines } from "../lv-suggest.ts";
import { forEachLvGroup, readVgForUpdate, splitLvPath } from "./report.ts";
import { newLvStamp, noted, pvListFromArgs, zeroLvStarts } from "./lvcreate.ts";

/**
 * The LV types each variant's definition accepts (tools/command-lines.in;
 * "raid" takes any raid level), and whether a hidden LV may be named.
 */
const VARIANTS: Record<string, { types?: string[]; hidden: boolean }> = {
  lvconvert_raid_types: { hidden: false },
  lvconvert_split_and_track: { types: ["raid1", "cache"], hidden: false },
  lvconvert_split_and_keep: { types: ["raid1", "mirror", "cache"], hidden: false },
  lvconvert_merge: { types: ["linear", "striped", "raid", "thin", "snapshot"], hidden: true },
  lvconvert_merge_mirror_images: { types: ["linear", "raid"], hidden: false },
  lvconvert_repair: { types: ["cache", "cachepool", "mirror", "raid", "thinpool"], hidden: false },
  lvconvert_replace_pv: { types: ["raid"], hidden: false },
};

/** lvm's LV type name (get_lvt_enum) for the LVs ulvm knows. */
function lvType(lv: LogicalVolume): string {
  const seg = lv.segments[0];
  if (!seg) return "linear";
  if (seg.type !== "striped") return seg.type;
  return lv.segments.some((s) => s.areas.length > 1) ? "striped" : "linear";
}

/** The refusal lvm's command matching gives an LV of a type or visibility the variant does not take. */
function lvRefusal(vg: VolumeGroup, lv: LogicalVolume, variant: string, named: boolean): string[] | undefined {
  const { types, hidden } = VARIANTS[variant]!;
  const display = displayLvName(vg, lv.name);
  const type = lvType(lv);
  if (types && !types.includes(type) && !(type.startsWith("raid") && types.includes("raid")))
    return [`Command on LV ${display} does not accept LV type ${type}.`, ...(named ? [`Command not permitted on LV ${display}.`] : [])];
  if (!hidden && !isVisible(lv)) return [`Operation not permitted on hidden LV ${display}.`];
  return undefined;
}

/** What the daemon serves now, by "vg/lv". */
type Live = Map<string, LvStatus>;

async function liveLvs(ctx: CommandContext): Promise<Live> {
  return new Map((await activeLvs(ctx.env)).map((s) => [`${s.vg}/${s.lv}`, s]));
}

/**
 * _raid_in_sync from the daemon's status: unknown when the LV is not served;
 * a tracked split image that is not active fails lvm's check for its device.
 */
function raidSync(vg: VolumeGroup, lv: LogicalVolume, live: Live): RaidSync {
  const tracked = trackedImage(vg, lv);
  if (tracked && !live.has(`${vg.name}/${tracked.name}`))
    return { inSync: false, notes: [`Check for existence of raid image ${displayLvName(vg, tracked.name)} failed.`] };
  const status = live.get(`${vg.name}/${lv.name}`);
  const percent = status && activationInfo(status).syncPercent;
  if (percent === undefined) return { inSync: false, notes: [`Unable to determine sync status of ${displayLvName(vg, lv.name)}.`] };
  return { inSync: percent === 100, notes: [] };
}

/** Images the running array reports dead ('D'), by name. */
function deadImages(vg: VolumeGroup, lv: LogicalVolume, live: Live): string[] {
  const health = live.get(`${vg.name}/${lv.name}`)?.raid?.health ?? "";
  return (lv.segments[0]?.areas ?? []).flatMap((area, s) => (area.kind === "lv" && health[s] === "D" ? [area.lv] : []));
}

function mustBeActive(vg: VolumeGroup, lv: LogicalVolume, live: Live): void {
  if (!live.has(`${vg.name}/${lv.name}`)) fail(`${displayLvName(vg, lv.name)} must be active to perform this operation.`);
}

/** Is the device node of an active LV mounted somewhere (lvm tells that apart from other opens)? */
export function isMounted(node: string | undefined): boolean {
  if (!node) return false;
  const real = (path: string) => {
    try {
      return realpathSync(path);
    } catch {
      return path;
    }
  };
  const device = real(node);
  const mounts = readFileSync("/proc/self/mounts", "utf8").split("\n");
  return mounts.some((line) => line.startsWith("/") && real(line.slice(0, line.indexOf(" "))) === device);
}

interface Target {
  session: Session;
  loaded: LoadedVg;
  vg: VolumeGroup;
  lv: LogicalVolume;
  display: string;
  /** The PVs named after the LV, when any. */
  pvs?: PvListEntry[];
  live: Live;
}

/** The one LV a variant works on, with lvm's refusals before anything raid-specific. */
async function resolveTarget(ctx: CommandContext, variant: string): Promise<Target> {
  const [lvArg, ...pvArgs] = ctx.positional as [string, ...string[]];
  const path = splitLvPath(lvArg, ctx.env.devDir);
  if (path.invalid) fail(path.invalid);
  if (path.vg === undefined) fail(`Cannot find VG name for LV ${path.name}.`);
  const session = await ctx.session();
  // Only a repair copes with PVs gone missing; that is what it is for.
  const loaded = await readVgForUpdate(session, path.vg, { allowMissing: variant === "lvconvert_repair" });
  const { vg } = loaded;
  const lv = findLv(vg, path.name);
  if (!lv) fail(lvNotFoundLines(vg, path.name));
  const refusal = lvRefusal(vg, lv, variant, true);
  if (refusal) fail(refusal);
  // lvconvert's create_pv_list keeps PVs that cannot take extents: a PV to --replace is usually full.
  const pvs = pvListFromArgs(ctx, session, vg, pvArgs, false);
  return { session, loaded, vg, lv, display: displayLvName(vg, lv.name), pvs, live: await liveLvs(ctx) };
}

/**
 * rmeta sub-LVs the change places anew: new image pairs, and replaced ones that keep their names. lvm clears
 * them; an old dm-raid superblock left on those extents would make a new leg pass for a lagging one.
 */
function placedRmetas(old: VolumeGroup, next: VolumeGroup): LogicalVolume[] {
  const same = (a: LogicalVolume | undefined, b: LogicalVolume) => JSON.stringify(a?.segments) === JSON.stringify(b.segments);
  return [...subLvRoles(next)].flatMap(([name, role]) => {
    const lv = findLv(next, name);
    return role.kind === "raid_meta" && lv && !same(findLv(old, name), lv) ? [lv] : [];
  });
}

/** Commits the new VG and has the daemon take it; new rmetas are cleared first, while their extents are still free. */
async function commit(ctx: CommandContext, t: Target, next: VolumeGroup): Promise<void> {
  await zeroLvStarts(t.loaded, next, placedRmetas(t.vg, next));
  await t.session.writeVg(t.loaded, next);
  await refreshVg(ctx, t.vg.name);
}

/** lv_raid_change_image_count through lvconvert -m / --type raid1 -m. */
async function changeImageCount(ctx: CommandContext, t: Target): Promise<number> {
  const { vg, lv, display } = t;
  const m = ctx.opt<SignedNumber | number>("mirrors");
  const mirrors = m === undefined ? undefined : typeof m === "number" ? { sign: "" as const, value: m } : m;
  const count = requestedImageCount(vg, lv, { mirrors });
  mustBeActive(vg, lv, t.live);
  const type = ctx.opt<string>("type");
  if (type === "raid1" && !mirrors && lvType(lv) === "linear") fail(`Raid conversions of LV ${display} require -m/--mirrors.`);
  if (!mirrors || (type !== undefined && type !== "raid1"))
    fail("ulvm's lvconvert changes the image count of linear and raid1 LVs (-m, --type raid1 -m) only.");

  // lvm counts the areas of the first segment: a linear LV has one, hence "raid1 with".
  const areas = lv.segments[0]!.areas.length;
  const question =
    `Are you sure you want to convert ${lvType(lv)} LV ${display} to ${areas === 1 ? "raid1 with " : ""}` +
    `${count} images ${count < areas ? "reducing" : "enhancing"} resilience?`;
  // The step down to linear asks its own question, once the image to keep is known.
  if (count !== 1 && !ctx.confirm(question)) fail(`Logical volume ${display} NOT converted.`);

  const sync = raidSync(vg, lv, t.live);
  const next = noted(ctx, (notes) =>
    count >= imageCount(lv)
      ? raidAddImages(vg, lv.name, count, { ...newLvStamp(), pvs: t.pvs, regionSize: ctx.opt<SizeValue>("regionsize")?.sectors, sync }, notes)
      : raidRemoveImages(vg, lv.name, count, t.pvs, notes, { sync, force: ctx.has("force"), confirm: (q) => ctx.confirm(q) }),
  );
  if (count !== imageCount(lv)) await commit(ctx, t, next);
  ctx.print(`Logical volume ${display} successfully converted.`);
  return EXIT.OK;
}

async function splitAndTrack(ctx: CommandContext, t: Target): Promise<number> {
  const { vg, lv, display } = t;
  requestedImageCount(vg, lv, { split: ctx.opt<number>("splitmirrors"), track: true });
  const legs = imageCount(lv);
  const plan = planSplitAndTrack(vg, lv.name, t.pvs, raidSync(vg, lv, t.live), (q) => ctx.confirm(q));
  await commit(ctx, t, plan.vg);
  const image = displayLvName(vg, plan.image);
  ctx.print(`${image} split from ${display} for read-only purposes.`);
  // The array (active, as it was in sync) runs without the image from now on; the image is served on its own.
  await activateLvs(ctx, vg.name, [plan.image]);
  if (legs === 2) ctx.warn(`WARNING: Any newly written data will be non-resilient on LV ${display} during the split!`);
  ctx.print(`Use 'lvconvert --merge ${image}' to merge back into ${display}.`);
  return EXIT.OK;
}

async function splitAndKeep(ctx: CommandContext, t: Target, newName: string): Promise<number> {
  const { vg, lv } = t;
  const count = requestedImageCount(vg, lv, { split: ctx.opt<number>("splitmirrors") });
  const next = planSplitAndKeep(vg, lv.name, newName, count, t.pvs, raidSync(vg, lv, t.live), (q) => ctx.confirm(q));
  await commit(ctx, t, next);
  // As lvm does, the new LV comes up where the raid1 (active, as it was in sync) was.
  await activateLvs(ctx, vg.name, [newName]);
  return EXIT.OK;
}

/**
 * --repair and --replace: lvm's _lvconvert_repair_pvs_raid asks first (with
 * --usepolicies lvm.conf's raid_fault_policy answers) and does nothing on
 * "no"; --replace asks nothing and succeeds silently.
 */
async function replace(ctx: CommandContext, t: Target, repair: boolean): Promise<number> {
  const { vg, lv, display } = t;
  const removePvs = repair
    ? vg.pvs.filter((pv) => isPvMissing(vg, pv.id)).map((pv) => ({ pvId: pv.id }))
    : pvListFromArgs(ctx, t.session, vg, ctx.all<string>("replace"), false)!;
  mustBeActive(vg, lv, t.live);
  if (repair && ctx.has("usepolicies")) {
    // What dmeventd runs: lvm.conf's raid_fault_policy answers instead of the user; "warn" (the default) only tells.
    const policy = (await readLvmConf(ctx.env.systemDir)).string("activation/raid_fault_policy", "warn");
    if (policy !== "allocate") {
      ctx.warn(`Use 'lvconvert --repair ${display}' to replace failed device.`);
      return EXIT.OK;
    }
  } else if (repair && !ctx.confirm("Attempt to replace failed RAID images (requires full device resync)?")) return EXIT.OK;
  let result;
  try {
    result = planReplace(vg, lv.name, {
      ...newLvStamp(),
      removePvs,
      allocatePvs: t.pvs,
      sync: raidSync(vg, lv, t.live),
      // Only a repair looks at what the kernel failed (lv_check_transient); --replace goes by the PVs named.
      deadImages: repair ? deadImages(vg, lv, t.live) : [],
    });
  } catch (e) {
    if (repair && e instanceof LvmError) fail([...e.lines, `Failed to replace faulty devices in ${display}.`]);
    throw e;
  }
  result.warnings.forEach((line) => ctx.error(line));
  result.printed.forEach((line) => ctx.print(line));
  if (result.replaced) await commit(ctx, t, result.vg);
  if (repair) ctx.print(`Faulty devices in ${display} successfully replaced.`);
  return EXIT.OK;
}

/** Deactivates a tracked image before its merge, refusing as lvm does while it is open. */
async function deactivateForMerge(ctx: CommandContext, vg: VolumeGroup, image: string, live: Live): Promise<void> {
  const status = live.get(`${vg.name}/${image}`);
  if (!status) return;
  const display = displayLvName(vg, image);
  const failed = `Failed to deactivate ${display} before merging.`;
  if (status.openCount > 0) {
    const why = isMounted(status.node) ? "contains a filesystem in use" : "in use";
    fail([`Logical volume ${display} ${why}.`, failed]);
  }
  try {
    await deactivateLvs(ctx, vg.name, [image]);
  } catch (e) {
    if (e instanceof LvmError) fail([...e.lines, failed]);
    throw e;
  }
}

/** --merge / --mergemirrors LV|VG|@tag ...: each tracked image named goes back into its raid1, VG by VG. */
async function merge(ctx: CommandContext, variant: string): Promise<number> {
  const session = await ctx.session();
  const named = new Set(
    ctx.positional.map((arg) => splitLvPath(arg, ctx.env.devDir)).flatMap((p) => (p.vg === undefined ? [] : [`${p.vg}/${p.name}`])),
  );
  let live: Live | undefined;
  let failed = false;
  const report = (e: unknown) => {
    if (!(e instanceof LvmError)) throw e;
    e.lines.forEach((line) => ctx.error(line));
    failed = true;
  };
  const selectionFailed = await forEachLvGroup(ctx, session, ctx.positional, { all: false, forUpdate: true }, async (group) => {
    live ??= await liveLvs(ctx);
    const { loaded } = group;
    let current = loaded.vg;
    try {
      // A merge changes the VG: lvm refuses it while PVs are missing.
      await readVgForUpdate(session, current.name);
      for (const lv of group.lvs) {
        try {
          const refusal = lvRefusal(current, lv, variant, named.has(`${current.name}/${lv.name}`));
          if (refusal) fail(refusal);
          const plan = planMerge(current, lv.name);
          await deactivateForMerge(ctx, current, lv.name, live);
          await session.writeVg(loaded, plan.vg);
          current = plan.vg;
          await refreshVg(ctx, current.name);
          ctx.print(`${displayLvName(current, lv.name)} successfully merged back into ${displayLvName(current, plan.raidLv)}.`);
        } catch (e) {
          report(e);
        }
      }
    } catch (e) {
      report(e);
    }
    for (const name of group.missing) lvNotFoundLines(current, name).forEach((line) => ctx.error(line));
    if (group.missing.length) failed = true;
  });
  return failed || selectionFailed ? EXIT.FAILED : EXIT.OK;
}

export async function run(ctx: CommandContext): Promise<number> {
  const variant = ctx.parsed.variant;
  if (variant === "lvconvert_merge" || variant === "lvconvert_merge_mirror_images") return merge(ctx, variant);
  if (!VARIANTS[variant])
    fail("ulvm's lvconvert supports raid1 only: -m, --splitmirrors, --merge, --repair and --replace.");
  // --name is checked with the command line, before any VG is read.
  const newName = variant === "lvconvert_split_and_keep" ? splitLvPath(ctx.opt<string>("name")!, ctx.env.devDir).name : undefined;
  if (newName !== undefined) validateLvName(newName, { cli: true });
  const t = await resolveTarget(ctx, variant);
  switch (variant) {
    case "lvconvert_raid_types":
      return changeImageCount(ctx, t);
    case "lvconvert_split_and_track":
      return splitAndTrack(ctx, t);
    case "lvconvert_split_and_keep":
      return splitAndKeep(ctx, t, newName!);
    default:
      return replace(ctx, t, variant === "lvconvert_repair");
  }
}
