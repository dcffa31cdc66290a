/**
 * lvremove VG|LV|@tag ...: lvm removes every LV named (all visible LVs of a
 * VG named alone) together with its sub-LVs, and commits each VG once after
 * its last LV; if any LV of a VG is refused nothing in that VG is written.
 * lvm asks only before removing an active LV (not with -f or -y), refuses an
 * open one, and deactivates an active one before the commit.
 */
import type { CommandContext } from "../context.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import { activeLvs, deactivateLvs } from "../daemon-client.ts";
import { isVisible, subLvRoles } from "../../core/model/relations.ts";
import type { LogicalVolume, VolumeGroup } from "../../core/model/types.ts";
import { forEachLvGroup, reportMissingLvs } from "./report.ts";
import { subLvsOf } from "./lvrename.ts";

/** lv_remove_single's refusals for LVs that are part of another LV. */
function refusal(vg: VolumeGroup, lv: LogicalVolume): string | undefined {
  const kind = subLvRoles(vg).get(lv.name)?.kind;
  const name = `${vg.name}/${lv.name}`;
  if (kind === "mirror_image") return `Can't remove logical volume ${name} used by a mirror.`;
  if (kind === "mirror_log") return `Can't remove logical volume ${name} used as mirror log.`;
  if (kind === "raid_image" || kind === "raid_meta") return `Can't remove logical volume ${name} used as RAID device.`;
  if (lv.status.includes("LOCKED")) return `Can't remove locked logical volume ${name}.`;
  return undefined;
}

export async function run(ctx: CommandContext): Promise<number> {
  const session = await ctx.session();
  const active = new Map((await activeLvs(ctx.env)).map((s) => [`${s.vg}/${s.lv}`, s]));
  let failed = false;
  const notFound = await forEachLvGroup(ctx, session, ctx.positional, { all: false, forUpdate: true, select: ctx.opt<string>("select") }, async (group) => {
    const { vg } = group.loaded;
    const removed = new Set<string>();
    const messages: string[] = [];
    let refused = false;
    for (const lv of group.lvs) {
      // A sub-LV named after its parent went with the parent, as in lvm.
      if (removed.has(lv.name)) continue;
      const why = refusal(vg, lv);
      if (why) {
        ctx.error(why);
        refused = true;
        continue;
      }
      const live = active.get(`${vg.name}/${lv.name}`);
      if (live && live.openCount > 0) {
        ctx.error(`Logical volume ${vg.name}/${lv.name} in use.`);
        refused = true;
        continue;
      }
      if (live && !ctx.has("force") && !ctx.confirm(`Do you really want to remove active logical volume ${vg.name}/${lv.name}?`)) {
        ctx.error(`Logical volume ${vg.name}/${lv.name} not removed.`);
        refused = true;
        continue;
      }
      for (const gone of [lv, ...subLvsOf(vg, lv)]) removed.add(gone.name);
      if (isVisible(lv)) messages.push(`Logical volume "${lv.name}" successfully removed.`);
    }
    if (removed.size && !refused) {
      try {
        await deactivateLvs(ctx, vg.name, [...removed].filter((n) => active.has(`${vg.name}/${n}`)));
      } catch (e) {
        if (!(e instanceof LvmError)) throw e;
        e.lines.forEach((line) => ctx.error(line));
        failed = true;
        return;
      }
      await session.writeVg(group.loaded, { ...vg, lvs: vg.lvs.filter((lv) => !removed.has(lv.name)) });
      messages.forEach((m) => ctx.print(m));
    }
    if (reportMissingLvs(ctx, group) || refused) failed = true;
  });
  failed ||= notFound;
  return failed ? EXIT.FAILED : EXIT.OK;
}
