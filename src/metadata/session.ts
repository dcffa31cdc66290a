/**
 * The contract between commands and the on-disk metadata: one Session per command
 * run. It scans the devices the devices file (or --devices) allows, reads every VG's
 * newest valid copy, and commits changes with LVM's protocol. Commands stay pure
 * transformations of the model in between.
 */
import type { VolumeGroup } from "../core/model/types.ts";
import type { PvLayoutOptions } from "../core/format/layout.ts";

export interface SessionOptions {
  /** $ULVM_SYSTEM_DIR: devices/system.devices, backup/, archive/. */
  systemDir: string;
  /** $ULVM_RUN_DIR: locks. */
  runDir: string;
  /** --devices: when given, only these devices are used and the devices file is ignored. */
  devices?: string[];
  /** --devicesfile NAME (a file under systemDir/devices), "" to disable. */
  devicesFile?: string;
  /** The command line as typed, for descriptions ("Write from ...", archive/backup comments). */
  commandLine: string;
  /** LVM-style warnings/messages; the CLI prints them with the two-space prefix on stderr. */
  warn(line: string): void;
  /** Unix seconds and host name used in written metadata (injectable for tests). */
  now?: () => number;
  hostname?: string;
}

export interface MetadataAreaInfo {
  /** Absolute byte offset and size of the whole mda. */
  start: number;
  size: number;
  ignored: boolean;
  /** Bytes free in the ring for a new copy (LVM's pv_mda_free / vg_mda_free). */
  free: number;
}

/** A device that carries a PV label. */
export interface ScannedPv {
  device: string;
  /** Current device size in bytes. */
  size: number;
  pvId: string;
  /** Size recorded in the label, bytes. */
  labelDeviceSize: number;
  /** pe_start from the label's data area, bytes. */
  peStart: number;
  mdas: MetadataAreaInfo[];
  /** Bootloader area, bytes, if any. */
  bootloaderArea?: { offset: number; size: number };
  /** The VG whose newest metadata lists this PV, if any (undefined = orphan). */
  vgName?: string;
  vgId?: string;
  /** PV_EXT_USED flag in the label. */
  used: boolean;
}

export interface LoadedVg {
  vg: VolumeGroup;
  /** PV id → where it was found; PVs of the VG not found here are missing. */
  devices: Map<string, ScannedPv>;
}

/** pvcreate's layout options (bytes), as the layout arithmetic takes them, plus what only a write needs. */
export interface PvCreateOptions extends Omit<PvLayoutOptions, "deviceSize" | "deviceName"> {
  /** Explicit --uuid (32 chars) for pvcreate --uuid --restorefile. */
  pvId?: string;
  zero?: boolean;
}

export interface Session {
  /** Every VG name found, sorted. */
  vgNames(): string[];
  /** The newest valid copy of a VG, or undefined. Emits LVM's warnings for stale/corrupt copies and missing PVs. */
  readVg(name: string): LoadedVg | undefined;
  /** Devices with a PV label that belong to no VG. */
  orphans(): ScannedPv[];
  /** All scanned devices with a PV label. */
  scannedPvs(): ScannedPv[];
  /** Devices allowed by the devices file / --devices, with or without a label. */
  allowedDevices(): string[];
  /** Resolve a device argument (path, symlink) to a scanned PV, if it has a label. */
  findPv(device: string): ScannedPv | undefined;

  /** Take the VG's write lock (per-VG lock under runDir); released at close(). */
  lockVg(name: string): Promise<void>;
  /**
   * Commit a new version of `loaded.vg`'s VG: archive the old version, write `vg` with
   * seqno+1 to every mda of every PV it lists (and to none it dropped: those are wiped and
   * become orphans), update PV labels' USED flag, write the backup file. Atomic per LVM's
   * commit order. `vg` may have a new name (vgrename) or new PVs (vgextend: they must be
   * orphans initialised by pvcreate).
   */
  writeVg(loaded: LoadedVg | undefined, vg: VolumeGroup): Promise<void>;
  /** Remove a VG: zero the metadata slots on its PVs and clear USED, as vgremove does. */
  removeVg(loaded: LoadedVg): Promise<void>;
  /** Write a new PV label and empty mdas (pvcreate). Returns the PV id. */
  createPv(device: string, opts: PvCreateOptions): Promise<string>;
  /** Wipe a PV label (pvremove). */
  wipePv(device: string): Promise<void>;
  /** Add/remove devices in the devices file (no-op when the devices file is disabled). */
  addToDevicesFile(device: string, pvId?: string): Promise<void>;
  removeFromDevicesFile(device: string): Promise<void>;
  close(): Promise<void>;
}
