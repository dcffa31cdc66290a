/**
 * lvconvert's raid1 operations beyond image counts, on the model: splitting an
 * image off (tracked for a later merge, or kept as a new LV), merging a
 * tracked image back, and replacing failed or named images
 * (lib/metadata/raid_manip.c: lv_raid_split_and_track, lv_raid_split,
 * lv_raid_merge, _lv_raid_rebuild_or_replace), with lvm's checks in lvm's
 * order. What only the running array knows (is it in sync?) is passed in;
 * lvm's prompts are asked through `confirm` at the point lvm asks them.
 */
import { EXIT, LvmError } from "../errors.ts";
import { findLv, isPvMissing, isVisible, lvExtents, subLvRoles } from "../model/relations.ts";
import type { LogicalVolume, VolumeGroup } from "../model/types.ts";
import { displayLvName, requireLv, resolvePolicy, trackedImage, type NewLvStamp } from "./lv.ts";
import type { PvListEntry } from "./pv-map.ts";
import {
  allocImagePairs,
  checkMaxImages,
  checkNotTracking,
  extractImages,
  imageCount,
  isDegraded,
  isOnPvs,
  pvsOfLv,
  removeTopLayer,
  type RaidSync,
} from "./raid.ts";
import { DEFAULT_REGION_SIZE } from "./sizes.ts";

export type { RaidSync };

/** lvm's yes_no_prompt, asked with the question (without its " [y/n]: "); false keeps everything as it was. */
export type Confirm = (question: string) => boolean;

function notInSync(sync: RaidSync, line: string): LvmError {
  return new LvmError([...sync.notes, line], EXIT.FAILED);
}

/**
 * _raid_split_image_conversion: no conversion of a raid1 while it tracks a
 * split image, nor of the split image itself. lvm 2.03.16 cuts the last
 * character off the raid LV's name before looking it up, so for the image it
 * always says it cannot find the raid LV.
 */
export function checkSplitImageConversion(vg: VolumeGroup, lv: LogicalVolume): void {
  checkNotTracking(vg, lv);
  if (isVisible(lv) && subLvRoles(vg).get(lv.name)?.kind === "raid_image" && lv.name.includes("_rimage_"))
    throw new LvmError(`Failed to find RaidLV of RAID subvolume ${displayLvName(vg, lv.name)}.`, EXIT.FAILED);
}

export interface ImageCountRequest {
  /** -m/--mirrors as given: "+"/"-" change the count of copies, "" sets it. */
  mirrors?: { sign: "" | "+" | "-"; value: number };
  /** --splitmirrors N. */
  split?: number;
  /** --trackchanges. */
  track?: boolean;
}

/**
 * _lvconvert_raid's checks before the kernel is asked anything: the image
 * count the command asks for (the current one when it asks for none).
 */
export function requestedImageCount(vg: VolumeGroup, lv: LogicalVolume, req: ImageCountRequest): number {
  checkSplitImageConversion(vg, lv);
  const current = imageCount(lv);
  if (!req.mirrors && req.split === undefined) return current;
  let count: number;
  if (req.split !== undefined) count = current - req.split;
  else {
    const { sign, value } = req.mirrors!;
    count = sign === "+" ? current + value : sign === "-" ? current - value : value + 1;
  }
  if (count < 1)
    throw new LvmError(`Unable to ${req.split !== undefined ? "split" : "reduce"} images by specified amount.`, EXIT.FAILED);
  if (req.track && req.split !== 1)
    throw new LvmError(`Exactly one image must be split off from ${displayLvName(vg, lv.name)} when tracking changes.`, EXIT.FAILED);
  checkMaxImages(vg, lv, count);
  return count;
}

/**
 * lvconvert --splitmirrors 1 --trackchanges: the highest-numbered image on
 * the given PVs becomes visible and read-only; it stays in the raid1's image
 * list, where the tracking shows. A 2-legged raid1 asks first.
 */
export function planSplitAndTrack(
  vg: VolumeGroup,
  lvName: string,
  pvs: PvListEntry[] | undefined,
  sync: RaidSync,
  confirm: Confirm,
): { vg: VolumeGroup; image: string } {
  const work = structuredClone(vg);
  const lv = requireLv(work, lvName);
  const display = displayLvName(work, lvName);
  const seg = lv.segments[0]!;
  if (seg.type !== "raid1") throw new LvmError("Unable to split images from non-mirrored RAID.", EXIT.FAILED);
  if (!sync.inSync) throw notInSync(sync, `Unable to split image from ${display} while not in-sync.`);
  if (trackedImage(work, lv)) throw new LvmError("Cannot track more than one split image at a time.", EXIT.FAILED);
  if (
    seg.areas.length === 2 &&
    !confirm(`Are you sure you want to split and track raid1 LV ${display} losing resilience for any newly written data?`)
  )
    throw new LvmError(`Logical volume ${display} NOT split.`, EXIT.FAILED);

  const targets = new Set((pvs ?? work.pvs.map((pv) => ({ pvId: pv.id }))).map((p) => p.pvId));
  for (let s = seg.areas.length - 1; s >= 0; s--) {
    const image = requireLv(work, (seg.areas[s] as { lv: string }).lv);
    if (!isOnPvs(work, image, targets)) continue;
    image.status = [...image.status.filter((f) => f !== "WRITE"), "VISIBLE"];
    return { vg: work, image: image.name };
  }
  throw new LvmError("Unable to find image to satisfy request.", EXIT.FAILED);
}

/**
 * lvconvert --splitmirrors 1 --name NEW: one image leaves the raid1 as the
 * new visible LV NEW (later images are renamed down, its rmeta is removed);
 * a raid1 left with one image becomes linear. Splitting a 2-legged raid1
 * asks first.
 */
export function planSplitAndKeep(
  vg: VolumeGroup,
  lvName: string,
  newName: string,
  newCount: number,
  pvs: PvListEntry[] | undefined,
  sync: RaidSync,
  confirm: Confirm,
): VolumeGroup {
  const work = structuredClone(vg);
  const lv = requireLv(work, lvName);
  const display = displayLvName(work, lvName);
  const seg = lv.segments[0]!;
  if (imageCount(lv) - newCount !== 1) throw new LvmError(`Unable to split more than one image from ${display}.`, EXIT.FAILED);
  if (seg.type !== "raid1") throw new LvmError(`Unable to split logical volume of segment type, ${seg.type}.`, EXIT.FAILED);
  if (findLv(work, newName)) throw new LvmError(`Logical Volume "${newName}" already exists in ${work.name}.`, EXIT.FAILED);
  if (!sync.inSync) throw notInSync(sync, `Unable to split ${display} while it is not in-sync.`);
  if (newCount === 1 && !confirm(`Are you sure you want to split raid1 LV ${display} losing all resilience?`))
    throw new LvmError(`Logical volume ${display} NOT split.`, EXIT.FAILED);

  let pair;
  try {
    [pair] = extractImages(work, lv, 1, { pvs, shift: true });
  } catch (e) {
    if (e instanceof LvmError) throw new LvmError([...e.lines, `Failed to extract images from ${display}.`], EXIT.FAILED);
    throw e;
  }
  const removed = [pair!.meta];
  if (newCount === 1) removed.push(...removeTopLayer(work, lv));
  pair!.image.name = newName;
  pair!.image.status = [...pair!.image.status, "VISIBLE"];
  work.lvs = work.lvs.filter((l) => !removed.includes(l));
  return work;
}

/**
 * lvconvert --merge of an image split off with --trackchanges: it becomes a
 * hidden image again, writable if the raid1 is. lvm checks nothing about its
 * content. The caller deactivates the image before committing.
 */
export function planMerge(vg: VolumeGroup, imageName: string): { vg: VolumeGroup; raidLv: string } {
  const work = structuredClone(vg);
  const image = requireLv(work, imageName);
  const display = displayLvName(work, imageName);
  if (image.status.includes("WRITE"))
    throw new LvmError(`${display} cannot be merged because --trackchanges was not used.`, EXIT.FAILED);
  const at = imageName.indexOf("_rimage_");
  if (at < 0) throw new LvmError(`Unable to merge non-raid image ${display}.`, EXIT.FAILED);
  const raid = findLv(work, imageName.slice(0, at));
  if (!raid) throw new LvmError(`Unable to find containing RAID array for ${display}.`, EXIT.FAILED);
  const seg = raid.segments[0];
  const slot = seg?.areas.findIndex((a) => a.kind === "lv" && a.lv === imageName) ?? -1;
  if (slot < 0 || seg?.metaAreas[slot]?.kind !== "lv")
    throw new LvmError(`Failed to find meta for ${display} in RAID array ${displayLvName(work, raid.name)}.`, EXIT.FAILED);
  image.status = [...image.status.filter((f) => f !== "VISIBLE"), ...(raid.status.includes("WRITE") ? ["WRITE"] : [])];
  return { vg: work, raidLv: raid.name };
}

export interface ReplaceRequest extends NewLvStamp {
  /** PVs whose images go: --replace's, or the missing PVs for --repair (may be none). */
  removePvs: PvListEntry[];
  /** PVs the new images may use (those named after the LV); every PV of the VG when absent. */
  allocatePvs?: PvListEntry[];
  sync: RaidSync;
  /**
   * Images the running array has failed ('D' in dm-raid's health) on PVs still present: a repair's
   * check of the kernel status (lv_check_transient) marks them partial, so they are replaced too.
   */
  deadImages?: string[];
}

export interface ReplaceResult {
  vg: VolumeGroup;
  /** Pairs replaced; 0 when there was nothing to replace. */
  replaced: number;
  /** What lvm prints on the way to a success: that there was nothing to replace. */
  printed: string[];
  /** The errors lvm logs on the way to a partial success: the pairs it found no room for. */
  warnings: string[];
}

/**
 * --repair / --replace (_lv_raid_rebuild_or_replace): every pair with an
 * error segment, on a missing PV, with an image the array failed or on a PV
 * to remove gets a new rmeta and rimage under the same names, allocated away
 * from the PVs holding the other images. When a repair of a partial LV cannot
 * find room for all of them, fewer are tried, as lvm does. The old pairs are
 * removed.
 */
export function planReplace(vg: VolumeGroup, lvName: string, req: ReplaceRequest): ReplaceResult {
  const work = structuredClone(vg);
  const lv = requireLv(work, lvName);
  const display = displayLvName(work, lvName);
  const seg = lv.segments[0]!;
  if (!req.sync.inSync) throw notInSync(req.sync, `Unable to replace devices in ${display} while it is not in-sync.`);

  const removeIds = new Set(req.removePvs.map((p) => p.pvId));
  const dead = new Set(req.deadImages);
  const missingPv = (id: string) => isPvMissing(work, id);
  // lvm's PARTIAL_LV: on a missing PV, or failed by the array.
  const partialSub = (name: string) => dead.has(name) || pvsOfLv(work, requireLv(work, name), true).some(missingPv);
  const pairs = seg.areas.map((area, s) => [(area as { lv: string }).lv, (seg.metaAreas[s] as { lv: string }).lv] as const);
  const matched = pairs.filter((pair) =>
    pair.some((name) => isDegraded(work, name) || dead.has(name) || isOnPvs(work, requireLv(work, name), removeIds)),
  ).length;
  if (!matched) {
    const line = `${display} does not contain devices specified to replace.`;
    if (req.removePvs.length) throw new LvmError(`Logical volume ${line}`, EXIT.FAILED);
    return { vg: work, replaced: 0, printed: [line], warnings: [] };
  }
  if (matched === seg.areas.length) throw new LvmError(`Unable to replace all PVs from ${display} at once.`, EXIT.FAILED);

  // _avoid_pvs_with_other_images_of_lv: no PV holding a sub-LV that is not partial may take a new one.
  const prohibited = new Set<string>();
  for (const name of pairs.flat()) if (!partialSub(name)) pvsOfLv(work, requireLv(work, name), true).forEach((id) => prohibited.add(id));
  const allowed = (req.allocatePvs ?? work.pvs.map((pv) => ({ pvId: pv.id }))).filter((p) => !prohibited.has(p.pvId));
  const partial = dead.size > 0 || pvsOfLv(work, lv, true).some(missingPv);
  const imageLen = lvExtents(requireLv(work, pairs[0]![0]));
  const regionSize = seg.regionSize ?? DEFAULT_REGION_SIZE;
  const policy = resolvePolicy(work, lv.allocationPolicy);

  const notes: string[] = [];
  let count = matched;
  let added: ReturnType<typeof allocImagePairs> | undefined;
  while (!added) {
    try {
      added = allocImagePairs(work, lv, count, { segtype: "raid0_meta", extents: imageLen * count, regionSize, pvs: allowed, policy }, req);
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      notes.push(...e.lines);
      if (!partial) throw new LvmError([...notes, `LV ${display} in not partial.`], EXIT.FAILED);
      // A repair does what it can: one pair fewer each time. (lvm's last resort, freeing the failed segment of a
      // multi-segment image to make room, is not modelled: it gives up here as lvm does for single-segment images.)
      if (!--count) throw new LvmError(notes, EXIT.FAILED);
      notes.push(`Failed to replace ${count + 1} devices.`, `Attempting to replace ${count} instead.`);
    }
  }

  // A failed image is taken out by its PVs: those of the other images are other PVs.
  const targets = [...req.removePvs, ...[...dead].flatMap((name) => pvsOfLv(work, requireLv(work, name), true).map((pvId) => ({ pvId })))];
  let extracted;
  try {
    extracted = extractImages(work, lv, count, { pvs: targets.length ? targets : undefined, shift: false });
  } catch (e) {
    if (e instanceof LvmError)
      throw new LvmError([...notes, ...e.lines, `Failed to remove the specified images from ${display}.`], EXIT.FAILED);
    throw e;
  }
  extracted.sort((a, b) => a.slot - b.slot);
  extracted.forEach((old, i) => {
    const meta = added!.metas[i]!;
    const image = added!.images[i]!;
    meta.name = old.metaName;
    image.name = old.imageName;
    seg.areas[old.slot] = { kind: "lv", lv: image.name, le: 0 };
    seg.metaAreas[old.slot] = { kind: "lv", lv: meta.name, le: 0 };
  });
  const gone = new Set(extracted.flatMap((p) => [p.image, p.meta]));
  work.lvs = work.lvs.filter((l) => !gone.has(l));
  return { vg: work, replaced: count, printed: [], warnings: notes };
}
