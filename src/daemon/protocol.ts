/**
 * The control protocol between commands and the daemon: one JSON object per
 * line each way, a reply for every request, in order. Errors carry LVM message
 * lines so a command prints them as its own.
 */
import { join } from "node:path";

/** What a command scanned with: the daemon must read the VG from the same devices. */
export interface ScanScope {
  devices: string[];
  devicesFile?: string;
}

export type Request =
  | { op: "activate"; vg: string; lvs: string[]; scope: ScanScope }
  | { op: "deactivate"; vg: string; lvs: string[] }
  | { op: "refresh"; vg: string; scope: ScanScope }
  /** lvchange --syncaction: a scrub of a raid LV. */
  | { op: "syncaction"; vg: string; lv: string; action: "check" | "repair" }
  /** lvchange --rebuild: these images (rimage sub-LV names) are recovered in full from the others. */
  | { op: "rebuild"; vg: string; lv: string; images: string[] }
  | { op: "status" }
  | { op: "shutdown" };

export interface LvStatus {
  vg: string;
  lv: string;
  size: number;
  /** NBD clients transmitting on the export, plus one while the device node is held (mounted). */
  openCount: number;
  /** The device node, when one could be made. */
  node?: string;
  /** A raid1 LV: what dm-raid's status line tells of it. */
  raid?: RaidStatus;
}

export type SyncAction = "idle" | "resync" | "recover" | "check" | "repair" | "frozen";

/** dm-raid's status line for a raid1 LV, as lvs reads it. */
export interface RaidStatus {
  /**
   * One character per image, in the segment's order, as dm-raid prints them: 'A' alive and in sync,
   * 'a' alive but not yet in sync (initial sync, recovery), 'D' dead (failed), '-' no device (an image
   * split off with --trackchanges).
   */
  health: string;
  /** Bytes of the array the running sync action has passed (dm-raid's sync ratio numerator); equals size when idle and in sync. */
  syncBytes: number;
  size: number;
  syncAction: SyncAction;
  /** 512-byte sectors found differing by the last check or repair. */
  mismatchCount: number;
  /** Bytes the sync engine wrote to legs since this activation (resync, recovery, repair). */
  resyncedBytes: number;
}

export type Reply =
  | { ok: true; active?: LvStatus[]; pid?: number; warnings?: string[] }
  | { ok: false; error: string[] };

export const controlSocket = (runDir: string) => join(runDir, "ulvmd.sock");
export const nbdSocket = (runDir: string) => join(runDir, "nbd.sock");
/** Device nodes connect here, so their own connections never count as the LV being open. */
export const nodeSocket = (runDir: string) => join(runDir, "nbd-node.sock");
export const pidFile = (runDir: string) => join(runDir, "ulvmd.pid");
export const stateFile = (runDir: string) => join(runDir, "active.json");
export const logFile = (runDir: string) => join(runDir, "ulvmd.log");
export const exportName = (vg: string, lv: string) => `${vg}/${lv}`;
