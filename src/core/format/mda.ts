/**
 * A metadata area (mda): a 512-byte mda_header followed by a ring buffer of text
 * copies. The header's raw_locn slots point into the ring; LVM's placement rules
 * for a new copy are reproduced exactly so that either tool can write after the other.
 */
import { lvmCrc } from "../crc.ts";
import { EXIT, FormatError, LvmError } from "../errors.ts";

export const MDA_HEADER_SIZE = 512;
/** " LVM2 x[5A%r0N*>" */
export const MDA_MAGIC = new Uint8Array([
  0x20, 0x4c, 0x56, 0x4d, 0x32, 0x20, 0x78, 0x5b, 0x35, 0x41, 0x25, 0x72, 0x30, 0x4e, 0x2a, 0x3e,
]);
export const MDA_VERSION = 1;
/** raw_locn flag, meaningful in the committed slot: the mda is not used. */
export const RAW_LOCN_IGNORED = 1;
/** LVM designed its placement for this alignment only. */
const ALIGN = 512;
const MAGIC_AT = 0x04;
const SLOT0_AT = 0x28;
const SLOT_SIZE = 24;

export interface RawLocn {
  /** Bytes from the mda start; text starts at 512 or later. 0 means no metadata. */
  offset: number;
  /** Bytes of text including its trailing NUL. */
  size: number;
  /** LVM CRC of those bytes, across the wrap. */
  checksum: number;
  flags: number;
}

export interface MdaHeader {
  /** Absolute byte offset of the mda on the device. */
  start: number;
  /** Bytes, header included. */
  size: number;
  committed: RawLocn;
  precommitted: RawLocn;
}

export interface PlannedWrite {
  /** Absolute byte offset on the device. */
  offset: number;
  data: Uint8Array;
}

export function emptyRawLocn(): RawLocn {
  return { offset: 0, size: 0, checksum: 0, flags: 0 };
}

function checkU64(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new FormatError(`${what} ${n} is not a valid value`);
}

function checkU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new FormatError(`${what} ${n} is not a valid value`);
}

export function encodeMdaHeader(h: MdaHeader): Uint8Array {
  checkU64(h.start, "mda start");
  checkU64(h.size, "mda size");
  const buf = new Uint8Array(MDA_HEADER_SIZE);
  const view = new DataView(buf.buffer);
  buf.set(MDA_MAGIC, MAGIC_AT);
  view.setUint32(0x14, MDA_VERSION, true);
  view.setBigUint64(0x18, BigInt(h.start), true);
  view.setBigUint64(0x20, BigInt(h.size), true);
  [h.committed, h.precommitted].forEach((l, i) => {
    const at = SLOT0_AT + i * SLOT_SIZE;
    checkU64(l.offset, `raw_locn ${i} offset`);
    checkU64(l.size, `raw_locn ${i} size`);
    checkU32(l.checksum, `raw_locn ${i} checksum`);
    checkU32(l.flags, `raw_locn ${i} flags`);
    view.setBigUint64(at, BigInt(l.offset), true);
    view.setBigUint64(at + 8, BigInt(l.size), true);
    view.setUint32(at + 16, l.checksum, true);
    view.setUint32(at + 20, l.flags, true);
  });
  view.setUint32(0, lvmCrc(buf.subarray(MAGIC_AT)), true);
  return buf;
}

/**
 * Throws FormatError when LVM would not use this mda. The message is the
 * "WARNING: ..." line(s) LVM prints, one per failed check and in its order,
 * ready to print; then follow checks of ulvm's own for values LVM never writes.
 */
export function decodeMdaHeader(buf: Uint8Array, expectedStart: number, deviceName: string): MdaHeader {
  const where = `on ${deviceName} at ${expectedStart}`;
  if (buf.length < MDA_HEADER_SIZE) {
    throw new FormatError(`mda header ${where} truncated to ${buf.length} bytes`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, MDA_HEADER_SIZE);
  const problems: string[] = [];
  const stored = view.getUint32(0, true);
  if (stored !== lvmCrc(buf.subarray(MAGIC_AT, MDA_HEADER_SIZE))) {
    problems.push(`WARNING: wrong checksum ${stored.toString(16)} in mda header ${where}`);
  }
  if (!MDA_MAGIC.every((b, i) => buf[MAGIC_AT + i] === b)) {
    problems.push(`WARNING: wrong magic number in mda header ${where}`);
  }
  const version = view.getUint32(0x14, true);
  if (version !== MDA_VERSION) problems.push(`WARNING: wrong version ${version} in mda header ${where}`);
  const start = view.getBigUint64(0x18, true);
  if (start !== BigInt(expectedStart)) {
    problems.push(`WARNING: wrong start sector ${start} in mda header ${where}`);
  }
  if (problems.length) throw new FormatError(problems.join("\n"));

  const u64 = (at: number, what: string): number => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${what} ${v} in mda header ${where} is too large`);
    return Number(v);
  };
  const slot = (i: number): RawLocn => {
    const at = SLOT0_AT + i * SLOT_SIZE;
    return {
      offset: u64(at, `raw_locn ${i} offset`),
      size: u64(at + 8, `raw_locn ${i} size`),
      checksum: view.getUint32(at + 16, true),
      flags: view.getUint32(at + 20, true),
    };
  };
  const size = u64(0x20, "size");
  if (size <= MDA_HEADER_SIZE) throw new FormatError(`mda header ${where} gives an area of ${size} bytes, no room for text`);
  return { start: Number(start), size, committed: slot(0), precommitted: slot(1) };
}

/** Half the ring, less a sector for the rounding of each copy's start. */
export function maxMetadataSize(mdaSize: number): number {
  return Math.max(0, Math.floor((mdaSize - MDA_HEADER_SIZE) / 2) - 512);
}

/** Space left for the VG's text (pv_mda_free), in bytes, rounded down to sectors as LVM does; 0 when ignored. */
export function mdaFreeBytes(h: MdaHeader): number {
  if (h.committed.flags & RAW_LOCN_IGNORED) return 0;
  const max = maxMetadataSize(h.size);
  const free = h.committed.offset === 0 ? max : Math.max(0, max - h.committed.size);
  return free - (free % 512);
}

/** Where the ring's newest byte sits and how far the copy wraps; undefined when there is no usable old copy. */
function occupied(h: MdaHeader): { start: number; last: number; wrap: number } | undefined {
  const old = h.committed;
  if (old.flags & RAW_LOCN_IGNORED || (old.offset === 0 && old.size === 0)) return undefined;
  if (old.offset + old.size > h.size) {
    const wrap = old.offset + old.size - h.size;
    return { start: old.offset, last: wrap + MDA_HEADER_SIZE - 1, wrap };
  }
  return { start: old.offset, last: old.offset + old.size - 1, wrap: 0 };
}

function nextOffset(h: MdaHeader, old: { last: number } | undefined): number {
  if (!old || h.size - old.last < ALIGN) return MDA_HEADER_SIZE;
  const next = old.last + 1;
  const start = next + ((ALIGN - (next % ALIGN)) % ALIGN);
  return start > h.size - ALIGN ? MDA_HEADER_SIZE : start;
}

/** LVM's test, strict comparisons included: whatever it does not recognise as disjoint counts as overlap. */
function overlaps(
  old: { start: number; last: number; wrap: number },
  neu: { start: number; last: number; wrap: number },
): boolean {
  if (neu.wrap && old.wrap) return true;
  if (!neu.wrap && !old.wrap) {
    return !((neu.start > old.last && neu.last > neu.start) || (neu.start < old.start && neu.last < old.start));
  }
  if (old.wrap) return !(old.last < neu.start && neu.start < neu.last && neu.last < old.start);
  return !(neu.last < old.start && old.start < old.last && old.last < neu.start);
}

/**
 * Places a new copy of the text in the ring after the committed one, as LVM's
 * vg_write does, and returns the raw_locn to precommit and commit plus the device
 * writes (each padded with zeros to a 512-byte boundary, never past the mda).
 * Throws LvmError with LVM's message when the text cannot fit.
 */
export function planMetadataWrite(
  h: MdaHeader,
  text: Uint8Array,
  deviceName: string,
  vgName: string,
  seqno: number,
): { locn: RawLocn; writes: PlannedWrite[] } {
  if (text.length === 0 || text[text.length - 1] !== 0) throw new FormatError("metadata text must end with a NUL byte");
  const size = text.length;
  const max = maxMetadataSize(h.size);
  if (size > max) {
    throw new LvmError(
      `VG ${vgName} ${seqno} metadata on ${deviceName} (${size} bytes) exceeds maximum metadata size (${max} bytes)`,
      EXIT.FAILED,
    );
  }
  const old = occupied(h);
  const start = nextOffset(h, old);
  const wrap = start + size > h.size ? start + size - h.size : 0;
  const neu = { start, wrap, last: wrap ? wrap + MDA_HEADER_SIZE - 1 : start + size - 1 };
  // With no old copy LVM compares against an all-zero one, which only a 1-byte text hits.
  if (overlaps(old ?? { start: 0, last: 0, wrap: 0 }, neu)) {
    throw new LvmError(
      `VG ${vgName} ${seqno} metadata on ${deviceName} (${size} bytes) too large for circular buffer ` +
        `(${h.size - MDA_HEADER_SIZE} bytes with ${old ? h.committed.size : 0} used)`,
      EXIT.FAILED,
    );
  }
  const end = h.start + h.size;
  const padded = (offset: number, part: Uint8Array): PlannedWrite => {
    const over = (offset + part.length) % ALIGN;
    const length = Math.min(part.length + (over ? ALIGN - over : 0), end - offset);
    const data = new Uint8Array(length);
    data.set(part);
    return { offset, data };
  };
  const writes = wrap
    ? [
        { offset: h.start + start, data: text.slice(0, size - wrap) },
        padded(h.start + MDA_HEADER_SIZE, text.subarray(size - wrap)),
      ]
    : [padded(h.start + start, text)];
  return { locn: { offset: start, size, checksum: lvmCrc(text), flags: 0 }, writes };
}

/**
 * Absolute offset and length of the one or two parts of the copy `locn` points
 * to. Throws FormatError when the location cannot lie in this mda's ring.
 */
export function metadataSpans(h: MdaHeader, locn: RawLocn, deviceName?: string): { offset: number; length: number }[] {
  const ring = h.size - MDA_HEADER_SIZE;
  if (locn.offset < MDA_HEADER_SIZE || locn.offset >= h.size || locn.size === 0 || locn.size > ring) {
    throw new FormatError(
      `metadata location (offset ${locn.offset}, size ${locn.size}) lies outside the ring of the mda ` +
        `at ${h.start} (size ${h.size})${deviceName ? ` on ${deviceName}` : ""}`,
    );
  }
  const wrap = Math.max(0, locn.offset + locn.size - h.size);
  const first = { offset: h.start + locn.offset, length: locn.size - wrap };
  return wrap ? [first, { offset: h.start + MDA_HEADER_SIZE, length: wrap }] : [first];
}

/**
 * Joins the parts read at `metadataSpans` and checks them against the slot's
 * checksum. On a mismatch the FormatError's message is LVM's warning line.
 */
export function assembleMetadataText(h: MdaHeader, locn: RawLocn, parts: Uint8Array[], deviceName: string): Uint8Array {
  const spans = metadataSpans(h, locn, deviceName);
  if (parts.length !== spans.length || spans.some((s, i) => parts[i]!.length !== s.length)) {
    throw new FormatError(
      `metadata on ${deviceName} at ${spans[0]!.offset}: expected parts of ${spans.map((s) => s.length).join("+")} bytes, ` +
        `got ${parts.map((p) => p.length).join("+")}`,
    );
  }
  const crc = parts.reduce((c, p) => lvmCrc(p, c), undefined as number | undefined);
  if (crc !== locn.checksum) {
    throw new FormatError(`WARNING: Checksum error on ${deviceName} at offset ${spans[0]!.offset}.`);
  }
  if (parts.length === 1) return parts[0]!;
  const text = new Uint8Array(locn.size);
  text.set(parts[0]!);
  text.set(parts[1]!, parts[0]!.length);
  return text;
}
