/**
 * ulvm's lvm.conf, at $ULVM_SYSTEM_DIR/lvm.conf, in LVM's syntax: the settings
 * ulvm honours are read by their LVM path (`section/key`), with LVM's defaults
 * when the file or the setting is absent.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { LvmError } from "../core/errors.ts";
import { parseConfig } from "../core/config/parse.ts";
import type { ConfigSection, ConfigValue } from "../core/config/tree.ts";

export class LvmConf {
  constructor(private readonly root: ConfigSection) {}

  private find(path: string): ConfigValue | undefined {
    let section = this.root;
    const parts = path.split("/");
    const key = parts.pop()!;
    for (const name of parts) {
      const next = section.entries.find((e) => e.kind === "section" && e.section.name === name);
      if (next?.kind !== "section") return undefined;
      section = next.section;
    }
    const entry = section.entries.find((e) => e.kind === "value" && e.key === key);
    return entry?.kind === "value" ? entry.value : undefined;
  }

  string(path: string, fallback: string): string {
    const v = this.find(path);
    return v?.type === "string" ? v.value : fallback;
  }
}

export function lvmConfPath(systemDir: string): string {
  return join(systemDir, "lvm.conf");
}

/** The settings in force now: read on each use, so that an edit applies without restarting the daemon. */
export async function readLvmConf(systemDir: string): Promise<LvmConf> {
  const path = lvmConfPath(systemDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return new LvmConf({ name: "", entries: [] });
    throw e;
  }
  try {
    return new LvmConf(parseConfig(text));
  } catch (e) {
    throw new LvmError([(e as Error).message, `Failed to load config file ${path}`]);
  }
}
