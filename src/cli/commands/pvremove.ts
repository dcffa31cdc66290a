/**
 * pvremove: wipes PV labels. A PV that belongs to a VG needs -ff and a
 * confirmation, as in lvm; its devices file entry stays, without the PVID.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../core/errors.ts";
import { entryMatchesDevice, readDevicesFile } from "../../metadata/devices-file.ts";
import { systemDeviceAccess } from "../../io/device-access.ts";
import type { Session } from "../../metadata/session.ts";
import type { CommandContext } from "../context.ts";
import { lookupDevices, type DeviceArg, GLOBAL_LOCK } from "./pvcreate.ts";

/** The devices file this command line uses, undefined when none is (--devices, or --devicesfile ""). */
export function devicesFilePath(ctx: CommandContext): string | undefined {
  const name = ctx.opt<string>("devicesfile");
  if (ctx.has("devices") || name === "") return undefined;
  return join(ctx.env.systemDir, "devices", name ?? "system.devices");
}

/** device_id_pvremove: an entry for the device keeps its place but loses the PVID. */
async function forgetPvId(ctx: CommandContext, session: Session, device: string): Promise<void> {
  const path = devicesFilePath(ctx);
  const file = path && existsSync(path) ? await readDevicesFile(path) : undefined;
  if (!file) return;
  for (const entry of file.entries)
    if (entry.pvId && (await entryMatchesDevice(systemDeviceAccess, entry, device))) return session.addToDevicesFile(device);
}

/** _pvremove_check_used and its prompt: may this PV's label go? */
function mayRemove(ctx: CommandContext, d: DeviceArg): boolean {
  if (!d.pv) {
    if (ctx.count("force")) return true;
    ctx.error(`No PV found on device ${d.device}.`);
    return false;
  }
  if (!d.pv.vgName && !d.pv.used) return true;
  const vg = d.pv.vgName ?? "<unknown>";
  if (ctx.count("force") < 2) {
    ctx.error(d.pv.vgName ? `PV ${d.device} is used by VG ${vg} so please use vgreduce first.` : `PV ${d.device} is used by a VG but its metadata is missing.`);
    ctx.error("(If you are certain you need pvremove, then confirm by using --force twice.)");
  } else {
    ctx.warn(`WARNING: PV ${d.device} is used by VG ${vg}.`);
    if (ctx.confirm(`Really WIPE LABELS from physical volume "${d.device}" of volume group "${vg}"`, " [y/n]? ")) {
      ctx.warn(`WARNING: Wiping physical volume label from ${d.device} of volume group "${vg}".`);
      return true;
    }
  }
  ctx.error(`${d.device}: physical volume label not removed.`);
  return false;
}

export async function run(ctx: CommandContext): Promise<number> {
  const session = await ctx.session();
  await session.lockVg(GLOBAL_LOCK);
  const { found, failed } = await lookupDevices(ctx, session, ctx.positional, { devicesFile: true });
  const removable = found.filter((d) => mayRemove(ctx, d));
  for (const d of removable) {
    // -f on a device without a label: lvm's wipe finds nothing to clear and reports success.
    if (d.pv) {
      await session.wipePv(d.device);
      await forgetPvId(ctx, session, d.device);
    }
    ctx.print(`Labels on physical volume "${d.arg}" successfully wiped.`);
  }
  return failed.length || removable.length < found.length ? EXIT.FAILED : EXIT.OK;
}
