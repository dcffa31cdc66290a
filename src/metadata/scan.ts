/**
 * LVM's label scan and VG read: find PV labels, read every mda header and the
 * committed text it points to (raw_locn[0]; the precommitted slot only matters
 * to activation), check it, then decide for each VG which copy is the newest and
 * which PVs are missing, outdated or duplicated. Each distinct text is parsed
 * once, however many mdas hold it. Warnings are LVM 2.03.16's texts
 * (text_label.c, format-text.c, metadata.c, lvmcache.c), in its order.
 */
import type { BlockDevice } from "../io/block-device.ts";
import { LABEL_SCAN_BYTES, PV_EXT_USED, PV_HEADER_EXTENSION_VERSION, scanLabel, type PvLabel } from "../core/format/label.ts";
import {
  MDA_HEADER_SIZE,
  RAW_LOCN_IGNORED,
  assembleMetadataText,
  decodeMdaHeader,
  mdaFreeBytes,
  metadataSpans,
  type MdaHeader,
} from "../core/format/mda.ts";
import { PV_MIN_SIZE } from "../core/format/layout.ts";
import { formatId } from "../core/format/id.ts";
import { FormatError } from "../core/errors.ts";
import { parseVgText } from "../core/model/text.ts";
import type { PhysicalVolume, VolumeGroup } from "../core/model/types.ts";
import { pvFreeExtents } from "../core/model/relations.ts";
import type { MetadataAreaInfo, ScannedPv } from "./session.ts";

export type Warn = (line: string) => void;

/** One distinct committed text and its parse, shared by every mda holding it. */
export interface MetadataText {
  text: string;
  checksum: number;
  size: number;
  vg: VolumeGroup;
}

export interface ScannedMda {
  /** LVM's numbering in messages: mda1, mda2. */
  number: number;
  /** Where the label says the mda is. */
  start: number;
  size: number;
  /** Undefined when the header is unusable (unreadable, bad checksum, magic, version or start). */
  header?: MdaHeader;
  ignored: boolean;
  /** The committed copy, when it was read, matched its checksum and parsed. */
  copy?: MetadataText;
  /** The header or the committed copy was unusable; the next write of the VG rewrites the mda. */
  bad?: boolean;
}

export interface ScannedDevice {
  path: string;
  dev: BlockDevice;
  label: PvLabel;
  mdas: ScannedMda[];
}

/** Where a copy of a VG was found. */
export interface CopyLocation {
  device: ScannedDevice;
  mda: ScannedMda;
}

export interface VgRecord {
  id: string;
  /** The newest copy: highest seqno, first found among equals. */
  newest: MetadataText;
  /** Every good copy of the VG, in scan order. */
  copies: (CopyLocation & { copy: MetadataText })[];
  /**
   * Copies that failed their checksum although their slot matched a good copy's
   * checksum and size: LVM skips those in its scan and reports them when it reads the VG.
   */
  corrupt: CopyLocation[];
  /** PVs whose newest copy is of this VG but that this VG no longer lists. */
  outdated: { device: ScannedDevice; seqno: number }[];
}

export interface ScanState {
  /** Devices with a PV label, in scan order, unused duplicates left out. */
  devices: ScannedDevice[];
  byPvId: Map<string, ScannedDevice>;
  unusedDuplicates: ScannedDevice[];
  /** By VG id. */
  vgs: Map<string, VgRecord>;
  /** PV id → id of the VG whose newest metadata lists it. */
  memberOf: Map<string, string>;
  outdated: Map<ScannedDevice, string>;
}

const decoder = new TextDecoder();

/** Parses each distinct text once; keyed by the text itself, so equal copies share one model. */
export class TextCache {
  private readonly byText = new Map<string, MetadataText | FormatError>();

  /** `warn` gets the parser's own warnings (duplicate keys and the like), once per distinct text. */
  constructor(private readonly warn: Warn) {}

  get(text: string, checksum: number, size: number): MetadataText | FormatError {
    let entry = this.byText.get(text);
    if (!entry) {
      try {
        entry = { text, checksum, size, vg: parseVgText(text, { warn: this.warn }).vg };
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        entry = e;
      }
      this.byText.set(text, entry);
    }
    return entry;
  }
}

const slotKey = (checksum: number, size: number): string => `${checksum}:${size}`;

/** Identifies a committed copy by where it is and what its slot says. */
const copyKey = (path: string, start: number, offset: number, size: number, checksum: number): string =>
  `${path}\0${start}\0${offset}\0${size}\0${checksum}`;

class Scanner {
  /** Slots of good copies seen so far, as lvmcache remembers VG summaries during its scan. */
  private readonly seen = new Map<string, string>();
  /** The last text whose checksum matched its slot, by slotKey, and what it parsed to. */
  private readonly checked = new Map<string, { bytes: Uint8Array; copy: MetadataText | FormatError }>();
  readonly corrupt: (CopyLocation & { vgId: string })[] = [];

  constructor(
    private readonly texts: TextCache,
    private readonly warn: Warn,
    /** Copies read by the previous scan, by copyKey. */
    private readonly known: Map<string, MetadataText>,
  ) {}

  async device(dev: BlockDevice, path: string): Promise<ScannedDevice | undefined> {
    // LVM's device filter skips devices smaller than devices/pv_min_size.
    if (dev.size < PV_MIN_SIZE) return undefined;
    const head = new Uint8Array(LABEL_SCAN_BYTES);
    try {
      await dev.read(head, 0);
    } catch {
      // LVM's scan passes over a device it cannot read without a word (label.c logs it at debug level).
      return undefined;
    }
    const scan = scanLabel(head, path);
    scan.warnings.forEach(this.warn);
    if (!scan.label) return undefined;
    const device: ScannedDevice = { path, dev, label: scan.label, mdas: [] };
    for (const [i, area] of scan.label.metadataAreas.entries()) {
      device.mdas.push(await this.mda(device, area, i + 1));
    }
    // A slot LVM's scan trusted on its checksum counts as read, as it does there.
    const read = device.mdas.filter((m) => m.copy || this.corrupt.some((c) => c.mda === m)).length;
    if (!read && device.mdas.some((m) => m.bad))
      this.warn(`WARNING: scan failed to get metadata summary from ${path} PVID ${scan.label.pvId}`);
    return device;
  }

  private good(mda: ScannedMda, copy: MetadataText): ScannedMda {
    mda.copy = copy;
    const slot = slotKey(copy.checksum, copy.size);
    if (!this.seen.has(slot)) this.seen.set(slot, copy.vg.id);
    return mda;
  }

  private badSummary(device: ScannedDevice, mda: ScannedMda): ScannedMda {
    mda.bad = true;
    this.warn(`WARNING: scanning ${device.path} mda${mda.number} failed to read metadata summary.`);
    this.warn(`WARNING: repair VG metadata on ${device.path} with vgck --updatemetadata.`);
    return mda;
  }

  private async mda(device: ScannedDevice, area: { offset: number; size: number }, number: number): Promise<ScannedMda> {
    const { dev, path } = device;
    const mda: ScannedMda = { number, start: area.offset, size: area.size, ignored: false };
    try {
      const buf = new Uint8Array(MDA_HEADER_SIZE);
      await dev.read(buf, area.offset);
      mda.header = decodeMdaHeader(buf, area.offset, path);
    } catch (e) {
      if (e instanceof FormatError) e.message.split("\n").forEach(this.warn);
      else this.warn(`Failed to read metadata area header on ${path} at ${area.offset}`);
      this.warn(`WARNING: bad metadata header on ${path} at ${area.offset}.`);
      return this.badSummary(device, mda);
    }
    const locn = mda.header.committed;
    mda.ignored = (locn.flags & RAW_LOCN_IGNORED) !== 0;
    if (mda.ignored || locn.offset === 0) return mda;

    // As LVM after taking a VG lock: a slot unchanged since the last scan still points to the text read then.
    const known = this.known.get(copyKey(path, area.offset, locn.offset, locn.size, locn.checksum));
    if (known) return this.good(mda, known);

    const at = area.offset + locn.offset;
    const slot = slotKey(locn.checksum, locn.size);
    // Every PV of a VG normally holds the same text: a copy byte-equal to one already checked against this
    // slot's checksum needs neither a checksum nor a decode and parse of its own, and a compare costs far less.
    const twin = this.checked.get(slot);
    let problem: string | undefined;
    let checksumError = false;
    let bytes: Uint8Array | undefined;
    let copy: MetadataText | FormatError | undefined;
    try {
      const parts: Uint8Array[] = [];
      for (const s of metadataSpans(mda.header, locn, path)) {
        const buf = new Uint8Array(s.length);
        await dev.read(buf, s.offset);
        parts.push(buf);
      }
      if (twin && parts.length === 1 && Buffer.compare(twin.bytes, parts[0]!) === 0) copy = twin.copy;
      else bytes = assembleMetadataText(mda.header, locn, parts, path);
    } catch (e) {
      // A text that cannot be read is reported as a bad one, as LVM's scan does.
      if (e instanceof FormatError) {
        problem = e.message;
        // assembleMetadataText words a checksum mismatch as LVM's warning.
        checksumError = problem.startsWith("WARNING: Checksum error");
      }
    }
    if (bytes) {
      // On disk the text ends in a NUL that is not part of the config text.
      copy = this.texts.get(decoder.decode(bytes.subarray(0, bytes.length - 1)), locn.checksum, locn.size);
      this.checked.set(slot, { bytes, copy });
    }
    if (copy) {
      if (!(copy instanceof FormatError)) return this.good(mda, copy);
      problem = copy.message;
    }
    const knownVg = checksumError ? this.seen.get(slotKey(locn.checksum, locn.size)) : undefined;
    if (knownVg) {
      // LVM's scan trusts a slot whose checksum and size match a VG it already read; the read of that VG finds the damage.
      mda.bad = true;
      this.corrupt.push({ device, mda, vgId: knownVg });
      return mda;
    }
    if (problem) this.warn(problem);
    this.warn(`WARNING: invalid metadata text from ${path} at ${at}.`);
    this.warn(`WARNING: metadata on ${path} at ${at} has invalid summary for VG.`);
    this.warn(`WARNING: bad metadata text on ${path} in mda${number}`);
    return this.badSummary(device, mda);
  }
}

/** Which device of several with one PV id lvm keeps using, and why (lvmcache.c _choose_duplicates). */
function preferDuplicate(devices: ScannedDevice[], pv: PhysicalVolume | undefined): { chosen: ScannedDevice; reason: string } {
  let chosen = devices[0]!;
  let reason = "device was seen first";
  for (const other of devices.slice(1)) {
    const sizeOk = (d: ScannedDevice) => pv?.devSize !== undefined && d.dev.size / 512 === pv.devSize;
    const nameOk = (d: ScannedDevice) => pv?.deviceHint !== undefined && d.path === pv.deviceHint;
    if (sizeOk(chosen) !== sizeOk(other)) {
      reason = "device size is correct";
      if (sizeOk(other)) chosen = other;
    } else if (nameOk(chosen) !== nameOk(other)) {
      reason = "device name matches previous";
      if (nameOk(other)) chosen = other;
    } else reason = "device was seen first";
  }
  return { chosen, reason };
}

/** The newest copy of each VG id among the given devices, warning where equal seqnos disagree. */
function newestCopies(devices: ScannedDevice[], warn?: Warn): Map<string, VgRecord> {
  const vgs = new Map<string, VgRecord>();
  for (const device of devices)
    for (const mda of device.mdas) {
      const copy = mda.copy;
      if (!copy) continue;
      const record = vgs.get(copy.vg.id);
      if (!record) {
        vgs.set(copy.vg.id, { id: copy.vg.id, newest: copy, copies: [{ device, mda, copy }], corrupt: [], outdated: [] });
        continue;
      }
      record.copies.push({ device, mda, copy });
      if (copy.vg.seqno > record.newest.vg.seqno) record.newest = copy;
      else if (copy.vg.seqno === record.newest.vg.seqno && copy !== record.newest && warn) {
        const n = record.newest;
        warn(
          `WARNING: scan of VG ${copy.vg.name} from ${device.path} mda${mda.number} found mda_checksum ${copy.checksum.toString(16)} ` +
            `mda_size ${copy.size} vs ${n.checksum.toString(16)} ${n.size}`,
        );
        warn(`WARNING: Scanning ${device.path} mda${mda.number} found mismatch with other metadata.`);
      }
    }
  return vgs;
}

/**
 * Scans the devices in order; returns what LVM's label scan and duplicate
 * handling conclude. Texts whose slots have not changed since `previous` are not read again.
 */
export async function scanDevices(
  devices: { path: string; dev: BlockDevice }[],
  texts: TextCache,
  warn: Warn,
  previous?: ScanState,
): Promise<ScanState> {
  const known = new Map<string, MetadataText>();
  for (const d of [...(previous?.devices ?? []), ...(previous?.unusedDuplicates ?? [])])
    for (const m of d.mdas) if (m.copy) known.set(copyKey(d.path, m.start, m.header!.committed.offset, m.copy.size, m.copy.checksum), m.copy);
  const scanner = new Scanner(texts, warn, known);
  const labelled: ScannedDevice[] = [];
  for (const { path, dev } of devices) {
    const scanned = await scanner.device(dev, path);
    if (scanned) labelled.push(scanned);
  }

  const byId = new Map<string, ScannedDevice[]>();
  for (const d of labelled) byId.set(d.label.pvId, [...(byId.get(d.label.pvId) ?? []), d]);
  const unusedDuplicates: ScannedDevice[] = [];
  const preferences: string[] = [];
  const provisional = [...byId.values()].some((l) => l.length > 1) ? newestCopies(labelled) : new Map<string, VgRecord>();
  for (const [pvId, list] of byId) {
    if (list.length < 2) continue;
    const pv = [...provisional.values()].flatMap((r) => r.newest.vg.pvs).find((p) => p.id === pvId);
    const { chosen, reason } = preferDuplicate(list, pv);
    for (const d of list) if (d !== chosen) {
      unusedDuplicates.push(d);
      warn(`WARNING: Not using device ${d.path} for PV ${formatId(pvId)}.`);
    }
    preferences.push(`WARNING: PV ${formatId(pvId)} prefers device ${chosen.path} because ${reason}.`);
  }
  preferences.forEach(warn);

  const used = labelled.filter((d) => !unusedDuplicates.includes(d));
  const vgs = newestCopies(used, warn);
  const byName = new Map<string, string>();
  for (const { id, newest } of vgs.values()) {
    const other = byName.get(newest.vg.name);
    if (!other) byName.set(newest.vg.name, id);
    else {
      warn(`WARNING: VG name ${newest.vg.name} is used by VGs ${formatId(id)} and ${formatId(other)}.`);
      warn("Fix duplicate VG names with vgrename uuid, a device filter, or system IDs.");
    }
  }
  for (const c of scanner.corrupt) if (used.includes(c.device)) vgs.get(c.vgId)?.corrupt.push(c);

  // A PV two VGs list (a vgsplit between its two writes) belongs to the VG whose metadata it carries.
  const memberOf = new Map<string, string>();
  for (const device of used)
    for (const mda of device.mdas) {
      const record = mda.copy && vgs.get(mda.copy.vg.id);
      if (record?.newest.vg.pvs.some((pv) => pv.id === device.label.pvId) && !memberOf.has(device.label.pvId))
        memberOf.set(device.label.pvId, record.id);
    }
  for (const record of vgs.values())
    for (const pv of record.newest.vg.pvs) if (!memberOf.has(pv.id)) memberOf.set(pv.id, record.id);

  const outdated = new Map<ScannedDevice, string>();
  for (const device of used) {
    if (memberOf.has(device.label.pvId)) continue;
    const own = device.mdas.map((m) => m.copy).filter((c) => c !== undefined);
    const newestOwn = own.reduce<MetadataText | undefined>((a, c) => (a && a.vg.seqno >= c.vg.seqno ? a : c), undefined);
    const record = newestOwn && vgs.get(newestOwn.vg.id);
    if (!newestOwn || !record) continue;
    outdated.set(device, record.id);
    record.outdated.push({ device, seqno: newestOwn.vg.seqno });
  }

  return { devices: used, byPvId: new Map(used.map((d) => [d.label.pvId, d])), unusedDuplicates, vgs, memberOf, outdated };
}

/** The warnings LVM's vg_read prints for a VG, in its order; the caller owns the once-per-process note. */
export function vgReadWarnings(state: ScanState, record: VgRecord, vg: VolumeGroup, outdatedNoteDone: boolean): string[] {
  const lines: string[] = [];
  const name = record.newest.vg.name;
  // LVM reads the mdas of the VG's PVs in scan order and keeps the best so far.
  let best: { seqno: number; path: string } | undefined;
  let old = false;
  for (const device of state.devices) {
    if (state.memberOf.get(device.label.pvId) !== record.id && !record.outdated.some((o) => o.device === device)) continue;
    for (const mda of device.mdas) {
      if (record.corrupt.some((c) => c.mda === mda)) {
        const h = mda.header!.committed;
        const at = mda.start + h.offset;
        lines.push(
          `WARNING: Checksum error on ${device.path} at offset ${at}.`,
          `WARNING: couldn't read volume group metadata from ${device.path}.`,
          `WARNING: Failed to read metadata text at ${at} off ${h.offset} size ${h.size} VG ${name} on ${device.path}`,
          `WARNING: reading ${device.path} mda${mda.number} failed to read metadata.`,
          `WARNING: repair VG metadata on ${device.path} with vgck --updatemetadata.`,
          `WARNING: Reading VG ${name} on ${device.path} failed.`,
        );
        continue;
      }
      const copy = mda.copy;
      if (!copy || copy.vg.id !== record.id) continue;
      const seqno = copy.vg.seqno;
      if (!best) best = { seqno, path: device.path };
      else if (seqno !== best.seqno) {
        old = true;
        const [older, newer] = seqno > best.seqno ? [best, { seqno, path: device.path }] : [{ seqno, path: device.path }, best];
        lines.push(`WARNING: ignoring metadata seqno ${older.seqno} on ${older.path} for seqno ${newer.seqno} on ${newer.path} for VG ${name}.`);
        if (seqno > best.seqno) best = newer;
      }
    }
  }
  if (old) lines.push(`WARNING: Inconsistent metadata found for VG ${name}.`, "See vgck --updatemetadata to correct inconsistency.");

  for (const pv of vg.pvs) {
    const device = state.byPvId.get(pv.id);
    if (!device) lines.push(`WARNING: Couldn't find device with uuid ${formatId(pv.id)}.`);
    else if (pv.flags.includes("MISSING")) lines.push(`WARNING: VG ${name} was previously updated while PV ${device.path} was missing.`);
  }
  record.outdated.forEach(({ device, seqno }, i) => {
    lines.push(`WARNING: outdated PV ${device.path} seqno ${seqno} has been removed in current VG ${name} seqno ${record.newest.vg.seqno}.`);
    if (i === 0 && !outdatedNoteDone) lines.push("See vgck --updatemetadata to clear outdated metadata.");
  });
  for (const pv of vg.pvs) {
    const device = state.byPvId.get(pv.id);
    if (!device) continue;
    if (device.label.extVersion < PV_HEADER_EXTENSION_VERSION)
      lines.push(`WARNING: PV ${device.path} in VG ${name} is using an old PV header, modify the VG to update.`);
    else if (!(device.label.extFlags & PV_EXT_USED))
      lines.push(`WARNING: PV ${device.path} in VG ${name} is missing the used flag in PV header.`);
  }
  for (const pv of vg.pvs) {
    const device = state.byPvId.get(pv.id);
    if (!device)
      lines.push(
        pv.deviceHint
          ? `WARNING: VG ${name} is missing PV ${formatId(pv.id)} (last written to ${pv.deviceHint}).`
          : `WARNING: VG ${name} is missing PV ${formatId(pv.id)}.`,
      );
    else if (pv.flags.includes("MISSING")) {
      lines.push(
        pvFreeExtents(vg, pv.id) === pv.peCount
          ? `WARNING: VG ${name} has unused reappeared PV ${device.path} ${formatId(pv.id)}.`
          : `WARNING: VG ${name} was missing PV ${device.path} ${formatId(pv.id)}.`,
      );
    }
  }
  return lines;
}

/**
 * LVM's in-memory view of a VG just read: a PV without a device is MISSING (and
 * is written so), and a reappeared PV that holds no extents is taken back.
 */
export function markMissingPvs(state: ScanState, vg: VolumeGroup): void {
  for (const pv of vg.pvs) {
    const present = state.byPvId.has(pv.id);
    if (!present && !pv.flags.includes("MISSING")) pv.flags.push("MISSING");
    else if (present && pv.flags.includes("MISSING") && pvFreeExtents(vg, pv.id) === pv.peCount)
      pv.flags = pv.flags.filter((f) => f !== "MISSING");
  }
}

function mdaInfo(mda: ScannedMda): MetadataAreaInfo {
  return { start: mda.start, size: mda.size, ignored: mda.ignored, free: mda.header ? mdaFreeBytes(mda.header) : 0 };
}

export function toScannedPv(state: ScanState, device: ScannedDevice): ScannedPv {
  const { label } = device;
  const vgId = state.memberOf.get(label.pvId) ?? state.outdated.get(device);
  const ba = label.bootloaderAreas[0];
  return {
    device: device.path,
    size: device.dev.size,
    pvId: label.pvId,
    labelDeviceSize: label.deviceSize,
    peStart: label.dataAreas[0]?.offset ?? 0,
    mdas: device.mdas.map(mdaInfo),
    ...(ba ? { bootloaderArea: { offset: ba.offset, size: ba.size } } : {}),
    ...(vgId ? { vgId, vgName: state.vgs.get(vgId)!.newest.vg.name } : {}),
    used: (label.extFlags & PV_EXT_USED) !== 0,
  };
}
