/**
 * The Session (session.ts) over real or in-memory devices: the scan happens once
 * when the session opens, reads are answered from it, and every write is followed
 * by a quiet rescan so that later reads and writes in the same command see it.
 */
import { randomBytes as cryptoRandomBytes, randomInt } from "node:crypto";
import * as os from "node:os";
import { basename, join } from "node:path";
import { EXIT, FormatError, LvmError } from "../core/errors.ts";
import { lvmCrc } from "../core/crc.ts";
import { PV_EXT_USED, PV_HEADER_EXTENSION_VERSION, SECTOR_SIZE, LABEL_SCAN_BYTES, scanLabel } from "../core/format/label.ts";
import { computePvLayout } from "../core/format/layout.ts";
import { generateId } from "../core/format/id.ts";
import { ctime, formatVgText, type VgTextHeader } from "../core/model/text.ts";
import type { PhysicalVolume, VolumeGroup } from "../core/model/types.ts";
import type { BlockDevice } from "../io/block-device.ts";
import { systemDeviceAccess, type DeviceAccess } from "../io/device-access.ts";
import { archiveVg, removeBackup, writeBackup, type ArchiveRetention } from "./archive.ts";
import { clearMdaSlots, commitMetadata, initialisePv, wipeLabel, writeLabel, type MdaTarget } from "./commit.ts";
import {
  entryForDevice,
  entryMatchesDevice,
  entryNotFoundWarning,
  formatDevicesFile,
  nextVersion,
  readDevicesFile,
  resolveEntry,
  writeDevicesFile,
  type DevicesFile,
} from "./devices-file.ts";
import { LockSet } from "./lock.ts";
import {
  markMissingPvs,
  scanDevices,
  TextCache,
  toScannedPv,
  vgReadWarnings,
  type ScanState,
  type ScannedDevice,
  type VgRecord,
} from "./scan.ts";
import type { LoadedVg, PvCreateOptions, ScannedPv, Session, SessionOptions } from "./session.ts";

export interface SessionDeps {
  access: DeviceAccess;
  randomBytes: (n: number) => Uint8Array;
  /** For archive file names (LVM uses rand_r). */
  randomInt: () => number;
  lockTimeoutMs?: number;
  retention?: ArchiveRetention;
}

export const systemDeps: SessionDeps = {
  access: systemDeviceAccess,
  randomBytes: (n) => new Uint8Array(cryptoRandomBytes(n)),
  randomInt: () => randomInt(0, 2 ** 31 - 1),
};

export function openSession(opts: SessionOptions): Promise<Session> {
  return openSessionWith(opts, systemDeps);
}

export async function openSessionWith(opts: SessionOptions, deps: SessionDeps): Promise<Session> {
  const session = new MetadataSession(opts, deps);
  await session.open();
  return session;
}

const encoder = new TextEncoder();

/** uname(2) as LVM appends it to creation_host: sysname nodename release version machine. */
/** The header block of written metadata: creation_host carries uname(2) as a comment, as lvm writes it. */
export function textHeaderFor(description: string, host: string = os.hostname(), creationTime = Math.floor(Date.now() / 1000)): VgTextHeader {
  return { description, creationHost: host, creationHostComment: `${os.type()} ${host} ${os.release()} ${os.version()} ${os.machine()}`, creationTime };
}

class MetadataSession implements Session {
  private readonly access: DeviceAccess;
  private readonly locks: LockSet;
  private readonly texts: TextCache;
  /** Where the devices file is, when one is in use or may be created. */
  private readonly devicesFilePath?: string;
  private devicesFileInUse = false;
  private allowed: string[] = [];
  private readonly readHandles = new Map<string, BlockDevice>();
  private readonly writeHandles = new Map<string, BlockDevice>();
  private state!: ScanState;
  private readonly warnedVgs = new Set<string>();
  private outdatedNoteDone = false;
  private readonly writeCounts = new Map<string, number>();
  private readonly archivedVgs = new Set<string>();

  constructor(
    private readonly opts: SessionOptions,
    private readonly deps: SessionDeps,
  ) {
    this.access = deps.access;
    this.locks = new LockSet(opts.runDir, { timeoutMs: deps.lockTimeoutMs });
    this.texts = new TextCache(opts.warn);
    if (!opts.devices?.length && opts.devicesFile !== "")
      this.devicesFilePath = join(opts.systemDir, "devices", opts.devicesFile ?? "system.devices");
  }

  private get warn(): (line: string) => void {
    return this.opts.warn;
  }

  async open(): Promise<void> {
    const file = this.devicesFilePath ? await readDevicesFile(this.devicesFilePath) : undefined;
    this.devicesFileInUse = file !== undefined;
    const candidates = this.opts.devices?.length
      ? this.opts.devices
      : file
        ? await this.devicesFromFile(file)
        : await this.access.listDevices();
    for (const path of candidates) this.allow(path);
    await this.rescan(this.warn);
  }

  /** Adds a device to those this session scans, once however it is named. */
  /** Adds a device to those this session scans; true when it was not among them. */
  private allow(path: string): boolean {
    const canonical = this.access.canonical(path);
    if (!canonical || this.allowed.some((p) => this.access.canonical(p) === canonical)) return false;
    this.allowed.push(path);
    return true;
  }

  /**
   * The devices the file's entries name now. LVM pairs devname entries by name and
   * then trusts the PVID found there; an entry whose device carries another PVID
   * is not that device (device_ids_validate), other ID types keep their device.
   */
  private async devicesFromFile(file: DevicesFile): Promise<string[]> {
    const devices: string[] = [];
    for (const entry of file.entries) {
      const device = await resolveEntry(this.access, entry);
      if (!device) {
        this.warn(entryNotFoundWarning(entry));
        continue;
      }
      if (entry.pvId) {
        const found = await this.peekPvId(device);
        if (found !== entry.pvId) {
          if (entry.idType === "devname") {
            this.warn(
              found
                ? `Devices file PVID ${entry.pvId} not found on device ${device} (device PVID ${found}).`
                : `Devices file PVID ${entry.pvId} not found on device ${device}.`,
            );
            continue;
          }
          this.warn(found ? `Device ${device} has PVID ${found} (devices file ${entry.pvId})` : `Device ${device} has no PVID (devices file ${entry.pvId})`);
        }
      }
      devices.push(device);
    }
    return devices;
  }

  private async peekPvId(path: string): Promise<string | undefined> {
    try {
      const dev = await this.readHandle(path);
      if (dev.size < LABEL_SCAN_BYTES) return undefined;
      const head = new Uint8Array(LABEL_SCAN_BYTES);
      await dev.read(head, 0);
      return scanLabel(head, path).label?.pvId;
    } catch {
      return undefined;
    }
  }

  private async readHandle(path: string): Promise<BlockDevice> {
    let dev = this.readHandles.get(path);
    if (!dev) {
      dev = await this.access.open(path, false);
      this.readHandles.set(path, dev);
    }
    return dev;
  }

  private async writeHandle(path: string): Promise<BlockDevice> {
    let dev = this.writeHandles.get(path);
    if (!dev) {
      dev = await this.access.open(path, true);
      this.writeHandles.set(path, dev);
    }
    return dev;
  }

  /** Reads every allowed device again; devices that cannot be opened are not there, as for LVM. */
  private async rescan(warn: (line: string) => void): Promise<void> {
    const devices: { path: string; dev: BlockDevice }[] = [];
    for (const path of this.allowed) {
      try {
        devices.push({ path, dev: await this.readHandle(path) });
      } catch {
        // A device that vanished or cannot be read is simply not seen.
      }
    }
    this.state = await scanDevices(devices, this.texts, warn, this.state);
  }

  private quietRescan(): Promise<void> {
    return this.rescan(() => {});
  }

  vgNames(): string[] {
    return [...new Set([...this.state.vgs.values()].map((r) => r.newest.vg.name))].sort();
  }

  readVg(name: string): LoadedVg | undefined {
    const record = [...this.state.vgs.values()].find((r) => r.newest.vg.name === name);
    if (!record) return undefined;
    // Callers change the model they get; the scan's copy must stay the on-disk version.
    const vg = structuredClone(record.newest.vg);
    if (!this.warnedVgs.has(record.id)) {
      this.warnedVgs.add(record.id);
      vgReadWarnings(this.state, record, vg, this.outdatedNoteDone).forEach(this.warn);
      if (record.outdated.length) this.outdatedNoteDone = true;
    }
    markMissingPvs(this.state, vg);
    const devices = new Map<string, ScannedPv>();
    for (const pv of vg.pvs) {
      const device = this.state.byPvId.get(pv.id);
      if (device) devices.set(pv.id, toScannedPv(this.state, device));
    }
    return { vg, devices };
  }

  orphans(): ScannedPv[] {
    return this.state.devices
      .filter((d) => !this.state.memberOf.has(d.label.pvId) && !this.state.outdated.has(d))
      .map((d) => toScannedPv(this.state, d));
  }

  /** LVM hides outdated PVs and unused duplicates from its reports; so does this list. */
  scannedPvs(): ScannedPv[] {
    return this.state.devices.filter((d) => !this.state.outdated.has(d)).map((d) => toScannedPv(this.state, d));
  }

  allowedDevices(): string[] {
    return [...this.allowed];
  }

  private findDevice(device: string): ScannedDevice | undefined {
    const canonical = this.access.canonical(device) ?? device;
    return this.state.devices.find((d) => (this.access.canonical(d.path) ?? d.path) === canonical);
  }

  findPv(device: string): ScannedPv | undefined {
    const found = this.findDevice(device);
    return found && toScannedPv(this.state, found);
  }

  /**
   * Names starting with '#' ("#orphans") take the global lock, as orphan PV
   * changes do in LVM. As LVM rereads a VG once it holds its lock, the devices are
   * scanned again: another command may have committed since this one opened.
   */
  async lockVg(name: string): Promise<void> {
    if (this.locks.holds(name)) return;
    await this.locks.acquire(name);
    await this.quietRescan();
  }

  private now(): number {
    return this.opts.now?.() ?? Math.floor(Date.now() / 1000);
  }

  private textHeader(description: string): VgTextHeader {
    return textHeaderFor(description, this.opts.hostname, this.now());
  }

  /** LVM archives a VG once per command, before its first change. */
  private async archiveOnce(record: VgRecord): Promise<void> {
    if (this.archivedVgs.has(record.id)) return;
    const description = `Created *before* executing '${this.opts.commandLine}'`;
    await archiveVg(join(this.opts.systemDir, "archive"), record.newest.vg.name, formatVgText(record.newest.vg, this.textHeader(description), "backup"), {
      nowSeconds: this.now(),
      random: this.deps.randomInt(),
      retention: this.deps.retention,
    });
    this.archivedVgs.add(record.id);
  }

  private async targets(device: ScannedDevice, which: "used" | "all"): Promise<MdaTarget[]> {
    const dev = await this.writeHandle(device.path);
    return device.mdas
      .filter((m) => which === "all" || !m.ignored)
      .map((m) => ({ dev, path: device.path, start: m.start, size: m.size }));
  }

  /**
   * Makes PVs orphans as vgreduce and vgremove do: the metadata slots of every
   * mda are zeroed first, then every USED flag is cleared, so that an
   * interruption leaves PVs marked used but holding no VG, never a VG on orphans.
   */
  private async orphanDevices(devices: ScannedDevice[], outdated: boolean): Promise<void> {
    for (const device of devices)
      for (const t of await this.targets(device, "all")) {
        if (outdated) this.warn(`WARNING: wiping mda on outdated PV ${device.path}`);
        await clearMdaSlots(t, this.warn);
      }
    for (const device of devices) await (await this.writeHandle(device.path)).flush();
    for (const device of devices) {
      if (outdated) this.warn(`WARNING: wiping header on outdated PV ${device.path}`);
      const dev = await this.writeHandle(device.path);
      await writeLabel(dev, { ...device.label, extVersion: PV_HEADER_EXTENSION_VERSION, extFlags: device.label.extFlags & ~PV_EXT_USED });
      await dev.flush();
    }
  }

  /** How a PV is written: where it is now, or "[unknown]" and MISSING when it is not here. */
  private pvForWrite(pv: PhysicalVolume, idFields: Map<string, { idType: string; idName: string }>): PhysicalVolume {
    const { deviceIdType: _type, deviceId: _id, ...rest } = pv;
    const device = this.state.byPvId.get(pv.id);
    if (!device) return { ...rest, deviceHint: "[unknown]", flags: pv.flags.includes("MISSING") ? pv.flags : [...pv.flags, "MISSING"] };
    const id = idFields.get(pv.id);
    return { ...rest, deviceHint: device.path, ...(id ? { deviceIdType: id.idType, deviceId: id.idName } : {}) };
  }

  /**
   * LVM writes a PV's device_id only when a devices file is in use and the ID is
   * more than the name (dev_idtype_for_metadata); otherwise the fields are dropped.
   */
  private async deviceIds(vg: VolumeGroup): Promise<Map<string, { idType: string; idName: string }>> {
    const ids = new Map<string, { idType: string; idName: string }>();
    if (!this.devicesFileInUse) return ids;
    for (const pv of vg.pvs) {
      const device = this.state.byPvId.get(pv.id);
      if (!device) continue;
      const id = await this.access.deviceId(device.path).catch(() => undefined);
      if (id && id.idType !== "devname") ids.set(pv.id, id);
    }
    return ids;
  }

  async writeVg(loaded: LoadedVg | undefined, vg: VolumeGroup): Promise<void> {
    const old = this.state.vgs.get(loaded?.vg.id ?? vg.id);
    const { byPvId, unusedDuplicates } = this.state;
    if (vg.pvs.some((pv) => unusedDuplicates.some((d) => d.label.pvId === pv.id)))
      throw new LvmError(`Cannot update volume group ${vg.name} with duplicate PV devices.`, EXIT.FAILED);

    const seqno = vg.seqno + 1;
    const ids = await this.deviceIds(vg);
    const out: VolumeGroup = { ...vg, seqno, pvs: vg.pvs.map((pv) => this.pvForWrite(pv, ids)) };
    const present = out.pvs.flatMap((pv) => byPvId.get(pv.id) ?? []);
    const targets = (await Promise.all(present.map((d) => this.targets(d, "used")))).flat();
    if (!targets.length) throw new LvmError("Aborting vg_write: No metadata areas to write to!", EXIT.FAILED);

    const count = (this.writeCounts.get(vg.id) ?? 0) + 1;
    const description = count === 1 ? `Write from ${this.opts.commandLine}.` : `Write[${count}] from ${this.opts.commandLine}.`;
    const raw = formatVgText(out, this.textHeader(description), "raw");
    const text = encoder.encode(raw + "\0");
    // As LVM does, parse the text back before writing it: what cannot be read must not reach the disk.
    const parsed = this.texts.get(raw, lvmCrc(text), text.length);
    if (parsed instanceof FormatError) throw new LvmError([parsed.message, `Failed to write VG ${out.name}.`], EXIT.FAILED);

    if (old) await this.archiveOnce(old);
    if (old)
      for (const { device, mda, copy } of old.copies)
        if (copy.vg.seqno < old.newest.vg.seqno && present.includes(device) && !mda.ignored)
          this.warn(`WARNING: updating old metadata to ${seqno} on ${device.path} for VG ${out.name}.`);

    await commitMetadata(targets, text, out.name, seqno, this.warn);
    this.writeCounts.set(vg.id, count);
    vg.seqno = seqno;

    const before = new Set(old?.newest.vg.pvs.map((p) => p.id) ?? []);
    for (const device of present) {
      const { label } = device;
      if (label.extVersion >= PV_HEADER_EXTENSION_VERSION && label.extFlags & PV_EXT_USED) continue;
      if (before.has(label.pvId)) this.warn(`WARNING: updating PV header on ${device.path} for VG ${out.name}.`);
      const dev = await this.writeHandle(device.path);
      await writeLabel(dev, { ...label, extVersion: PV_HEADER_EXTENSION_VERSION, extFlags: label.extFlags | PV_EXT_USED });
      await dev.flush();
    }
    if (old) {
      const now = new Set(out.pvs.map((p) => p.id));
      // Only PVs no other VG lists: one that another VG took over (vgsplit) keeps that VG's metadata.
      const listedElsewhere = (pvId: string) =>
        [...this.state.vgs.values()].some((r) => r.id !== old.id && r.newest.vg.pvs.some((p) => p.id === pvId));
      const dropped = this.state.devices.filter(
        ({ label: { pvId } }) => this.state.memberOf.get(pvId) === old.id && !now.has(pvId) && !listedElsewhere(pvId),
      );
      await this.orphanDevices(dropped, false);
      await this.orphanDevices(old.outdated.map((o) => o.device), true);
    }

    await writeBackup(
      join(this.opts.systemDir, "backup"),
      out.name,
      formatVgText(out, this.textHeader(`Created *after* executing '${this.opts.commandLine}'`), "backup"),
    );
    if (old && old.newest.vg.name !== out.name) await removeBackup(join(this.opts.systemDir, "backup"), old.newest.vg.name);
    await this.quietRescan();
  }

  async removeVg(loaded: LoadedVg): Promise<void> {
    const record = this.state.vgs.get(loaded.vg.id);
    if (!record) return;
    await this.archiveOnce(record);
    await this.orphanDevices(this.state.devices.filter((d) => this.state.memberOf.get(d.label.pvId) === record.id), false);
    await this.orphanDevices(record.outdated.map((o) => o.device), true);
    await removeBackup(join(this.opts.systemDir, "backup"), record.newest.vg.name);
    await this.quietRescan();
  }

  async createPv(device: string, opts: PvCreateOptions): Promise<string> {
    let dev: BlockDevice;
    try {
      dev = await this.writeHandle(device);
    } catch {
      throw new LvmError(`Cannot use ${device}: device not found`, EXIT.FAILED);
    }
    const deviceSize = dev.size - (dev.size % SECTOR_SIZE);
    const layout = computePvLayout({
      deviceSize,
      deviceName: device,
      metadataSize: opts.metadataSize,
      dataAlignment: opts.dataAlignment,
      dataAlignmentOffset: opts.dataAlignmentOffset,
      pvMetadataCopies: opts.pvMetadataCopies,
      bootloaderAreaSize: opts.bootloaderAreaSize,
      labelSector: opts.labelSector,
    });
    const pvId = opts.pvId ?? generateId(this.deps.randomBytes);
    await initialisePv(
      dev,
      {
        sector: opts.labelSector ?? 1,
        pvId,
        deviceSize,
        dataAreas: [layout.dataArea],
        metadataAreas: layout.metadataAreas,
        extVersion: PV_HEADER_EXTENSION_VERSION,
        extFlags: 0,
        bootloaderAreas: layout.bootloaderAreas,
      },
      opts.zero !== false,
    );
    // pvcreate may use a device outside the devices file; this command sees it from now on.
    this.allow(device);
    await this.quietRescan();
    return pvId;
  }

  async wipePv(device: string): Promise<void> {
    const found = this.findDevice(device) ?? this.state.unusedDuplicates.find((d) => d.path === device);
    if (!found) throw new LvmError(`No PV found on device ${device}.`, EXIT.FAILED);
    const dev = await this.writeHandle(found.path);
    await wipeLabel(dev, found.label.sector);
    await dev.flush();
    await this.quietRescan();
  }

  /**
   * Read-modify-write of the devices file under its own lock. When the system
   * file does not exist, pvcreate and vgcreate create it only if no VG is seen
   * (device_ids_write), so that existing PVs do not vanish from view; a file
   * named with --devicesfile is always created.
   */
  private async editDevicesFile(edit: (file: DevicesFile) => Promise<boolean>, create: boolean): Promise<void> {
    const path = this.devicesFilePath;
    if (!path) return;
    const lock = new LockSet(this.opts.runDir, { timeoutMs: this.deps.lockTimeoutMs });
    await lock.acquireFile(`D_${basename(path)}`, `devices file ${path}`);
    try {
      let file = await readDevicesFile(path);
      if (!file) {
        if (!create) return;
        if (this.opts.devicesFile === undefined && this.state.vgs.size > 0) {
          this.warn("Not creating system devices file due to existing VGs.");
          return;
        }
        this.warn(`Creating devices file ${path}`);
        file = { entries: [] };
      }
      if (!(await edit(file))) return;
      const next = nextVersion(file.version);
      if ("refuse" in next) {
        this.warn(next.refuse);
        return;
      }
      const command = this.opts.commandLine.split(" ")[0] ?? "ulvm";
      await writeDevicesFile(path, formatDevicesFile(file, next.version, { command, pid: process.pid, ctimeText: ctime(this.now()) }));
      this.devicesFileInUse = true;
    } finally {
      await lock.releaseAll();
    }
  }

  async addToDevicesFile(device: string, pvId?: string): Promise<void> {
    await this.editDevicesFile(async (file) => {
      const entry = await entryForDevice(this.access, device, pvId ?? this.findPv(device)?.pvId);
      const kept = [];
      for (const e of file.entries) if (!(await entryMatchesDevice(this.access, e, device))) kept.push(e);
      file.entries = [...kept, entry];
      return true;
    }, true);
    if (this.devicesFileInUse && this.allow(device)) await this.quietRescan();
  }

  async removeFromDevicesFile(device: string): Promise<void> {
    await this.editDevicesFile(async (file) => {
      const kept = [];
      for (const e of file.entries) if (!(await entryMatchesDevice(this.access, e, device))) kept.push(e);
      const changed = kept.length !== file.entries.length;
      file.entries = kept;
      return changed;
    }, false);
  }

  async close(): Promise<void> {
    await this.locks.releaseAll();
    const handles = new Set([...this.readHandles.values(), ...this.writeHandles.values()]);
    this.readHandles.clear();
    this.writeHandles.clear();
    for (const dev of handles) await dev.close().catch(() => {});
  }
}
