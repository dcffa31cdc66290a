/**
 * pvck: walks the label, pv_header and mda headers of devices byte by byte, the
 * way lvm's pvck does, so it reports damage that makes a device unreadable to the
 * normal scan. Without --dump it prints lvm's historical "Found label" summary;
 * --dump headers prints every field, --dump metadata the current metadata text.
 */
import { statSync, writeFileSync } from "node:fs";
import { EXIT, FormatError, LvmError } from "../../core/errors.ts";
import { lvmCrc } from "../../core/crc.ts";
import { parseId } from "../../core/format/id.ts";
import { MDA_HEADER_SIZE, MDA_MAGIC, MDA_VERSION, RAW_LOCN_IGNORED } from "../../core/format/mda.ts";
import { parseConfig } from "../../core/config/parse.ts";
import { openBlockDevice } from "../../io/file-device.ts";
import type { BlockDevice } from "../../io/block-device.ts";
import type { CommandContext } from "../context.ts";

const SECTOR = 512;

/** Reads that may fall off the end of the device, as pvck's reads may. */
class Reader {
  constructor(private readonly dev: BlockDevice) {}
  async bytes(offset: number, length: number): Promise<Uint8Array | undefined> {
    if (offset < 0 || offset + length > this.dev.size) return undefined;
    const buf = new Uint8Array(length);
    await this.dev.read(buf, offset);
    return buf;
  }
}

/** pvck's field rendering: non-printable bytes become '?'. */
function chars(buf: Uint8Array): string {
  return Array.from(buf, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "?")).join("");
}

/** pvck prints the mda magic as "%x" per byte, without zero padding. */
function hexBytes(buf: Uint8Array): string {
  return Array.from(buf, (b) => b.toString(16)).join("");
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

interface Area {
  offset: number;
  size: number;
}

interface LabelWalk {
  bad: boolean;
  /** Id and type are right: the label exists even if other fields are damaged. */
  foundLabel: boolean;
  mdas: Area[];
}

interface Walker {
  out: (line: string) => void;
  error: (line: string) => void;
  /** Unindented output: the metadata text itself. */
  raw: (text: string) => void;
  printFields: boolean;
}

/** Field lines (when printing fields) and CHECK lines over one header sector; `bad` once a check failed. */
function headerSector(buf: Uint8Array, w: Walker) {
  const view = new DataView(buf.buffer);
  const sector = {
    view,
    bad: false,
    u64: (off: number): number => Number(view.getBigUint64(off, true)),
    field: (line: string): void => {
      if (w.printFields) w.out(line);
    },
    check: (ok: boolean, line: string): boolean => {
      if (!ok) {
        w.out(`CHECK: ${line}`);
        sector.bad = true;
      }
      return ok;
    },
  };
  return sector;
}

async function walkLabel(r: Reader, labelSector: number, w: Walker): Promise<LabelWalk | undefined> {
  const at = labelSector * SECTOR;
  const buf = await r.bytes(at, SECTOR);
  if (!buf) {
    w.out(`CHECK: failed to read label_header at ${at}`);
    return undefined;
  }
  const sector = headerSector(buf, w);
  const { view, u64, field, check } = sector;

  const id = chars(buf.subarray(0, 8));
  const type = chars(buf.subarray(24, 32));
  field(`label_header at ${at}`);
  field(`label_header.id ${id}`);
  field(`label_header.sector ${u64(8)}`);
  field(`label_header.crc ${hex(view.getUint32(16, true))}`);
  field(`label_header.offset ${view.getUint32(20, true)}`);
  field(`label_header.type ${type}`);
  const goodId = check(id === "LABELONE", "label_header.id expected LABELONE");
  check(u64(8) === labelSector, `label_header.sector expected ${labelSector}`);
  const crc = lvmCrc(buf.subarray(20));
  check(crc === view.getUint32(16, true), `label_header.crc expected ${hex(crc)}`);
  check(view.getUint32(20, true) === 32, "label_header.offset expected 32");
  const goodType = check(type === "LVM2 001", "label_header.type expected LVM2 001");

  const pvh = 32;
  field(`pv_header at ${at + pvh}`);
  field(`pv_header.pv_uuid ${chars(buf.subarray(pvh, pvh + 32))}`);
  field(`pv_header.device_size ${u64(pvh + 32)}`);
  let uuidOk = true;
  try {
    parseId(new TextDecoder("latin1").decode(buf.subarray(pvh, pvh + 32)));
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    uuidOk = false;
  }
  check(uuidOk, "pv_header.pv_uuid invalid format");

  // Lists end at the first zero offset; a damaged label may run off the sector, where pvck stops too.
  let off = pvh + 40;
  let index = 0;
  const list = (prefix: string, what: string, onEntry?: (a: Area, i: number) => void): boolean => {
    for (;;) {
      if (off + 16 > SECTOR) return false;
      const a = { offset: u64(off), size: u64(off + 8) };
      const end = a.offset === 0;
      field(`${prefix}.disk_locn[${index}] at ${at + off} # ${end ? "location list end" : what}`);
      field(`${prefix}.disk_locn[${index}].offset ${a.offset}`);
      field(`${prefix}.disk_locn[${index}].size ${a.size}`);
      if (!end) onEntry?.(a, index);
      index++;
      off += 16;
      if (end) return true;
    }
  };
  const mdas: Area[] = [];
  const complete =
    list("pv_header", "location of data area") &&
    list("pv_header", "location of metadata area", (a, i) => {
      if (mdas.length === 0 && a.offset !== 4096 && a.offset !== 8192 && a.offset !== 65536)
        w.out(`WARNING: pv_header.disk_locn[${i}].offset ${a.offset} is unexpected # for first mda`);
      mdas.push(a);
    });
  if (complete && off + 8 <= SECTOR) {
    field(`pv_header_extension at ${at + off}`);
    field(`pv_header_extension.version ${view.getUint32(off, true)}`);
    field(`pv_header_extension.flags ${view.getUint32(off + 4, true)}`);
    off += 8;
    index = 0;
    list("pv_header_extension", "bootloader area");
  }
  return { bad: sector.bad, foundLabel: goodId && goodType, mdas };
}

interface MdaWalk {
  bad: boolean;
  goodMagic: boolean;
  /** raw_locn[0].checksum, 0 when unused. */
  checksum: number;
}

async function walkMda(
  r: Reader,
  mda: Area,
  w: Walker & { printMetadata: boolean; toFile?: string },
): Promise<MdaWalk> {
  const n = mda.offset === 4096 ? 1 : 2;
  const buf = await r.bytes(mda.offset, SECTOR);
  if (!buf) {
    w.out(`CHECK: failed to read mda_header at ${mda.offset}`);
    return { bad: true, goodMagic: false, checksum: 0 };
  }
  const sector = headerSector(buf, w);
  const { view, u64, field, check } = sector;
  const name = `mda_header_${n}`;
  field(`${name} at ${mda.offset} # metadata area`);
  field(`${name}.checksum ${hex(view.getUint32(0, true))}`);
  field(`${name}.magic 0x${hexBytes(buf.subarray(4, 20))}`);
  field(`${name}.version ${view.getUint32(20, true)}`);
  field(`${name}.start ${u64(24)}`);
  field(`${name}.size ${u64(32)}`);
  const crc = lvmCrc(buf.subarray(4, MDA_HEADER_SIZE));
  check(crc === view.getUint32(0, true), `${name}.checksum expected ${hex(crc)}`);
  const goodMagic = check(
    buf.subarray(4, 20).every((b, i) => b === MDA_MAGIC[i]),
    `${name}.magic expected 0x${hexBytes(MDA_MAGIC)}`,
  );
  check(view.getUint32(20, true) === MDA_VERSION, `${name}.version expected ${MDA_VERSION}`);
  check(u64(24) === mda.offset, `${name}.start does not match pv_header.disk_locn.offset ${mda.offset}`);
  check(u64(32) === mda.size, `${name}.size does not match pv_header.disk_locn.size ${mda.size}`);

  const locns = [0, 1].map((i) => {
    const off = 40 + i * 24;
    const locn = { offset: u64(off), size: u64(off + 8), checksum: view.getUint32(off + 16, true), flags: view.getUint32(off + 20, true) };
    const wrapped = locn.offset + locn.size > mda.size;
    const prefix = `${name}.raw_locn[${i}]`;
    field(`${prefix} at ${mda.offset + off} # ${i === 0 ? "commit" : "precommit"}${wrapped ? " wrapped" : ""}`);
    field(`${prefix}.offset ${locn.offset}`);
    field(`${prefix}.size ${locn.size}`);
    field(`${prefix}.checksum ${hex(locn.checksum)}`);
    field(`${prefix}.flags ${hex(locn.flags)}${locn.flags & RAW_LOCN_IGNORED ? " # RAW_LOCN_IGNORED" : ""}`);
    if (i === 1 && locn.offset) w.out(`CHECK: ${prefix} for precommit not empty`);
    if (locn.flags & RAW_LOCN_IGNORED) return undefined;
    if (locn.size > mda.size - SECTOR) {
      w.out(`CHECK: ${prefix}.size larger than metadata area size`);
      locn.size = mda.size - SECTOR;
    }
    return locn;
  });
  const current = locns[0];
  if (current?.offset) {
    const where = mda.offset + current.offset;
    const wrap = Math.max(0, current.offset + current.size - mda.size);
    const first = await r.bytes(where, current.size - wrap);
    const second = wrap ? await r.bytes(mda.offset + SECTOR, wrap) : new Uint8Array(0);
    if (!first || !second) {
      w.out(`CHECK: failed to read metadata text at ${name}.raw_locn[0].offset ${current.offset} size ${current.size}`);
      return { bad: true, goodMagic, checksum: current.checksum };
    }
    const text = new Uint8Array(current.size);
    text.set(first);
    text.set(second, first.length);
    const textCrc = lvmCrc(text);
    check(textCrc === current.checksum, `metadata text at ${where} crc does not match ${name}.raw_locn[0].checksum`);
    const decoded = new TextDecoder("latin1").decode(text);
    let vgName = "?";
    let seqno = 0;
    try {
      const first = parseConfig(decoded).entries[0];
      if (first && first.kind !== "blank") {
        vgName = first.kind === "section" ? first.section.name : first.key;
        const s = first.kind === "section" ? first.section.entries.find((e) => e.kind === "value" && e.key === "seqno") : undefined;
        if (s?.kind === "value" && s.value.type === "int") seqno = s.value.value;
      }
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      check(false, `failed to parse metadata text at ${where} size ${current.size}`);
    }
    if (w.printFields || w.printMetadata) w.out(`metadata text at ${where} crc ${hex(textCrc)} # vgname ${vgName} seqno ${seqno}`);
    if (w.printMetadata) {
      const body = decoded.split("\0")[0]!;
      if (w.toFile) {
        // Like lvm, never overwrite: an existing file is an error that does not fail the dump.
        try {
          writeFileSync(w.toFile, body, { flag: "wx" });
        } catch {
          w.error(`Failed to create file ${w.toFile}`);
        }
      }
      else {
        w.out("---");
        w.raw(`${body}\n`);
        w.out("---");
      }
    }
  }
  return { bad: sector.bad, goodMagic, checksum: current?.checksum ?? 0 };
}

async function withDevice<T>(path: string, fn: (r: Reader) => Promise<T>): Promise<T> {
  const dev = await openBlockDevice(path, { writable: false });
  try {
    return await fn(new Reader(dev));
  } finally {
    await dev.close();
  }
}

function exists(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() || st.isBlockDevice();
  } catch {
    return false;
  }
}

function outputs(ctx: CommandContext): Pick<Walker, "out" | "error" | "raw"> {
  return { out: (line) => ctx.print(line), error: (line) => ctx.error(line), raw: (text) => ctx.io.stdout(text) };
}

async function dump(ctx: CommandContext, what: string, labelSector: number): Promise<number> {
  const path = ctx.positional[0]!;
  if (!exists(path)) throw new LvmError(`Cannot access ${path}.`);
  const sinks = outputs(ctx);
  const { out } = sinks;
  const failed = (): never => {
    throw new LvmError("Found bad header or metadata values.");
  };
  if (what === "headers") {
    return withDevice(path, async (r) => {
      const w = { ...sinks, printFields: true, printMetadata: false };
      const label = await walkLabel(r, labelSector, w);
      let bad = !label || label.bad;
      if (label && label.mdas.length === 0) {
        out("zero metadata copies");
        return EXIT.OK;
      }
      const results = [];
      for (const mda of label?.mdas.slice(0, 2) ?? []) results.push(await walkMda(r, mda, w));
      if (results.some((m) => m.bad)) bad = true;
      const [m1, m2] = results;
      if (m1?.checksum && m2?.checksum && m1.checksum !== m2.checksum) out("CHECK: mdas have different raw_locn[0].checksum values");
      return bad ? failed() : EXIT.OK;
    });
  }
  if (what === "metadata") {
    return withDevice(path, async (r) => {
      const label = await walkLabel(r, labelSector, { ...sinks, printFields: false });
      if (label && label.mdas.length === 0) {
        out("zero metadata copies");
        return EXIT.OK;
      }
      const index = (ctx.opt<number>("pvmetadatacopies") ?? 1) - 1;
      const mda = label?.mdas[index];
      let bad = !label || label.bad;
      if (!mda) {
        if (index === 1) out("CHECK: second mda not found");
        bad = true;
      } else {
        const m = await walkMda(r, mda, { ...sinks, printFields: false, printMetadata: true, toFile: ctx.opt<string>("file") });
        bad ||= m.bad;
      }
      return bad ? failed() : EXIT.OK;
    });
  }
  throw new LvmError("Unknown dump value.");
}

/** lvm's historical pvck: a summary per device, damage as CHECK lines. */
async function summary(ctx: CommandContext, labelSector: number): Promise<number> {
  const quiet = { ...outputs(ctx), printFields: false, printMetadata: false };
  const { out } = quiet;
  if (ctx.positional.length === 1 && !exists(ctx.positional[0]!))
    throw new LvmError(`Cannot access device ${ctx.positional[0]}.`);
  let bad = false;
  let errorShown = false;
  for (const path of ctx.positional) {
    if (!exists(path)) {
      ctx.error(`Cannot use ${path}: device not found.`);
      continue;
    }
    await withDevice(path, async (r) => {
      const label = await walkLabel(r, labelSector, quiet);
      const found = [];
      let devBad = !label || label.bad;
      if (label?.foundLabel) {
        for (const mda of label.mdas.slice(0, 2)) {
          const m = await walkMda(r, mda, quiet);
          devBad ||= m.bad;
          if (m.goodMagic) found.push(mda);
        }
        out(`Found label on ${path}, sector ${labelSector}, type=LVM2 001`);
      } else {
        ctx.error(`Could not find LVM label on ${path}`);
        errorShown = true;
        devBad = true;
      }
      for (const mda of found) out(`Found text metadata area: offset=${mda.offset}, size=${mda.size}`);
      bad ||= devBad;
    });
  }
  if (!bad) return EXIT.OK;
  // lvm's generic line for a failure that printed no error of its own.
  if (!errorShown) ctx.error(`Command failed with status code ${EXIT.FAILED}.`);
  return EXIT.FAILED;
}

export async function run(ctx: CommandContext): Promise<number> {
  const labelSector = ctx.opt<number>("labelsector") ?? 1;
  const what = ctx.opt<string>("dump");
  return what === undefined ? summary(ctx, labelSector) : dump(ctx, what, labelSector);
}
