/**
 * What the metadata layer needs to know about the machine's devices beyond
 * reading and writing them: canonical names, the IDs LVM records in the devices
 * file, and the list of all block devices. Tests substitute memoryDeviceAccess.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { realpathSync } from "node:fs";
import type { BlockDevice } from "./block-device.ts";
import { openBlockDevice, splitDevT } from "./file-device.ts";

export interface DeviceId {
  /** LVM's IDTYPE (loop_file, devname, sys_wwid, ...). */
  idType: string;
  idName: string;
}

export interface DeviceAccess {
  open(path: string, writable: boolean): Promise<BlockDevice>;
  /** The device's canonical name (symlinks resolved); undefined when it does not exist. */
  canonical(path: string): string | undefined;
  deviceId(path: string): Promise<DeviceId>;
  /** The loop device currently backed by `file`, if any. */
  loopForBackingFile(file: string): Promise<string | undefined>;
  /** Every block device of the machine, in name order: what LVM scans without a devices file. */
  listDevices(): Promise<string[]>;
}

async function readSys(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    return undefined;
  }
}

const byName = new Intl.Collator("en", { numeric: true }).compare;

export const systemDeviceAccess: DeviceAccess = {
  open: (path, writable) => openBlockDevice(path, { writable }),

  canonical(path) {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  },

  /**
   * LVM records a loop device by its backing file (IDTYPE=loop_file). ulvm also
   * accepts regular files as PVs; LVM has no ID type for those, so they are
   * recorded by their path (IDTYPE=devname), like a device without a stable ID.
   */
  async deviceId(path) {
    const st = await stat(path, { bigint: true });
    if (st.isBlockDevice()) {
      const { major, minor } = splitDevT(st.rdev);
      const backing = await readSys(`/sys/dev/block/${major}:${minor}/loop/backing_file`);
      if (backing) return { idType: "loop_file", idName: backing };
    }
    return { idType: "devname", idName: path };
  },

  async loopForBackingFile(file) {
    const names = await readdir("/sys/block").catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith("loop")).sort(byName))
      if ((await readSys(`/sys/block/${name}/loop/backing_file`)) === file) return `/dev/${name}`;
    return undefined;
  },

  async listDevices() {
    const names = await readdir("/sys/class/block").catch(() => [] as string[]);
    const devices: string[] = [];
    for (const name of names.sort(byName)) {
      // Unattached loop devices and empty drives report size 0; LVM skips them too.
      if (Number(await readSys(`/sys/class/block/${name}/size`)) > 0) devices.push(`/dev/${name}`);
    }
    return devices;
  },
};
