/**
 * lvrename VG OLD NEW | lvrename VG/OLD VG/NEW: lvm's argument checks
 * (tools/lvrename.c), then lv_rename_update: sub-LVs (rimage/rmeta, mirror
 * images and log) follow the top LV's new name, and every reference to them
 * in the VG is updated.
 */
import { refreshVg } from "../daemon-client.ts";
import { type CommandContext, usageError } from "../context.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import { isValidName, reservedLvNamePart, MAX_NAME_LENGTH } from "../../core/model/names.ts";
import { findLv, isVisible, subLvRoles } from "../../core/model/relations.ts";
import type { LogicalVolume, VolumeGroup } from "../../core/model/types.ts";
import { trackedImage } from "../../core/alloc/lv.ts";
import { skipDevDir } from "../resolve.ts";
import {readVgForUpdate, splitLvPath } from "./report.ts";

/** lvm's extract_vgname: the VG of `vg/lv`, or why there is none. */
function extractVgName(arg: string, devDir: string): { vg?: string; error?: string } {
  const path = splitLvPath(arg, devDir);
  if (path.vg === undefined) return { error: `Path required for Logical Volume "${arg}".` };
  return path.invalid ? { error: path.invalid } : { vg: path.vg };
}

const baseName = (arg: string) => arg.slice(arg.lastIndexOf("/") + 1);

/** LVs below `lv` in lvm's for_each_sub_lv order: per segment the mirror log, the data areas, then raid metadata. */
export function subLvsOf(vg: VolumeGroup, lv: LogicalVolume): LogicalVolume[] {
  const found: LogicalVolume[] = [];
  const visit = (name: string | undefined) => {
    const sub = name === undefined ? undefined : findLv(vg, name);
    if (!sub) return;
    found.push(sub);
    found.push(...subLvsOf(vg, sub));
  };
  for (const seg of lv.segments) {
    visit(seg.mirrorLog);
    for (const area of seg.areas) if (area.kind === "lv") visit(area.lv);
    for (const area of seg.metaAreas) if (area.kind === "lv") visit(area.lv);
  }
  return found;
}

/** Renames LVs (old → new name) and every segment reference to them. */
function renameLvs(vg: VolumeGroup, renames: Map<string, string>): void {
  const rename = (name: string) => renames.get(name) ?? name;
  for (const lv of vg.lvs) {
    lv.name = rename(lv.name);
    for (const seg of lv.segments) {
      for (const area of [...seg.areas, ...seg.metaAreas]) if (area.kind === "lv") area.lv = rename(area.lv);
      if (seg.mirrorLog !== undefined) seg.mirrorLog = rename(seg.mirrorLog);
    }
  }
}

async function rename(ctx: CommandContext): Promise<number> {
  const args = ctx.positional;
  const devDir = ctx.env.devDir;
  const errors: string[] = [];
  let vgName: string | undefined;
  let oldArg: string;
  let newArg: string;
  if (args.length === 3) {
    [, oldArg, newArg] = args as [string, string, string];
    vgName = skipDevDir(args[0]!, devDir);
    if (oldArg.includes("/")) {
      const { vg, error } = extractVgName(oldArg, devDir);
      if (error) ctx.error(error);
      if (vg !== undefined && vg !== vgName)
        throw usageError(`Please use a single volume group name ("${vgName}" or "${vg}")`);
    }
  } else if (args.length === 2) {
    [oldArg, newArg] = args as [string, string];
    const { vg, error } = extractVgName(oldArg, devDir);
    if (error) errors.push(error);
    vgName = vg;
  } else throw usageError("Old and new logical volume names required");

  if (vgName === undefined || !isValidName(vgName)) throw usageError([...errors, "Please provide a valid volume group name"]);
  if (newArg.includes("/")) {
    const { vg, error } = extractVgName(newArg, devDir);
    if (error) ctx.error(error);
    if (vg !== undefined && vg !== vgName)
      throw usageError(`Logical volume names must have the same volume group ("${vgName}" or "${vg}")`);
  }
  const oldName = baseName(oldArg);
  const newName = baseName(newArg);
  // "-" marks historical LVs, which ulvm does not keep.
  if (newName.startsWith("-") && !oldName.startsWith("-"))
    throw usageError("Old name references live LV while new name is for historical LV.");
  const maxLength = MAX_NAME_LENGTH + 1 - vgName.length - 3;
  if (newName.length > maxLength) throw usageError(`New logical volume name "${newName}" may not exceed ${maxLength} characters.`);
  if (!newName) throw usageError("New logical volume name may not be blank");
  const reserved = reservedLvNamePart(newName);
  if (reserved?.prefix) throw usageError(`Names starting "${reserved.prefix}" are reserved. Please choose a different LV name.`);
  if (reserved?.infix) throw usageError(`Names including "${reserved.infix}" are reserved. Please choose a different LV name.`);
  if (!isValidName(newName)) throw usageError(`New logical volume name "${newName}" is invalid`);
  if (oldName === newName) throw usageError("Old and new logical volume names must differ");

  const session = await ctx.session();
  const loaded = await readVgForUpdate(session, vgName);
  const vg = structuredClone(loaded.vg);
  const lv = findLv(vg, oldName);
  if (!lv) throw new LvmError(`Existing logical volume "${oldName}" not found in volume group "${vgName}"`);
  const role = subLvRoles(vg).get(lv.name);
  if (role?.kind === "raid_image" || role?.kind === "raid_meta")
    throw new LvmError(`Cannot rename a RAID ${role.kind === "raid_image" ? "image" : "metadata area"} directly`);
  if (trackedImage(vg, lv)) throw new LvmError(`Cannot rename ${lv.name} while it is tracking a split image`);
  if (!isVisible(lv)) throw new LvmError(`Cannot rename internal LV "${lv.name}".`);

  const inUse = (name: string) => vg.lvs.some((other) => other.name === name);
  const exists = (name: string) => new LvmError(`Logical Volume "${name}" already exists in volume group "${vgName}"`);
  if (inUse(newName)) throw exists(newName);
  const renames = new Map([[oldName, newName]]);
  for (const sub of subLvsOf(vg, lv)) {
    if (!sub.name.startsWith(`${oldName}_`))
      throw new LvmError(`Cannot rename "${oldName}": name format not recognized for internal LV "${sub.name}"`);
    const subNew = newName + sub.name.slice(oldName.length);
    if (!isValidName(subNew)) throw new LvmError(`Cannot rename "${sub.name}". New logical volume name "${subNew}" is invalid.`);
    if (inUse(subNew)) throw exists(subNew);
    renames.set(sub.name, subNew);
  }
  renameLvs(vg, renames);
  await session.writeVg(loaded, vg);
  await refreshVg(ctx, vgName);
  ctx.print(`Renamed "${oldName}" to "${newName}" in volume group "${vgName}"`);
  return EXIT.OK;
}

export function run(ctx: CommandContext): Promise<number> {
  return rename(ctx);
}
