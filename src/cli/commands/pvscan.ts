/**
 * pvscan (the listing form): one line per PV and lvm's totals line, in lvm's
 * order: VGs as lvm's cache lists them (vgsInScanOrder), each VG's PVs in
 * metadata order, then the PVs in no VG.
 */
import { EXIT } from "../../core/errors.ts";
import { formatId } from "../../core/format/id.ts";
import { pvFreeExtents } from "../../core/model/relations.ts";
import { DEFAULT_UNITS, displaySize, parseUnits, type Units } from "../../core/report/units.ts";
import { type CommandContext, usageError } from "../context.ts";

import { vgsInScanOrder } from "./vgck.ts";


/** Room for "#orphans_lvm2", the name lvm gives the VG of PVs in no VG. */
const ORPHAN_VG_NAME_LENGTH = 13;
const UUID_SUFFIX_LENGTH = 50;

/** One listed PV; `size` is what the totals count: the VG's extents, or the whole device for a PV in no VG. */
interface Row {
  name: string;
  pvId: string;
  size: number;
  vg?: { name: string; exported: boolean; free: number };
}

export async function run(ctx: CommandContext): Promise<number> {
  const exported = ctx.has("exported");
  const orphansOnly = ctx.has("novolumegroup");
  if (exported && orphansOnly) throw usageError("Options -e and -n are incompatible");
  if (exported || orphansOnly)
    ctx.warn(`WARNING: only considering physical volumes ${exported ? "of exported volume group(s)" : "in no volume group"}`);
  const units = ctx.has("units") ? parseUnits(ctx.opt<string>("units")!) : DEFAULT_UNITS;
  const size = (sectors: number): string => displaySize(sectors, units);

  const session = await ctx.session();
  const vgOrder = vgsInScanOrder(session);
  const rows: Row[] = [];
  for (const name of vgOrder) {
    const loaded = session.readVg(name);
    if (!loaded) continue;
    const { vg } = loaded;
    for (const pv of vg.pvs)
      rows.push({
        name: loaded.devices.get(pv.id)?.device ?? "[unknown]",
        pvId: pv.id,
        size: pv.peCount * vg.extentSize,
        vg: { name: vg.name, exported: vg.status.includes("EXPORTED"), free: pvFreeExtents(vg, pv.id) * vg.extentSize },
      });
  }
  for (const pv of session.orphans()) rows.push({ name: pv.device, pvId: pv.pvId, size: pv.labelDeviceSize / 512 });

  const shown = rows.filter((r) => (exported ? r.vg?.exported : orphansOnly ? !r.vg : true));
  if (!shown.length) {
    ctx.print("No matching physical volumes found");
    return EXIT.OK;
  }
  // lvm pads to the longest name it knows of, shown or not.
  const pvWidth = Math.max(...session.scannedPvs().map((pv) => pv.device.length)) + 2;
  const vgWidth = Math.max(ORPHAN_VG_NAME_LENGTH, ...vgOrder.map((n) => n.length)) + 2;
  for (const r of shown) {
    if (ctx.has("short")) {
      ctx.print(r.name);
      continue;
    }
    const pv = ctx.has("uuid")
      ? `${r.name.padEnd(pvWidth - 2)} with UUID ${formatId(r.pvId)}`.padEnd(pvWidth + UUID_SUFFIX_LENGTH)
      : r.name.padEnd(pvWidth);
    if (!r.vg) ctx.print(`PV ${pv}    ${" ".padEnd(vgWidth)} lvm2 [${size(r.size)}]`);
    else if (r.vg.exported) ctx.print(`PV ${pv}  is in exported VG ${r.vg.name} [${size(r.size)} / ${size(r.vg.free)} free]`);
    else ctx.print(`PV ${pv} VG ${r.vg.name.padEnd(vgWidth)} lvm2 [${size(r.size)} / ${size(r.vg.free)} free]`);
  }
  const total = shown.reduce((n, r) => n + r.size, 0);
  const orphans = shown.filter((r) => !r.vg);
  const free = orphans.reduce((n, r) => n + r.size, 0);
  ctx.print(
    `Total: ${shown.length} [${size(total)}] / in use: ${shown.length - orphans.length} [${size(total - free)}] / in no VG: ${orphans.length} [${size(free)}]`,
  );
  return EXIT.OK;
}
