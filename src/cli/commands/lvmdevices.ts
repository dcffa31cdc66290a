/**
 * lvmdevices: lists and edits the devices file (<systemDir>/devices/system.devices
 * or --devicesfile NAME) in lvm's format, and checks or updates its PVIDs and
 * device names against what the devices hold now.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { EXIT, FormatError, LvmError } from "../../core/errors.ts";
import { parseId } from "../../core/format/id.ts";
import { ctime } from "../../core/model/text.ts";
import { systemDeviceAccess as access } from "../../io/device-access.ts";
import {
  entryForDevice,
  entryMatchesDevice,
  formatDevicesFile,
  nextVersion,
  readDevicesFile,
  resolveEntry,
  writeDevicesFile,
  type DevicesFile,
  type DevicesFileEntry,
} from "../../metadata/devices-file.ts";
import { LockSet } from "../../metadata/lock.ts";
import type { CommandContext } from "../context.ts";
import { resolveDevice } from "../resolve.ts";
import { devicesFilePath } from "./pvremove.ts";
import { probeDevice } from "./pvcreate.ts";

/** The PVID in a device's label, if it has one and can be read. */
async function readPvId(device: string): Promise<string | undefined> {
  return (await probeDevice(device).catch(() => undefined))?.label?.pvId;
}

function pvIdArg(text: string): string {
  try {
    return parseId(text);
  } catch (e) {
    if (e instanceof FormatError) throw new LvmError("Invalid PVID.");
    throw e;
  }
}

async function save(path: string, file: DevicesFile): Promise<string> {
  const next = nextVersion(file.version);
  if ("refuse" in next) throw new LvmError(next.refuse);
  const text = formatDevicesFile(file, next.version, { command: "lvmdevices", pid: process.pid, ctimeText: ctime(Math.floor(Date.now() / 1000)) });
  await writeDevicesFile(path, text);
  return next.version;
}

async function findEntry(entries: DevicesFileEntry[], device: string): Promise<DevicesFileEntry | undefined> {
  for (const e of entries) if (await entryMatchesDevice(access, e, device)) return e;
  return undefined;
}

/** device_ids_validate: entries whose PVID or device name no longer match; fixes them in place. */
async function validate(ctx: CommandContext, file: DevicesFile): Promise<boolean> {
  let invalid = false;
  for (const entry of file.entries) {
    const device = await resolveEntry(access, entry);
    if (!device) continue;
    const pvId = await readPvId(device);
    if (pvId && pvId !== entry.pvId) {
      ctx.warn(`Device ${device} has PVID ${pvId} (devices file ${entry.pvId ?? "none"})`);
      entry.pvId = pvId;
      invalid = true;
    } else if (!pvId && entry.pvId) {
      ctx.warn(`Device ${device} has no PVID (devices file ${entry.pvId})`);
      delete entry.pvId;
      invalid = true;
    }
    if (entry.idType !== "devname" && entry.devName !== device) {
      ctx.warn(`Device ${device} has updated name (devices file ${entry.devName ?? "none"})`);
      entry.devName = device;
      invalid = true;
    }
  }
  return invalid;
}

export async function run(ctx: CommandContext): Promise<number> {
  const path = devicesFilePath(ctx);
  if (!path) throw new LvmError("Devices file not enabled.");
  // The lock every writer of this devices file takes (the session's included).
  const lock = new LockSet(ctx.env.runDir);
  await lock.acquireFile(`D_${basename(path)}`, `devices file ${path}`);
  try {
    return await edit(ctx, path);
  } finally {
    await lock.releaseAll();
  }
}

async function edit(ctx: CommandContext, path: string): Promise<number> {
  const edits = ["update", "adddev", "deldev", "addpvid", "delpvid"].some((o) => ctx.has(o));
  if (edits && !existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, "");
  }
  const file = await readDevicesFile(path);
  if (!file) throw new LvmError("Devices file does not exist.");

  if (ctx.has("check") || ctx.has("update")) {
    const invalid = await validate(ctx, file);
    if (ctx.has("check")) {
      if (invalid) throw new LvmError("Updates needed for devices file.");
    } else if (invalid) ctx.print(`Updated devices file to version ${await save(path, file)}`);
    else ctx.print("No update for devices file is needed.");
    return EXIT.OK;
  }

  const adddev = ctx.opt<string>("adddev");
  if (adddev !== undefined) {
    const device = resolveDevice(adddev);
    if (!device) throw new LvmError(`No device found for ${adddev}.`);
    const entry = await entryForDevice(access, device, await readPvId(device));
    const existing = await findEntry(file.entries, device);
    file.entries = existing ? file.entries.map((e) => (e === existing ? entry : e)) : [...file.entries, entry];
    await save(path, file);
    return EXIT.OK;
  }

  const deldev = ctx.opt<string>("deldev");
  if (deldev !== undefined) {
    // lvm asks for an ID type when the name is not a path; ulvm's regular-file PVs are paths too.
    if (!deldev.startsWith("/")) ctx.warn("WARNING: to remove a device by device id, include --deviceidtype.");
    const device = resolveDevice(deldev);
    const entry = (device && (await findEntry(file.entries, device))) || file.entries.find((e) => e.devName === deldev);
    if (!entry) throw new LvmError(`No devices file entry for ${deldev}.`);
    file.entries = file.entries.filter((e) => e !== entry);
    await save(path, file);
    return EXIT.OK;
  }

  const addpvid = ctx.opt<string>("addpvid");
  if (addpvid !== undefined) {
    const pvId = pvIdArg(addpvid);
    const listed = file.entries.find((e) => e.pvId === pvId);
    if (listed) throw new LvmError(`PVID already exists in devices file for ${(await resolveEntry(access, listed)) ?? listed.devName}.`);
    let found: string | undefined;
    for (const device of await access.listDevices()) {
      if (await findEntry(file.entries, device)) continue;
      if ((await readPvId(device)) === pvId) {
        found = device;
        break;
      }
    }
    if (!found) {
      ctx.error(`PVID ${pvId} not found on any devices.`);
      throw new LvmError(`PVID ${pvId} not found on any devices.`);
    }
    ctx.print(`Found PVID ${pvId} on ${found}.`);
    file.entries.push(await entryForDevice(access, found, pvId));
    await save(path, file);
    return EXIT.OK;
  }

  const delpvid = ctx.opt<string>("delpvid");
  if (delpvid !== undefined) {
    const pvId = pvIdArg(delpvid);
    const matches = file.entries.filter((e) => e.pvId === pvId);
    if (!matches.length) throw new LvmError("PVID not found in devices file.");
    if (matches.length > 1)
      throw new LvmError(`Multiple devices file entries for PVID ${pvId} (${matches[0]!.devName} ${matches[1]!.devName}), remove by device name.`);
    file.entries = file.entries.filter((e) => e !== matches[0]);
    await save(path, file);
    return EXIT.OK;
  }

  for (const entry of file.entries) {
    const device = await resolveEntry(access, entry);
    ctx.print(
      `Device ${device ?? "none"} IDTYPE=${entry.idType} IDNAME=${entry.idName ?? "none"} DEVNAME=${entry.devName ?? "none"} PVID=${entry.pvId ?? "none"}${entry.part ? ` PART=${entry.part}` : ""}`,
    );
  }
  return EXIT.OK;
}
