/**
 * Command name → implementation. Modules load on demand so a command pays only
 * for what it uses at start-up. Each module exports `run(ctx)`; commands that
 * share one implementation (pvs/vgs/lvs, lvextend/lvreduce/lvresize) name the
 * same module and read `ctx.parsed.command`.
 */
import type { CommandContext, CommandHandler } from "../context.ts";

type Module = { run: (ctx: CommandContext) => Promise<number | void> };
const lazy =
  (load: () => Promise<Module>): CommandHandler =>
  async (ctx) =>
    (await load()).run(ctx);

export const handlers: Record<string, CommandHandler> = {
  help: lazy(() => import("./builtin.ts")),
  version: lazy(() => import("./builtin.ts")),
  pvcreate: lazy(() => import("./pvcreate.ts")),
  pvremove: lazy(() => import("./pvremove.ts")),
  pvs: lazy(() => import("./report.ts")),
  vgs: lazy(() => import("./report.ts")),
  lvs: lazy(() => import("./report.ts")),
  pvdisplay: lazy(() => import("./display.ts")),
  vgdisplay: lazy(() => import("./display.ts")),
  lvdisplay: lazy(() => import("./display.ts")),
  pvck: lazy(() => import("./pvck.ts")),
  pvscan: lazy(() => import("./pvscan.ts")),
  vgcreate: lazy(() => import("./vgcreate.ts")),
  vgextend: lazy(() => import("./vgextend.ts")),
  vgreduce: lazy(() => import("./vgreduce.ts")),
  vgremove: lazy(() => import("./vgremove.ts")),
  vgrename: lazy(() => import("./vgrename.ts")),
  vgck: lazy(() => import("./vgck.ts")),
  vgcfgbackup: lazy(() => import("./vgcfgbackup.ts")),
  vgcfgrestore: lazy(() => import("./vgcfgrestore.ts")),
  lvcreate: lazy(() => import("./lvcreate.ts")),
  lvremove: lazy(() => import("./lvremove.ts")),
  lvrename: lazy(() => import("./lvrename.ts")),
  lvextend: lazy(() => import("./lvresize.ts")),
  lvreduce: lazy(() => import("./lvresize.ts")),
  lvresize: lazy(() => import("./lvresize.ts")),
  lvmdevices: lazy(() => import("./lvmdevices.ts")),
  lvchange: lazy(() => import("./lvchange.ts")),
  lvconvert: lazy(() => import("./lvconvert.ts")),
  vgchange: lazy(() => import("./vgchange.ts")),
  daemon: lazy(() => import("./daemon.ts")),
};
