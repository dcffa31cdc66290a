/**
 * The VG/PV/LV/segment model: what LVM's text metadata says, in memory.
 * Sizes follow the text format: sectors for extent_size, pe_start, dev_size,
 * stripe_size, region_size, ba_*; extents for pe_count, start_extent,
 * extent_count and area offsets. IDs are 32 characters without dashes.
 * `extra` holds entries ulvm does not interpret, printed back unchanged so that a
 * rewrite by ulvm loses nothing a newer LVM wrote.
 */
import type { ConfigEntry } from "../config/tree.ts";

export type AllocPolicy = "contiguous" | "cling" | "cling_by_tags" | "normal" | "anywhere" | "inherit";

export interface VolumeGroup {
  name: string;
  id: string;
  seqno: number;
  format: string;
  status: string[];
  flags: string[];
  tags: string[];
  systemId?: string;
  lockType?: string;
  lockArgs?: string;
  extentSize: number;
  maxLv: number;
  maxPv: number;
  allocationPolicy?: AllocPolicy;
  profile?: string;
  metadataCopies: number;
  pvs: PhysicalVolume[];
  /** In LVM's in-memory order: parse order, new LVs appended. */
  lvs: LogicalVolume[];
  extra: ConfigEntry[];
}

export interface PhysicalVolume {
  id: string;
  /** `device = "..."`: a hint only; PVs are matched by id. "[unknown]" when missing. */
  deviceHint?: string;
  deviceIdType?: string;
  deviceId?: string;
  status: string[];
  flags: string[];
  tags: string[];
  devSize?: number;
  peStart: number;
  peCount: number;
  baStart?: number;
  baSize?: number;
  extra: ConfigEntry[];
}

export interface LogicalVolume {
  name: string;
  id: string;
  status: string[];
  flags: string[];
  tags: string[];
  creationTime?: number;
  creationHost?: string;
  lockArgs?: string;
  allocationPolicy?: AllocPolicy;
  profile?: string;
  readAhead?: number;
  major?: number;
  minor?: number;
  /** Sorted by startExtent, contiguous from 0. */
  segments: Segment[];
  extra: ConfigEntry[];
}

/** An area is a run of extents on a PV, or of logical extents of another LV. */
export type Area = { kind: "pv"; pvId: string; pe: number } | { kind: "lv"; lv: string; le: number };

export interface Segment {
  startExtent: number;
  extentCount: number;
  /** Base segment type, e.g. "striped", "raid1", "mirror", "error", "zero". */
  type: string;
  /** The `+FLAG` suffixes of `type`, in order. */
  typeFlags: string[];
  tags: string[];
  /** Sectors; striped with more than one stripe, raid. */
  stripeSize?: number;
  /** Sectors; raid and mirror. */
  regionSize?: number;
  /** Stripes, mirror images or raid data images, in order. */
  areas: Area[];
  /** raid only: the rmeta sub-LVs paired with `areas` (same index); empty when the raid has none. */
  metaAreas: Area[];
  /** mirror only: the log sub-LV name. */
  mirrorLog?: string;
  /** Entries of this segment that ulvm does not interpret (e.g. writebehind, recovery rates, unknown types). */
  extra: ConfigEntry[];
}

/** Where a PV of the VG was found on this machine, if at all. */
export interface PvLocation {
  pvId: string;
  /** Path of the device holding the PV, undefined when missing. */
  device?: string;
}
