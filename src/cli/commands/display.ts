/**
 * pvdisplay, vgdisplay, lvdisplay: lvm's fixed layouts (display.c), the `-c`
 * colon records, `-s` short forms, `-m` maps, and `-C`, which is the report.
 * ulvm answers as lvm does on a host with device-mapper where nothing is
 * active yet: "LV Status NOT available", no "# open" or "Block device".
 */
import { activationMap } from "../daemon-client.ts";
import { type CommandContext, usageError } from "../context.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import { formatId } from "../../core/format/id.ts";
import { displaySize, formatSize, parseUnits, DEFAULT_UNITS, type Units } from "../../core/report/units.ts";
import { makeVgView, pvDeviceName, pvSegments, type PvView, type VgView } from "../../core/report/view.ts";
import { isVisible, lvExtents } from "../../core/model/relations.ts";
import { segAreaLen } from "../../core/alloc/allocator.ts";
import type { Area, LogicalVolume, Segment } from "../../core/model/types.ts";
import {formatLocalTime, pvRows, reportMissingLvs, selectLvs, selectPvs, selectVgs, report, type ReportKind } from "./report.ts";

/** lvm's internal status bits, which the colon formats print as numbers. */
const BIT = { EXPORTED: 0x2, RESIZEABLE: 0x4, ALLOCATABLE: 0x8, READ: 0x100, WRITE: 0x200, CLUSTERED: 0x400 } as const;
/** Bits lvm adds when it reads a VG whose PVs are not all there. */
const PARTIAL_VG = 0x1;
const MISSING_PV = 0x800000;
const READ_WRITE = BIT.READ | BIT.WRITE;
/** dm's DM_READ_AHEAD_AUTO, which the colon format prints with %d. */
const READ_AHEAD_AUTO = -1;

/** The status word of the flags the metadata stores. */
function statusBits(flags: string[]): number {
  const bits: Record<string, number> = BIT;
  return flags.reduce((word, f) => word | (bits[f] ?? 0), 0);
}


interface Out {
  print(line: string): void;
  units: Units;
  devDir: string;
}

/** lvm's segtype name: a one-stripe striped segment is "linear". */
function segtypeName(seg: Segment): string {
  return seg.type === "striped" && seg.areas.length === 1 ? "linear" : [seg.type, ...seg.typeFlags].join("+");
}

const size = (out: Out, sectors: number) => displaySize(sectors, out.units);
const lvPath = (out: Out, vgName: string, lvName: string) => `${out.devDir}/${vgName}/${lvName}`;

/** What lvm's PV struct holds for display: VG PVs from the metadata, orphans from their label. */
interface PvFacts {
  name: string;
  vgName: string;
  orphan: boolean;
  /** Sectors. */
  size: number;
  peStart: number;
  peSize: number;
  peCount: number;
  allocated: number;
  status: number;
  id: string;
}

function pvFacts(view: VgView, pvView: PvView): PvFacts {
  const { pv } = pvView;
  const orphan = view.orphan;
  const allocated = (view.usage.get(pv.id) ?? []).reduce((n, u) => n + u.count, 0);
  const status =
    statusBits(pv.status) |
    (orphan ? 0 : statusBits(view.vg.status) & BIT.EXPORTED) |
    (view.missing.has(pv.id) ? MISSING_PV : 0);
  return {
    name: orphan ? pvView.scanned!.device : pvDeviceName(view, pv.id),
    vgName: view.vg.name,
    orphan,
    size: orphan ? pvView.scanned!.labelDeviceSize / 512 : (pv.devSize ?? 0),
    peStart: pv.peStart,
    peSize: orphan ? 0 : view.vg.extentSize,
    peCount: pv.peCount,
    allocated,
    status,
    id: pv.id,
  };
}

function pvdisplayFull(out: Out, pv: PvFacts): void {
  const p = out.print;
  p(`--- ${pv.peSize ? "" : "NEW "}Physical volume ---`);
  p(`PV Name               ${pv.name}`);
  p(`VG Name               ${pv.orphan ? "" : pv.vgName}${pv.status & BIT.EXPORTED ? " (exported)" : ""}`);
  const dataSize = pv.peCount * pv.peSize;
  // lvm reports whichever of the device and the data area (plus pe_start) is larger.
  const [pvSize, unusable] =
    pv.size > dataSize + pv.peStart ? [pv.size, pv.size - dataSize] : [dataSize + pv.peStart, dataSize + pv.peStart - pv.size];
  p(dataSize ? `PV Size               ${size(out, pvSize)} / not usable ${size(out, unusable)}` : `PV Size               ${size(out, pvSize)}`);
  const free = pv.peCount - pv.allocated;
  p(pv.peCount && pv.status & BIT.ALLOCATABLE ? `Allocatable           yes ${free ? "" : "(but full)"}` : "Allocatable           NO");
  p(`PE Size               ${size(out, pv.peSize)}`);
  p(`Total PE              ${pv.peCount}`);
  p(`Free PE               ${free}`);
  p(`Allocated PE          ${pv.allocated}`);
  p(`PV UUID               ${formatId(pv.id)}`);
  p(" ");
}

function pvdisplayShort(out: Out, pv: PvFacts): void {
  out.print(`PV Name               ${pv.name}     `);
  out.print(`PV UUID               ${formatId(pv.id)}`);
  out.print(`PV Status             ${pv.status & BIT.ALLOCATABLE ? "" : "NOT "}allocatable`);
  out.print(`Total PE / Free PE    ${pv.peCount} / ${pv.peCount - pv.allocated}`);
  out.print(" ");
}

function pvdisplayColons(out: Out, pv: PvFacts): void {
  const allocatable = pv.status & BIT.ALLOCATABLE;
  const fields = [pv.name, pv.orphan ? "" : pv.vgName, pv.size, -1, pv.status, allocatable, -1, pv.peSize / 2];
  out.print([...fields, pv.peCount, pv.peCount - pv.allocated, pv.allocated, formatId(pv.id)].join(":"));
}

function pvdisplayMaps(out: Out, view: VgView, pvView: PvView, pv: PvFacts): void {
  if (pv.peSize) out.print("--- Physical Segments ---");
  if (!view.orphan)
    for (const seg of pvSegments(view, pvView.pv)) {
      out.print(`Physical extent ${seg.pe} to ${seg.pe + seg.len - 1}:`);
      if (seg.use) {
        const { lv, segment } = seg.use;
        out.print(`  Logical volume\t${lvPath(out, view.vg.name, lv.name)}`);
        out.print(`  Logical extents\t${segment.startExtent} to ${segment.startExtent + segment.extentCount - 1}`);
      } else out.print("  FREE");
    }
  out.print(" ");
}

function vgFacts(view: VgView) {
  const { vg } = view;
  const extentCount = vg.pvs.reduce((n, pv) => n + pv.peCount, 0);
  const allocated = [...view.usage.values()].flat().reduce((n, u) => n + u.count, 0);
  return {
    extentCount,
    allocated,
    free: extentCount - allocated,
    visibleLvs: vg.lvs.filter(isVisible).length,
    activePvs: vg.pvs.length - view.missing.size,
    status: statusBits(vg.status) | (view.missing.size ? PARTIAL_VG : 0),
    mdaCount: [...view.devices.values()].reduce((n, sp) => n + sp.mdas.filter((m) => !m.ignored).length, 0),
  };
}

function vgAccess(status: number, names: [string, string, string, string]): string {
  const rw = status & READ_WRITE;
  if (rw === READ_WRITE) return names[0];
  if (rw === BIT.READ) return names[1];
  if (rw === BIT.WRITE) return names[2];
  return names[3];
}

function vgdisplayFull(out: Out, view: VgView): void {
  const { vg } = view;
  const f = vgFacts(view);
  const p = out.print;
  p("--- Volume group ---");
  p(`VG Name               ${vg.name}`);
  p(`System ID             ${vg.systemId ?? ""}`);
  p(`Format                ${vg.format}`);
  p(`Metadata Areas        ${f.mdaCount}`);
  p(`Metadata Sequence No  ${vg.seqno}`);
  p(`VG Access             ${vgAccess(f.status, ["read/write", "read", "write", "error"])}`);
  p(`VG Status             ${vg.status.includes("EXPORTED") ? "exported/" : ""}${vg.status.includes("RESIZEABLE") ? "" : "NOT "}resizable`);
  if (vg.status.includes("CLUSTERED")) {
    p("Clustered             yes");
    p(`Shared                ${vg.status.includes("SHARED") ? "yes" : "no"}`);
  }
  p(`MAX LV                ${vg.maxLv}`);
  p(`Cur LV                ${f.visibleLvs}`);
  p("Open LV               0");
  p(`Max PV                ${vg.maxPv}`);
  p(`Cur PV                ${vg.pvs.length}`);
  p(`Act PV                ${f.activePvs}`);
  p(`VG Size               ${size(out, f.extentCount * vg.extentSize)}`);
  p(`PE Size               ${size(out, vg.extentSize)}`);
  p(`Total PE              ${f.extentCount}`);
  p(`Alloc PE / Size       ${f.allocated} / ${size(out, f.allocated * vg.extentSize)}`);
  p(`Free  PE / Size       ${f.free} / ${size(out, f.free * vg.extentSize)}`);
  p(`VG UUID               ${formatId(vg.id)}`);
  p(" ");
}

function vgdisplayColons(out: Out, view: VgView): void {
  const { vg } = view;
  const f = vgFacts(view);
  const fields = [
    vg.name, vgAccess(f.status, ["r/w", "r", "w", ""]), f.status, -1, vg.maxLv, f.visibleLvs, 0, -1, vg.maxPv,
    vg.pvs.length, f.activePvs, f.extentCount * (vg.extentSize / 2), vg.extentSize / 2, f.extentCount, f.allocated, f.free,
    formatId(vg.id),
  ];
  out.print(fields.join(":"));
}

function vgdisplayShort(out: Out, view: VgView): void {
  const { vg } = view;
  const f = vgFacts(view);
  const pad = (s: string) => s.padEnd(9);
  out.print(
    `"${vg.name}" ${pad(size(out, f.extentCount * vg.extentSize))} [${pad(size(out, f.allocated * vg.extentSize))} used / ${size(out, f.free * vg.extentSize)} free]`,
  );
}

function readAheadText(lv: LogicalVolume): string {
  if (!lv.readAhead) return "auto";
  return lv.readAhead === -1 ? "0" : String(lv.readAhead);
}

function readAheadNumber(lv: LogicalVolume): number {
  if (!lv.readAhead) return READ_AHEAD_AUTO;
  return lv.readAhead === -1 ? 0 : lv.readAhead;
}

function lvdisplayFull(out: Out, view: VgView, lv: LogicalVolume): void {
  const { vg } = view;
  const p = out.print;
  const extents = lvExtents(lv);
  p("--- Logical volume ---");
  if (isVisible(lv)) {
    p(`LV Path                ${lvPath(out, vg.name, lv.name)}`);
    p(`LV Name                ${lv.name}`);
  } else p(`Internal LV Name       ${lv.name}`);
  p(`VG Name                ${vg.name}`);
  p(`LV UUID                ${formatId(lv.id)}`);
  p(`LV Write Access        ${lv.status.includes("WRITE") ? "read/write" : "read only"}`);
  p(`LV Creation host, time ${lv.creationHost ?? ""}, ${formatLocalTime(lv.creationTime)}`);
  const live = view.activation(lv);
  p(`LV Status              ${live?.active ? "available" : "NOT available"}${view.partial.has(lv.name) ? " (partial)" : ""}`);
  // ActivationInfo knows open or not, not how many holders: one stands for "some".
  if (live?.active) p(`# open                 ${live.open ? 1 : 0}`);
  p(`LV Size                ${size(out, extents * vg.extentSize)}`);
  p(`Current LE             ${extents}`);
  const first = lv.segments[0];
  if (first && (first.type === "mirror" || first.type === "raid1" || first.type.startsWith("raid10")))
    p(`Mirrored volumes       ${first.areas.length}`);
  p(`Segments               ${lv.segments.length}`);
  p(`Allocation             ${lv.allocationPolicy ?? "inherit"}`);
  p(`Read ahead sectors     ${readAheadText(lv)}`);
  if (lv.status.includes("FIXED_MINOR")) {
    if (lv.major !== undefined && lv.major >= 0) p(`Persistent major       ${lv.major}`);
    p(`Persistent minor       ${lv.minor ?? -1}`);
  }
  p(" ");
}

function displayArea(out: Out, view: VgView, seg: Segment, area: Area, pre: string): void {
  const perArea = segAreaLen(seg);
  if (area.kind === "pv") {
    out.print(`${pre}Physical volume\t${pvDeviceName(view, area.pvId)}`);
    out.print(`${pre}Physical extents\t${area.pe} to ${area.pe + perArea - 1}`);
  } else {
    out.print(`${pre}Logical volume\t${area.lv}`);
    out.print(`${pre}Logical extents\t${area.le} to ${area.le + perArea - 1}`);
  }
}

function lvdisplaySegments(out: Out, view: VgView, lv: LogicalVolume): void {
  const p = out.print;
  p("--- Segments ---");
  const virtual = lv.segments.length > 0 && lv.segments.every((s) => s.areas.length === 0);
  for (const seg of lv.segments) {
    p(`${virtual ? "Virtual" : "Logical"} extents ${seg.startExtent} to ${seg.startExtent + seg.extentCount - 1}:`);
    p(`  Type\t\t${segtypeName(seg)}`);
    if (seg.type.startsWith("raid") || seg.type === "mirror") p("  Monitoring\t\t");
    if (seg.type === "striped") {
      if (seg.areas.length === 1) displayArea(out, view, seg, seg.areas[0]!, "  ");
      else {
        p(`  Stripes\t\t${seg.areas.length}`);
        p(`  Stripe size\t\t${size(out, seg.stripeSize ?? 0)}`);
        seg.areas.forEach((area, i) => {
          p(`  Stripe ${i}:`);
          displayArea(out, view, seg, area, "    ");
        });
      }
      p(" ");
    } else if (seg.type.startsWith("raid")) {
      seg.areas.forEach((area, i) => {
        p(`  Raid Data LV${String(i).padStart(2)}`);
        displayArea(out, view, seg, area, "    ");
      });
      seg.metaAreas.forEach((area, i) => {
        if (area.kind === "lv") p(`  Raid Metadata LV${String(i).padStart(2)}\t${area.lv}`);
      });
      p(" ");
    } else if (seg.type === "mirror") {
      p(`  Mirrors\t\t${seg.areas.length}`);
      p(`  Mirror size\t\t${seg.extentCount}`);
      if (seg.mirrorLog) p(`  Mirror log volume\t${seg.mirrorLog}`);
      if (seg.regionSize) p(`  Mirror region size\t${size(out, seg.regionSize)}`);
      const [original, ...destinations] = seg.areas;
      p("  Mirror original:");
      if (original) displayArea(out, view, seg, original, "    ");
      p("  Mirror destinations:");
      for (const area of destinations) displayArea(out, view, seg, area, "    ");
      p(" ");
    }
  }
  p(" ");
}

function lvdisplayColons(out: Out, view: VgView, lv: LogicalVolume): void {
  const rw = (statusBits(lv.status) & READ_WRITE) >> 8;
  const extents = lvExtents(lv);
  const fields = [
    lvPath(out, view.vg.name, lv.name), view.vg.name, rw, 0, -1, 0, extents * view.vg.extentSize, extents, -1,
    lv.allocationPolicy === "contiguous" ? 2 : 0, readAheadNumber(lv), -1, -1,
  ];
  out.print(fields.join(":"));
}

/** Options that only make sense for reports, which lvm refuses in the display forms. */
const REPORT_ONLY = ["aligned", "binary", "noheadings", "options", "separator", "sort", "unbuffered"];

function checkOptions(ctx: CommandContext, command: string): void {
  const bad = (line: string): never => {
    throw usageError(line);
  };
  const columnConflicts: Record<string, string[]> = {
    pvdisplay: ["colon", "maps", "short"],
    vgdisplay: ["colon", "activevolumegroups", "short"],
    lvdisplay: ["colon", "maps"],
  };
  if (ctx.has("columns")) {
    if (columnConflicts[command]!.some((o) => ctx.has(o))) bad("Incompatible options selected");
    return;
  }
  // pvdisplay's message has no full stop, unlike the other two (and pvdisplay also refuses -a here).
  if (command === "pvdisplay" && [...REPORT_ONLY, "all"].some((o) => ctx.has(o))) bad("Incompatible options selected");
  if (command !== "pvdisplay" && REPORT_ONLY.some((o) => ctx.has(o))) bad("Incompatible options selected.");
  if (ctx.has("colon") && ctx.has("maps"))
    bad(command === "lvdisplay" ? "Options -c and -m are incompatible." : "Option -c not allowed with option -m");
  if (ctx.has("colon") && ctx.has("short")) bad("Option -c is not allowed with option -s");
  if (command === "vgdisplay" && ctx.positional.length && ctx.has("activevolumegroups"))
    bad("Option -A is not allowed with volume group names");
}

async function display(ctx: CommandContext): Promise<number> {
  const command = ctx.parsed.command;
  checkOptions(ctx, command);
  if (ctx.has("columns")) return report(ctx, command.slice(0, 2) as ReportKind);
  const units = ctx.has("units") ? parseUnits(ctx.opt<string>("units")!) : DEFAULT_UNITS;
  const out: Out = { print: (line) => ctx.print(line), units, devDir: ctx.env.devDir.replace(/\/+$/, "") };
  const session = await ctx.session();

  if (command === "pvdisplay") {
    const selection = selectPvs(ctx, session, ctx.positional);
    for (const { view, pv: pvView } of pvRows(selection)) {
      const pv = pvFacts(view, pvView);
      if (ctx.has("short")) {
        const free = pv.orphan ? pv.size : (pv.peCount - pv.allocated) * pv.peSize;
        ctx.print(`Device "${pv.name}" has a capacity of ${size(out, free)}`);
        continue;
      }
      if (pv.status & BIT.EXPORTED) ctx.print(`Physical volume "${pv.name}" of volume group "${pv.vgName}" is exported`);
      if (pv.orphan) ctx.print(`"${pv.name}" is a new physical volume of "${size(out, pv.size)}"`);
      if (ctx.has("colon")) pvdisplayColons(out, pv);
      else {
        pvdisplayFull(out, pv);
        if (ctx.has("maps")) pvdisplayMaps(out, view, pvView, pv);
      }
    }
    return selection.failed ? EXIT.FAILED : EXIT.OK;
  }

  if (command === "vgdisplay") {
    const { loaded, failed } = selectVgs(ctx, session, ctx.positional);
    // ulvm activates nothing yet, so no VG has active LVs.
    if (ctx.has("activevolumegroups")) return failed ? EXIT.FAILED : EXIT.OK;
    for (const view of loaded.map((l) => makeVgView(l, undefined))) {
      if (ctx.has("colon")) vgdisplayColons(out, view);
      else if (ctx.has("short")) vgdisplayShort(out, view);
      else {
        vgdisplayFull(out, view);
        if (ctx.has("verbose")) {
          for (const lv of view.vg.lvs.filter(isVisible)) lvdisplayFull(out, view, lv);
          ctx.print("--- Physical volumes ---");
          for (const pv of view.vg.pvs) pvdisplayShort(out, pvFacts(view, { pv, scanned: view.devices.get(pv.id) }));
        }
      }
    }
    return failed ? EXIT.FAILED : EXIT.OK;
  }

  if (command !== "lvdisplay") throw new LvmError(`Internal error: display cannot run ${command}.`);
  const { groups, failed: notFound } = await selectLvs(ctx, session, ctx.positional, { all: true, select: ctx.opt<string>("select") });
  const activation = await activationMap(ctx.env);
  let failed = notFound;
  for (const group of groups) {
    const { lvs } = group;
    const view = makeVgView(group.loaded, activation);
    for (const lv of lvs) {
      // Named hidden LVs are skipped silently unless -a, as lvm does.
      if (!ctx.has("all") && !isVisible(lv)) continue;
      if (ctx.has("colon")) lvdisplayColons(out, view, lv);
      else {
        lvdisplayFull(out, view, lv);
        if (ctx.has("maps")) lvdisplaySegments(out, view, lv);
      }
    }
    if (reportMissingLvs(ctx, group)) failed = true;
  }
  return failed ? EXIT.FAILED : EXIT.OK;
}

export function run(ctx: CommandContext): Promise<number> {
  return display(ctx);
}
