import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { FormatError } from "../../../src/core/errors.ts";
import { parseVgText } from "../../../src/core/model/text.ts";
import { validateVg } from "../../../src/core/model/validate.ts";
import { areaLength } from "../../../src/core/model/relations.ts";
import type { LogicalVolume, Segment, VolumeGroup } from "../../../src/core/model/types.ts";
import { arbVolumeGroup } from "./arbitrary.ts";
import { linearSegment, makeLv } from "../../helpers/model-builders.ts";

const fixture = readFileSync(join(import.meta.dirname, "..", "..", "fixtures", "real", "vg0-raw.txt"), "utf8").replace(/\0$/, "");

/** vg0: pv0/pv1 of 63 extents; lin (pv0 0-9), str (2 stripes, pv0 10-11 + pv1 0-1), raid1 r1 with legs on pv0 14-18 and pv1 2-6. */
function vg0(): VolumeGroup {
  return parseVgText(fixture).vg;
}

const lv = (vg: VolumeGroup, name: string): LogicalVolume => vg.lvs.find((l) => l.name === name)!;

function rejects(edit: (vg: VolumeGroup) => void, message: RegExp): void {
  const vg = vg0();
  edit(vg);
  assert.throws(() => validateVg(vg), (e: unknown) => e instanceof FormatError && message.test(e.message), String(message));
}

test("the real fixture is valid", () => {
  assert.doesNotThrow(() => validateVg(vg0()));
});

test("extent size: zero, or neither a power of 2 nor a multiple of 128 KiB", () => {
  rejects((vg) => (vg.extentSize = 0), /^Physical extent size may not be zero$/);
  rejects((vg) => (vg.extentSize = 8192 + 8), /multiple of 128.00 KiB when not a power of 2/);
  const vg = vg0();
  vg.extentSize = 6144; // 3 MiB, accepted by vgcreate -s 3m
  validateVg(vg);
});

test("duplicate names and ids", () => {
  rejects((vg) => (lv(vg, "str").name = "lin"), /Duplicate LV name lin detected in vg0/);
  rejects((vg) => (lv(vg, "str").id = lv(vg, "lin").id), /Duplicate LV id YXamzu-K4lo-Ddha-8UL7-bdNx-rc3k-fWOQEZ detected for str in vg0/);
  rejects((vg) => (vg.pvs[1]!.id = vg.pvs[0]!.id), /Duplicate PV id NhSdzc-b7cd-lCFb-uhH6-XzfI-ldVA-4IM1tU detected for \/dev\/loop1 in vg0/);
  rejects((vg) => (lv(vg, "lin").name = "bad name"), /LV name bad name has invalid form/);
  // The dm name "vg0-<lv>" plus separators must stay below 128 bytes.
  rejects((vg) => (lv(vg, "lin").name = "x".repeat(122)), /LV name "vg0\/x{122}" length 128 is not supported/);
  const longest = vg0();
  lv(longest, "lin").name = "x".repeat(121);
  validateVg(longest);
});

test("segments must run from LE 0 without gaps or overlaps", () => {
  const split = (vg: VolumeGroup, secondStart: number): void => {
    const seg = lv(vg, "lin").segments[0]!;
    const second: Segment = { ...seg, startExtent: secondStart, extentCount: 5, areas: [{ kind: "pv", pvId: vg.pvs[1]!.id, pe: 40 }] };
    seg.extentCount = 5;
    lv(vg, "lin").segments.push(second);
  };
  const ok = vg0();
  split(ok, 5);
  validateVg(ok);
  rejects((vg) => split(vg, 6), /LV lin invalid: segment 2 should begin at LE 5 \(found 6\)/);
  rejects((vg) => split(vg, 4), /LV lin invalid: segment 2 should begin at LE 5 \(found 4\)/);
  rejects((vg) => (lv(vg, "lin").segments[0]!.startExtent = 1), /segment 1 should begin at LE 0/);
  rejects((vg) => (lv(vg, "lin").segments = []), /LV lin: has no segment/);
  rejects((vg) => (lv(vg, "str").segments[0]!.extentCount = 5), /LV str: segment 1 with len=5  has inconsistent area_len 2/);
});

test("areas must name PVs and LVs of the VG", () => {
  rejects((vg) => (lv(vg, "lin").segments[0]!.areas = [{ kind: "pv", pvId: "x".repeat(32), pe: 0 }]), /Referenced PV xxxxxx-xxxx-.* not listed in VG vg0/);
  rejects((vg) => (lv(vg, "r1").segments[0]!.areas[1] = { kind: "lv", lv: "nope", le: 0 }), /LV r1: segment 1 has inconsistent LV area 1/);
  rejects((vg) => (lv(vg, "lin").segments[0]!.areas = [{ kind: "lv", lv: "lin", le: 0 }]), /LV lin: segment 1 has inconsistent LV area 0/);
  rejects((vg) => (lv(vg, "lin").segments[0]!.areas = [{ kind: "lv", lv: "str", le: 0 }]), /LV lin: segment 1 has inconsistent LV area 0/);
});

test("PV extents must exist and belong to one LV only", () => {
  rejects((vg) => (lv(vg, "lin").segments[0]!.areas = [{ kind: "pv", pvId: vg.pvs[0]!.id, pe: 60 }]), /Segment with extent 63 in PV \/dev\/loop0 not found/);
  rejects((vg) => (lv(vg, "lin").segments[0]!.areas = [{ kind: "pv", pvId: vg.pvs[0]!.id, pe: 5 }]), /Physical extent 10 of PV \/dev\/loop0 is used by both LV lin and LV str/);
  rejects((vg) => (vg.pvs[0]!.peCount = 15), /Segment with extent 15 in PV \/dev\/loop0 not found/);
});

test("raid shapes: images are LVs of one size, metadata pairs complete, region size a power of 2", () => {
  rejects((vg) => lv(vg, "r1").segments[0]!.metaAreas.pop(), /LV vg0\/r1 invalid: 1 meta areas for 2 images for raid1 segment/);
  rejects((vg) => (lv(vg, "r1").segments[0]!.areas[0] = { kind: "pv", pvId: vg.pvs[0]!.id, pe: 30 }), /LV vg0\/r1 invalid: no DataLV for raid1 segment/);
  rejects((vg) => (lv(vg, "r1").segments[0]!.regionSize = 3000), /non power of 2 region size \(is 3000\) for raid1 segment/);
  rejects((vg) => (lv(vg, "r1").segments[0]!.regionSize = 0), /zero region_size for raid1 segment/);
  rejects((vg) => {
    const image = lv(vg, "r1_rimage_1").segments[0]!;
    image.extentCount = 5;
    lv(vg, "r1").segments[0]!.extentCount = 4;
  }, /DataLV size variations \(is 5\)|inconsistent/);
  rejects((vg) => (lv(vg, "r1").segments[0]!.extentCount = 5), /LV r1: segment 1 has inconsistent LV area 0/);
});

test("area lengths per segment type", () => {
  const seg = (type: string, extentCount: number, n: number): Segment => ({
    startExtent: 0, extentCount, type, typeFlags: [], tags: [], metaAreas: [], extra: [],
    areas: Array.from({ length: n }, (_, i) => ({ kind: "lv" as const, lv: `x${i}`, le: 0 })),
  });
  assert.equal(areaLength(seg("striped", 12, 3)), 4);
  assert.equal(areaLength(seg("raid0", 12, 4)), 3);
  assert.equal(areaLength(seg("mirror", 12, 2)), 12);
  assert.equal(areaLength(seg("raid1", 12, 3)), 12);
  assert.equal(areaLength(seg("raid5", 12, 3)), undefined);
  assert.equal(areaLength(seg("error", 12, 0)), 0);
});

test("any extent claimed twice on a PV is found", () => {
  fc.assert(
    fc.property(arbVolumeGroup({ missingPvs: false }), fc.nat(), fc.nat(), (vg, pick, shift) => {
      const runs = vg.lvs.flatMap((l) => l.segments.flatMap((s) => s.areas.flatMap((a) => (a.kind === "pv" ? [{ a, len: areaLength(s)! }] : []))));
      fc.pre(runs.length > 0);
      const { a, len } = runs[pick % runs.length]!;
      if (a.kind !== "pv") return;
      const pe = a.pe + (shift % len);
      vg.lvs.push(makeLv("intruder", [linearSegment(0, 1, a.pvId, pe)], { id: "z".repeat(32) }));
      assert.throws(() => validateVg(vg), /is used by both LV/);
    }),
    { numRuns: 200 },
  );
});
