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
