/**
 * Shared by the data-path tests: VGs from the real fixtures and generated
 * layouts, an independent byte-by-byte reference of where an LV byte lives, and
 * devices that are sparse, patterned, slow, gated or counting.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import type { BlockDevice } from "../../../src/io/block-device.ts";
import { MemoryDevice } from "../../../src/io/memory-device.ts";
import { assertInRange } from "../../../src/io/range.ts";
import { parseVgText } from "../../../src/core/model/text.ts";
import type { Segment, VolumeGroup } from "../../../src/core/model/types.ts";
import { makeLv, makePv, makeVg } from "../../helpers/model-builders.ts";

const fixturesDir = join(import.meta.dirname, "..", "..", "fixtures", "real");

/** A fixture's VG: the last state of an alloc-*.txt recording, or a whole metadata/backup file. */
export function fixtureVg(file: string): VolumeGroup {
  let text = readFileSync(join(fixturesDir, file), "utf8");
  if (file.startsWith("alloc-")) {
    const states = text.split(/^### /m).filter((b) => b.startsWith("after:") || b.startsWith("setup:"));
    const last = states[states.length - 1]!;
    text = last.slice(last.indexOf("\n") + 1);
  }
  return parseVgText(text.replace(/\0$/, "")).vg;
}

export type Location = { kind: "pv"; pv: string; byte: number } | { kind: "zero" | "error" };

/**
 * Where byte `x` of an LV lives, straight from the metadata's definition: a
 * stripe_count = 1 segment is contiguous on its PV from pe_start + pe * extent;
 * with more stripes, chunk i of stripe_size bytes is chunk i div stripes of area
 * i mod stripes. raid1 and mirror read their first image.
 */
export function locate(vg: VolumeGroup, lvName: string, x: number): Location {
  const extent = vg.extentSize * 512;
  const lv = vg.lvs.find((l) => l.name === lvName)!;
  const le = Math.floor(x / extent);
  const seg = lv.segments.find((s) => s.startExtent <= le && le < s.startExtent + s.extentCount)!;
  const rel = x - seg.startExtent * extent;
  if (seg.type === "zero" || seg.type === "error") return { kind: seg.type };
  if (seg.type === "raid1" || seg.type === "mirror") {
    const image = seg.areas[0]!;
    if (image.kind !== "lv") throw new Error("image on a PV");
    return locate(vg, image.lv, image.le * extent + rel);
  }
  const stripes = seg.areas.length;
  const stripeBytes = (seg.stripeSize ?? 0) * 512;
  const chunk = stripes === 1 ? 0 : Math.floor(rel / stripeBytes);
  const area = seg.areas[chunk % stripes]!;
  if (area.kind !== "pv") throw new Error("stripe on an LV");
  const inArea = stripes === 1 ? rel : Math.floor(chunk / stripes) * stripeBytes + (rel % stripeBytes);
  const pv = vg.pvs.find((p) => p.id === area.pvId)!;
  return { kind: "pv", pv: pv.id, byte: pv.peStart * 512 + area.pe * extent + inArea };
}

export function lvBytes(vg: VolumeGroup, lvName: string): number {
  const lv = vg.lvs.find((l) => l.name === lvName)!;
  const last = lv.segments[lv.segments.length - 1];
  return last ? (last.startExtent + last.extentCount) * vg.extentSize * 512 : 0;
}

export function pvBytes(vg: VolumeGroup, pvId: string): number {
  const pv = vg.pvs.find((p) => p.id === pvId)!;
  return (pv.peStart + pv.peCount * vg.extentSize) * 512;
}

/** Byte boundaries of an LV's segments and stripe chunks: where requests get interesting. */
export function boundaries(vg: VolumeGroup, lvName: string): number[] {
  const extent = vg.extentSize * 512;
  const lv = vg.lvs.find((l) => l.name === lvName)!;
  const out: number[] = [];
  for (const seg of lv.segments) {
    const start = seg.startExtent * extent;
    out.push(start);
    if (seg.areas.length > 1 && seg.stripeSize) for (let b = start; b < start + seg.extentCount * extent; b += seg.stripeSize * 512) out.push(b);
  }
  return out;
}

/** A request anywhere in [0, size), often straddling one of `marks`. */
export function arbRequest(size: number, marks: number[], maxLength: number): fc.Arbitrary<{ offset: number; length: number }> {
  const near = fc.tuple(fc.constantFrom(...marks), fc.integer({ min: -4096, max: 4096 })).map(([m, d]) => Math.min(Math.max(m + d, 0), size - 1));
  return fc
    .tuple(fc.oneof(fc.integer({ min: 0, max: size - 1 }), near), fc.integer({ min: 1, max: maxLength }))
    .map(([offset, length]) => ({ offset, length: Math.min(length, size - offset) }));
}

/** Deterministic content for "PV `tag`, byte `b`", so reads can be checked without storing the PV. */
export function patternByte(tag: number, b: number): number {
  return (Math.imul(b ^ (b >>> 13), 2654435761) + tag * 97) >>> 24;
}

/** A PV whose every byte is patternByte(tag, byte); it refuses writes. */
export class PatternDevice implements BlockDevice {
  constructor(
    readonly path: string,
    readonly size: number,
    readonly tag: number,
  ) {}
  async read(buf: Uint8Array, offset: number): Promise<void> {
    assertInRange(this.path, this.size, offset, buf.length);
    for (let i = 0; i < buf.length; i++) buf[i] = patternByte(this.tag, offset + i);
  }
  async write(): Promise<void> {
    throw new Error("read-only pattern");
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** A large device holding only the 64 KiB pages written to. */
export class SparseDevice implements BlockDevice {
  private readonly pages = new Map<number, Uint8Array>();
  constructor(
    readonly path: string,
    readonly size: number,
  ) {}
  byteAt(b: number): number {
    return this.pages.get(Math.floor(b / 65536))?.[b % 65536] ?? 0;
  }
  async read(buf: Uint8Array, offset: number): Promise<void> {
    assertInRange(this.path, this.size, offset, buf.length);
    for (let i = 0; i < buf.length; i++) buf[i] = this.byteAt(offset + i);
  }
  async write(buf: Uint8Array, offset: number): Promise<void> {
    assertInRange(this.path, this.size, offset, buf.length);
    for (let i = 0; i < buf.length; i++) {
      const b = offset + i;
      let page = this.pages.get(Math.floor(b / 65536));
      if (!page) this.pages.set(Math.floor(b / 65536), (page = new Uint8Array(65536)));
      page[b % 65536] = buf[i]!;
    }
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** A memory device whose I/O waits while held, counting calls and (over a shared gauge) concurrency. */
export class ProbeDevice extends MemoryDevice {
  flushes = 0;
  failFlush = false;
  readonly ops: { op: "read" | "write"; offset: number; length: number }[] = [];
  private gate?: Promise<void>;
  private open?: () => void;

  constructor(
    path: string,
    size: number,
    readonly gauge: { now: number; max: number } = { now: 0, max: 0 },
  ) {
    super(path, size);
  }

  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  private async enter<T>(op: "read" | "write", buf: Uint8Array, offset: number, io: () => Promise<T>): Promise<T> {
    this.ops.push({ op, offset, length: buf.length });
    this.gauge.max = Math.max(this.gauge.max, ++this.gauge.now);
    try {
      await (this.gate ?? new Promise((r) => setImmediate(r)));
      return await io();
    } finally {
      this.gauge.now--;
    }
  }

  override read(buf: Uint8Array, offset: number): Promise<void> {
    return this.enter("read", buf, offset, () => super.read(buf, offset));
  }

  override write(buf: Uint8Array, offset: number): Promise<void> {
    return this.enter("write", buf, offset, () => super.write(buf, offset));
  }

  override async flush(): Promise<void> {
    this.flushes++;
    if (this.failFlush) throw Object.assign(new Error("EIO: flush"), { code: "EIO" });
  }
}

function pvId(i: number): string {
  return `pv${i}`.padEnd(32, "x");
}

export interface Layout {
  vg: VolumeGroup;
  lv: string;
}

/**
 * One LV "lv" of 1-5 segments (linear, striped, and optionally zero/error) on
 * 1-4 small PVs with distinct extents, with small extents so that the PVs fit
 * in memory.
 */
export function arbLayout(opts: { fills?: boolean } = {}): fc.Arbitrary<Layout> {
  const kinds = opts.fills ? (["linear", "striped", "zero", "error"] as const) : (["linear", "striped"] as const);
  const arbSeg = fc.record({
    kind: fc.constantFrom(...kinds),
    perArea: fc.integer({ min: 1, max: 6 }),
    stripes: fc.integer({ min: 2, max: 4 }),
    stripeLog2: fc.integer({ min: 0, max: 3 }),
    firstPv: fc.nat(3),
  });
  return fc
    .record({
      extentLog2: fc.integer({ min: 3, max: 5 }),
      pvCount: fc.integer({ min: 1, max: 4 }),
      peStarts: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 4, maxLength: 4 }),
      segs: fc.array(arbSeg, { minLength: 1, maxLength: 5 }),
    })
    .map(({ extentLog2, pvCount, peStarts, segs }) => {
      const extentSize = 2 ** extentLog2;
      const used = new Array<number>(pvCount).fill(0);
      const take = (pv: number, n: number): number => {
        const pe = used[pv]!;
        used[pv] = pe + n;
        return pe;
      };
      const segments: Segment[] = [];
      let le = 0;
      for (const s of segs) {
        const stripes = s.kind === "striped" ? Math.min(s.stripes, pvCount) : 1;
        const base = { startExtent: le, typeFlags: [], tags: [], metaAreas: [], extra: [] };
        if (s.kind === "zero" || s.kind === "error") segments.push({ ...base, extentCount: s.perArea, type: s.kind, areas: [] });
        else {
          const areas = Array.from({ length: stripes }, (_, i) => {
            const pv = (s.firstPv + i) % pvCount;
            return { kind: "pv" as const, pvId: pvId(pv), pe: take(pv, s.perArea) };
          });
          const stripeSize = stripes > 1 ? { stripeSize: Math.min(2 ** s.stripeLog2 * 8, extentSize) } : {};
          segments.push({ ...base, extentCount: s.perArea * stripes, type: "striped", areas, ...stripeSize });
        }
        le += segments[segments.length - 1]!.extentCount;
      }
      const vg = makeVg({
        name: "vgt",
        extentSize,
        pvs: used.map((n, i) => makePv(pvId(i), n + 1, { peStart: peStarts[i]! })),
        lvs: [makeLv("lv", segments, { id: "L".repeat(32) })],
      });
      return { vg, lv: "lv" };
    });
}

export function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed | 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}
