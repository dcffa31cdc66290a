/**
 * The PV label: one 512-byte sector among the first four of a device holding the
 * label_header, the pv_header (id, size, data and metadata area lists) and the
 * pv_header_extension (flags, bootloader areas). All integers little-endian.
 */
import { lvmCrc } from "../crc.ts";
import { FormatError } from "../errors.ts";
import { ID_LEN, isValidId } from "./id.ts";
import { MDA_HEADER_SIZE } from "./mda.ts";

export const SECTOR_SIZE = 512;
export const LABEL_SCAN_SECTORS = 4;
export const LABEL_SCAN_BYTES = LABEL_SCAN_SECTORS * SECTOR_SIZE;
/** pv_header_extension flag: set while the PV belongs to a VG. */
export const PV_EXT_USED = 1;
/** The extension version LVM 2.03 writes (1 added bootloader areas, 2 the USED flag). */
export const PV_HEADER_EXTENSION_VERSION = 2;

const LABEL_ID = "LABELONE";
const LABEL_TYPE = "LVM2 001";
/** The label CRC covers the sector from the pv_header offset field to its end. */
const CRC_START = 0x14;
const PV_HEADER_OFFSET = 0x20;
const LOCN_SIZE = 16;

/** Bytes. */
export interface DiskLocn {
  offset: number;
  size: number;
}

export interface PvLabel {
  /** The sector (0-3) holding the label. */
  sector: number;
  /** 32 id characters, no dashes. */
  pvId: string;
  /** Bytes, as recorded by pvcreate or pvresize. */
  deviceSize: number;
  /** In practice one entry: offset = pe_start, size 0 = to the end of the device. */
  dataAreas: DiskLocn[];
  /** 0, 1 or 2 whole mdas (header and ring). */
  metadataAreas: DiskLocn[];
  /** 0 when the extension is absent (labels of very old LVM2). */
  extVersion: number;
  extFlags: number;
  bootloaderAreas: DiskLocn[];
}

export interface LabelScan {
  label?: PvLabel;
  /** Lines LVM prints at its default verbosity, its own texts. */
  warnings: string[];
  /** Lines LVM prints only with -v and up, and notes on odd layouts that LVM accepts silently. */
  verbose: string[];
}

function ascii(buf: Uint8Array, at: number, len: number): string {
  return String.fromCharCode(...buf.subarray(at, at + len));
}

function putAscii(buf: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) buf[at + i] = text.charCodeAt(i);
}

function readU64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${what} ${v} is too large`);
  return Number(v);
}

function labelCrc(sector: Uint8Array): number {
  return lvmCrc(sector.subarray(CRC_START, SECTOR_SIZE));
}

function describe(kind: string, i: number, a: DiskLocn): string {
  return `${kind} ${i} (offset ${a.offset}, size ${a.size})`;
}

function checkInteger(n: number, what: string, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new FormatError(`${what} ${n} is not a valid value`);
}

/**
 * Refuses layouts that cannot be real (misaligned, outside the device, areas on
 * top of each other or of the label) so that no caller reads or writes through
 * them; returns notes on the odd layouts LVM itself creates and accepts.
 */
function checkLabel(label: PvLabel): string[] {
  const notes: string[] = [];
  if (!isValidId(label.pvId)) throw new FormatError(`PV id ${JSON.stringify(label.pvId)} is not ${ID_LEN} valid id characters`);
  checkInteger(label.deviceSize, "device size");
  checkInteger(label.extVersion, "pv_header_extension version", 0xffffffff);
  checkInteger(label.extFlags, "pv_header_extension flags", 0xffffffff);
  if (label.extVersion === 0 && (label.extFlags !== 0 || label.bootloaderAreas.length > 0)) {
    throw new FormatError("flags or bootloader areas without a pv_header_extension (version 0)");
  }
  const lists: [string, DiskLocn[]][] = [
    ["data area", label.dataAreas],
    ["metadata area", label.metadataAreas],
    ["bootloader area", label.bootloaderAreas],
  ];
  for (const [kind, list] of lists) {
    list.forEach((a, i) => {
      checkInteger(a.offset, `${kind} ${i} offset`);
      checkInteger(a.size, `${kind} ${i} size`);
      if (a.offset === 0) throw new FormatError(`${describe(kind, i, a)} starts at 0, which ends the list`);
      if (a.offset % SECTOR_SIZE !== 0 || a.size % SECTOR_SIZE !== 0) {
        throw new FormatError(`${describe(kind, i, a)} is not sector-aligned`);
      }
      if (a.offset + a.size > label.deviceSize) {
        throw new FormatError(`${describe(kind, i, a)} extends beyond the device size ${label.deviceSize}`);
      }
    });
  }
  label.metadataAreas.forEach((a, i) => {
    if (a.size <= MDA_HEADER_SIZE) throw new FormatError(`${describe("metadata area", i, a)} is too small`);
    if (a.offset < LABEL_SCAN_BYTES) {
      throw new FormatError(`${describe("metadata area", i, a)} overlaps the label area (first ${LABEL_SCAN_BYTES} bytes)`);
    }
  });
  label.bootloaderAreas.forEach((a, i) => {
    if (a.size === 0) throw new FormatError(`${describe("bootloader area", i, a)} is empty`);
    // pvcreate --dataalignment 512b --pvmetadatacopies 0 really places it there.
    if (a.offset < LABEL_SCAN_BYTES) notes.push(`${describe("bootloader area", i, a)} overlaps the label area`);
  });
  label.dataAreas.forEach((a, i) => {
    if (a.offset < LABEL_SCAN_BYTES) notes.push(`${describe("data area", i, a)} overlaps the label area`);
  });
  const reserved: [string, DiskLocn][] = [
    ...label.metadataAreas.map((a, i): [string, DiskLocn] => [describe("metadata area", i, a), a]),
    ...label.bootloaderAreas.map((a, i): [string, DiskLocn] => [describe("bootloader area", i, a), a]),
  ];
  reserved.forEach(([name, a], i) => {
    for (const [other, b] of reserved.slice(i + 1)) {
      if (a.offset < b.offset + b.size && b.offset < a.offset + a.size) {
        throw new FormatError(`${name} overlaps ${other}`);
      }
    }
    for (const [j, d] of label.dataAreas.entries()) {
      if (a.offset < d.offset && d.offset < a.offset + a.size) {
        throw new FormatError(`${describe("data area", j, d)} starts inside ${name}`);
      }
    }
  });
  return notes;
}

/** The 512-byte label sector, CRC included. Throws FormatError for a label that could not be read back. */
export function encodeLabelSector(label: PvLabel): Uint8Array {
  if (!Number.isInteger(label.sector) || label.sector < 0 || label.sector >= LABEL_SCAN_SECTORS) {
    throw new FormatError(`Label sector ${label.sector} beyond range (${LABEL_SCAN_SECTORS})`);
  }
  checkLabel(label);
  const entries = label.dataAreas.length + label.metadataAreas.length + label.bootloaderAreas.length + 3;
  const needed = PV_HEADER_OFFSET + ID_LEN + 8 + entries * LOCN_SIZE + 8;
  if (needed > SECTOR_SIZE) throw new FormatError(`label needs ${needed} bytes, more than one sector`);

  const buf = new Uint8Array(SECTOR_SIZE);
  const view = new DataView(buf.buffer);
  putAscii(buf, 0, LABEL_ID);
  view.setBigUint64(8, BigInt(label.sector), true);
  view.setUint32(CRC_START, PV_HEADER_OFFSET, true);
  putAscii(buf, 0x18, LABEL_TYPE);
  putAscii(buf, PV_HEADER_OFFSET, label.pvId);
  view.setBigUint64(PV_HEADER_OFFSET + ID_LEN, BigInt(label.deviceSize), true);
  let at = PV_HEADER_OFFSET + ID_LEN + 8;
  const putList = (list: DiskLocn[]): void => {
    for (const a of list) {
      view.setBigUint64(at, BigInt(a.offset), true);
      view.setBigUint64(at + 8, BigInt(a.size), true);
      at += LOCN_SIZE;
    }
    at += LOCN_SIZE; // the zero terminator
  };
  putList(label.dataAreas);
  putList(label.metadataAreas);
  view.setUint32(at, label.extVersion, true);
  view.setUint32(at + 4, label.extFlags, true);
  at += 8;
  putList(label.bootloaderAreas);
  view.setUint32(0x10, labelCrc(buf), true);
  return buf;
}

/**
 * Decodes the pv_header of a sector that passed the scan rules. Throws FormatError
 * for anything that cannot be a real label; returns notes on odd layouts LVM accepts.
 */
export function decodeLabelSector(sector: Uint8Array, sectorIndex: number): { label: PvLabel; notes: string[] } {
  if (sector.length < SECTOR_SIZE) throw new FormatError(`label sector truncated to ${sector.length} bytes`);
  const view = new DataView(sector.buffer, sector.byteOffset, SECTOR_SIZE);
  // LVM follows the stored offset; it writes 0x20 but would read a pv_header elsewhere.
  const pvh = view.getUint32(CRC_START, true);
  if (pvh < PV_HEADER_OFFSET || pvh > SECTOR_SIZE - (ID_LEN + 8)) {
    throw new FormatError(`pv_header offset ${pvh} is outside the label sector`);
  }
  let at = pvh + ID_LEN + 8;
  const readList = (what: string): DiskLocn[] => {
    const list: DiskLocn[] = [];
    for (;;) {
      if (at + LOCN_SIZE > SECTOR_SIZE) throw new FormatError(`${what} list runs past the end of the label sector`);
      // A reader stops at the first zero offset, whatever the size says.
      const offset = readU64(view, at, `${what} ${list.length} offset`);
      const size = readU64(view, at + 8, `${what} ${list.length} size`);
      at += LOCN_SIZE;
      if (offset === 0) return list;
      list.push({ offset, size });
    }
  };
  const dataAreas = readList("data area");
  const metadataAreas = readList("metadata area");
  if (at + 8 > SECTOR_SIZE) throw new FormatError("pv_header_extension runs past the end of the label sector");
  const extVersion = view.getUint32(at, true);
  const extFlags = extVersion ? view.getUint32(at + 4, true) : 0;
  at += 8;
  const bootloaderAreas = extVersion ? readList("bootloader area") : [];
  const label: PvLabel = {
    sector: sectorIndex,
    pvId: ascii(sector, pvh, ID_LEN),
    deviceSize: readU64(view, pvh + ID_LEN, "device size"),
    dataAreas,
    metadataAreas,
    extVersion,
    extFlags,
    bootloaderAreas,
  };
  return { label, notes: checkLabel(label) };
}

/**
 * LVM's label scan over the first four sectors (`head` may be shorter for a tiny
 * device): the first sector that passes wins, later ones only produce LVM's
 * messages. A winning sector whose contents are absurd yields no label and a
 * warning, never an exception.
 */
export function scanLabel(head: Uint8Array, deviceName: string): LabelScan {
  const warnings: string[] = [];
  const verbose: string[] = [];
  let found: { sector: Uint8Array; index: number } | undefined;
  for (let s = 0; s < LABEL_SCAN_SECTORS && (s + 1) * SECTOR_SIZE <= head.length; s++) {
    const sector = head.subarray(s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE);
    const view = new DataView(sector.buffer, sector.byteOffset, SECTOR_SIZE);
    if (ascii(sector, 0, 8) === LABEL_ID) {
      if (found) warnings.push(`Ignoring additional label on ${deviceName} at sector ${s}`);
      const stated = view.getBigUint64(8, true);
      if (stated !== BigInt(s)) {
        warnings.push(`${deviceName}: Label for sector ${stated} found at sector ${s} - ignoring.`);
        continue;
      }
      if (labelCrc(sector) !== view.getUint32(0x10, true)) {
        verbose.push(`Label checksum incorrect on ${deviceName} - ignoring`);
        continue;
      }
      if (found) continue;
    }
    // As in LVM, the type alone is checked here, so a sector lacking LABELONE but
    // carrying the type is taken, unchecked by CRC.
    if (ascii(sector, 0x18, 8) !== LABEL_TYPE) continue;
    if (found) {
      warnings.push(`Ignoring additional label on ${deviceName} at sector ${s}`);
      continue;
    }
    found = { sector, index: s };
    if (ascii(sector, 0, 8) !== LABEL_ID) {
      verbose.push(`${deviceName}: sector ${s} has the ${LABEL_TYPE} type without ${LABEL_ID}; used as LVM does`);
    }
  }
  if (!found) return { warnings, verbose };
  try {
    const { label, notes } = decodeLabelSector(found.sector, found.index);
    verbose.push(...notes.map((n) => `${deviceName}: label at sector ${found.index}: ${n}.`));
    return { label, warnings, verbose };
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    warnings.push(`WARNING: ${deviceName}: ignoring invalid PV label at sector ${found.index}: ${e.message}.`);
    return { warnings, verbose };
  }
}
