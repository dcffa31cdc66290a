/**
 * LVM 2.03's devices file (<systemDir>/devices/system.devices): the devices lvm may
 * use, one `IDTYPE=… IDNAME=… DEVNAME=… PVID=… [PART=…]` line each, with a
 * `VERSION=1.1.N` line whose counter goes up on every write (device_id.c).
 *
 * Which devices a command sees (lvmdevices(8)): with --devices, exactly those and
 * the file is ignored; with --devicesfile "" no file and every device; otherwise the
 * file's entries, and when the file does not exist lvm "will not use a devices
 * file" and scans every device of the machine. ulvm does the same.
 */
import { writeFileAtomic } from "./atomic-file.ts";
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { DeviceAccess } from "../io/device-access.ts";

export interface DevicesFileEntry {
  idType: string;
  idName?: string;
  devName?: string;
  /** 32 characters, no dashes. */
  pvId?: string;
  part?: number;
}

export interface DevicesFile {
  /** "1.1.N" as read; absent for a new file. */
  version?: string;
  systemId?: string;
  entries: DevicesFileEntry[];
}

const MAJOR = 1;
const MINOR = 1;

/** LVM's value of `KEY=value`: up to the next space or end of line; "." means unset. */
function field(line: string, key: string): string | undefined {
  const at = line.indexOf(`${key}=`);
  if (at < 0) return undefined;
  const value = line.slice(at + key.length + 1).replace(/^ +/, "").split(/[ \n]/, 1)[0]!;
  return value && value !== "." ? value : undefined;
}

export function parseDevicesFile(text: string): DevicesFile {
  const file: DevicesFile = { entries: [] };
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    if (line.startsWith("SYSTEMID")) file.systemId = field(line, "SYSTEMID");
    else if (line.startsWith("VERSION")) file.version = field(line, "VERSION");
    else {
      const idType = field(line, "IDTYPE");
      // IDTYPE and IDNAME are the minimum LVM requires of an entry line.
      if (!idType || !line.includes("IDNAME=")) continue;
      const part = field(line, "PART");
      file.entries.push({
        idType,
        idName: field(line, "IDNAME"),
        devName: field(line, "DEVNAME"),
        pvId: field(line, "PVID"),
        ...(part !== undefined ? { part: Number.parseInt(part, 10) } : {}),
      });
    }
  }
  return file;
}

/** The version the next write records, or why LVM would refuse to rewrite the file. */
export function nextVersion(version: string | undefined): { version: string } | { refuse: string } {
  let counter = 0;
  if (version !== undefined) {
    const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
    if (!m) return { refuse: "WARNING: not updating devices file with unparsed version." };
    if (Number(m[1]) > MAJOR) return { refuse: "WARNING: not updating devices file with larger major version." };
    counter = Number(m[3]);
  }
  return { version: `${MAJOR}.${MINOR}.${counter + 1}` };
}

/** `ctimeText` is ctime(3)'s text, newline included, as LVM prints it. */
export function formatDevicesFile(
  file: DevicesFile,
  version: string,
  created: { command: string; pid: number; ctimeText: string },
): string {
  const lines = [
    "# LVM uses devices listed in this file.",
    `# Created by LVM command ${created.command} pid ${created.pid} at ${created.ctimeText.replace(/\n$/, "")}`,
  ];
  if (file.systemId) lines.push(`SYSTEMID=${file.systemId}`);
  lines.push(`VERSION=${version}`);
  for (const e of file.entries) {
    const devName = e.devName?.startsWith("/") ? e.devName : ".";
    const base = `IDTYPE=${e.idType} IDNAME=${e.idName ?? "."} DEVNAME=${devName} PVID=${e.pvId || "."}`;
    lines.push(e.part ? `${base} PART=${e.part}` : base);
  }
  return lines.join("\n") + "\n";
}

export async function readDevicesFile(path: string): Promise<DevicesFile | undefined> {
  try {
    return parseDevicesFile(await readFile(path, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Replaces the file the way LVM does: write `<file>_new`, rename over, sync the directory. */
export async function writeDevicesFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text, { tmp: `${path}_new`, mode: 0o644 });
}

export async function entryForDevice(access: DeviceAccess, device: string, pvId?: string): Promise<DevicesFileEntry> {
  const id = await access.deviceId(device);
  return { ...id, devName: device, ...(pvId ? { pvId } : {}) };
}

/**
 * The device an entry names now. A loop_file entry follows its backing file to
 * whichever loop device carries it; other entries are taken by DEVNAME, and the
 * scan then checks the PVID found there.
 */
export async function resolveEntry(access: DeviceAccess, entry: DevicesFileEntry): Promise<string | undefined> {
  const name = entry.devName ?? (entry.idType === "devname" ? entry.idName : undefined);
  if (entry.idType === "loop_file" && entry.idName) {
    if (name && access.canonical(name)) {
      const id = await access.deviceId(name).catch(() => undefined);
      if (id?.idType === entry.idType && id.idName === entry.idName) return name;
    }
    return access.loopForBackingFile(entry.idName);
  }
  return name && access.canonical(name) ? name : undefined;
}

/** LVM's warning for an entry whose device was not found (device_ids_find_renamed_devs). */
export function entryNotFoundWarning(entry: DevicesFileEntry): string {
  const pvid = entry.pvId ?? "none";
  if (entry.idType === "devname")
    return entry.devName
      ? `Devices file PVID ${pvid} last seen on ${entry.devName} not found.`
      : `Devices file PVID ${pvid} not found.`;
  const id = `${entry.idType} ${entry.idName ?? "none"}`;
  return entry.devName
    ? `Devices file ${id} PVID ${pvid} last seen on ${entry.devName} not found.`
    : `Devices file ${id} PVID ${pvid} not found.`;
}

/** Whether an entry stands for `device` (by name, or by backing file for loop devices). */
export async function entryMatchesDevice(access: DeviceAccess, entry: DevicesFileEntry, device: string): Promise<boolean> {
  const canonical = access.canonical(device) ?? device;
  const name = entry.devName ?? (entry.idType === "devname" ? entry.idName : undefined);
  if (name && (access.canonical(name) ?? name) === canonical) return true;
  if (entry.idType !== "loop_file" || !access.canonical(device)) return false;
  const id = await access.deviceId(device).catch(() => undefined);
  return id?.idType === entry.idType && id.idName === entry.idName;
}
