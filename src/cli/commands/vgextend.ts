/**
 * vgextend: adds PVs to a VG, initialising devices that are not PVs yet, or with
 * --restoremissing takes back PVs the VG had marked missing.
 */
import { EXIT, LvmError } from "../../core/errors.ts";
import type { LoadedVg, Session } from "../../metadata/session.ts";
import type { CommandContext } from "../context.ts";
import { readVgOrFail, resolveDevice, skipDevDir } from "../resolve.ts";
import { DeviceInitializer, pvCreateOptions, pvEntry, GLOBAL_LOCK } from "./pvcreate.ts";

/** vg_bad_status_bits for a change that needs a writable, resizeable VG. */
export function checkWritableResizeable(loaded: LoadedVg): void {
  const { vg } = loaded;
  const lines = [
    ...(vg.status.includes("WRITE") ? [] : [`Volume group ${vg.name} is read-only`]),
    ...(vg.status.includes("RESIZEABLE") ? [] : [`Volume group ${vg.name} is not resizeable.`]),
  ];
  if (lines.length) throw new LvmError(lines);
}

async function restoreMissing(ctx: CommandContext, session: Session, name: string, args: string[]): Promise<number> {
  const loaded = readVgOrFail(session, name);
  let fixed = 0;
  for (const arg of args) {
    const device = resolveDevice(arg) ?? arg;
    const pv = loaded.vg.pvs.find((p) => {
      const found = loaded.devices.get(p.id)?.device;
      return found !== undefined && (resolveDevice(found) ?? found) === device;
    });
    if (!pv) ctx.warn(`WARNING: PV ${arg} not found in VG ${name}`);
    else if (!pv.flags.includes("MISSING")) ctx.warn(`WARNING: PV ${arg} was not missing in VG ${name}`);
    else {
      pv.flags = pv.flags.filter((f) => f !== "MISSING");
      fixed++;
    }
  }
  if (!fixed) throw new LvmError("No PV has been restored.");
  await session.writeVg(loaded, loaded.vg);
  ctx.print(`Volume group "${name}" successfully extended`);
  return EXIT.OK;
}

export async function run(ctx: CommandContext): Promise<number> {
  const [vgArg, ...pvArgs] = ctx.positional;
  const name = skipDevDir(vgArg!, ctx.env.devDir);
  const pvOptions = pvCreateOptions(ctx);
  const session = await ctx.session();
  await session.lockVg(GLOBAL_LOCK);
  await session.lockVg(name);
  if (ctx.has("restoremissing")) return restoreMissing(ctx, session, name, pvArgs);

  const init = new DeviceInitializer(ctx, session, "vgextend", pvOptions);
  await init.check(pvArgs);
  const loaded = readVgOrFail(session, name);
  const { vg } = loaded;
  checkWritableResizeable(loaded);
  if (vg.maxPv && vg.pvs.length + init.devices.length > vg.maxPv) {
    const arg = init.devices[Math.max(0, vg.maxPv - vg.pvs.length)]!.arg;
    throw new LvmError([`No space for '${arg}' - volume group '${name}' holds max ${vg.maxPv} physical volume(s).`, `PV ${arg} cannot be added to VG ${name}.`]);
  }
  const pvs = await init.write();
  vg.pvs.push(...pvs.map((pv) => pvEntry(pv, vg.extentSize)));
  await session.writeVg(loaded, vg);
  ctx.print(`Volume group "${name}" successfully extended`);
  return EXIT.OK;
}
