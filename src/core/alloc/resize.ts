/**
 * What lvextend/lvreduce/lvresize decide before touching extents
 * (lv_manip.c: _lvresize_prepare, _lvresize_adjust_extents): the new size from
 * -L/-l, the stripes of the extension, rounding to whole stripes, and LVM's
 * refusals. The plan is then carried out with extendLv or reduceLv.
 */
import { EXIT, LvmError } from "../errors.ts";
import { findLv, lvExtents } from "../model/relations.ts";
import type { LogicalVolume, Segment, VolumeGroup } from "../model/types.ts";
import { calcAreaMultiple, segAreaLen, segTypeInfo } from "./allocator.ts";
import { checkResizable, DEFAULT_STRIPE_SIZE, displayLvName, requireLv, STRIPE_SIZE_MIN } from "./lv.ts";
import type { PvListEntry } from "./pv-map.ts";
import { resizeExtentsFromPercent, resizeExtentsFromSize, vgFreeExtents, type PercentKind, type Sign } from "./sizes.ts";
import { displaySize } from "../report/units.ts";

export interface ResizeSpec {
  command: "lvextend" | "lvreduce" | "lvresize";
  sign: Sign;
  /** -L, in sectors. */
  size?: number;
  /** -l: a count, or a percentage with `percent`. */
  extents?: number;
  percent?: PercentKind;
  /** -i / -I (sectors). */
  stripes?: number;
  stripeSize?: number;
  pvs?: PvListEntry[];
  /** For %ORIGIN on a snapshot. */
  originExtents?: number;
}

export interface ResizePlan {
  kind: "extend" | "reduce";
  /** Logical extents to add (at most, with `approx`) or remove. */
  extents: number;
  approx: boolean;
  stripes: number;
  stripeSize?: number;
}

function lvPeCount(vg: VolumeGroup, lv: LogicalVolume): number {
  let total = 0;
  for (const seg of lv.segments) {
    for (const area of seg.areas) if (area.kind === "pv") total += segAreaLen(seg);
    for (const area of [...seg.areas, ...seg.metaAreas]) {
      const sub = area.kind === "lv" ? findLv(vg, area.lv) : undefined;
      if (sub) total += lvPeCount(vg, sub);
    }
  }
  return total;
}

/** Stripes of a segment, looking through raid1 to its first striped image. */
function segStripes(vg: VolumeGroup, seg: Segment): { stripes: number; stripeSize?: number } {
  let s = seg;
  if (segTypeInfo(seg.type).mirrored)
    for (const area of seg.areas) {
      const first = area.kind === "lv" ? findLv(vg, area.lv)?.segments[0] : undefined;
      if (first?.type === "striped") {
        s = first;
        break;
      }
    }
  const info = segTypeInfo(s.type);
  if (s.type === "striped") return { stripes: s.areas.length, stripeSize: s.stripeSize };
  if (info.raid) return { stripes: s.areas.length - info.parity, stripeSize: s.stripeSize };
  return { stripes: 0 };
}

/** The resize to carry out, or LVM's refusal; informational lines go to `notes` as LVM prints them. */
export function planResize(vg: VolumeGroup, lvName: string, spec: ResizeSpec, notes: string[]): ResizePlan {
  const lv = requireLv(vg, lvName);
  checkResizable(vg, lv);
  const display = displayLvName(vg, lvName);
  const fail = (line: string): never => {
    throw new LvmError(line, EXIT.FAILED);
  };
  const existingLogical = lvExtents(lv);

  let requested = spec.extents ?? 0;
  let extentsArePes = false;
  let approx = false;
  if (spec.size !== undefined) {
    requested = resizeExtentsFromSize(spec.size, vg.extentSize, spec.sign, notes);
  } else if (spec.percent) {
    const p = resizeExtentsFromPercent(
      vg,
      { percent: requested, kind: spec.percent, sign: spec.sign, lvExtents: existingLogical, pvs: spec.pvs, originExtents: spec.originExtents },
      notes,
    );
    ({ extents: requested, extentsArePes, approx } = p);
  }

  let existingPhysical = lvPeCount(vg, lv);
  if (!existingPhysical) {
    existingPhysical = existingLogical;
    extentsArePes = false;
  }
  const existing = extentsArePes ? existingPhysical : existingLogical;
  const reducing = spec.sign === "-" || (spec.sign === "" && requested < existing);
  const last = lv.segments[lv.segments.length - 1]!;
  let stripes = spec.stripes ?? 0;
  let stripeSize = spec.stripeSize;
  let newExtents: number;
  let segSize: number;

  if (!reducing) {
    const mirrored = segTypeInfo(last.type).mirrored;
    if (mirrored) notes.push(`Extending ${last.areas.length} mirror images.`);
    if (!(stripes === 1 || (stripes > 1 && stripeSize))) {
      let segStripeCount = 0;
      let segStripeSize: number | undefined;
      const first = last.areas[0];
      const segs = mirrored && first?.kind === "lv" ? (findLv(vg, first.lv)?.segments ?? []) : lv.segments;
      for (const seg of segs) {
        const info = segTypeInfo(seg.type);
        if (seg.type !== "striped" && (!info.raid || info.mirrored) && !info.raid10) continue;
        const sz = seg.stripeSize;
        const str = seg.areas.length;
        if ((segStripeSize && segStripeSize !== sz && sz && !stripeSize) || (segStripeCount && segStripeCount !== str && !stripes))
          fail("Please specify number of stripes (-i) and stripesize (-I)");
        segStripeSize = sz;
        segStripeCount = str;
      }
      if (!stripes) stripes = segStripeCount;
      else if (lv.segments[0]!.type.startsWith("raid") && stripes !== segStripeCount)
        fail(`Unable to extend "${lv.segments[0]!.type}" segment type with different number of stripes.`);
      if (!stripeSize && stripes > 1) {
        if (segStripeSize) {
          notes.push(`Using stripesize of last segment ${displaySize(segStripeSize)}`);
          stripeSize = segStripeSize;
        } else {
          stripeSize = DEFAULT_STRIPE_SIZE;
          notes.push(`Using default stripesize ${displaySize(stripeSize)}`);
        }
      }
    }
    segSize = spec.sign === "+" ? requested : requested - existing;
    if (extentsArePes && last.type !== "striped") {
      const multiple = calcAreaMultiple(last.type, last.areas.length, 0);
      segSize = Math.floor((segSize * multiple) / (last.areas.length - segTypeInfo(last.type).parity));
      segSize = Math.floor(segSize / multiple) * multiple;
    }
    if (segSize >= 0xffffffff - existingLogical)
      fail(`Unable to extend ${display} by ${segSize} logical extents: exceeds limit (${0xffffffff}).`);
    newExtents = existingLogical + segSize;
  } else {
    if (spec.stripes || spec.stripeSize) notes.push("Ignoring stripes, stripesize and mirrors arguments when reducing.");
    let target: number;
    if (spec.sign === "-") {
      if (requested >= existing) fail(`Unable to reduce ${display} below 1 extent.`);
      target = existing - requested;
    } else target = requested;
    newExtents = requested;
    segSize = 0;
    let logicalUsed = 0;
    let physicalUsed = 0;
    stripes = 0;
    stripeSize = undefined;
    for (const seg of lv.segments) {
      const segPhysical = segAreaLen(seg) * seg.areas.length;
      ({ stripes, stripeSize } = segStripes(vg, seg));
      const mirrors = segTypeInfo(seg.type).mirrored ? seg.areas.length : 0;
      if (extentsArePes ? target <= physicalUsed + segPhysical : target <= logicalUsed + seg.extentCount) {
        segSize = extentsArePes ? Math.floor((target - physicalUsed) / (mirrors || 1)) : target - logicalUsed;
        newExtents = logicalUsed + segSize;
        break;
      }
      logicalUsed += seg.extentCount;
      physicalUsed += segPhysical;
    }
  }

  if (!newExtents) fail("New size of 0 not permitted.");
  if (newExtents === existingLogical)
    fail(`New size (${newExtents} extents) matches existing size (${existingLogical} extents).`);

  if (stripes > 1) {
    if ((stripeSize ?? 0) < STRIPE_SIZE_MIN) fail(`Invalid stripe size ${displaySize(stripeSize ?? 0)}.`);
    const stripeExtents = stripes * (stripeSize! > vg.extentSize ? Math.floor(stripeSize! / vg.extentSize) : 1);
    const rest = segSize % stripeExtents;
    const roundUp =
      newExtents < existingLogical ||
      !spec.percent ||
      vgFreeExtents(vg) >= newExtents - existingLogical - rest + stripeExtents;
    if (rest && roundUp) {
      notes.push(
        `Rounding size (${newExtents} extents) up to stripe boundary size for segment (${newExtents - rest + stripeExtents} extents).`,
      );
      newExtents = newExtents - rest + stripeExtents;
    } else if (rest) {
      notes.push(`Rounding size (${newExtents} extents) down to stripe boundary size for segment (${newExtents - rest} extents)`);
      newExtents -= rest;
    }
  }

  if (newExtents < existingLogical) {
    if (spec.command === "lvextend")
      fail(`New size given (${newExtents} extents) not larger than existing size (${existingLogical} extents)`);
  } else if (newExtents > existingLogical) {
    if (spec.command === "lvreduce")
      fail(`New size given (${newExtents} extents) not less than existing size (${existingLogical} extents)`);
  } else fail(`New size (${newExtents} extents) matches existing size (${existingLogical} extents)`);

  const kind = newExtents < existingLogical ? "reduce" : "extend";
  if (kind === "reduce" && spec.pvs) notes.push("Ignoring PVs on command line when reducing.");
  return {
    kind,
    extents: Math.abs(newExtents - existingLogical),
    approx,
    stripes: kind === "extend" ? stripes || last.areas.length : stripes,
    stripeSize,
  };
}
