/**
 * Puts the raid engine under an active LV: one Raid1Array per raid1 segment,
 * its legs placed on the VG's open PVs (rmetas on the PVs' durable handles),
 * with what the metadata says of the LV (--nosync, recovery rate, split images).
 */
import { findLv, segExtraInt } from "../core/model/relations.ts";
import type { Segment, VolumeGroup } from "../core/model/types.ts";
import type { ExtendedDevice } from "../io/discard.ts";
import { LvDevice } from "../datapath/lv-device.ts";
import type { LvMap, MirrorTarget, SubLv } from "../datapath/mapping.ts";
import { Raid1Array, type LegDevices, type Placement } from "../raid/raid1.ts";
import { ImageTracker } from "../raid/tracked-image.ts";
import { compileLv } from "../datapath/mapping.ts";
import { subLvRoles } from "../core/model/relations.ts";

/** 2 MiB: lvm's default region size, for metadata that gives none. */
const DEFAULT_REGION = 2 << 20;

/** dm-error: what an image replaced by an error segment reads and writes through. */
const ERROR_DEVICE: ExtendedDevice = {
  path: "error",
  size: Number.MAX_SAFE_INTEGER,
  read: () => Promise.reject(Object.assign(new Error("EIO: error target"), { code: "EIO" })),
  write: () => Promise.reject(Object.assign(new Error("EIO: error target"), { code: "EIO" })),
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

/** Every PV a map reaches, through its sub-LVs too. */
export function pvIdsOf(map: LvMap, into = new Set<string>()): Set<string> {
  for (const id of map.pvs) into.add(id);
  for (const m of map.mirrors) for (const sub of [...m.images, ...m.metas]) pvIdsOf(sub.map, into);
  return into;
}

/** Where a sub-LV's bytes are: straight on a PV when it is one run there, else through a device of its own; undefined when any of it is missing or an error segment. */
function place(sub: SubLv, pvs: ReadonlyMap<string, ExtendedDevice>): Placement | undefined {
  const runs = sub.map.runs;
  for (const run of runs) {
    const t = run.target;
    if (t.kind !== "pv" && t.kind !== "striped") return undefined;
    const areas = t.kind === "pv" ? [t] : t.areas;
    if (areas.some((a) => !pvs.has(a.pv))) return undefined;
  }
  const only = runs.length === 1 ? runs[0]!.target : undefined;
  if (only?.kind === "pv") return { dev: pvs.get(only.pv)!, base: only.pvOffset + sub.offset };
  return { dev: new LvDevice(sub.name, sub.map, pvs), base: sub.offset };
}

/** What identifies a raid1 segment's layout: a change in it means re-assembling the array. */
export function raidSignature(vg: VolumeGroup, target: MirrorTarget): string {
  const split = target.images.map((img) => findLv(vg, img.name)?.status.includes("VISIBLE") ?? false);
  return JSON.stringify([target.length, target.regionSize, target.images, target.metas, split]);
}

export interface RaidLog {
  info(obj: object, msg?: string): void;
}

export interface RaidHooks {
  log: RaidLog;
  onLegFailed(lv: string, image: string): void;
}

export async function openRaidArrays(
  vg: VolumeGroup,
  lvName: string,
  map: LvMap,
  pvs: ReadonlyMap<string, ExtendedDevice>,
  durable: ReadonlyMap<string, ExtendedDevice>,
  hooks: RaidHooks,
): Promise<Raid1Array[]> {
  const lv = findLv(vg, lvName)!;
  const arrays: Raid1Array[] = [];
  try {
    for (const target of map.mirrors) {
      const segment = lv.segments.find((s) => s.startExtent * vg.extentSize * 512 === runOffset(map, target));
      const legs = target.images.map((image, i): LegDevices => {
        const meta = target.metas[i];
        const errored = image.map.runs.every((run) => run.target.kind === "error");
        return {
          name: image.name,
          data: errored ? { dev: ERROR_DEVICE, base: 0 } : place(image, pvs),
          meta: meta && !errored ? place(meta, durable) : undefined,
          split: findLv(vg, image.name)?.status.includes("VISIBLE") ?? false,
          errored,
        };
      });
      arrays.push(
        await Raid1Array.open(
          {
            name: `${vg.name}/${lvName}`,
            size: target.length,
            regionSize: target.regionSize || DEFAULT_REGION,
            nosync: lv.status.includes("NOTSYNCED"),
            maxRecoveryRate: maxRecoveryRate(segment),
            onEvent: (e, msg) => hooks.log.info(e, msg),
            onLegFailed: (image) => hooks.onLegFailed(lvName, image),
          },
          legs,
        ),
      );
    }
  } catch (e) {
    await Promise.all(arrays.map((a) => a.close()));
    throw e;
  }
  return arrays;
}

/** lvm's max_recovery_rate, KiB/s per device, as bytes/s; 0: unlimited. */
function maxRecoveryRate(segment: Segment | undefined): number {
  return (segExtraInt(segment, "max_recovery_rate") ?? 0) * 1024;
}

/** Settings an active array takes without re-assembly (lvchange --maxrecoveryrate). */
export function retuneRaidArrays(vg: VolumeGroup, lvName: string, map: LvMap, arrays: readonly Raid1Array[]): void {
  const lv = findLv(vg, lvName);
  map.mirrors.forEach((target, slot) => {
    const segment = lv?.segments.find((s) => s.startExtent * vg.extentSize * 512 === runOffset(map, target));
    arrays[slot]?.setMaxRecoveryRate(maxRecoveryRate(segment));
  });
}

function runOffset(map: LvMap, target: MirrorTarget): number {
  return map.runs.find((r) => r.target === target)?.lvOffset ?? -1;
}

/** An image split off with --trackchanges: the map of its rmeta, and the array's geometry, to track its writes. */
export function splitImageOf(vg: VolumeGroup, lvName: string): { meta: LvMap; size: number; regionSize: number } | undefined {
  const lv = findLv(vg, lvName);
  const role = subLvRoles(vg).get(lvName);
  if (!lv?.status.includes("VISIBLE") || role?.kind !== "raid_image" || role.segment.type !== "raid1") return undefined;
  const metaArea = role.segment.metaAreas[role.index];
  if (metaArea?.kind !== "lv") return undefined;
  return {
    meta: compileLv(vg, metaArea.lv),
    size: role.segment.extentCount * vg.extentSize * 512,
    regionSize: (role.segment.regionSize ?? 0) * 512 || DEFAULT_REGION,
  };
}

export function openImageTracker(
  split: { meta: LvMap; size: number; regionSize: number },
  durable: ReadonlyMap<string, ExtendedDevice>,
  legs: number,
): Promise<ImageTracker> | undefined {
  const meta = place({ name: split.meta.lv, map: split.meta, offset: 0 }, durable);
  if (!meta) return undefined;
  return ImageTracker.open({ size: split.size, regionSize: split.regionSize, legs }, meta);
}
