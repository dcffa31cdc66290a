/**
 * lvchange: the activation variants (-a, --refresh). Like lvm, -ay on an
 * active LV and -an on an inactive one do nothing and say nothing.
 */
import type { CommandContext } from "../context.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import { activateLvs, deactivateLvs, deactivates, refreshVg, skipsActivation } from "../daemon-client.ts";
import { reportMissingLvs, selectLvs } from "./report.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const activate = ctx.opt<string>("activate");
  if (activate === undefined && !ctx.has("refresh")) throw new LvmError("Only activation (-a) and --refresh are supported by ulvm's lvchange.");
  const session = await ctx.session();
  const { groups, failed: notFound } = await selectLvs(ctx, session, ctx.positional, { all: false, select: ctx.opt<string>("select") });
  let failed = notFound;
  for (const group of groups) {
    const vg = group.loaded.vg.name;
    try {
      if (activate === undefined) await refreshVg(ctx, vg);
      else if (deactivates(activate)) await deactivateLvs(ctx, vg, group.lvs.map((lv) => lv.name));
      else await activateLvs(ctx, vg, group.lvs.filter((lv) => !skipsActivation(ctx, lv)).map((lv) => lv.name));
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      e.lines.forEach((line) => ctx.error(line));
      failed = true;
    }
    if (reportMissingLvs(ctx, group)) failed = true;
  }
  return failed ? EXIT.FAILED : EXIT.OK;
}
