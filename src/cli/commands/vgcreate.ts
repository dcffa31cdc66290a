/**
 * vgcreate: a new VG on PVs, initialising devices that are not PVs yet as lvm
 * does. Every check, those lvm makes only after creating the PVs included, runs
 * before the first write.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { EXIT, LvmError } from "../../core/errors.ts";
import { generateId } from "../../core/format/id.ts";
import { validateVgName } from "../../core/model/names.ts";
import type { AllocPolicy, VolumeGroup } from "../../core/model/types.ts";
import type { SizeValue } from "../args.ts";
import { type CommandContext, usageError } from "../context.ts";
import { skipDevDir } from "../resolve.ts";
import { DeviceInitializer, pvCreateOptions, pvEntry, GLOBAL_LOCK } from "./pvcreate.ts";

/** lvm's DEFAULT_EXTENT_SIZE, in sectors (4 MiB). */
const DEFAULT_EXTENT_SIZE = 8192;
/** MAX_EXTENT_SIZE: extent sizes are 32-bit sector counts. */
const MAX_EXTENT_SIZE = 0xffffffff;
/** Extent sizes that are not powers of 2 must be multiples of 128 KiB. */
const MIN_NON_POWER2_EXTENT_SIZE = 256;

/** vg_check_new_extent_size for the text format (zero is refused earlier, as a usage error). */
function checkExtentSize(sectors: number): void {
  if ((sectors & (sectors - 1)) !== 0 && sectors % MIN_NON_POWER2_EXTENT_SIZE)
    throw new LvmError("Physical Extent size must be a multiple of 128.00 KiB when not a power of 2.");
}

/** `--vgmetadatacopies`: a number, or all/unmanaged, which lvm's vgcreate stores as 0 (unmanaged). */
function vgMetadataCopies(ctx: CommandContext): number {
  const v = ctx.opt<number | string>("vgmetadatacopies");
  return typeof v === "number" ? v : 0;
}

export async function run(ctx: CommandContext): Promise<number> {
  const [nameArg, ...pvArgs] = ctx.positional;
  const name = skipDevDir(nameArg!, ctx.env.devDir);
  const pvOptions = pvCreateOptions(ctx);
  if (ctx.has("clustered")) throw usageError("The clustered option is deprecated, see --shared.");
  const extentArg = ctx.opt<SizeValue>("physicalextentsize");
  if (extentArg && extentArg.sectors > MAX_EXTENT_SIZE) throw usageError("Physical extent size must be smaller than <2.00 TiB.");
  const extentSize = extentArg?.sectors ?? DEFAULT_EXTENT_SIZE;
  const alloc = (ctx.opt<string>("alloc") ?? "normal") as AllocPolicy;

  try {
    validateVgName(name);
  } catch (e) {
    if (e instanceof LvmError) throw usageError(e.lines);
    throw e;
  }
  const devPath = join(ctx.env.devDir, name);
  if (existsSync(devPath)) throw usageError(`${devPath}: already exists in filesystem`);
  if (alloc === "inherit") throw usageError("Volume Group allocation policy cannot inherit from anything");
  if (!extentSize) throw usageError("Physical extent size may not be zero");

  const session = await ctx.session();
  await session.lockVg(GLOBAL_LOCK);
  await session.lockVg(name);
  if (session.vgNames().includes(name)) throw new LvmError(`A volume group called ${name} already exists.`);

  const init = new DeviceInitializer(ctx, session, "vgcreate", pvOptions);
  await init.check(pvArgs);
  // lvm finds these only after writing the PVs; ulvm refuses before anything is written.
  checkExtentSize(extentSize);
  const maxPv = ctx.opt<number>("maxphysicalvolumes") ?? 0;
  if (maxPv && init.devices.length > maxPv) {
    const arg = init.devices[maxPv]!.arg;
    throw new LvmError([`No space for '${arg}' - volume group '${name}' holds max ${maxPv} physical volume(s).`, `PV ${arg} cannot be added to VG ${name}.`]);
  }

  const pvs = await init.write();
  const vg: VolumeGroup = {
    name,
    id: generateId((n) => new Uint8Array(randomBytes(n))),
    seqno: 0,
    format: "lvm2",
    status: ["RESIZEABLE", "READ", "WRITE"],
    flags: ctx.opt<boolean>("setautoactivation") === false ? ["NOAUTOACTIVATE"] : [],
    tags: [...new Set(ctx.all<string>("addtag"))],
    extentSize,
    maxLv: ctx.opt<number>("maxlogicalvolumes") ?? 0,
    maxPv,
    ...(alloc !== "normal" ? { allocationPolicy: alloc } : {}),
    metadataCopies: vgMetadataCopies(ctx),
    pvs: pvs.map((pv) => pvEntry(pv, extentSize)),
    lvs: [],
    extra: [],
  };
  await session.writeVg(undefined, vg);
  ctx.print(`Volume group "${name}" successfully created`);
  return EXIT.OK;
}
