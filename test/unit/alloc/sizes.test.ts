/** Size conversions, percentages, stripe parameters and region sizes, with lvm2 2.03.16's messages. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { stripeParams } from "../../../src/core/alloc/lv.ts";
import { createExtentsFromPercent, ensureMinRegionSize, extentsFromSize, regionSizeFor, resizeExtentsFromPercent, resizeExtentsFromSize } from "../../../src/core/alloc/sizes.ts";
import { displaySize } from "../../../src/core/report/units.ts";
import { EXIT, LvmError } from "../../../src/core/errors.ts";
import { linearLv, makeVg, pvId } from "./helpers.ts";

const GiB = 2 * 1024 * 1024;
const MiB = 2048;

function fails(fn: () => unknown, lines: string[], exitCode: number) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LvmError);
    assert.deepEqual(e.lines, lines);
    assert.equal(e.exitCode, exitCode);
    return true;
  });
}

test("sizes print as lvm2 prints them with its default units (seen on real lvm2)", () => {
  assert.equal(displaySize(12 * MiB), "12.00 MiB");
  assert.equal(displaySize(1002 * MiB), "1002.00 MiB");
  assert.equal(displaySize(1128 * MiB), "1.10 GiB");
  assert.equal(displaySize(1412 * MiB), "<1.38 GiB");
  // -L 0.9t rounded up to 4 KiB extents.
  assert.equal(displaySize(1932735288), "921.60 GiB");
  assert.equal(displaySize(128), "64.00 KiB");
  assert.equal(displaySize(1), "512 B");
  // An exact tie rounds to even as printf does, and is not marked as rounded up.
  assert.equal(displaySize(1.125 * GiB), "1.12 GiB");
  assert.equal(displaySize(1.375 * GiB), "<1.38 GiB");
});

test("displaySize never shows more than the value unless marked with <", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 45 }), (sectors) => {
      const text = displaySize(sectors);
      const m = /^(<?)(\d+(?:\.\d\d)?) (EiB|PiB|TiB|GiB|MiB|KiB|B)$/.exec(text);
      assert.ok(m, text);
      const unit = 1024 ** ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"].indexOf(m[3]!);
      const shown = Number(m[2]) * unit;
      const bytes = sectors * 512;
      if (m[1]) assert.ok(shown > bytes);
      else assert.ok(shown <= bytes + unit / 200);
      assert.ok(bytes >= unit && (m[3] === "EiB" || bytes < unit * 1024));
    }),
  );
});

test("-L rounds up to whole extents with lvcreate's and lvresize's messages", () => {
  const notes: string[] = [];
  assert.equal(extentsFromSize(10 * MiB, 4 * MiB, notes), 3);
  assert.equal(extentsFromSize(8 * MiB, 4 * MiB, notes), 2);
  assert.deepEqual(notes, ["Rounding up size to full physical extent 12.00 MiB"]);
  const resize: string[] = [];
  assert.equal(resizeExtentsFromSize(6 * MiB, 4 * MiB, "+", resize), 2);
  assert.equal(resizeExtentsFromSize(6 * MiB, 4 * MiB, "-", resize), 1);
  assert.deepEqual(resize, [
    "Rounding size to boundary between physical extents: 8.00 MiB.",
    "Rounding size to boundary between physical extents: 4.00 MiB.",
  ]);
  fails(
    () => extentsFromSize(17 * 1024 * 1024 * GiB / 1024, 8, []),
    ["Volume too large (17.00 TiB) for extent size 4.00 KiB. Upper limit is less than <16.00 TiB."],
    EXIT.FAILED,
  );
});

// 3 PVs of 100 extents; 60 used on PV 0.
const vg = makeVg([100, 100, 100], [linearLv("a", 0, 0, 60)]);

test("lvcreate percentages: of the VG, of free space, of the named PVs; divided among raid1 legs", () => {
  const notes: string[] = [];
  const pct = (percent: number, kind: "VG" | "FREE" | "PVS", extra = {}) =>
    createExtentsFromPercent(vg, { percent, kind, mirrors: 1, stripes: 1, stripeSize: 0, ...extra }, notes);
  assert.equal(pct(50, "VG"), 150);
  assert.equal(pct(100, "VG"), 240);
  assert.equal(pct(50, "FREE"), 120);
  assert.equal(pct(33, "FREE"), 79);
  assert.equal(pct(100, "PVS", { pvs: [{ pvId: pvId(0) }] }), 40);
  assert.equal(pct(100, "PVS"), 300);
  assert.equal(pct(100, "FREE", { mirrors: 2 }), 120);
  assert.equal(pct(100, "FREE", { stripes: 7, stripeSize: 128 }), 238);
  assert.deepEqual(notes, [
    "Reducing 100%VG to remaining free space 960.00 MiB in VG.",
    "Rounding size (240 extents) down to stripe boundary size (238 extents)",
  ]);
  fails(() => pct(0, "FREE"), ["Calculated size of logical volume is 0 extents. Needs to be larger."], EXIT.FAILED);
  fails(
    () => createExtentsFromPercent(vg, { percent: 10, kind: "LV", mirrors: 1, stripes: 1, stripeSize: 0 }, []),
    ["Please express size as %FREE, %PVS or %VG."],
    EXIT.FAILED,
  );
});

test("lvresize percentages round up unless reducing and say when they are an upper bound", () => {
  const notes: string[] = [];
  const r = (percent: number, kind: "VG" | "FREE" | "PVS" | "LV" | "ORIGIN", sign: "" | "+" | "-", extra = {}) =>
    resizeExtentsFromPercent(vg, { percent, kind, sign, lvExtents: 60, ...extra }, notes);
  assert.deepEqual(r(33, "FREE", "+"), { extents: 80, extentsArePes: true, approx: true });
  assert.deepEqual(r(33, "FREE", "-"), { extents: 79, extentsArePes: true, approx: false });
  assert.deepEqual(r(50, "LV", "+"), { extents: 30, extentsArePes: false, approx: false });
  assert.deepEqual(r(100, "VG", ""), { extents: 300, extentsArePes: true, approx: true });
  assert.deepEqual(r(90, "VG", "+"), { extents: 270, extentsArePes: true, approx: false });
  assert.deepEqual(r(100, "ORIGIN", "", { originExtents: 7 }), { extents: 7, extentsArePes: false, approx: false });
  assert.deepEqual(notes, []);
  const small = makeVg([100, 100, 100], [linearLv("a", 0, 0, 60), linearLv("b", 1, 0, 100)]);
  const clamped: string[] = [];
  assert.equal(resizeExtentsFromPercent(small, { percent: 100, kind: "VG", sign: "", lvExtents: 60 }, clamped).extents, 200);
  assert.deepEqual(clamped, ["Reducing 100%VG to remaining free space 800.00 MiB in VG."]);
  fails(() => r(10, "ORIGIN", "+"), ["Specified LV does not have an origin LV."], EXIT.FAILED);
});

test("stripe parameters as lvcreate checks them (seen on real lvm2)", () => {
  const notes: string[] = [];
  assert.equal(stripeParams(2, undefined, notes), 128);
  assert.equal(stripeParams(3, 32, notes), 32);
  assert.equal(stripeParams(1, 128, notes), undefined);
  assert.deepEqual(notes, ["Using default stripesize 64.00 KiB.", "Ignoring stripesize argument with single stripe."]);
  fails(() => stripeParams(2, 24, []), ["Invalid stripe size 12.00 KiB."], EXIT.INVALID_CMD_LINE);
  fails(() => stripeParams(200, undefined, []), ["Number of stripes (200) must be between 1 and 128."], EXIT.INVALID_CMD_LINE);
});

test("region size: 2 MiB by default, a power of 2 no larger than the LV, at most 2^21 regions", () => {
  const notes: string[] = [];
  assert.equal(regionSizeFor(10 * GiB, notes), 4096);
  assert.equal(regionSizeFor(12 * MiB, notes, 8192), 8192);
  assert.equal(regionSizeFor(3 * MiB, notes, 8192), 4096);
  assert.equal(regionSizeFor(1536, notes), 1024);
  assert.deepEqual(notes, ["Using reduced mirror region size of 2.00 MiB", "Using reduced mirror region size of 512.00 KiB"]);
  // 8 TiB: 2 MiB regions would be 2^22 of them.
  assert.equal(regionSizeFor(8 * 1024 * GiB, []), 8192);
  fc.assert(
    fc.property(fc.integer({ min: 8, max: 2 ** 40 }), fc.integer({ min: 3, max: 24 }), (lv, log2) => {
      const size = regionSizeFor(lv, [], 2 ** log2);
      assert.equal(size & (size - 1), 0);
      assert.ok(Math.floor(lv / size) <= 2 ** 21);
      assert.ok(size >= Math.min(2 ** log2, 2 ** Math.floor(Math.log2(lv))));
      assert.equal(ensureMinRegionSize(lv, size), size);
    }),
  );
});

test("--regionsize values lvm2 rejects while parsing the command line (seen on real lvm2)", () => {
  const tail = (arg: string) => [`Invalid argument for --regionsize: ${arg}`, "Error during parsing of command line."];
  fails(() => regionSizeFor(GiB, [], 6, "3k"), ["Region size must be a multiple of machine memory page size (4096 bytes).", ...tail("3k")], EXIT.INVALID_CMD_LINE);
  fails(() => regionSizeFor(GiB, [], 24, "12k"), ["Region size must be a power of 2.", ...tail("12k")], EXIT.INVALID_CMD_LINE);
  fails(() => regionSizeFor(GiB, [], 0, "0"), ["Region size may not be zero.", ...tail("0")], EXIT.INVALID_CMD_LINE);
});
