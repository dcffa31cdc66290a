import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { compileLv, forEachPiece, type Dest, type LvMap } from "../../../src/datapath/mapping.ts";
import { FormatError, LvmError } from "../../../src/core/errors.ts";
import type { VolumeGroup } from "../../../src/core/model/types.ts";
import { arbLayout, arbRequest, boundaries, fixtureVg, locate, lvBytes, type Location } from "./helpers.ts";

interface Seen {
  dest: Dest;
  destOffset: number;
  bufOffset: number;
  length: number;
}

function pieces(map: LvMap, offset: number, length: number): Seen[] {
  const out: Seen[] = [];
  const n = forEachPiece(map, offset, length, (o: Seen[], dest, destOffset, bufOffset, len) => o.push({ dest, destOffset, bufOffset, length: len }), out);
  assert.equal(n, out.length);
  return out;
}

/** The location of one byte of a piece, as the map says. */
function mapped(p: Seen, i: number): Location {
  if (p.dest.kind === "pv") return { kind: "pv", pv: p.dest.pv, byte: p.destOffset + i };
  if (p.dest.kind === "zero" || p.dest.kind === "error") return { kind: p.dest.kind };
  throw new Error("mirror pieces are checked separately");
}

/**
 * The pieces tile the request in buffer order, split exactly at segment and
 * chunk starts, and the first and last byte of each land where the metadata
 * says: within a piece the reference is linear, so that covers every byte.
 */
function checkRequest(vg: VolumeGroup, lv: string, map: LvMap, offset: number, length: number): void {
  const marks = new Set(boundaries(vg, lv));
  const inside = [...marks].filter((b) => b > offset && b < offset + length).sort((a, b) => a - b);
  const got = pieces(map, offset, length);
  assert.deepEqual(
    got.slice(1).map((p) => offset + p.bufOffset),
    inside,
  );
  let at = 0;
  for (const p of got) {
    assert.equal(p.bufOffset, at);
    assert.ok(p.length > 0);
    at += p.length;
    for (const i of [0, p.length - 1]) assert.deepEqual(mapped(p, i), locate(vg, lv, offset + p.bufOffset + i), `byte ${offset + p.bufOffset + i} of ${lv}`);
  }
  assert.equal(at, length);
}

const FIXTURE_LVS: [string, string[]][] = [
  ["alloc-striped.txt", ["a", "s1", "s2", "s3", "s8"]],
  ["alloc-extend.txt", ["l1", "s", "x"]],
  ["alloc-extend-policies.txt", ["l", "c2"]],
  ["alloc-cling.txt", ["s"]],
  ["report-basic-vgA.vg", ["str", "multi", "huge"]],
  ["text-alloc.vg", ["any"]],
  ["vg0-raw.txt", ["lin", "str", "r1_rimage_1"]],
];

test("requests on real lvm2 layouts split at segment and stripe boundaries and land where the metadata says", () => {
  for (const [file, lvs] of FIXTURE_LVS) {
    const vg = fixtureVg(file);
    for (const lv of lvs) {
      const map = compileLv(vg, lv);
      assert.equal(map.size, lvBytes(vg, lv));
      fc.assert(
        fc.property(arbRequest(map.size, boundaries(vg, lv), 3 << 20), ({ offset, length }) => checkRequest(vg, lv, map, offset, length)),
        { numRuns: 150 },
      );
      checkRequest(vg, lv, map, 0, map.size);
    }
  }
});

test("generated layouts, with zero and error segments, map every request as the metadata says", () => {
  fc.assert(
    fc.property(
      arbLayout({ fills: true }).chain((l) => {
        const size = lvBytes(l.vg, l.lv);
        return fc.tuple(fc.constant(l), arbRequest(size, boundaries(l.vg, l.lv), size));
      }),
      ([{ vg, lv }, { offset, length }]) => checkRequest(vg, lv, compileLv(vg, lv), offset, length),
    ),
    { numRuns: 500 },
  );
});

test("a striped segment's chunks rotate over its areas, and runs are one per segment", () => {
  const vg = fixtureVg("alloc-striped.txt");
  const map = compileLv(vg, "s2");
  const seg = vg.lvs.find((l) => l.name === "s2")!.segments[0]!;
  assert.equal(map.runs.length, 1);
  const t = map.runs[0]!.target;
  assert.equal(t.kind, "striped");
  if (t.kind !== "striped") return;
  assert.equal(t.stripeSize, seg.stripeSize! * 512);
  assert.deepEqual(
    t.areas.map((a) => a.pv),
    seg.areas.map((a) => (a.kind === "pv" ? a.pvId : "")),
  );
  const got = pieces(map, 0, 4 * t.stripeSize);
  assert.deepEqual(
    got.map((p) => (p.dest.kind === "pv" ? p.dest.pv : "")),
    [0, 1, 2, 0].map((i) => t.areas[i]!.pv),
  );
  assert.equal(got[3]!.destOffset, t.areas[0]!.pvOffset + t.stripeSize);
  const multi = compileLv(vg, "s8");
  assert.deepEqual(
    multi.runs.map((r) => [r.lvOffset, r.length]),
    vg.lvs.find((l) => l.name === "s8")!.segments.map((s) => [s.startExtent * vg.extentSize * 512, s.extentCount * vg.extentSize * 512]),
  );
});

test("raid1 and mirror segments become nodes holding their images' maps, addressed from the segment start", () => {
  const vg = fixtureVg("vg0-raw.txt");
  const map = compileLv(vg, "r1");
  const node = map.runs[0]!.target;
  assert.equal(node.kind, "raid1");
  if (node.kind !== "raid1") return;
  assert.deepEqual(map.mirrors, [node]);
  assert.deepEqual(
    node.images.map((i) => [i.name, i.offset, i.map.size]),
    [
      ["r1_rimage_0", 0, map.size],
      ["r1_rimage_1", 0, map.size],
    ],
  );
  assert.deepEqual(
    node.metas.map((m) => m.name),
    ["r1_rmeta_0", "r1_rmeta_1"],
  );
  assert.equal(node.regionSize, 4096 * 512);
  assert.deepEqual(node.images[1]!.map, compileLv(vg, "r1_rimage_1"));
  const got = pieces(map, 12345, 1000);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.dest, node);
  assert.equal(got[0]!.destOffset, 12345);

  const mvg = fixtureVg("text-mirror.vg");
  const mirror = compileLv(mvg, "m1").runs[0]!.target;
  assert.equal(mirror.kind, "mirror");
  if (mirror.kind !== "mirror") return;
  assert.deepEqual(
    mirror.images.map((i) => i.name),
    ["m1_mimage_0", "m1_mimage_1"],
  );
  assert.deepEqual(
    mirror.metas.map((m) => m.name),
    ["m1_mlog"],
  );
});

test("an error segment (a raid image on a removed PV) maps to an error piece", () => {
  const vg = fixtureVg("text-error.vg");
  const map = compileLv(vg, "r1_rimage_1");
  assert.deepEqual(
    pieces(map, 0, map.size).map((p) => p.dest.kind),
    ["error"],
  );
});

test("a compiled map is frozen", () => {
  const map = compileLv(fixtureVg("alloc-extend.txt"), "l1");
  assert.ok(Object.isFrozen(map) && Object.isFrozen(map.runs) && map.runs.every((r) => Object.isFrozen(r) && Object.isFrozen(r.target)));
  assert.throws(() => (map.runs as unknown[]).push(1), TypeError);
});

test("requests outside the LV are refused", () => {
  const map = compileLv(fixtureVg("vg0-raw.txt"), "lin");
  const none = () => {};
  assert.throws(() => forEachPiece(map, map.size - 1, 2, none, undefined), RangeError);
  assert.throws(() => forEachPiece(map, -1, 1, none, undefined), RangeError);
  assert.throws(() => forEachPiece(map, 0.5, 1, none, undefined), RangeError);
  assert.equal(forEachPiece(map, map.size, 0, none, undefined), 0);
});

function edited(file: string, edit: (vg: VolumeGroup) => void): VolumeGroup {
  const vg = fixtureVg(file);
  edit(vg);
  return vg;
}

const seg = (vg: VolumeGroup, lv: string, i = 0) => vg.lvs.find((l) => l.name === lv)!.segments[i]!;

test("segment types ulvm cannot serve fail with LVM's missing-target message", () => {
  const cases: [VolumeGroup, string, string][] = [
    [edited("vg0-raw.txt", (vg) => (seg(vg, "r1").type = "raid5")), "r1", "raid5"],
    [edited("vg0-raw.txt", (vg) => (seg(vg, "lin").type = "thin")), "lin", "thin"],
    [edited("vg0-raw.txt", (vg) => seg(vg, "r1").typeFlags.push("RESHAPE")), "r1", "raid1+RESHAPE"],
    [edited("vg0-raw.txt", (vg) => (seg(vg, "lin").areas = [{ kind: "lv", lv: "str", le: 0 }])), "lin", "striped over LV areas"],
  ];
  for (const [vg, lv, what] of cases)
    assert.throws(
      () => compileLv(vg, lv),
      (e: unknown) => e instanceof LvmError && e.message === `Can't process LV vg0/${lv}: ${what} target support missing from kernel?`,
    );
  assert.throws(
    () => compileLv(fixtureVg("vg0-raw.txt"), "nope"),
    (e: unknown) => e instanceof LvmError && e.message === `Failed to find logical volume "vg0/nope"`,
  );
});

test("geometry device-mapper would refuse is a FormatError", () => {
  const bad: [VolumeGroup, string, RegExp][] = [
    [edited("vg0-raw.txt", (vg) => (seg(vg, "str").extentCount = 3)), "str", /3 extents do not divide into 2 stripes/],
    [edited("vg0-raw.txt", (vg) => (seg(vg, "str").stripeSize = 3)), "str", /stripe size 3 does not divide/],
    [edited("vg0-raw.txt", (vg) => delete seg(vg, "str").stripeSize), "str", /stripe size 0 does not divide/],
    [edited("vg0-raw.txt", (vg) => (seg(vg, "lin").startExtent = 1)), "lin", /segment at extent 1 should start at 0/],
    [edited("vg0-raw.txt", (vg) => (vg.pvs[0]!.peCount = 1)), "lin", /uses extents 0-9 of PV \w+, which has 1$/],
    [edited("vg0-raw.txt", (vg) => (vg.pvs = vg.pvs.slice(1))), "lin", /uses PV \w+, which is not in VG vg0/],
    [edited("vg0-raw.txt", (vg) => (seg(vg, "r1").areas[0] = { kind: "lv", lv: "r1", le: 0 })), "r1", /r1 is its own sub-LV \(r1 -> r1\)/],
    [edited("vg0-raw.txt", (vg) => (vg.lvs = vg.lvs.filter((l) => l.name !== "r1_rmeta_1"))), "r1", /refers to LV r1_rmeta_1, which is not in VG/],
    [edited("vg0-raw.txt", (vg) => (seg(vg, "r1").extentCount = 5)), "r1", /needs 20971520 bytes of r1_rimage_0/],
  ];
  for (const [vg, lv, message] of bad) assert.throws(() => compileLv(vg, lv), (e: unknown) => e instanceof FormatError && message.test(e.message));
});
