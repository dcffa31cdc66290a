/**
 * vgreduce: removes unused PVs from a VG (named, or all with -a), or with
 * --removemissing drops the PVs the VG cannot find. With --force that first
 * repairs what uses them as lvm does: raid images and metadata LVs on a missing
 * PV become `error` segments, mirrors lose their missing images, and (unless
 * --mirrorsonly) other partial LVs are removed.
 */
import { EXIT } from "../../core/errors.ts";
import { formatId } from "../../core/format/id.ts";
import { findLv, isPvMissing, isVisible, lvExtents, pvUsage } from "../../core/model/relations.ts";
import type { LogicalVolume, Segment, VolumeGroup } from "../../core/model/types.ts";
import type { LoadedVg, Session } from "../../metadata/session.ts";
import type { CommandContext } from "../context.ts";
import { refreshVg } from "../daemon-client.ts";
import { readVgOrFail, resolveDevice, skipDevDir, vgNotFound } from "../resolve.ts";
import { lookupDevices, GLOBAL_LOCK } from "./pvcreate.ts";
import { checkWritableResizeable } from "./vgextend.ts";

/** The LVs a segment is built on: images, raid metadata LVs, a mirror log. */
function subLvNames(seg: Segment): string[] {
  return [...seg.areas, ...seg.metaAreas].flatMap((a) => (a.kind === "lv" ? [a.lv] : [])).concat(seg.mirrorLog ?? []);
}

/** LVs with an extent on a missing PV, and every LV built on one (lvm's PARTIAL_LV, propagated upwards). */
export function partialLvs(vg: VolumeGroup): Set<string> {
  const partial = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const lv of vg.lvs) {
      if (partial.has(lv.name)) continue;
      const broken = lv.segments.some(
        (seg) => seg.areas.some((a) => a.kind === "pv" && isPvMissing(vg, a.pvId)) || subLvNames(seg).some((name) => partial.has(name)),
      );
      if (broken) {
        partial.add(lv.name);
        changed = true;
      }
    }
  }
  return partial;
}

function errorSegment(lv: LogicalVolume): Segment {
  return { startExtent: 0, extentCount: lvExtents(lv) || 1, type: "error", typeFlags: [], tags: [], areas: [], metaAreas: [], extra: [] };
}

/** replace_lv_with_error_segment: the LV keeps its name and size, its data is gone. */
function replaceWithError(vg: VolumeGroup, name: string): void {
  const lv = findLv(vg, name);
  if (!lv) return;
  lv.segments = [errorSegment(lv)];
  lv.status = lv.status.filter((s) => s !== "PVMOVE" && s !== "LOCKED");
}

/** An LV and, recursively, every sub-LV its segments use (lv_remove_with_dependencies). */
function removeWithDependencies(vg: VolumeGroup, name: string): void {
  const lv = findLv(vg, name);
  if (!lv) return;
  vg.lvs = vg.lvs.filter((l) => l !== lv);
  for (const seg of lv.segments) for (const sub of subLvNames(seg)) removeWithDependencies(vg, sub);
}

/**
 * mirror_remove_missing: images on missing PVs go (and a log there, leaving a
 * core log); a mirror left with one image becomes that image, a linear LV, and
 * one left with none is removed.
 */
function repairMirror(ctx: CommandContext, vg: VolumeGroup, lv: LogicalVolume, partial: Set<string>): void {
  const seg = lv.segments[0]!;
  const images = seg.areas.flatMap((a) => (a.kind === "lv" ? [a.lv] : []));
  const good = images.filter((name) => !partial.has(name));
  if (!good.length) {
    ctx.error(`No usable images left in ${vg.name}/${lv.name}.`);
    removeWithDependencies(vg, lv.name);
    ctx.print(`Logical volume "${lv.name}" successfully removed.`);
    return;
  }
  // Before dropping the primary image lvm asks the kernel whether the mirror is in
  // sync; with nothing active there is no answer, which it reports and goes on.
  if (partial.has(images[0]!)) ctx.error(`Unable to determine mirror sync status of ${vg.name}/${lv.name}.`);
  for (const name of images.filter((n) => partial.has(n))) removeWithDependencies(vg, name);
  if (seg.mirrorLog && partial.has(seg.mirrorLog)) {
    removeWithDependencies(vg, seg.mirrorLog);
    delete seg.mirrorLog;
  }
  if (good.length > 1) {
    seg.areas = seg.areas.filter((a) => a.kind === "lv" && good.includes(a.lv));
    return;
  }
  const image = findLv(vg, good[0]!)!;
  if (seg.mirrorLog) removeWithDependencies(vg, seg.mirrorLog);
  lv.segments = image.segments;
  vg.lvs = vg.lvs.filter((l) => l !== image);
}

/** _make_vg_consistent: repairs or removes every partial LV, in lvm's order and with its messages. */
function makeConsistent(ctx: CommandContext, vg: VolumeGroup, mirrorsOnly: boolean): void {
  const gaveUp = new Set<string>();
  restart: for (;;) {
    const partial = partialLvs(vg);
    for (const lv of vg.lvs) {
      if (!partial.has(lv.name) || gaveUp.has(lv.name)) continue;
      const type = lv.segments[0]?.type ?? "";
      if (type.startsWith("raid") || type === "mirror") {
        if (type === "mirror") repairMirror(ctx, vg, lv, partial);
        else repairRaid(vg, lv, partial);
        // A repair that leaves the LV partial would loop for ever; lvm's cannot fail that way.
        if (partialLvs(vg).has(lv.name)) gaveUp.add(lv.name);
        continue restart;
      }
      if (mirrorsOnly) {
        ctx.error(`Non-mirror-image LV ${lv.name} found: can't remove.`);
        continue;
      }
      if (!isVisible(lv)) continue;
      ctx.warn(`WARNING: Removing partial LV ${vg.name}/${lv.name}.`);
      removeWithDependencies(vg, lv.name);
      ctx.print(`Logical volume "${lv.name}" successfully removed.`);
      continue restart;
    }
    return;
  }
}

/** lv_raid_remove_missing: each image/metadata pair touching a missing PV becomes error segments. */
function repairRaid(vg: VolumeGroup, lv: LogicalVolume, partial: Set<string>): void {
  const seg = lv.segments[0]!;
  seg.areas.forEach((area, i) => {
    const meta = seg.metaAreas[i];
    const metaName = meta?.kind === "lv" ? meta.lv : undefined;
    if (area.kind !== "lv" || (!partial.has(area.lv) && !(metaName && partial.has(metaName)))) return;
    replaceWithError(vg, area.lv);
    if (metaName) replaceWithError(vg, metaName);
  });
}

/**
 * _consolidate_vg: while partial LVs remain the missing PVs stay (flagged MISSING
 * when written); otherwise they leave the VG. Returns whether the VG is consistent.
 */
function consolidate(ctx: CommandContext, vg: VolumeGroup): boolean {
  const partial = vg.lvs.filter((lv) => partialLvs(vg).has(lv.name));
  if (partial.length) {
    // lvm's message has this trailing space.
    for (const lv of partial) ctx.warn(`WARNING: Partial LV ${lv.name} needs to be repaired or removed. `);
    ctx.error(`There are still partial LVs in VG ${vg.name}.`);
    ctx.error("To remove them unconditionally use: vgreduce --removemissing --force.");
    ctx.error("To remove them unconditionally from mirror LVs use: vgreduce --removemissing --mirrorsonly --force.");
    ctx.warn("WARNING: Proceeding to remove empty missing PVs.");
    return false;
  }
  const usage = pvUsage(vg);
  for (const pv of vg.pvs.filter((p) => isPvMissing(vg, p.id))) {
    if (vg.pvs.length === 1) {
      ctx.error("Volume Groups must always contain at least one PV.");
      return false;
    }
    if (usage.get(pv.id)?.length) {
      ctx.error(`LVs still present on PV with UUID ${formatId(pv.id)}: Can't remove from VG ${vg.name}.`);
      return false;
    }
    vg.pvs = vg.pvs.filter((p) => p !== pv);
  }
  return true;
}

async function removeMissing(ctx: CommandContext, session: Session, loaded: LoadedVg): Promise<number> {
  const { vg } = loaded;
  if (!vg.pvs.some((pv) => isPvMissing(vg, pv.id))) {
    ctx.print(`Volume group "${vg.name}" is already consistent.`);
    return EXIT.OK;
  }
  let fixed: boolean;
  if (ctx.count("force")) {
    makeConsistent(ctx, vg, ctx.has("mirrorsonly"));
    consolidate(ctx, vg);
    fixed = true;
  } else fixed = consolidate(ctx, vg);
  // lvm writes even when it could not make the VG consistent: the missing PVs get flagged.
  await session.writeVg(loaded, vg);
  // Active LVs take the new layout, as lvm reloads them: a raid leg now an error segment fails on its next I/O.
  await refreshVg(ctx, vg.name);
  if (!fixed) return EXIT.FAILED;
  ctx.print(`Wrote out consistent volume group ${vg.name}.`);
  return EXIT.OK;
}

/** vgreduce_single for each PV: unused PVs leave, the VG keeps at least one. */
async function removePvs(ctx: CommandContext, session: Session, name: string, pvArgs: string[]): Promise<number> {
  const { found, failed } = await lookupDevices(ctx, session, pvArgs, { devicesFile: true, processEachPv: true });
  const loaded = session.readVg(name);
  if (!loaded) {
    for (const line of vgNotFound(name).lines) ctx.error(line);
    for (const d of found) ctx.error(`Failed to find physical volume "${d.arg}".`);
    return EXIT.FAILED;
  }
  const { vg } = loaded;
  const byDevice = new Map([...loaded.devices].map(([id, pv]) => [resolveDevice(pv.device) ?? pv.device, id]));
  const targets = ctx.has("all")
    ? vg.pvs.flatMap((pv) => {
        const device = loaded.devices.get(pv.id)?.device;
        return device ? [{ arg: device, id: pv.id }] : [];
      })
    : found.flatMap((d) => {
        const id = byDevice.get(d.device);
        if (!id) ctx.error(`Failed to find physical volume "${d.arg}".`);
        return id ? [{ arg: d.arg, id }] : [];
      });
  let rc: number = failed.length || targets.length < found.length ? EXIT.FAILED : EXIT.OK;
  checkWritableResizeable(loaded);
  const usage = pvUsage(vg);
  const removed: string[] = [];
  for (const t of targets) {
    if (usage.get(t.id)?.length) {
      ctx.error(`Physical volume "${t.arg}" still in use`);
      rc = EXIT.FAILED;
    } else if (vg.pvs.length === 1) {
      ctx.error(`Can't remove final physical volume "${t.arg}" from volume group "${name}"`);
      rc = EXIT.FAILED;
    } else {
      vg.pvs = vg.pvs.filter((pv) => pv.id !== t.id);
      removed.push(t.arg);
    }
  }
  if (removed.length) {
    await session.writeVg(loaded, vg);
    for (const arg of removed) ctx.print(`Removed "${arg}" from volume group "${name}"`);
  }
  return rc;
}

export async function run(ctx: CommandContext): Promise<number> {
  const [vgArg, ...pvArgs] = ctx.positional;
  const name = skipDevDir(vgArg!, ctx.env.devDir);
  const session = await ctx.session();
  await session.lockVg(GLOBAL_LOCK);
  await session.lockVg(name);
  if (!ctx.has("removemissing")) return removePvs(ctx, session, name, pvArgs);
  const loaded = readVgOrFail(session, name);
  checkWritableResizeable(loaded);
  return removeMissing(ctx, session, loaded);
}

