/**
 * lvconvert -m N on raid1 (and linear to raid1): adding image pairs placed
 * away from the PVs of the existing images, and removing pairs with the later
 * ones renamed down, as lib/metadata/raid_manip.c does. The result is the
 * state after the command; LVM's intermediate commits (REBUILD flags,
 * `_extracted` names) are not modelled.
 */
import { EXIT, LvmError } from "../errors.ts";
import { findLv, lvExtents } from "../model/relations.ts";
import type { LogicalVolume, VolumeGroup } from "../model/types.ts";
import { allocate, raidRmetaExtentsDelta } from "./allocator.ts";
import {
  addAllocatedSegments,
  displayLvName,
  newLv,
  raidSegment,
  requireLv,
  resolvePolicy,
  trackedImage,
  type NewLvStamp,
} from "./lv.ts";
import type { PvListEntry } from "./pv-map.ts";
import { DEFAULT_REGION_SIZE, ensureMinRegionSize } from "./sizes.ts";
import { displaySize } from "../report/units.ts";

/** DEFAULT_RAID1_MAX_IMAGES. */
const MAX_RAID1_IMAGES = 64;

export interface ImageOptions extends NewLvStamp {
  /** PVs named after the LV on the command line; all PVs of the VG when absent. */
  pvs?: PvListEntry[];
  /** --regionsize (sectors), when given. */
  regionSize?: number;
}

/** Image count of an LV: legs of a raid1, 1 for anything else. */
function imageCount(lv: LogicalVolume): number {
  const seg = lv.segments[0];
  return seg?.type.startsWith("raid") ? seg.areas.length : 1;
}

function isLinear(lv: LogicalVolume): boolean {
  return lv.segments.length > 0 && lv.segments.every((s) => s.type === "striped" && s.areas.length === 1);
}

/** PVs an LV's extents lie on, including those of its sub-LVs, in order of first use. */
function pvsOfLv(vg: VolumeGroup, lv: LogicalVolume, withMeta: boolean, into: string[] = []): string[] {
  for (const seg of lv.segments)
    for (const area of withMeta ? [...seg.areas, ...seg.metaAreas] : seg.areas) {
      if (area.kind === "pv") {
        if (!into.includes(area.pvId)) into.push(area.pvId);
      } else {
        const sub = findLv(vg, area.lv);
        if (sub) pvsOfLv(vg, sub, withMeta, into);
      }
    }
  return into;
}

function isOnPvs(vg: VolumeGroup, lv: LogicalVolume, pvIds: Set<string>): boolean {
  return pvsOfLv(vg, lv, true).some((id) => pvIds.has(id));
}

/** generate_lv_name: one more than the highest index already used with this prefix. */
function nextFreeName(vg: VolumeGroup, prefix: string): string {
  let high = -1;
  for (const lv of vg.lvs) {
    const m = lv.name.startsWith(prefix) ? /^[+-]?\d+/.exec(lv.name.slice(prefix.length)) : null;
    if (m) high = Math.max(high, Number(m[0]));
  }
  return `${prefix}${high + 1}`;
}

/** A hidden sub-LV appended to the VG, as lv_create_empty does (its policy is inherit). */
function newSubLv(vg: VolumeGroup, name: string, opts: ImageOptions): LogicalVolume {
  const lv = newLv(name, ["READ", "WRITE"], undefined, opts);
  vg.lvs.push(lv);
  return lv;
}

function checkNotTracking(vg: VolumeGroup, lv: LogicalVolume): void {
  if (trackedImage(vg, lv))
    throw new LvmError(`Conversion of tracking raid1 LV ${displayLvName(vg, lv.name)} is not supported.`, EXIT.FAILED);
}

/** An image or its rmeta replaced by an error segment or on a missing PV. */
function isDegraded(vg: VolumeGroup, name: string): boolean {
  const lv = findLv(vg, name);
  if (!lv || lv.segments.some((s) => s.type === "error")) return true;
  return pvsOfLv(vg, lv, false).some((id) => vg.pvs.find((p) => p.id === id)?.flags.includes("MISSING"));
}

function failedPairs(vg: VolumeGroup, lv: LogicalVolume): number {
  const seg = lv.segments[0]!;
  return seg.areas.filter((area, s) => {
    const meta = seg.metaAreas[s];
    return (area.kind === "lv" && isDegraded(vg, area.lv)) || (meta?.kind === "lv" && isDegraded(vg, meta.lv));
  }).length;
}

/**
 * Region size handed in by lvconvert (its own or --regionsize), doubled if the
 * bitmap would need more than 2^21 regions, with LVM's notice.
 */
function adjustRegionSize(vg: VolumeGroup, lv: LogicalVolume, regionSize: number, notes: string[]): number {
  const adjusted = ensureMinRegionSize(lvExtents(lv) * vg.extentSize, regionSize);
  if (adjusted !== regionSize)
    notes.push(
      `Adjusting region size of ${displayLvName(vg, lv.name)} LV from ${displaySize(regionSize)} to ${displaySize(adjusted)}.`,
    );
  return adjusted;
}

/**
 * lvconvert -m (newLegCount - 1) growing a raid1 (or turning a linear LV into
 * one): each new rmeta/rimage pair is allocated away from the PVs holding the
 * existing images and named with the next free index. Informational lines go
 * to `notes`.
 */
/** The copy of the VG an image count change works on, once the LV is known not to be tracking a split image. */
function imageChangeOf(vg: VolumeGroup, lvName: string): { work: VolumeGroup; lv: LogicalVolume; display: string } {
  const work = structuredClone(vg);
  const lv = requireLv(work, lvName);
  const display = displayLvName(work, lvName);
  checkNotTracking(work, lv);
  return { work, lv, display };
}

export function raidAddImages(
  vg: VolumeGroup,
  lvName: string,
  newLegCount: number,
  opts: ImageOptions,
  notes: string[],
): VolumeGroup {
  const { work, lv, display } = imageChangeOf(vg, lvName);
  if (newLegCount > MAX_RAID1_IMAGES)
    throw new LvmError(`Only up to ${MAX_RAID1_IMAGES} mirrors in raid1 LV ${display} supported currently.`, EXIT.FAILED);
  const linear = isLinear(lv);
  const seg = lv.segments[0]!;
  if (!linear && seg.type !== "raid1")
    throw new LvmError(`Unable to add RAID images to ${display} of segment type ${seg.type}.`, EXIT.FAILED);
  const oldCount = imageCount(lv);
  const adjusted = adjustRegionSize(work, lv, opts.regionSize ?? seg.regionSize ?? DEFAULT_REGION_SIZE, notes);
  if (!linear) seg.regionSize = adjusted;
  if (!linear && failedPairs(work, lv))
    throw new LvmError(
      [`Can't change number of mirrors of degraded ${display}.`, `Please run "lvconvert --repair ${display}" first.`],
      EXIT.FAILED,
    );
  if (newLegCount === oldCount) {
    notes.push(`WARNING: ${display} already has image count of ${newLegCount}.`);
    return work;
  }
  if (lv.status.includes("NOTSYNCED"))
    throw new LvmError("Can't add image to out-of-sync RAID LV: use 'lvchange --resync' first.", EXIT.FAILED);

  const count = newLegCount - oldCount;
  const lvPolicy = resolvePolicy(work, lv.allocationPolicy);
  const metas: LogicalVolume[] = [];
  let regionSize = seg.regionSize ?? DEFAULT_REGION_SIZE;
  if (linear) {
    // LVM ignores --regionsize here and starts again from the default.
    regionSize = ensureMinRegionSize(lvExtents(lv) * work.extentSize, DEFAULT_REGION_SIZE);
    metas.push(allocRmetaForLinear(work, lv, regionSize, lvPolicy, opts));
  }

  const imageLen = linear ? lvExtents(lv) : lvExtents(requireLv(work, (seg.areas[0] as { lv: string }).lv));
  const ah = allocate({
    vg: work,
    segtype: linear ? "raid1" : "raid0_meta",
    stripes: 0,
    mirrors: count,
    metadataAreaCount: count,
    regionSize,
    extents: linear ? imageLen : imageLen * count,
    lvName: "",
    pvs: opts.pvs,
    policy: lvPolicy,
    approx: false,
    parallelAreas: [{ le: 0, len: lvExtents(lv), pvs: new Set(pvsOfLv(work, lv, false)) }],
  });
  const images: LogicalVolume[] = [];
  for (let s = 0; s < count; s++) {
    const meta = newSubLv(work, nextFreeName(work, `${lvName}_rmeta_`), opts);
    addAllocatedSegments(meta, ah, s + count, 1);
    metas.push(meta);
    const image = newSubLv(work, nextFreeName(work, `${lvName}_rimage_`), opts);
    addAllocatedSegments(image, ah, s, 1);
    images.push(image);
  }

  if (linear) {
    // The new images were named before the linear LV became rimage_0: shift them up by one.
    for (let i = images.length - 1; i >= 0; i--) images[i]!.name = `${lvName}_rimage_${i + 1}`;
    const layer = newSubLv(work, `${lvName}_rimage_0`, opts);
    layer.segments = lv.segments;
    lv.segments = [raidSegment(lvExtents(layer), regionSize, [layer, ...images], metas)];
  } else {
    seg.areas.push(...images.map((image) => ({ kind: "lv" as const, lv: image.name, le: 0 })));
    seg.metaAreas.push(...metas.map((meta) => ({ kind: "lv" as const, lv: meta.name, le: 0 })));
  }
  return work;
}

/** rmeta_0 for a linear LV becoming raid1, on the PVs the LV already uses. */
function allocRmetaForLinear(
  vg: VolumeGroup,
  lv: LogicalVolume,
  regionSize: number,
  policy: number,
  opts: ImageOptions,
): LogicalVolume {
  const ah = allocate({
    vg,
    segtype: "striped",
    stripes: 0,
    mirrors: 1,
    metadataAreaCount: 0,
    regionSize,
    extents: raidRmetaExtentsDelta(0, lvExtents(lv), regionSize, vg.extentSize),
    lvName: "",
    pvs: pvsOfLv(vg, lv, true).map((pvId) => ({ pvId })),
    policy,
    approx: false,
  });
  const meta = newSubLv(vg, nextFreeName(vg, `${lv.name}_rmeta_`), opts);
  addAllocatedSegments(meta, ah, 0, 1);
  return meta;
}

/**
 * lvconvert -m (newLegCount - 1) shrinking a raid1: images whose legs failed
 * (error segments) go first, then the highest-numbered images lying on the
 * given PVs (any PV when none are given); later pairs are renamed down to
 * close the gap. Down to one leg the LV becomes linear again.
 */
export function raidRemoveImages(
  vg: VolumeGroup,
  lvName: string,
  newLegCount: number,
  pvs: PvListEntry[] | undefined,
  notes: string[],
): VolumeGroup {
  const { work, lv, display } = imageChangeOf(vg, lvName);
  const seg = lv.segments[0]!;
  const oldCount = imageCount(lv);
  if (newLegCount === oldCount) {
    notes.push(`WARNING: ${display} already has image count of ${newLegCount}.`);
    return work;
  }
  if (seg.type !== "raid1") throw new LvmError(`Failed to extract images from ${display}.`, EXIT.FAILED);

  const targets = pvs ?? work.pvs.map((pv) => ({ pvId: pv.id }));
  const targetIds = new Set(targets.map((t) => t.pvId));
  let extract = oldCount - newLegCount;
  const failed = (...reasons: string[]): never => {
    throw new LvmError([...reasons, `Failed to extract images from ${display}.`], EXIT.FAILED);
  };
  if (targets.length < extract)
    failed(`Unable to remove ${extract} images:  Only ${targets.length} device${targets.length === 1 ? "" : "s"} given.`);

  const removed: LogicalVolume[] = [];
  const pair = (s: number) => ({ image: (seg.areas[s] as { lv: string }).lv, meta: (seg.metaAreas[s] as { lv: string }).lv });
  // Two passes from the last image down, as LVM loops over 2*n positions (n shrinking as pairs go).
  for (let ss = oldCount * 2 - 1; ss >= 0 && extract; ss--) {
    const n = seg.areas.length;
    const s = ss % n;
    const { image, meta } = pair(s);
    const imageLv = requireLv(work, image);
    const metaLv = requireLv(work, meta);
    if (Math.floor(ss / n)) {
      const isError = (x: LogicalVolume) => x.segments[0]?.type === "error";
      if (!isError(imageLv) && !isError(metaLv)) continue;
      if (pvs)
        failed(
          `${display} has components with error targets that must be removed first: ${displayLvName(work, image)}.`,
          "Try removing the PV list and rerun. the command.",
        );
    } else if (!isOnPvs(work, imageLv, targetIds) && !isOnPvs(work, metaLv, targetIds)) continue;

    // As LVM does, so that the renames below never meet a name still in use.
    imageLv.name += "_extracted";
    metaLv.name += "_extracted";
    removed.push(imageLv, metaLv);
    seg.areas.splice(s, 1);
    seg.metaAreas.splice(s, 1);
    for (let later = s; later < seg.areas.length; later++) {
      const names = pair(later);
      requireLv(work, names.meta).name = `${lvName}_rmeta_${later}`;
      requireLv(work, names.image).name = `${lvName}_rimage_${later}`;
      seg.areas[later] = { kind: "lv", lv: `${lvName}_rimage_${later}`, le: 0 };
      seg.metaAreas[later] = { kind: "lv", lv: `${lvName}_rmeta_${later}`, le: 0 };
    }
    extract--;
  }
  if (extract) failed("Unable to extract enough images to satisfy request.");

  if (newLegCount === 1) {
    const { image, meta } = pair(0);
    const imageLv = requireLv(work, image);
    lv.segments = imageLv.segments;
    lv.status = lv.status.filter((f) => f !== "NOTSYNCED" && f !== "WRITEMOSTLY");
    removed.push(imageLv, requireLv(work, meta));
  }
  work.lvs = work.lvs.filter((l) => !removed.includes(l));
  return work;
}
