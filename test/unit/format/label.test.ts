import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { lvmCrc } from "../../../src/core/crc.ts";
import { FormatError } from "../../../src/core/errors.ts";
import { ID_ALPHABET } from "../../../src/core/format/id.ts";
import {
  LABEL_SCAN_BYTES,
  PV_EXT_USED,
  decodeLabelSector,
  encodeLabelSector,
  scanLabel,
  type DiskLocn,
  type PvLabel,
} from "../../../src/core/format/label.ts";

const FIXTURES = new URL("../../fixtures/real/", import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIXTURES)));
const DEV = "/dev/loop3";

/** A 2048-byte head with `sectors` placed at their indexes. */
function head(sectors: Record<number, Uint8Array>): Uint8Array {
  const h = new Uint8Array(LABEL_SCAN_BYTES);
  for (const [i, s] of Object.entries(sectors)) h.set(s, Number(i) * 512);
  return h;
}

/** Recompute the label CRC after hand-editing a sector. */
function withCrc(sector: Uint8Array): Uint8Array {
  const s = sector.slice();
  new DataView(s.buffer).setUint32(0x10, lvmCrc(s.subarray(0x14, 512)), true);
  return s;
}

function setU64(sector: Uint8Array, at: number, v: bigint): void {
  new DataView(sector.buffer, sector.byteOffset).setBigUint64(at, v, true);
}

const standard = (over: Partial<PvLabel> = {}): PvLabel => ({
  sector: 1,
  pvId: "ARjRcdLiwfPS7PkDXAnVFg9bGh22BRZm",
  deviceSize: 0x10000000,
  dataAreas: [{ offset: 0x100000, size: 0 }],
  metadataAreas: [{ offset: 0x1000, size: 0xff000 }],
  extVersion: 2,
  extFlags: PV_EXT_USED,
  bootloaderAreas: [],
  ...over,
});

test("decodes the real label of a PV in a VG and re-encodes it byte for byte", () => {
  const bytes = fixture("pv0-head.bin");
  const scan = scanLabel(bytes.subarray(0, LABEL_SCAN_BYTES), DEV);
  assert.deepEqual(scan.warnings, []);
  assert.deepEqual(scan.label, standard({ pvId: "NhSdzcb7cdlCFbuhH6XzfIldVA4IM1tU" }));
  assert.deepEqual(encodeLabelSector(scan.label!), bytes.subarray(512, 1024));
});

test("decodes the real label of an orphan PV and re-encodes it byte for byte", () => {
  const bytes = fixture("orphan-head.bin");
  const scan = scanLabel(bytes.subarray(0, LABEL_SCAN_BYTES), DEV);
  assert.deepEqual(scan.label, standard({ pvId: "3RahaoYYPKojdPRlw0gNK3511x2bqAcI", extFlags: 0 }));
  assert.deepEqual(encodeLabelSector(scan.label!), bytes.subarray(512, 1024));
});

test("reproduces the CRCs of the reference hexdump (in a VG and as an orphan)", () => {
  const crc = (l: PvLabel) => new DataView(encodeLabelSector(l).buffer).getUint32(0x10, true);
  assert.equal(crc(standard()), 0x4dfacb1c);
  assert.equal(crc(standard({ extFlags: 0 })), 0x4cb33ef2);
});

test("every label written by real pvcreate round-trips byte for byte", () => {
  const names = readdirSync(FIXTURES).filter((n) => n.startsWith("format-pv-") && !n.endsWith("-mda1.bin"));
  assert.ok(names.length >= 10);
  for (const name of names) {
    const bytes = fixture(name);
    const { label, warnings } = scanLabel(bytes, DEV);
    assert.ok(label, name);
    assert.deepEqual(warnings, [], name);
    assert.equal(label.extVersion, 2, name);
    assert.equal(label.extFlags, 0, name);
    assert.deepEqual(encodeLabelSector(label), bytes.subarray(label.sector * 512, label.sector * 512 + 512), name);
  }
  assert.equal(scanLabel(fixture("format-pv-64m-ls3-0mda.bin"), DEV).label?.sector, 3);
});

test("odd layouts that pvcreate really makes are accepted with a verbose note", () => {
  const scan = scanLabel(fixture("format-pv-64m-da512b-0mda-ba1k.bin"), DEV);
  assert.deepEqual(scan.label?.dataAreas, [{ offset: 1536, size: 0 }]);
  assert.deepEqual(scan.label?.bootloaderAreas, [{ offset: 512, size: 1024 }]);
  assert.deepEqual(scan.warnings, []);
  assert.equal(scan.verbose.length, 2);
  assert.ok(scan.verbose.every((v) => v.includes("overlaps the label area")));
});

test("scan messages match real lvm2 for additional and misplaced labels", () => {
  // Observed with pvs: sector 1 valid, a valid copy rewritten for sector 2, and
  // an unmodified copy (still saying sector 1) at sector 3.
  const s1 = encodeLabelSector(standard());
  const s2 = encodeLabelSector(standard({ sector: 2 }));
  const scan = scanLabel(head({ 1: s1, 2: s2, 3: s1 }), DEV);
  assert.equal(scan.label?.sector, 1);
  assert.deepEqual(scan.warnings, [
    "Ignoring additional label on /dev/loop3 at sector 2",
    "Ignoring additional label on /dev/loop3 at sector 3",
    "/dev/loop3: Label for sector 1 found at sector 3 - ignoring.",
  ]);
});

test("a misplaced label alone is no label", () => {
  const scan = scanLabel(head({ 2: encodeLabelSector(standard()) }), DEV);
  assert.equal(scan.label, undefined);
  assert.deepEqual(scan.warnings, ["/dev/loop3: Label for sector 1 found at sector 2 - ignoring."]);
});

test("a bad CRC is no label, reported only at -vv (as real lvm2), and a later valid label wins", () => {
  const bad = encodeLabelSector(standard({ sector: 0 }));
  bad[0x30] ^= 1;
  const good = encodeLabelSector(standard({ sector: 2, extFlags: 0 }));
  const scan = scanLabel(head({ 0: bad, 2: good }), DEV);
  assert.equal(scan.label?.sector, 2);
  assert.equal(scan.label?.extFlags, 0);
  assert.deepEqual(scan.warnings, []);
  assert.deepEqual(scan.verbose, ["Label checksum incorrect on /dev/loop3 - ignoring"]);
  assert.equal(scanLabel(head({ 0: bad }), DEV).label, undefined);
});

test("the first valid label wins, at sector 0 too", () => {
  const scan = scanLabel(head({ 0: encodeLabelSector(standard({ sector: 0 })) }), DEV);
  assert.equal(scan.label?.sector, 0);
  assert.deepEqual(scan.warnings, []);
});

test("as real lvm2 does, a sector with the LVM2 001 type but no LABELONE is taken without a CRC check", () => {
  const s = encodeLabelSector(standard());
  s.set(new TextEncoder().encode("XXXXXXXX"), 0);
  s[0x10] ^= 0xff;
  const scan = scanLabel(head({ 1: s }), DEV);
  assert.equal(scan.label?.pvId, standard().pvId);
  assert.equal(scan.verbose.length, 1);
  // and after a real label it is reported as an additional one
  const after = scanLabel(head({ 0: encodeLabelSector(standard({ sector: 0 })), 1: s }), DEV);
  assert.deepEqual(after.warnings, ["Ignoring additional label on /dev/loop3 at sector 1"]);
});

test("short or empty input yields no label and no exception", () => {
  assert.deepEqual(scanLabel(new Uint8Array(0), DEV), { warnings: [], verbose: [] });
  assert.equal(scanLabel(new Uint8Array(2048), DEV).label, undefined);
  const s1 = encodeLabelSector(standard());
  assert.equal(scanLabel(head({ 1: s1 }).subarray(0, 1023), DEV).label, undefined);
  assert.equal(scanLabel(head({ 1: s1 }).subarray(0, 1024), DEV).label?.sector, 1);
});

/** A hand-made sector with a valid CRC, so that only the pv_header checks can refuse it. */
function crafted(edit: (s: Uint8Array) => void, base = standard()): Uint8Array {
  const s = encodeLabelSector(base);
  edit(s);
  return withCrc(s);
}

test("absurd pv_headers with a valid CRC give a clear warning, never a crash", () => {
  const twoMdas = standard({ metadataAreas: [{ offset: 0x1000, size: 0xff000 }, { offset: 0xff00000, size: 0x100000 }] });
  const cases: [string, (s: Uint8Array) => void, RegExp, PvLabel?][] = [
    ["unterminated data area list", (s) => {
      for (let at = 0x48; at < 512; at += 16) setU64(s, at, 0x100000n);
    }, /data area list runs past the end/],
    ["unterminated bootloader list", (s) => {
      for (let at = 0x90; at < 512; at += 16) setU64(s, at, 0x200000n);
    }, /bootloader area list runs past the end/],
    ["mda beyond the device", (s) => setU64(s, 0x68, 0x20000000n), /metadata area 0 .* extends beyond the device size/],
    ["misaligned mda", (s) => setU64(s, 0x68, 0x1001n), /not sector-aligned/],
    ["misaligned pe_start", (s) => setU64(s, 0x48, 0x100100n), /data area 0 .* not sector-aligned/],
    ["mda inside the label area", (s) => setU64(s, 0x68, 0x200n), /overlaps the label area/],
    ["tiny mda", (s) => setU64(s, 0x70, 512n), /too small/],
    ["overlapping mdas", (s) => setU64(s, 0x78, 0x2000n), /metadata area 0 .* overlaps metadata area 1/, twoMdas],
    ["pe_start inside the mda", (s) => setU64(s, 0x48, 0x80000n), /data area 0 .* starts inside metadata area 0/],
    ["huge device size", (s) => setU64(s, 0x40, 0xffffffffffffffffn), /device size 18446744073709551615 is too large/],
    ["invalid id characters", (s) => s.set([0, 10, 32], 0x20), /PV id/],
    ["pv_header offset outside the sector", (s) => new DataView(s.buffer).setUint32(0x14, 0x1f0, true), /pv_header offset 496/],
  ];
  for (const [name, edit, pattern, base] of cases) {
    const scan = scanLabel(head({ 1: crafted(edit, base) }), DEV);
    assert.equal(scan.label, undefined, name);
    assert.equal(scan.warnings.length, 1, name);
    assert.match(scan.warnings[0]!, /^WARNING: \/dev\/loop3: ignoring invalid PV label at sector 1: /, name);
    assert.match(scan.warnings[0]!, pattern, name);
  }
});

test("a pv_header at a non-standard offset is followed, as LVM does", () => {
  const std = encodeLabelSector(standard());
  const s = new Uint8Array(512);
  s.set(std.subarray(0, 0x20));
  s.set(std.subarray(0x20, 0x1f0), 0x30);
  new DataView(s.buffer).setUint32(0x14, 0x30, true);
  const { label } = decodeLabelSector(withCrc(s), 1);
  assert.deepEqual(label, standard());
});

test("encodeLabelSector refuses labels it could not read back", () => {
  const bad: Partial<PvLabel>[] = [
    { sector: 4 },
    { pvId: "short" },
    { pvId: "ARjRcdLiwfPS7PkDXAnVFg9bGh22BR_m" },
    { deviceSize: -1 },
    { dataAreas: [{ offset: 0, size: 0 }] },
    { metadataAreas: [{ offset: 0x1000, size: 0xff000 }, { offset: 0x1000, size: 0x1000 }] },
    { extVersion: 0 },
    { extFlags: 2 ** 32 },
    { dataAreas: Array.from({ length: 30 }, () => ({ offset: 0x100000, size: 0 })) },
  ];
  for (const over of bad) assert.throws(() => encodeLabelSector(standard(over)), FormatError, JSON.stringify(over));
  assert.throws(() => encodeLabelSector(standard({ sector: 4 })), { message: "Label sector 4 beyond range (4)" });
});

const SECTOR = 512;
/** Valid labels: sector-aligned, disjoint reserved areas after the label window, all inside the device. */
const labelArb: fc.Arbitrary<PvLabel> = fc
  .record({
    sector: fc.integer({ min: 0, max: 3 }),
    pvId: fc.array(fc.constantFrom(...ID_ALPHABET), { minLength: 32, maxLength: 32 }).map((a) => a.join("")),
    areas: fc.array(
      fc.record({ gap: fc.integer({ min: 0, max: 1 << 20 }), len: fc.integer({ min: 1, max: 1 << 20 }), mda: fc.boolean() }),
      { maxLength: 6 },
    ),
    tail: fc.integer({ min: 0, max: 2 ** 40 }),
    daCount: fc.integer({ min: 0, max: 3 }),
    daPick: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
    daSize: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
    ext: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffffffff })),
    flags: fc.integer({ min: 0, max: 0xffffffff }),
  })
  .map((r) => {
    let at = 4; // sectors: the label window
    const reserved: { area: DiskLocn; mda: boolean }[] = [];
    const ends: number[] = [at];
    for (const a of r.areas) {
      const start = at + a.gap;
      const len = a.mda ? a.len + 1 : a.len;
      reserved.push({ area: { offset: start * SECTOR, size: len * SECTOR }, mda: a.mda });
      at = start + len;
      ends.push(at);
    }
    const deviceSectors = at + r.tail;
    const dataAreas = Array.from({ length: r.daCount }, (_, i) => {
      const offset = ends[r.daPick[i]! % ends.length]!;
      return { offset: offset * SECTOR, size: (r.daSize[i]! % (deviceSectors - offset + 1)) * SECTOR };
    });
    return {
      sector: r.sector,
      pvId: r.pvId,
      deviceSize: deviceSectors * SECTOR,
      dataAreas,
      metadataAreas: reserved.filter((x) => x.mda).map((x) => x.area),
      extVersion: r.ext,
      extFlags: r.ext ? r.flags : 0,
      bootloaderAreas: r.ext ? reserved.filter((x) => !x.mda).map((x) => x.area) : [],
    };
  });

test("property: encode then scan gives the same label back", () => {
  fc.assert(
    fc.property(labelArb, (label) => {
      const scan = scanLabel(head({ [label.sector]: encodeLabelSector(label) }), DEV);
      assert.deepEqual(scan.warnings, []);
      assert.deepEqual(scan.label, label);
    }),
    { numRuns: 300 },
  );
});

test("property: any single bit flipped in the CRC-covered part or the CRC itself voids the label", () => {
  fc.assert(
    fc.property(labelArb, fc.integer({ min: 0x10 * 8, max: 512 * 8 - 1 }), (label, bit) => {
      const s = encodeLabelSector(label);
      s[bit >> 3]! ^= 1 << (bit & 7);
      const scan = scanLabel(head({ [label.sector]: s }), DEV);
      assert.equal(scan.label, undefined);
    }),
  );
});

test("property: arbitrary corruption never throws, and whatever is accepted is a valid label", () => {
  const base = fixture("format-pv-64m-2mda.bin");
  fc.assert(
    fc.property(
      fc.array(fc.record({ at: fc.nat(LABEL_SCAN_BYTES - 1), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 40 }),
      fc.boolean(),
      fc.nat(LABEL_SCAN_BYTES),
      (edits, fixCrc, cut) => {
        let h = base.slice();
        for (const e of edits) h[e.at] = e.value;
        if (fixCrc) h.set(withCrc(h.subarray(512, 1024)), 512);
        h = h.subarray(0, cut);
        const scan = scanLabel(h, DEV);
        if (scan.label) {
          const again = encodeLabelSector(scan.label);
          assert.deepEqual(decodeLabelSector(again, scan.label.sector).label, scan.label);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test("property: random sectors never make the scanner throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 512, maxLength: 512 }), fc.integer({ min: 0, max: 3 }), (raw, at) => {
      const s = raw.slice();
      s.set(new TextEncoder().encode("LABELONE"), 0);
      setU64(s, 8, BigInt(at));
      s.set(new TextEncoder().encode("LVM2 001"), 0x18);
      scanLabel(head({ [at]: withCrc(s) }), DEV);
    }),
    { numRuns: 500 },
  );
});
