/**
 * lvconvert -m N on raid1 (and linear to raid1): adding image pairs placed
 * away from the PVs of the existing images, and removing pairs with the later
 * ones renamed down, as lib/metadata/raid_manip.c does. The result is the
 * state after the command; LVM's intermediate commits (REBUILD flags,
 * `_extracted` names) are not modelled. Taking pairs out and allocating new
 * ones is shared with the splits and replacements of raid-split.ts.
 */
import { EXIT, LvmError } from "../errors.ts";
import { findLv, lvExtents } from "../model/relations.ts";
import type { LogicalVolume, Segment, VolumeGroup } from "../model/types.ts";
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
  /** What dm-raid says of a raid1 being grown (default: in sync). */
  sync?: RaidSync;
}

/** What lvm's _raid_in_sync finds out from the kernel, here from the daemon's status of the array. */
export interface RaidSync {
  /** dm-raid's sync ratio is 100%. */
  inSync: boolean;
  /** Lines lvm logs on the way: the status is unknown (LV not active), a split image is not there. */
  notes: string[];
}

const IN_SYNC: RaidSync = { inSync: true, notes: [] };

/** Image count of an LV: legs of a raid1, 1 for anything else. */
export function imageCount(lv: LogicalVolume): number {
  const seg = lv.segments[0];
  return seg?.type.startsWith("raid") ? seg.areas.length : 1;
}

function isLinear(lv: LogicalVolume): boolean {
  return lv.segments.length > 0 && lv.segments.every((s) => s.type === "striped" && s.areas.length === 1);
}

/** PVs an LV's extents lie on, including those of its sub-LVs, in order of first use. */
export function pvsOfLv(vg: VolumeGroup, lv: LogicalVolume, withMeta: boolean, into: string[] = []): string[] {
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

export function isOnPvs(vg: VolumeGroup, lv: LogicalVolume, pvIds: Set<string>): boolean {
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
function newSubLv(vg: VolumeGroup, name: string, opts: NewLvStamp): LogicalVolume {
  const lv = newLv(name, ["READ", "WRITE"], undefined, opts);
  vg.lvs.push(lv);
  return lv;
}

export function checkNotTracking(vg: VolumeGroup, lv: LogicalVolume): void {
  if (trackedImage(vg, lv))
    throw new LvmError(`Conversion of tracking raid1 LV ${displayLvName(vg, lv.name)} is not supported.`, EXIT.FAILED);
}

/** _sublv_is_degraded: an image or its rmeta replaced by an error segment or on a missing PV. */
export function isDegraded(vg: VolumeGroup, name: string): boolean {
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

export function checkMaxImages(vg: VolumeGroup, lv: LogicalVolume, count: number): void {
  if (count <= MAX_RAID1_IMAGES) return;
  throw new LvmError(`Only up to ${MAX_RAID1_IMAGES} mirrors in raid1 LV ${displayLvName(vg, lv.name)} supported currently.`, EXIT.FAILED);
}

/** The copy of the VG an image count change works on, once the LV is known not to be tracking a split image. */
function imageChangeOf(vg: VolumeGroup, lvName: string): { work: VolumeGroup; lv: LogicalVolume; display: string } {
  const work = structuredClone(vg);
  const lv = requireLv(work, lvName);
  const display = displayLvName(work, lvName);
  checkNotTracking(work, lv);
  return { work, lv, display };
}

/** The image LV at position `s` of a raid segment and its rmeta. */
function pairAt(vg: VolumeGroup, seg: Segment, s: number): { image: LogicalVolume; meta: LogicalVolume } {
  return { image: requireLv(vg, (seg.areas[s] as { lv: string }).lv), meta: requireLv(vg, (seg.metaAreas[s] as { lv: string }).lv) };
}

/**
 * _alloc_image_components: `count` new rmeta/rimage pairs for `lv`, their
 * extents away from the PVs its images use, appended to the VG (rmeta, then
 * rimage, per pair) under the next free names.
 */
export function allocImagePairs(
  vg: VolumeGroup,
  lv: LogicalVolume,
  count: number,
  req: { segtype: string; extents: number; regionSize: number; pvs?: PvListEntry[]; policy: number },
  opts: NewLvStamp,
): { metas: LogicalVolume[]; images: LogicalVolume[] } {
  const ah = allocate({
    vg,
    segtype: req.segtype,
    stripes: 0,
    mirrors: count,
    metadataAreaCount: count,
    regionSize: req.regionSize,
    extents: req.extents,
    lvName: "",
    pvs: req.pvs,
    policy: req.policy,
    approx: false,
    parallelAreas: [{ le: 0, len: lvExtents(lv), pvs: new Set(pvsOfLv(vg, lv, false)) }],
  });
  const metas: LogicalVolume[] = [];
  const images: LogicalVolume[] = [];
  for (let s = 0; s < count; s++) {
    const meta = newSubLv(vg, nextFreeName(vg, `${lv.name}_rmeta_`), opts);
    addAllocatedSegments(meta, ah, s + count, 1);
    metas.push(meta);
    const image = newSubLv(vg, nextFreeName(vg, `${lv.name}_rimage_`), opts);
    addAllocatedSegments(image, ah, s, 1);
    images.push(image);
  }
  return { metas, images };
}

/**
 * lvconvert -m (newLegCount - 1) growing a raid1 (or turning a linear LV into
 * one): each new rmeta/rimage pair is allocated away from the PVs holding the
 * existing images and named with the next free index. Informational lines go
 * to `notes`.
 */
export function raidAddImages(
  vg: VolumeGroup,
  lvName: string,
  newLegCount: number,
  opts: ImageOptions,
  notes: string[],
): VolumeGroup {
  const { work, lv, display } = imageChangeOf(vg, lvName);
  checkMaxImages(work, lv, newLegCount);
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
  // A linear LV counts as in sync (_raid_in_sync); a raid1 still copying may not grow.
  const sync = opts.sync ?? IN_SYNC;
  if (!linear && !sync.inSync) throw new LvmError([...sync.notes, "Can't add image to RAID LV that is still initializing."], EXIT.FAILED);

  const count = newLegCount - oldCount;
  const policy = resolvePolicy(work, lv.allocationPolicy);
  const metas: LogicalVolume[] = [];
  let regionSize = seg.regionSize ?? DEFAULT_REGION_SIZE;
  if (linear) {
    // LVM ignores --regionsize here and starts again from the default.
    regionSize = ensureMinRegionSize(lvExtents(lv) * work.extentSize, DEFAULT_REGION_SIZE);
    metas.push(allocRmetaForLinear(work, lv, regionSize, policy, opts));
  }

  const imageLen = linear ? lvExtents(lv) : lvExtents(pairAt(work, seg, 0).image);
  const added = allocImagePairs(
    work,
    lv,
    count,
    { segtype: linear ? "raid1" : "raid0_meta", extents: linear ? imageLen : imageLen * count, regionSize, pvs: opts.pvs, policy },
    opts,
  );
  metas.push(...added.metas);
  const { images } = added;

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

export interface ExtractOptions {
  /** The PVs named on the command line; every PV of the VG when absent (error images may then go first). */
  pvs?: PvListEntry[];
  /**
   * Later pairs move down to close the gap (removal, split); otherwise the
   * slot stays for a replacement pair under the same names.
   */
  shift: boolean;
  /** Image 0 goes only from an array in sync (default: in sync), or with --force. */
  sync?: RaidSync;
  force?: boolean;
}

/** The pairs _raid_extract_images took out, renamed `_extracted`, in the order taken, with the slot each had. */
export interface ExtractedPair {
  slot: number;
  image: LogicalVolume;
  meta: LogicalVolume;
  /** The names the pair had. */
  imageName: string;
  metaName: string;
}

/**
 * _raid_extract_images: takes `count` pairs out of a raid1 segment, first
 * those with error segments, then, from the last image down, those on the
 * target PVs. The pairs stay in the VG under `_extracted` names for the
 * caller to remove or reuse. Failures are the reasons lvm logs; the caller
 * adds its own last line.
 */
export function extractImages(vg: VolumeGroup, lv: LogicalVolume, count: number, opts: ExtractOptions): ExtractedPair[] {
  const seg = lv.segments[0]!;
  const display = displayLvName(vg, lv.name);
  const targetIds = new Set((opts.pvs ?? vg.pvs.map((pv) => ({ pvId: pv.id }))).map((t) => t.pvId));
  const extracted: ExtractedPair[] = [];
  const taken = new Set<number>();
  let extract = count;
  // Two passes from the last image down, as LVM loops over 2*n positions (n shrinking as pairs go).
  for (let ss = seg.areas.length * 2 - 1; ss >= 0 && extract; ss--) {
    const n = seg.areas.length;
    const s = ss % n;
    if (taken.has(s)) continue;
    const { image: imageLv, meta: metaLv } = pairAt(vg, seg, s);
    if (Math.floor(ss / n)) {
      const isError = (x: LogicalVolume) => x.segments[0]?.type === "error";
      if (!isError(imageLv) && !isError(metaLv)) continue;
      if (opts.pvs)
        throw new LvmError([
          `${display} has components with error targets that must be removed first: ${displayLvName(vg, imageLv.name)}.`,
          "Try removing the PV list and rerun. the command.",
        ]);
    } else {
      if (!isOnPvs(vg, imageLv, targetIds) && !isOnPvs(vg, metaLv, targetIds)) continue;
      const sync = opts.sync ?? IN_SYNC;
      if (s === 0 && !sync.inSync && !opts.force)
        throw new LvmError([
          ...sync.notes,
          "Unable to extract primary RAID image while RAID array is not in-sync (use --force option to replace).",
        ]);
    }

    extracted.push({ slot: s, image: imageLv, meta: metaLv, imageName: imageLv.name, metaName: metaLv.name });
    // As LVM does, so that the renames below never meet a name still in use.
    imageLv.name += "_extracted";
    metaLv.name += "_extracted";
    if (opts.shift) {
      seg.areas.splice(s, 1);
      seg.metaAreas.splice(s, 1);
      for (let later = s; later < seg.areas.length; later++) {
        const { image, meta } = pairAt(vg, seg, later);
        meta.name = `${lv.name}_rmeta_${later}`;
        image.name = `${lv.name}_rimage_${later}`;
        seg.areas[later] = { kind: "lv", lv: image.name, le: 0 };
        seg.metaAreas[later] = { kind: "lv", lv: meta.name, le: 0 };
      }
    } else {
      taken.add(s);
      seg.areas[s] = { kind: "lv", lv: imageLv.name, le: 0 };
      seg.metaAreas[s] = { kind: "lv", lv: metaLv.name, le: 0 };
    }
    extract--;
  }
  if (extract) throw new LvmError("Unable to extract enough images to satisfy request.");
  return extracted;
}

/** _raid_remove_top_layer: a raid1 left with one image becomes a linear LV on that image's extents. */
export function removeTopLayer(vg: VolumeGroup, lv: LogicalVolume): LogicalVolume[] {
  const { image, meta } = pairAt(vg, lv.segments[0]!, 0);
  lv.segments = image.segments;
  lv.status = lv.status.filter((f) => f !== "NOTSYNCED" && f !== "WRITEMOSTLY");
  return [image, meta];
}

export interface RemoveOptions extends Pick<ExtractOptions, "sync" | "force"> {
  /** Asked before a raid1 becomes linear; no answer keeps it (lvm's prompt, which -y answers). */
  confirm?: (question: string) => boolean;
}

/**
 * lvconvert -m (newLegCount - 1) shrinking a raid1: images whose legs failed
 * (error segments) go first, then the highest-numbered images lying on the
 * given PVs (any PV when none are given); later pairs are renamed down to
 * close the gap. Down to one leg the LV becomes linear again, once confirmed.
 */
export function raidRemoveImages(
  vg: VolumeGroup,
  lvName: string,
  newLegCount: number,
  pvs: PvListEntry[] | undefined,
  notes: string[],
  opts: RemoveOptions = {},
): VolumeGroup {
  const { work, lv, display } = imageChangeOf(vg, lvName);
  const seg = lv.segments[0]!;
  const oldCount = imageCount(lv);
  if (newLegCount === oldCount) {
    notes.push(`WARNING: ${display} already has image count of ${newLegCount}.`);
    return work;
  }
  const failedLine = `Failed to extract images from ${display}.`;
  if (seg.type !== "raid1") throw new LvmError(failedLine, EXIT.FAILED);

  const extract = oldCount - newLegCount;
  const targets = pvs ?? work.pvs;
  if (targets.length < extract)
    throw new LvmError(
      [`Unable to remove ${extract} images:  Only ${targets.length} device${targets.length === 1 ? "" : "s"} given.`, failedLine],
      EXIT.FAILED,
    );
  let removed: LogicalVolume[];
  try {
    removed = extractImages(work, lv, extract, { pvs, shift: true, sync: opts.sync, force: opts.force }).flatMap(
      (p) => [p.image, p.meta],
    );
  } catch (e) {
    if (e instanceof LvmError) throw new LvmError([...e.lines, failedLine], EXIT.FAILED);
    throw e;
  }

  if (newLegCount === 1) {
    const question = `Are you sure you want to convert raid1 LV ${display} to type linear losing all resilience?`;
    if (opts.confirm && !opts.confirm(question)) throw new LvmError(`Logical volume ${display} NOT converted.`, EXIT.FAILED);
    removed.push(...removeTopLayer(work, lv));
  }
  work.lvs = work.lvs.filter((l) => !removed.includes(l));
  return work;
}
