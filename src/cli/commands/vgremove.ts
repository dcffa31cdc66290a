/**
 * vgremove: removes VGs, their LVs first (after a prompt unless -f or -y). ulvm
 * activates nothing, so every LV is inactive and, as in lvm, removing it needs
 * no further confirmation.
 */
import { EXIT, LvmError } from "../../core/errors.ts";
import { isVisible, subLvRoles } from "../../core/model/relations.ts";
import type { CommandContext } from "../context.ts";
import { GLOBAL_LOCK } from "./pvcreate.ts";
import { forEachVg, missingPvCount } from "./vgck.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const session = await ctx.session();
  await session.lockVg(GLOBAL_LOCK);
  // lvm: one -f and -y are alike here (nothing asked, missing PVs allowed).
  const force = ctx.count("force") || ctx.has("yes");
  return forEachVg(ctx, session, ctx.positional, { lock: true }, async (loaded) => {
    const { vg } = loaded;
    const missing = missingPvCount(vg);
    const visible = vg.lvs.filter(isVisible);
    if (visible.length && !force) {
      if (missing) ctx.warn(`WARNING: ${missing} physical volumes are currently missing from the system.`);
      if (!ctx.confirm(`Do you really want to remove volume group "${vg.name}" containing ${visible.length} logical volumes?`))
        throw new LvmError(`Volume group "${vg.name}" not removed`);
    }
    if (!force && missing)
      throw new LvmError([
        `Volume group "${vg.name}" not found, is inconsistent or has PVs missing.`,
        "Consider vgreduce --removemissing if metadata is inconsistent.",
      ]);
    // lvremove of each visible top-level LV takes its sub-LVs with it, silently.
    const roles = subLvRoles(vg);
    for (const lv of visible) if (!roles.has(lv.name)) ctx.print(`Logical volume "${lv.name}" successfully removed.`);
    await session.removeVg(loaded);
    ctx.print(`Volume group "${vg.name}" successfully removed`);
    return EXIT.OK;
  });
}
