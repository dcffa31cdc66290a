import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { errorOf } from "../../helpers/assert-error.ts";
import { lvmCrc } from "../../../src/core/crc.ts";
import { FormatError, LvmError } from "../../../src/core/errors.ts";
import {
  MDA_HEADER_SIZE,
  RAW_LOCN_IGNORED,
  assembleMetadataText,
  decodeMdaHeader,
  emptyRawLocn,
  encodeMdaHeader,
  maxMetadataSize,
  mdaFreeBytes,
  metadataSpans,
  planMetadataWrite,
  type MdaHeader,
  type RawLocn,
} from "../../../src/core/format/mda.ts";

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../fixtures/real/${name}`, import.meta.url)));
const DEV = "/dev/loop9";
const KiB = 1024;

/** A device image in memory, for reading back what planned writes did. */
class Image {
  constructor(readonly bytes: Uint8Array) {}
  apply(writes: { offset: number; data: Uint8Array }[]): void {
    for (const w of writes) this.bytes.set(w.data, w.offset);
  }
  read(h: MdaHeader, locn: RawLocn): Uint8Array {
    const parts = metadataSpans(h, locn, DEV).map((s) => this.bytes.slice(s.offset, s.offset + s.length));
    return assembleMetadataText(h, locn, parts, DEV);
  }
}

function text(size: number, seed = 0): Uint8Array {
  const t = new Uint8Array(size).map((_, i) => 33 + ((i * 7 + seed) % 90));
  t[size - 1] = 0;
  return t;
}

const header = (size: number, committed: RawLocn = emptyRawLocn(), start = 0x1000): MdaHeader => ({
  start,
  size,
  committed,
  precommitted: emptyRawLocn(),
});

test("decodes the real mda header of a PV in a VG and re-encodes it byte for byte", () => {
  const bytes = fixture("pv0-head.bin").subarray(0x1000, 0x1200);
  const h = decodeMdaHeader(bytes, 0x1000, DEV);
  assert.deepEqual(h, {
    start: 0x1000,
    size: 0xff000,
    committed: { offset: 0x1200, size: 2902, checksum: 0xf55545fd, flags: 0 },
    precommitted: emptyRawLocn(),
  });
  assert.deepEqual(encodeMdaHeader(h), bytes);
});

test("an orphan's fresh header is reproduced exactly, checksum 0xDB8ED616", () => {
  const bytes = fixture("orphan-head.bin").subarray(0x1000, 0x1200);
  const enc = encodeMdaHeader(header(0xff000));
  assert.deepEqual(enc, bytes);
  assert.equal(new DataView(enc.buffer).getUint32(0, true), 0xdb8ed616);
  assert.deepEqual(decodeMdaHeader(bytes, 0x1000, DEV), header(0xff000));
});

test("the second mda of a real PV at the end of the device decodes with its own start", () => {
  const bytes = fixture("format-pv-64m-2mda-mda1.bin");
  assert.deepEqual(decodeMdaHeader(bytes, 0x3f00000, DEV), header(0x100000, emptyRawLocn(), 0x3f00000));
  assert.equal(
    errorOf(() => decodeMdaHeader(bytes, 4096, DEV)).message,
    "WARNING: wrong start sector 66060288 in mda header on /dev/loop9 at 4096",
  );
});

test("the committed copy of a real PV is located, reassembled and checked", () => {
  const head = fixture("pv0-head.bin");
  const h = decodeMdaHeader(head.subarray(0x1000, 0x1200), 0x1000, DEV);
  // The committed copy lies beyond the 8 KiB fixture; vg0-raw.txt is that copy.
  assert.deepEqual(metadataSpans(h, h.committed), [{ offset: 0x2200, length: 2902 }]);
  const img = new Image(new Uint8Array(0x2200 + 2902));
  img.bytes.set(head);
  img.bytes.set(fixture("vg0-raw.txt"), 0x2200);
  assert.deepEqual(img.read(h, h.committed), fixture("vg0-raw.txt"));
  img.bytes[0x2300] ^= 0x20;
  const err = errorOf(() => img.read(h, h.committed));
  assert.ok(err instanceof FormatError);
  assert.equal(err.message, "WARNING: Checksum error on /dev/loop9 at offset 8704.");
});

test("header corruption gives LVM's warnings, in LVM's order", () => {
  const good = encodeMdaHeader(header(0xff000));
  const flipped = good.slice();
  flipped[0x30] = 1;
  const stored = new DataView(flipped.buffer).getUint32(0, true).toString(16);
  assert.equal(
    errorOf(() => decodeMdaHeader(flipped, 0x1000, DEV)).message,
    `WARNING: wrong checksum ${stored} in mda header on /dev/loop9 at 4096`,
  );
  const resum = (b: Uint8Array) => {
    new DataView(b.buffer).setUint32(0, lvmCrc(b.subarray(4, 512)), true);
    return b;
  };
  const magic = good.slice();
  magic[5] = 0x6c;
  assert.equal(
    errorOf(() => decodeMdaHeader(resum(magic), 0x1000, DEV)).message,
    "WARNING: wrong magic number in mda header on /dev/loop9 at 4096",
  );
  const version = good.slice();
  version[0x14] = 2;
  assert.equal(
    errorOf(() => decodeMdaHeader(resum(version), 0x1000, DEV)).message,
    "WARNING: wrong version 2 in mda header on /dev/loop9 at 4096",
  );
  const zeros = new Uint8Array(512);
  assert.equal(
    errorOf(() => decodeMdaHeader(zeros, 0x1000, DEV)).message,
    [
      "WARNING: wrong checksum 0 in mda header on /dev/loop9 at 4096",
      "WARNING: wrong magic number in mda header on /dev/loop9 at 4096",
      "WARNING: wrong version 0 in mda header on /dev/loop9 at 4096",
      "WARNING: wrong start sector 0 in mda header on /dev/loop9 at 4096",
    ].join("\n"),
  );
  assert.ok(errorOf(() => decodeMdaHeader(good.subarray(0, 511), 0x1000, DEV)) instanceof FormatError);
  assert.match(errorOf(() => decodeMdaHeader(encodeMdaHeader(header(512)), 0x1000, DEV)).message, /no room for text/);
});

test("maximum copy size and free space match real lvm2", () => {
  assert.equal(maxMetadataSize(0xff000), 521472);
  assert.equal(maxMetadataSize(32 * KiB), 15616);
  // pvs -o pv_mda_free: orphan and with 872 bytes of text, default and 32 KiB mdas
  assert.equal(mdaFreeBytes(header(0xff000)), 521216);
  assert.equal(mdaFreeBytes(header(32 * KiB)), 15360);
  const used = { offset: 512, size: 872, checksum: 0, flags: 0 };
  assert.equal(mdaFreeBytes(header(0xff000, used)), 520192);
  assert.equal(mdaFreeBytes(header(32 * KiB, used)), 14336);
  // pvchange --metadataignore y: reported as 0
  assert.equal(mdaFreeBytes(header(0xff000, { ...used, flags: RAW_LOCN_IGNORED })), 0);
});

test("too large a copy fails with LVM's exact message and exit code 5", () => {
  const err = errorOf(() => planMetadataWrite(header(32 * KiB), text(15775), DEV, "vgw", 55));
  assert.ok(err instanceof LvmError);
  assert.equal(err.exitCode, 5);
  assert.deepEqual(err.lines, ["VG vgw 55 metadata on /dev/loop9 (15775 bytes) exceeds maximum metadata size (15616 bytes)"]);
  assert.equal(planMetadataWrite(header(32 * KiB), text(15616), DEV, "vgw", 55).locn.size, 15616);
});

test("a copy that would overlap the committed one is refused", () => {
  // Only a committed copy larger than LVM allows can provoke this.
  const h = header(32 * KiB, { offset: 0x200, size: 0x7000, checksum: 0, flags: 0 });
  const err = errorOf(() => planMetadataWrite(h, text(4000), DEV, "vg", 2));
  assert.ok(err instanceof LvmError);
  assert.deepEqual(err.lines, [
    "VG vg 2 metadata on /dev/loop9 (4000 bytes) too large for circular buffer (32256 bytes with 28672 used)",
  ]);
});

test("text must carry its NUL", () => {
  assert.throws(() => planMetadataWrite(header(0xff000), new Uint8Array([65, 66]), DEV, "vg", 1), FormatError);
  assert.throws(() => planMetadataWrite(header(0xff000), new Uint8Array(0), DEV, "vg", 1), FormatError);
});

/** Plan, write and commit each size in turn; return the offsets chosen. */
function run(h0: MdaHeader, sizes: number[], img?: Image): { offsets: number[]; h: MdaHeader } {
  let h = h0;
  const offsets: number[] = [];
  sizes.forEach((size, i) => {
    const t = text(size, i);
    const plan = planMetadataWrite(h, t, DEV, "vg", i + 2);
    offsets.push(plan.locn.offset);
    if (img) {
      img.apply(plan.writes);
      assert.deepEqual(img.read(h, plan.locn), t);
    }
    h = { ...h, committed: plan.locn };
  });
  return { offsets, h };
}

test("reproduces the reference's observed sequence on a 32 KiB mda, including the wrap", () => {
  const h = header(32 * KiB, { offset: 0x6800, size: 3778, checksum: 0, flags: 0 });
  const first = planMetadataWrite(h, text(4057), DEV, "vg", 5);
  assert.equal(first.locn.offset, 0x7800);
  assert.deepEqual(
    first.writes.map((w) => [w.offset, w.data.length]),
    [[0x1000 + 0x7800, 2048], [0x1000 + 0x200, 2048]],
  );
  assert.deepEqual(first.writes[1]!.data.subarray(2009), new Uint8Array(39));
  const { offsets } = run(h, [4057, 4336, 4615]);
  assert.deepEqual(offsets, [0x7800, 0xa00, 0x1c00]);
});

test("reproduces real lvm2's offsets from vgcreate through twelve lvcreates", () => {
  // pvcreate --metadatasize 32k --dataalignment 4k; vgcreate; lvcreate x12 (sizes from the headers).
  const sizes = [699, 1005, 1282, 1559, 1836, 2113, 2390, 2667, 2944, 3222, 3501, 3780, 4059];
  const expected = [0x200, 0x600, 0xa00, 0x1000, 0x1800, 0x2000, 0x2a00, 0x3400, 0x4000, 0x4c00, 0x5a00, 0x6800, 0x7800];
  assert.deepEqual(run(header(32 * KiB), sizes).offsets, expected);
});

test("a real wrapped write is reproduced byte for byte, header included", () => {
  const before = fixture("format-ring32k-before.bin");
  const after = fixture("format-ring32k-after.bin");
  const hb = decodeMdaHeader(before.subarray(0, 512), 0x1000, DEV);
  const ha = decodeMdaHeader(after.subarray(0, 512), 0x1000, DEV);
  assert.equal(hb.size, 32 * KiB);
  assert.equal(ha.committed.offset + ha.committed.size > ha.size, true, "the fixture's copy wraps");
  // read the new copy from the real bytes (offsets relative to the mda start at 0x1000)
  const parts = metadataSpans(ha, ha.committed).map((s) => after.slice(s.offset - 0x1000, s.offset - 0x1000 + s.length));
  const t = assembleMetadataText(ha, ha.committed, parts, DEV);
  assert.equal(t[t.length - 1], 0);
  const plan = planMetadataWrite(hb, t, DEV, "vgfa", 13);
  assert.deepEqual(plan.locn, ha.committed);
  const img = before.slice();
  for (const w of plan.writes) img.set(w.data, w.offset - 0x1000);
  img.set(encodeMdaHeader({ ...hb, committed: plan.locn, precommitted: emptyRawLocn() }), 0);
  assert.deepEqual(img, after);
});

test("an ignored or empty committed slot restarts at offset 512", () => {
  const ignored = header(0xff000, { offset: 0x5000, size: 900, checksum: 1, flags: RAW_LOCN_IGNORED });
  assert.equal(planMetadataWrite(ignored, text(100), DEV, "vg", 1).locn.offset, 512);
  assert.equal(planMetadataWrite(header(0xff000), text(100), DEV, "vg", 1).locn.offset, 512);
  // the end of the ring: fewer than 512 bytes left after the old copy
  const nearEnd = header(32 * KiB, { offset: 0x7c00, size: 0x300, checksum: 0, flags: 0 });
  assert.equal(planMetadataWrite(nearEnd, text(100), DEV, "vg", 1).locn.offset, 512);
});

test("writes are padded with zeros to 512 bytes, never past the mda", () => {
  const plan = planMetadataWrite(header(0xff000), text(700), DEV, "vg", 1);
  assert.equal(plan.writes.length, 1);
  assert.equal(plan.writes[0]!.offset, 0x1200);
  assert.equal(plan.writes[0]!.data.length, 1024);
  assert.deepEqual(plan.writes[0]!.data.subarray(700), new Uint8Array(324));
  // an mda whose end is not sector-aligned: padding stops at its end
  const odd = { ...header(4000, emptyRawLocn(), 0x1000) };
  const w = planMetadataWrite(odd, text(900), DEV, "vg", 1).writes;
  assert.ok(w.every((x) => x.offset + x.data.length <= 0x1000 + 4000));
});

const mdaArb = fc
  .record({ sectors: fc.integer({ min: 3, max: 2048 }), startSectors: fc.integer({ min: 4, max: 1 << 20 }) })
  .map(({ sectors, startSectors }) => header(sectors * 512, emptyRawLocn(), startSectors * 512));

test("property: ring placement keeps the committed copy intact, stays in the ring and reads back", () => {
  fc.assert(
    fc.property(
      mdaArb,
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 25 }),
      (h0, fractions) => {
        const max = maxMetadataSize(h0.size);
        fc.pre(max >= 2);
        const img = new Image(new Uint8Array(h0.start + h0.size));
        let h = h0;
        let previous: Uint8Array | undefined;
        fractions.forEach((f, i) => {
          const t = text(2 + Math.floor(f * (max - 2)), i);
          const plan = planMetadataWrite(h, t, DEV, "vg", i);
          for (const w of plan.writes) {
            assert.ok(w.offset >= h.start + MDA_HEADER_SIZE && w.offset + w.data.length <= h.start + h.size);
            assert.equal((w.offset + w.data.length) % 512, 0);
          }
          img.apply(plan.writes);
          if (previous) assert.deepEqual(img.read(h, h.committed), previous, "committed copy damaged");
          assert.deepEqual(img.read(h, plan.locn), t);
          h = { ...h, committed: plan.locn };
          previous = t;
        });
      },
    ),
    { numRuns: 200 },
  );
});

test("property: anything above the maximum is refused with LvmError", () => {
  fc.assert(
    fc.property(mdaArb, fc.integer({ min: 1, max: 4096 }), (h, extra) => {
      const err = errorOf(() => planMetadataWrite(h, text(maxMetadataSize(h.size) + extra), DEV, "vg", 1));
      assert.ok(err instanceof LvmError);
      assert.equal(err.exitCode, 5);
    }),
  );
});

const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const locnArb = fc.record({ offset: u64, size: u64, checksum: u32, flags: u32 }, { noNullPrototype: true });
const headerArb = fc.record(
  {
    start: u64,
    size: fc.integer({ min: MDA_HEADER_SIZE + 1, max: Number.MAX_SAFE_INTEGER }),
    committed: locnArb,
    precommitted: locnArb,
  },
  { noNullPrototype: true },
);

test("property: encode then decode gives the same header", () => {
  fc.assert(
    fc.property(headerArb, (h) => {
      assert.deepEqual(decodeMdaHeader(encodeMdaHeader(h), h.start, DEV), h);
    }),
  );
});

test("property: a flipped bit anywhere is caught; random bytes only ever give FormatError", () => {
  fc.assert(
    fc.property(headerArb, fc.nat(512 * 8 - 1), (h, bit) => {
      const b = encodeMdaHeader(h);
      b[bit >> 3]! ^= 1 << (bit & 7);
      assert.throws(() => decodeMdaHeader(b, h.start, DEV), FormatError);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), u64, (b, start) => {
      try {
        decodeMdaHeader(b, start, DEV);
      } catch (e) {
        assert.ok(e instanceof FormatError);
      }
    }),
  );
});

test("property: spans lie in the ring or the location is refused with FormatError", () => {
  fc.assert(
    fc.property(mdaArb, fc.record({ offset: fc.nat(1 << 21), size: fc.nat(1 << 21), checksum: u32, flags: u32 }), (h, l) => {
      let spans;
      try {
        spans = metadataSpans(h, l);
      } catch (e) {
        assert.ok(e instanceof FormatError);
        assert.ok(l.offset < 512 || l.offset >= h.size || l.size === 0 || l.size > h.size - 512);
        return;
      }
      assert.equal(spans.reduce((n, s) => n + s.length, 0), l.size);
      for (const s of spans) assert.ok(s.offset >= h.start + 512 && s.offset + s.length <= h.start + h.size);
      if (spans.length === 2) assert.ok(spans[1]!.offset + spans[1]!.length <= spans[0]!.offset);
    }),
  );
});

test("assembleMetadataText refuses parts of the wrong shape", () => {
  const h = header(32 * KiB);
  const locn = { offset: 0x7c00, size: 2048, checksum: 0, flags: 0 };
  assert.deepEqual(metadataSpans(h, locn).map((s) => s.length), [1024, 1024]);
  assert.throws(() => assembleMetadataText(h, locn, [new Uint8Array(2048)], DEV), FormatError);
  assert.throws(() => assembleMetadataText(h, locn, [new Uint8Array(1024), new Uint8Array(1000)], DEV), FormatError);
});
