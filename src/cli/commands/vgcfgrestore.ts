/**
 * vgcfgrestore: writes a VG back from its backup file (or -f FILE), with the
 * file's seqno + 1 whatever the disks hold, or with -l lists the archived and
 * backed-up versions of a VG the way lvm does.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT, FormatError, LvmError } from "../../core/errors.ts";
import { formatId } from "../../core/format/id.ts";
import { isValidName } from "../../core/model/names.ts";
import { ctime, parseVgText } from "../../core/model/text.ts";
import type { VolumeGroup } from "../../core/model/types.ts";
import { listArchives } from "../../metadata/archive.ts";
import { type CommandContext, usageError } from "../context.ts";
import { skipDevDir } from "../resolve.ts";
import {GLOBAL_LOCK } from "./pvcreate.ts";

const THIN_TYPES = new Set(["thin", "thin-pool"]);

type Read = { vg: VolumeGroup; description?: string; time?: number } | { error: string[] };

/** backup_read_vg: the VG in a backup file, or lvm's messages for why there is none. */
function readBackup(path: string): Read {
  const unreadable = "WARNING: couldn't read volume group metadata from file.";
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch {
    return { error: [`${path}: stat failed: No such file or directory`, unreadable] };
  }
  try {
    const { vg, header } = parseVgText(text);
    return { vg, description: header.description, time: header.creationTime };
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    return { error: /volume group/i.test(e.message) ? [e.message] : [e.message, unreadable] };
  }
}

/** _display_archive, including lvm's doubled file name in the File: line. */
function display(ctx: CommandContext, dir: string, name: string): void {
  const path = `${dir}/${name}`;
  ctx.print(" ");
  ctx.print(`File:\t\t${path}/${name}`);
  const read = readBackup(path);
  if ("error" in read) {
    for (const line of read.error) ctx.error(line);
    ctx.error("Unable to read archive file.");
    return;
  }
  ctx.print(`VG name:    \t${read.vg.name}`);
  ctx.print(`Description:\t${read.description ?? "<No description>"}`);
  // ctime(3) ends in a newline, hence lvm's empty line after each entry.
  ctx.print(`Backup Time:\t${ctime(read.time ?? 0)}\n`);
}

async function list(ctx: CommandContext, vgName: string | undefined, file: string | undefined): Promise<number> {
  if (file !== undefined) {
    if (!existsSync(file)) throw new LvmError(`Archive file ${file} not found.`);
    const slash = file.lastIndexOf("/");
    display(ctx, slash < 0 ? "" : file.slice(0, slash), file.slice(slash + 1));
    return EXIT.OK;
  }
  const archiveDir = join(ctx.env.systemDir, "archive");
  const archives = await listArchives(archiveDir, vgName!);
  if (!archives.length) ctx.print(`No archives found in ${archiveDir}.`);
  for (const a of [...archives].reverse()) display(ctx, archiveDir, a.name);
  const backupDir = join(ctx.env.systemDir, "backup");
  if (existsSync(join(backupDir, vgName!))) display(ctx, backupDir, vgName!);
  return EXIT.OK;
}

export async function run(ctx: CommandContext): Promise<number> {
  const vgName = ctx.positional[0] === undefined ? undefined : skipDevDir(ctx.positional[0], ctx.env.devDir);
  if (vgName !== undefined && !isValidName(vgName)) throw usageError(`Volume group name "${vgName}" is invalid.`);
  const file = ctx.opt<string>("file");
  if (ctx.has("list")) return list(ctx, vgName, file);
  const name = vgName!;

  const session = await ctx.session();
  await session.lockVg(GLOBAL_LOCK);
  await session.lockVg(name);
  const path = file ?? join(ctx.env.systemDir, "backup", name);
  const failed = (...lines: string[]): LvmError => new LvmError([...lines, "Restore failed."]);
  const read = readBackup(path);
  if ("error" in read) throw failed(...read.error, `Failed to read VG ${name} from ${path}`);
  const { vg } = read;
  if (vg.name !== name) throw failed(`'${path}' does not contain volume group '${name}'.`);
  if (vg.lvs.some((lv) => lv.segments.some((s) => THIN_TYPES.has(s.type)))) {
    if (!ctx.has("force")) throw failed(`Consider using option --force to restore Volume Group ${name} with thin volumes.`);
    ctx.warn(`WARNING: Forced restore of Volume Group ${name} with thin volumes.`);
  }
  const present = new Set(session.scannedPvs().map((pv) => pv.pvId));
  const absent = vg.pvs.filter((pv) => !present.has(pv.id));
  for (const pv of absent) ctx.warn(`WARNING: Couldn't find device with uuid ${formatId(pv.id)}.`);
  const missing = vg.pvs.filter((pv) => !present.has(pv.id) || pv.flags.includes("MISSING")).length;
  if (missing) throw failed(`Cannot restore Volume Group ${name} with ${missing} PVs marked as missing.`);

  // The session finds the VG on disk by the file's VG id, archives it and takes its place.
  await session.writeVg(undefined, vg);
  ctx.print(`Restored volume group ${name}.`);
  return EXIT.OK;
}
