/**
 * vgrename: renames a VG named by its name, its /dev path, or its UUID.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EXIT, FormatError, LvmError } from "../../core/errors.ts";
import { parseId } from "../../core/format/id.ts";
import { MAX_NAME_LENGTH, validateVgName } from "../../core/model/names.ts";
import type { Session } from "../../metadata/session.ts";
import type { CommandContext } from "../context.ts";
import { GLOBAL_LOCK } from "./pvcreate.ts";
import { readVgOrFail, skipDevDir } from "../resolve.ts";

function asId(text: string): string | undefined {
  try {
    return parseId(text);
  } catch (e) {
    if (e instanceof FormatError) return undefined;
    throw e;
  }
}

/** The name of the VG with this id, from the labels' summary (lvm's lvmcache, no VG read). */
function vgNameById(session: Session, id: string): string | undefined {
  return session.scannedPvs().find((pv) => pv.vgId === id)?.vgName;
}

/** validate_vg_rename_params: vgrename reports these as command failures, not usage errors. */
function checkNewName(ctx: CommandContext, oldName: string, newName: string): void {
  const devDir = ctx.env.devDir.endsWith("/") ? ctx.env.devDir : `${ctx.env.devDir}/`;
  const max = MAX_NAME_LENGTH + 1 - devDir.length - 2;
  if (newName.length > max) throw new LvmError(`New volume group path exceeds maximum length of ${max}!`);
  try {
    validateVgName(newName);
  } catch (e) {
    if (e instanceof LvmError) throw new LvmError(e.lines, EXIT.FAILED);
    throw e;
  }
  if (existsSync(join(devDir, newName))) throw new LvmError(`${devDir}${newName}: already exists in filesystem`);
  if (oldName === newName) throw new LvmError("Old and new volume group names must differ");
}

export async function run(ctx: CommandContext): Promise<number> {
  const [oldArg, newArg] = ctx.positional;
  const oldName = skipDevDir(oldArg!, ctx.env.devDir);
  const newName = skipDevDir(newArg!, ctx.env.devDir);
  checkNewName(ctx, oldName, newName);

  const session = await ctx.session();
  await session.lockVg(GLOBAL_LOCK);
  const oldId = session.vgNames().includes(oldName) ? undefined : asId(oldName);
  const byId = oldId === undefined ? undefined : vgNameById(session, oldId);
  if (byId) ctx.print(`Processing VG ${byId} because of matching UUID ${oldName}`);
  const name = byId ?? oldName;
  await session.lockVg(name);
  await session.lockVg(newName);
  const loaded = readVgOrFail(session, name);
  if (byId && byId === newName) throw new LvmError("New VG name must differ from the old VG name.");
  if (session.vgNames().includes(newName)) throw new LvmError(`New VG name "${newName}" already exists`);
  const newAsId = asId(newName);
  const owner = newAsId && vgNameById(session, newAsId);
  if (owner) throw new LvmError(`New VG name "${newName}" matches the UUID of existing VG ${owner}`);

  loaded.vg.name = newName;
  await session.writeVg(loaded, loaded.vg);
  ctx.print(`Volume group "${oldName}" successfully renamed to "${newName}"`);
  return EXIT.OK;
}
