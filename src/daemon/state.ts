/**
 * Which LVs are active, kept under the run dir so that a restarted daemon
 * activates them again, as LVM's activations outlive its commands while the
 * kernel runs. Written atomically: a crash leaves the old or the new list.
 */
import { open, readFile, rename, unlink } from "node:fs/promises";
import type { ScanScope } from "./protocol.ts";

export interface ActiveEntry {
  vg: string;
  lv: string;
  scope: ScanScope;
}

export async function readState(path: string): Promise<ActiveEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const parsed = JSON.parse(text) as { active?: unknown };
  if (!Array.isArray(parsed.active)) throw new Error(`${path}: no "active" list`);
  return parsed.active as ActiveEntry[];
}

export async function writeState(path: string, entries: ActiveEntry[]): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, "w", 0o600);
  try {
    await handle.writeFile(`${JSON.stringify({ active: entries }, null, 1)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
