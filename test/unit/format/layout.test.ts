import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { FormatError, LvmError } from "../../../src/core/errors.ts";
import { computePvLayout, peCount, type PvLayoutOptions } from "../../../src/core/format/layout.ts";
import { encodeLabelSector, scanLabel } from "../../../src/core/format/label.ts";

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../fixtures/real/${name}`, import.meta.url)));
const KiB = 1024;
const MiB = 1024 * KiB;
const DEV = "/dev/loop3";

/** Each fixture holds the label real pvcreate wrote with these options. */
const REAL: [string, PvLayoutOptions][] = [
  ["64m-default", { deviceSize: 64 * MiB }],
  ["64m-2mda", { deviceSize: 64 * MiB, pvMetadataCopies: 2 }],
  ["64m-md32k-da4k", { deviceSize: 64 * MiB, metadataSize: 32 * KiB, dataAlignment: 4 * KiB }],
  ["64m-md32k-da4k-2mda", { deviceSize: 64 * MiB, metadataSize: 32 * KiB, dataAlignment: 4 * KiB, pvMetadataCopies: 2 }],
  ["64m-ba1m", { deviceSize: 64 * MiB, bootloaderAreaSize: MiB }],
  ["64m-ba1m-2mda", { deviceSize: 64 * MiB, bootloaderAreaSize: MiB, pvMetadataCopies: 2 }],
  ["64m-ba100k-da64k", { deviceSize: 64 * MiB, bootloaderAreaSize: 100 * KiB, dataAlignment: 64 * KiB }],
  ["4m-ba3m", { deviceSize: 4 * MiB, bootloaderAreaSize: 3 * MiB }],
  ["64m-ls3-0mda", { deviceSize: 64 * MiB, labelSector: 3, pvMetadataCopies: 0 }],
  ["64m-da3m-off512k-md100k", { deviceSize: 64 * MiB, dataAlignment: 3 * MiB, dataAlignmentOffset: 512 * KiB, metadataSize: 100 * KiB }],
  ["2m-2mda", { deviceSize: 2 * MiB, pvMetadataCopies: 2 }],
  ["3m-2mda-md1m", { deviceSize: 3 * MiB, pvMetadataCopies: 2, metadataSize: MiB }],
  ["2m-md2m", { deviceSize: 2 * MiB, metadataSize: 2 * MiB }],
  ["2m-ba1m", { deviceSize: 2 * MiB, bootloaderAreaSize: MiB }],
  ["64m-da512b-0mda-ba1k", { deviceSize: 64 * MiB, dataAlignment: 512, pvMetadataCopies: 0, bootloaderAreaSize: KiB }],
  ["64m-da1k-off1k", { deviceSize: 64 * MiB, dataAlignment: KiB, dataAlignmentOffset: KiB }],
];

test("layouts equal what real pvcreate wrote", () => {
  for (const [name, opts] of REAL) {
    const { label } = scanLabel(fixture(`format-pv-${name}.bin`), DEV);
    assert.ok(label, name);
    assert.equal(label.deviceSize, opts.deviceSize, name);
    assert.deepEqual(
      computePvLayout(opts),
      { metadataAreas: label.metadataAreas, dataArea: label.dataAreas[0], bootloaderAreas: label.bootloaderAreas },
      name,
    );
  }
});

test("the reference's layouts, by number", () => {
  assert.deepEqual(computePvLayout({ deviceSize: 256 * MiB }), {
    metadataAreas: [{ offset: 0x1000, size: 0xff000 }],
    dataArea: { offset: MiB, size: 0 },
    bootloaderAreas: [],
  });
  assert.deepEqual(computePvLayout({ deviceSize: 64 * MiB, pvMetadataCopies: 2 }).metadataAreas[1], {
    offset: 0x3f00000,
    size: 0x100000,
  });
  assert.deepEqual(computePvLayout({ deviceSize: 256 * MiB, bootloaderAreaSize: MiB }), {
    metadataAreas: [{ offset: 0x1000, size: 0xff000 }],
    dataArea: { offset: 0x200000, size: 0 },
    bootloaderAreas: [{ offset: 0x100000, size: 0x100000 }],
  });
  // a device size that is not whole sectors is seen in whole sectors
  assert.deepEqual(computePvLayout({ deviceSize: 64 * MiB + 100, pvMetadataCopies: 2 }).metadataAreas[1], {
    offset: 0x3f00000,
    size: 0x100000,
  });
});

function lines(opts: PvLayoutOptions): string[] {
  try {
    computePvLayout({ deviceName: DEV, ...opts });
  } catch (e) {
    assert.ok(e instanceof LvmError);
    assert.equal(e.exitCode, 5);
    return e.lines;
  }
  assert.fail("no error");
}

test("refusals carry the lines real pvcreate printed", () => {
  assert.deepEqual(lines({ deviceSize: 64 * MiB, dataAlignment: 4 * KiB, metadataSize: 16 * KiB }), [
    "Metadata area size too small: 16384 bytes. It must be at least 32768 bytes.",
    "Not enough space available for metadata area with index 0 on PV /dev/loop3.",
    "Failed to add metadata area for new physical volume /dev/loop3",
  ]);
  assert.deepEqual(lines({ deviceSize: 64 * MiB, dataAlignment: MiB, dataAlignmentOffset: 2 * MiB }), [
    "/dev/loop3: pe_align (2048 sectors) must not be less than pe_align_offset (4096 sectors)",
    "Format-specific initialisation of physical volume /dev/loop3 failed.",
  ]);
  assert.deepEqual(lines({ deviceSize: 2 * MiB, bootloaderAreaSize: 3 * MiB }), [
    "/dev/loop3: Bootloader area with data-aligned start must not exceed device size.",
    "Format-specific initialisation of physical volume /dev/loop3 failed.",
  ]);
  assert.deepEqual(lines({ deviceSize: 2 * MiB, dataAlignment: 4 * MiB }), [
    "/dev/loop3: Data alignment must not exceed device size.",
  ]);
  assert.deepEqual(lines({ deviceSize: MiB }), ["Cannot use /dev/loop3: device is too small (pv_min_size)"]);
});

test("option values the command line refuses are FormatErrors", () => {
  for (const opts of [
    { deviceSize: 64 * MiB, dataAlignment: 1000 },
    { deviceSize: 64 * MiB, metadataSize: -512 },
    { deviceSize: 64 * MiB, labelSector: 4 },
    { deviceSize: 64 * MiB, pvMetadataCopies: 3 as 2 },
    { deviceSize: Number.NaN },
  ]) {
    assert.throws(() => computePvLayout(opts), FormatError, JSON.stringify(opts));
  }
});

test("peCount follows the reference and real vgcreate", () => {
  assert.equal(peCount(256 * MiB, MiB, 8192, [{ offset: 0x1000, size: 0xff000 }]), 63);
  assert.equal(peCount(64 * MiB, MiB, 2048, [{ offset: 0x1000, size: 0xff000 }]), 63);
  const two = computePvLayout({ deviceSize: 64 * MiB, pvMetadataCopies: 2 });
  assert.equal(peCount(64 * MiB, two.dataArea.offset, 2048, two.metadataAreas), 62);
  // observed: vgcreate -s 64k on --metadatasize 32k --dataalignment 4k --pvmetadatacopies 2
  const small = computePvLayout({ deviceSize: 64 * MiB, metadataSize: 32 * KiB, dataAlignment: 4 * KiB, pvMetadataCopies: 2 });
  assert.equal(peCount(64 * MiB, small.dataArea.offset, 128, small.metadataAreas), 1022);
  // observed: vgcreate -s 1m on --bootloaderareasize 1m --pvmetadatacopies 2
  const ba = computePvLayout({ deviceSize: 64 * MiB, bootloaderAreaSize: MiB, pvMetadataCopies: 2 });
  assert.equal(peCount(64 * MiB, ba.dataArea.offset, 2048, ba.metadataAreas), 61);
  assert.equal(peCount(4 * MiB, 4 * MiB, 8192, []), 0);
  assert.throws(() => peCount(64 * MiB, MiB, 0, []), FormatError);
});

const sectors = (max: number) => fc.integer({ min: 0, max }).map((n) => n * 512);

test("property: every layout is a valid label that scans back, or a clean refusal", () => {
  fc.assert(
    fc.property(
      fc.record(
        {
          deviceSize: fc.oneof(sectors(16 * 2048), sectors(2 ** 31)),
          metadataSize: fc.option(sectors(8192), { nil: undefined }),
          dataAlignment: fc.option(fc.constantFrom(512, 4096, 65536, MiB, 3 * MiB, 8 * MiB), { nil: undefined }),
          dataAlignmentOffset: fc.option(sectors(4096), { nil: undefined }),
          pvMetadataCopies: fc.option(fc.constantFrom(0 as const, 1 as const, 2 as const), { nil: undefined }),
          bootloaderAreaSize: fc.option(sectors(8192), { nil: undefined }),
        },
        { noNullPrototype: true },
      ),
      (opts) => {
        let layout;
        try {
          layout = computePvLayout(opts);
        } catch (e) {
          assert.ok(e instanceof LvmError);
          return;
        }
        const label = {
          sector: 1,
          pvId: "ARjRcdLiwfPS7PkDXAnVFg9bGh22BRZm",
          deviceSize: opts.deviceSize,
          dataAreas: [layout.dataArea],
          metadataAreas: layout.metadataAreas,
          extVersion: 2,
          extFlags: 0,
          bootloaderAreas: layout.bootloaderAreas,
        };
        const head = new Uint8Array(2048);
        head.set(encodeLabelSector(label), 512);
        assert.deepEqual(scanLabel(head, DEV).label, label);
        const [mda0] = layout.metadataAreas;
        if (mda0) assert.ok(mda0.offset + mda0.size <= layout.dataArea.offset);
        assert.ok(layout.dataArea.offset <= opts.deviceSize);
        assert.ok(peCount(opts.deviceSize, layout.dataArea.offset, 8, layout.metadataAreas) >= 0);
      },
    ),
    { numRuns: 1000 },
  );
});
