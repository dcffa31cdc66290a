/** PV lists from the command line (`/dev/sdb:0-9`) and the free-area lists the allocator walks. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  areaList,
  buildPvList,
  consumePvArea,
  createPvMaps,
  pvListFreeExtents,
  reinsertChangedPvArea,
  type PvArg,
} from "../../../src/core/alloc/pv-map.ts";
import { LvmError } from "../../../src/core/errors.ts";
import { linearLv, makeVg, pvId } from "./helpers.ts";

// PV 0: 31 extents, used 4-9 and 20-22 -> free 0-3 (4), 10-19 (10), 23-30 (8).
const vg = makeVg([31, 31, 10], [linearLv("a", 0, 4, 6), linearLv("b", 0, 20, 3), linearLv("full", 2, 0, 10)]);

function arg(pv: number, rangeSpec?: string): PvArg {
  return { pvId: pvId(pv), name: `/dev/sd${"bcd"[pv]}`, rangeSpec };
}

function errorLines(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LvmError);
    assert.equal(e.exitCode, 5);
    return e.lines;
  }
  assert.fail("no error");
}

test("free areas are listed largest first, equal sizes in PE order", () => {
  const [map] = createPvMaps(vg, [{ pvId: pvId(0) }]);
  assert.deepEqual(
    areaList(map!).map((a) => [a.start, a.count]),
    [
      [10, 10],
      [23, 8],
      [0, 4],
    ],
  );
  assert.equal(map!.peCount, 22);
});

test("PE ranges clip the free areas, and a PV named twice shares one map", () => {
  const maps = createPvMaps(vg, [
    { pvId: pvId(0), ranges: [{ start: 2, end: 12 }] },
    { pvId: pvId(1), ranges: [{ start: 5, end: 5 }] },
    { pvId: pvId(0), ranges: [{ start: 25, end: 26 }] },
  ]);
  assert.equal(maps.length, 2);
  assert.deepEqual(areaList(maps[0]!).map((a) => [a.start, a.count]), [
    [10, 3],
    [2, 2],
    [25, 2],
  ]);
  assert.deepEqual(areaList(maps[1]!).map((a) => [a.start, a.count]), [[5, 1]]);
});

test("non-allocatable and missing PVs get no map; a full one gets an empty map", () => {
  const v = structuredClone(vg);
  v.pvs[0]!.status = [];
  v.pvs[1]!.flags = ["MISSING"];
  const maps = createPvMaps(v);
  assert.deepEqual(maps.map((m) => [m.pv.id, areaList(m).length]), [[pvId(2), 0]]);
});

test("an area whose unreserved part shrinks moves down the list; consuming splits it", () => {
  const [map] = createPvMaps(vg, [{ pvId: pvId(0) }]);
  const [big] = areaList(map!);
  big!.unreserved = 5;
  reinsertChangedPvArea(big!);
  // Placed before the first area whose full size is below 5: after the 8, before the 4.
  assert.deepEqual(areaList(map!).map((a) => a.start), [23, 10, 0]);
  consumePvArea(big!, 7);
  assert.deepEqual(areaList(map!).map((a) => [a.start, a.count]), [
    [23, 8],
    [0, 4],
    [17, 3],
  ]);
  assert.equal(map!.peCount, 15);
});

test("PV arguments: ranges parsed as lvm2 does, duplicates merged in first position", () => {
  const { list, warnings } = buildPvList(vg, [arg(1, ":3+2:9-"), arg(0), arg(1, ":0")]);
  assert.deepEqual(warnings, []);
  assert.deepEqual(list, [
    { pvId: pvId(1), ranges: [{ start: 3, end: 4 }, { start: 9, end: 30 }, { start: 0, end: 0 }] },
    { pvId: pvId(0), ranges: [{ start: 0, end: 30 }] },
  ]);
  assert.equal(pvListFreeExtents(vg, list), 2 + 22 + 1 + 22);
  assert.deepEqual(buildPvList(vg, [arg(0, ":-5")]).list[0]!.ranges, [{ start: 0, end: 5 }]);
});

test("PV argument errors carry lvm2's messages, after the warnings printed so far", () => {
  assert.deepEqual(errorLines(() => buildPvList(vg, [arg(0, ":5-2")])), ["PE range error: start extent 5 to end extent 2."]);
  assert.deepEqual(errorLines(() => buildPvList(vg, [arg(0, ":0-31")])), ["PE range error: start extent 0 to end extent 31."]);
  assert.deepEqual(errorLines(() => buildPvList(vg, [arg(0, ":1x")])), ["Physical extent parsing error at x."]);
  assert.deepEqual(errorLines(() => buildPvList(vg, [arg(0, ":")])), ["Physical extent parsing error at ."]);
  assert.deepEqual(errorLines(() => buildPvList(vg, [arg(0, "::1")])), ["Physical extent parsing error at :1."]);
  assert.deepEqual(errorLines(() => buildPvList(vg, [arg(0, ":1-3:2-4")])), [
    "Overlapping PE ranges specified (2-4, 1-3) on /dev/sdb.",
  ]);
  assert.deepEqual(errorLines(() => buildPvList(vg, [{ name: "/dev/loop99" }])), [
    'Physical Volume "/dev/loop99" not found in Volume Group "vg_data".',
  ]);
  assert.deepEqual(errorLines(() => buildPvList(vg, [arg(2)])), [
    'WARNING: No free extents on physical volume "/dev/sdd".',
    "No specified PVs have space available.",
  ]);
});

test("PVs that cannot take extents are skipped with a warning, unless lvconvert wants them all", () => {
  const v = structuredClone(vg);
  v.pvs[1]!.status = [];
  const { list, warnings } = buildPvList(v, [arg(1), arg(2), arg(0)]);
  assert.deepEqual(list.map((e) => e.pvId), [pvId(0)]);
  assert.deepEqual(warnings, ["WARNING: Physical volume /dev/sdc not allocatable.", 'WARNING: No free extents on physical volume "/dev/sdd".']);
  assert.deepEqual(buildPvList(v, [arg(1), arg(2)], false).list.map((e) => e.pvId), [pvId(1), pvId(2)]);
});
