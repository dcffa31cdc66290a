/**
 * LVM's metadata history files: <systemDir>/archive/<vg>_<NNNNN>-<random>.vg holds
 * each VG version as it was before a command changed it, <systemDir>/backup/<vg>
 * the version after the last change. Names, numbering and expiry follow
 * lib/format_text/archive.c so that real lvm2's vgcfgrestore --list reads them.
 */
import { writeFileAtomic } from "./atomic-file.ts";
import { mkdir, readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";

export interface ArchiveRetention {
  /** backup/retain_min: never expire below this many archives of a VG. */
  retainMin: number;
  /** backup/retain_days: archives younger than this are kept. */
  retainDays: number;
}

export const DEFAULT_RETENTION: ArchiveRetention = { retainMin: 10, retainDays: 30 };

/** `<vg>_<index>-<random>.vg`: the VG name is everything before the last '_', as LVM splits it. */
export function parseArchiveName(fileName: string): { vgName: string; index: number } | undefined {
  if (fileName.length < 7 || !fileName.endsWith(".vg")) return undefined;
  const underscore = fileName.lastIndexOf("_");
  if (underscore < 0) return undefined;
  const digits = /^\d+/.exec(fileName.slice(underscore + 1));
  if (!digits) return undefined;
  return { vgName: fileName.slice(0, underscore), index: Number(digits[0]) };
}

export function archiveFileName(vgName: string, index: number, random: number): string {
  return `${vgName}_${String(index).padStart(5, "0")}-${random}.vg`;
}

/** The VG's archives, newest (highest index) first. */
export async function listArchives(dir: string, vgName: string): Promise<{ name: string; index: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  return names
    .flatMap((name) => {
      const parsed = parseArchiveName(name);
      return parsed && parsed.vgName === vgName ? [{ name, index: parsed.index }] : [];
    })
    .sort((a, b) => b.index - a.index);
}


/**
 * Adds one archive and expires old ones the way LVM does: only while more than
 * retainMin archives exist, oldest first, and only those older than retainDays.
 * Returns the new file's path.
 */
export async function archiveVg(
  dir: string,
  vgName: string,
  text: string,
  opts: { nowSeconds: number; random: number; retention?: ArchiveRetention },
): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await listArchives(dir, vgName);
  const path = join(dir, archiveFileName(vgName, (existing[0]?.index ?? -1) + 1, opts.random));
  await writeFileAtomic(path, text, { tmp: `${path}.tmp${process.pid}`, mode: 0o600 });

  const { retainMin, retainDays } = opts.retention ?? DEFAULT_RETENTION;
  let count = existing.length + 1;
  if (count <= retainMin) return path;
  const retainAfter = opts.nowSeconds - retainDays * 86400;
  for (const old of [...existing].reverse()) {
    const oldPath = join(dir, old.name);
    const st = await stat(oldPath).catch(() => undefined);
    if (!st || Math.floor(st.mtimeMs / 1000) > retainAfter) continue;
    await unlink(oldPath).catch(() => {});
    if (--count <= retainMin) break;
  }
  return path;
}

export async function writeBackup(dir: string, vgName: string, text: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, vgName);
  await writeFileAtomic(path, text, { tmp: `${path}.tmp${process.pid}`, mode: 0o600 });
}

export async function removeBackup(dir: string, vgName: string): Promise<void> {
  await unlink(join(dir, vgName)).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
}
