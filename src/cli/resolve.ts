/**
 * Turning command-line names into model objects the way lvm does: `/dev/vg`,
 * `vg`, `vg/lv`, `/dev/vg/lv` all name the same thing, and lookups that fail print
 * lvm's messages.
 */
import { realpathSync } from "node:fs";
import { EXIT, LvmError } from "../core/errors.ts";
import type { LoadedVg, Session } from "../metadata/session.ts";

/**
 * lvm's skip_dev_dir: drop a leading dev dir and trailing slashes. Both ulvm's
 * ULVM_DEV_DIR and "/dev/" count, so `/dev/vg_data` from a guide works wherever
 * the links are made.
 */
export function skipDevDir(name: string, devDir = "/dev"): string {
  const prefix = [devDir.endsWith("/") ? devDir : `${devDir}/`, "/dev/"].find((p) => name.startsWith(p));
  let n = prefix ? name.slice(prefix.length) : name;
  if (n.startsWith("mapper/")) n = n.slice(7).replace(/([^-])-([^-])/, "$1/$2").replace(/--/g, "-");
  return n.replace(/\/+$/, "");
}

export interface LvRef {
  vg: string;
  lv: string;
}

/** `vg/lv` or `/dev/vg/lv`; a bare LV name needs `defaultVg`. */
export function parseLvRef(arg: string, devDir = "/dev", defaultVg?: string): LvRef {
  const name = skipDevDir(arg, devDir);
  const slash = name.indexOf("/");
  if (slash < 0) {
    if (!defaultVg)
      throw new LvmError([`Please specify a logical volume path.`], EXIT.INVALID_CMD_LINE);
    return { vg: defaultVg, lv: name };
  }
  return { vg: name.slice(0, slash), lv: name.slice(slash + 1) };
}

export function vgNotFound(name: string): LvmError {
  return new LvmError([`Volume group "${name}" not found`, `Cannot process volume group ${name}`]);
}

export function readVgOrFail(session: Session, name: string): LoadedVg {
  const loaded = session.readVg(name);
  if (!loaded) throw vgNotFound(name);
  return loaded;
}

/** The canonical path of a device argument, as lvm resolves symlinks; undefined if it does not exist. */
export function resolveDevice(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
