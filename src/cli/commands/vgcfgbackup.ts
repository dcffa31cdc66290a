/**
 * vgcfgbackup: writes VG metadata in backup-file form, to <systemDir>/backup/<vg>
 * or to -f FILE, where %s stands for the VG name.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT, LvmError } from "../../core/errors.ts";
import { formatVgText } from "../../core/model/text.ts";
import { textHeaderFor } from "../../metadata/open-session.ts";
import { writeBackup } from "../../metadata/archive.ts";
import type { CommandContext } from "../context.ts";
import { forEachVg, missingPvCount } from "./vgck.ts";
import { RAID_TYPES } from "../../core/model/validate.ts";

/** lvm 2.03's segment types; a segment of any other type is "unknown" to it. */
const KNOWN_SEGTYPES = new Set([
  "striped", "linear", "mirror", "error", "zero", "snapshot", "thin", "thin-pool", "cache", "cache-pool",
  "writecache", "integrity", "vdo", "vdo-pool", ...RAID_TYPES,
]);

export async function run(ctx: CommandContext): Promise<number> {
  const session = await ctx.session();
  const template = ctx.opt<string>("file");
  let lastFile: string | undefined;
  return forEachVg(ctx, session, ctx.positional, { lock: false }, async (loaded) => {
    // As lvm, name each PV's device as found now, "[unknown]" when missing.
    const vg = { ...loaded.vg, pvs: loaded.vg.pvs.map((pv) => ({ ...pv, deviceHint: loaded.devices.get(pv.id)?.device ?? "[unknown]" })) };
    const header = (description: string) => textHeaderFor(description);
    if (template !== undefined) {
      // lvm expands the name with snprintf(template, vg_name): "%%" is "%", the first "%s" the name.
      let named = false;
      const file = template.replace(/%([%s])/g, (m, c: string) => (c === "%" ? "%" : named ? m : ((named = true), vg.name)));
      if (file === lastFile) throw new LvmError("VGs must be backed up into different files. Use %s in filename for VG name.");
      lastFile = file;
      writeFileSync(file, formatVgText(vg, header(ctx.commandLine), "backup"), { mode: 0o600 });
    } else {
      if (missingPvCount(vg))
        throw new LvmError("No backup taken: specify filename with -f to backup with missing PVs.");
      if (vg.lvs.some((lv) => lv.segments.some((s) => !KNOWN_SEGTYPES.has(s.type))))
        throw new LvmError("No backup taken: specify filename with -f to backup with unknown segments.");
      await writeBackup(join(ctx.env.systemDir, "backup"), vg.name, formatVgText(vg, header(`Created *after* executing '${ctx.commandLine}'`), "backup"));
    }
    ctx.print(`Volume group "${vg.name}" successfully backed up.`);
    return EXIT.OK;
  });
}
