/**
 * The on-disk side of a VG write, in LVM's order (metadata.c vg_write/vg_commit,
 * format-text.c): the new text goes into every ring first, then every header
 * points raw_locn[1] (precommitted) at it, then raw_locn[0] (committed). A flush
 * separates the phases, so at any crash every mda still commits either the old
 * copy, whose bytes the ring placement never overwrites, or the new one.
 */
import type { BlockDevice } from "../io/block-device.ts";
import { EXIT, FormatError, LvmError } from "../core/errors.ts";
import {
  MDA_HEADER_SIZE,
  RAW_LOCN_IGNORED,
  decodeMdaHeader,
  emptyRawLocn,
  encodeMdaHeader,
  planMetadataWrite,
  type MdaHeader,
  type RawLocn,
} from "../core/format/mda.ts";
import { encodeLabelSector, SECTOR_SIZE, type PvLabel } from "../core/format/label.ts";
import type { Warn } from "./scan.ts";

/** One metadata area to write, located by the PV label. */
export interface MdaTarget {
  dev: BlockDevice;
  path: string;
  start: number;
  size: number;
}

/** The header as on disk now, or undefined when it is unusable (bad checksum, magic, version, start). */
export async function readMdaHeader(t: MdaTarget): Promise<MdaHeader | undefined> {
  const buf = new Uint8Array(MDA_HEADER_SIZE);
  await t.dev.read(buf, t.start);
  try {
    return decodeMdaHeader(buf, t.start, t.path);
  } catch (e) {
    if (e instanceof FormatError) return undefined;
    throw e;
  }
}

/** An mda header with no metadata: what pvcreate writes and what repairs an unusable header. */
export function emptyMdaHeader(start: number, size: number): MdaHeader {
  return { start, size, committed: emptyRawLocn(), precommitted: emptyRawLocn() };
}

async function writeHeader(t: MdaTarget, h: MdaHeader): Promise<void> {
  await t.dev.write(encodeMdaHeader(h), t.start);
}

async function flushAll(devs: Iterable<BlockDevice>): Promise<void> {
  for (const dev of new Set(devs)) await dev.flush();
}

/**
 * Writes `text` (NUL-terminated) as the committed metadata of every target.
 * Every placement is planned before the first write, so a text too large for
 * any mda changes nothing. A failure before the commit phase reverts the
 * precommitted slots and throws; in the commit phase each mda is committed on
 * its own and the write fails only if none could be.
 */
export async function commitMetadata(targets: MdaTarget[], text: Uint8Array, vgName: string, seqno: number, warn: Warn): Promise<void> {
  const plans = [];
  for (const t of targets) {
    // A header that cannot be read is rewritten from scratch: that is its repair.
    const header = (await readMdaHeader(t)) ?? emptyMdaHeader(t.start, t.size);
    plans.push({ t, header, ...planMetadataWrite(header, text, t.path, vgName, seqno) });
  }
  const devs = targets.map((t) => t.dev);
  const failed = (): LvmError => new LvmError(`Failed to write VG ${vgName}.`, EXIT.FAILED);

  let precommitting = false;
  try {
    for (const p of plans) for (const w of p.writes) await p.t.dev.write(w.data, w.offset);
    await flushAll(devs);
    precommitting = true;
    for (const p of plans) await writeHeader(p.t, { ...p.header, precommitted: p.locn });
    await flushAll(devs);
  } catch {
    if (precommitting) {
      // LVM's revert: forget the precommitted copy, leave the committed one alone.
      for (const p of plans) await writeHeader(p.t, { ...p.header, precommitted: emptyRawLocn() }).catch(() => {});
      await flushAll(devs).catch(() => {});
    }
    throw failed();
  }

  let committed = 0;
  for (const p of plans) {
    try {
      await writeHeader(p.t, { ...p.header, committed: { ...p.locn, flags: 0 }, precommitted: emptyRawLocn() });
      await p.t.dev.flush();
      committed++;
    } catch {
      warn(`WARNING: Failed to write an MDA of VG ${vgName}.`);
    }
  }
  if (!committed) throw failed();
}

/**
 * Drops the metadata an mda points to, keeping its ignore flag, as vgremove and
 * vgreduce do; the ring text stays where it was.
 */
export async function clearMdaSlots(t: MdaTarget, warn: Warn): Promise<void> {
  const header = await readMdaHeader(t);
  if (!header) warn(`WARNING: Removing metadata location on ${t.path} with bad mda header.`);
  const ignored: RawLocn = { ...emptyRawLocn(), flags: (header?.committed.flags ?? 0) & RAW_LOCN_IGNORED };
  await writeHeader(t, { ...emptyMdaHeader(t.start, header?.size ?? t.size), committed: ignored });
}

export async function writeLabel(dev: BlockDevice, label: PvLabel): Promise<void> {
  await dev.write(encodeLabelSector(label), label.sector * SECTOR_SIZE);
}

/** pvremove: the label sector goes, the mdas stay. */
export async function wipeLabel(dev: BlockDevice, sector: number): Promise<void> {
  await dev.write(new Uint8Array(SECTOR_SIZE), sector * SECTOR_SIZE);
}

/** The zeroing that pvcreate does in front of a new mda header: its first 4 KiB. */
const MDA_ZERO_BYTES = 4096;
/** pvcreate's wipe of the label scan window. */
const LABEL_WIPE_BYTES = 2048;

/**
 * pvcreate's writes (lvm2-format §2.8): the label window zeroed unless told not
 * to, each mda's first 4 KiB zeroed and given an empty header, then the label.
 * The label goes last so that an interrupted pvcreate leaves no PV behind.
 */
export async function initialisePv(dev: BlockDevice, label: PvLabel, zero: boolean): Promise<void> {
  if (zero) await dev.write(new Uint8Array(Math.min(LABEL_WIPE_BYTES, dev.size)), 0);
  for (const area of label.metadataAreas) {
    await dev.write(new Uint8Array(Math.min(MDA_ZERO_BYTES, area.size)), area.offset);
    await writeHeader({ dev, path: dev.path, start: area.offset, size: area.size }, emptyMdaHeader(area.offset, area.size));
  }
  await dev.flush();
  await writeLabel(dev, label);
  await dev.flush();
}
