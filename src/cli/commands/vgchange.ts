/**
 * vgchange: the activation variants (-a, --refresh) over every visible LV of
 * each VG named (all VGs when none is), with lvm's count of active LVs.
 */
import type { CommandContext } from "../context.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import { isVisible } from "../../core/model/relations.ts";
import { activateLvs, activeLvs, deactivateLvs, deactivates, refreshVg, skipsActivation } from "../daemon-client.ts";
import { selectVgs } from "./report.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const activate = ctx.opt<string>("activate");
  if (activate === undefined && !ctx.has("refresh")) throw new LvmError("Only activation (-a) and --refresh are supported by ulvm's vgchange.");
  const session = await ctx.session();
  const selection = selectVgs(ctx, session, ctx.positional);
  let failed = selection.failed;
  for (const { vg } of selection.loaded) {
    const lvs = vg.lvs.filter(isVisible);
    try {
      if (activate === undefined) await refreshVg(ctx, vg.name);
      else if (deactivates(activate)) await deactivateLvs(ctx, vg.name, lvs.map((lv) => lv.name));
      else await activateLvs(ctx, vg.name, lvs.filter((lv) => !skipsActivation(ctx, lv)).map((lv) => lv.name));
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      e.lines.forEach((line) => ctx.error(line));
      failed = true;
    }
    if (activate === undefined) continue;
    const names = new Set(lvs.map((lv) => lv.name));
    const active = (await activeLvs(ctx.env)).filter((s) => s.vg === vg.name && names.has(s.lv)).length;
    ctx.print(`${active} logical volume(s) in volume group "${vg.name}" now active`);
  }
  return failed ? EXIT.FAILED : EXIT.OK;
}
