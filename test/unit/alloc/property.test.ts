/**
 * Invariants of allocation on random free-space layouts: only free extents
 * are used, nothing overlaps, parallel areas (stripes, raid1 legs) sit on
 * distinct PVs, sizes come out right, the input is never changed, and a
 * request either succeeds whole or fails with an LVM error.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { allocateLv, extendLv, reduceLv } from "../../../src/core/alloc/lv.ts";
import { type PvListEntry } from "../../../src/core/alloc/pv-map.ts";
import { pvListFreeExtents } from "../../../src/core/alloc/pv-map.ts";
import { LvmError } from "../../../src/core/errors.ts";
import { findLv, lvExtents, pvUsage } from "../../../src/core/model/relations.ts";
import type { AllocPolicy, LogicalVolume, Segment, VolumeGroup } from "../../../src/core/model/types.ts";
import { linearLv, makeVg, pvId, REQ } from "./helpers.ts";

/** A VG whose PVs are partly (about a quarter) used by linear LVs, one per used run. */
const arbVg = fc
  .array(
    fc.array(fc.nat(3).map((n) => n === 0), { minLength: 1, maxLength: 40 }),
    { minLength: 1, maxLength: 5 },
  )
  .map((maps) => {
    const lvs: LogicalVolume[] = [];
    maps.forEach((used, pv) => {
      for (let pe = 0; pe < used.length; ) {
        if (!used[pe]) {
          pe++;
          continue;
        }
        let end = pe;
        while (end < used.length && used[end]) end++;
        lvs.push(linearLv(`u${lvs.length}`, pv, pe, end - pe));
        pe = end;
      }
    });
    return makeVg(
      maps.map((m) => m.length),
      lvs,
    );
  });

const arbPolicy = fc.constantFrom<AllocPolicy>("inherit", "normal", "contiguous", "cling", "anywhere");

/** An optional PV list over `count` PVs, in any order, some with a PE range. */
function arbPvList(vg: VolumeGroup) {
  const n = vg.pvs.length;
  return fc.option(
    fc
      .uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n })
      .chain((idx) =>
        fc.tuple(
          ...idx.map((i) =>
            fc.option(fc.tuple(fc.nat(vg.pvs[i]!.peCount - 1), fc.nat(vg.pvs[i]!.peCount - 1)), { nil: undefined }).map(
              (r): PvListEntry =>
                r ? { pvId: pvId(i), ranges: [{ start: Math.min(...r), end: Math.max(...r) }] } : { pvId: pvId(i) },
            ),
          ),
        ),
      ),
    { nil: undefined },
  );
}

/** Every extent run in use, checked for overlaps and bounds; returns PV id -> used extents. */
function assertNoOverlap(vg: VolumeGroup): void {
  for (const [id, runs] of pvUsage(vg)) {
    const pv = vg.pvs.find((p) => p.id === id)!;
    let next = 0;
    for (const run of runs) {
      assert.ok(run.pe >= next, `overlap on ${id} at PE ${run.pe}`);
      assert.ok(run.pe + run.count <= pv.peCount, `past the end of ${id}`);
      next = run.pe + run.count;
    }
  }
}

function pvAreas(lv: LogicalVolume): { pvId: string; pe: number; len: number }[] {
  return lv.segments.flatMap((s) =>
    s.areas.flatMap((a) => (a.kind === "pv" ? [{ pvId: a.pvId, pe: a.pe, len: s.extentCount / s.areas.length }] : [])),
  );
}

function assertWithinList(lvs: LogicalVolume[], list: PvListEntry[] | undefined): void {
  if (!list) return;
  for (const lv of lvs)
    for (const a of pvAreas(lv)) {
      const entry = list.find((e) => e.pvId === a.pvId);
      assert.ok(entry, `${lv.name} uses a PV not in the list`);
      if (entry.ranges)
        assert.ok(
          entry.ranges.some((r) => a.pe >= r.start && a.pe + a.len - 1 <= r.end),
          `${lv.name} uses PEs outside the given ranges`,
        );
    }
}

function assertContiguousSegments(lv: LogicalVolume): void {
  let next = 0;
  for (const s of lv.segments) {
    assert.equal(s.startExtent, next);
    assert.ok(s.extentCount > 0);
    next += s.extentCount;
  }
}

/** PV of a linear LV at logical extent `le`. */
function pvAt(lv: LogicalVolume, le: number): string {
  const s = lv.segments.find((x) => le >= x.startExtent && le < x.startExtent + x.extentCount)!;
  return (s.areas[0] as { pvId: string }).pvId;
}

function isLvmError(e: unknown): boolean {
  return e instanceof LvmError && (e.exitCode === 5 || e.exitCode === 3);
}

function freeIn(vg: VolumeGroup, list: PvListEntry[] | undefined): number {
  return pvListFreeExtents(vg, list ?? vg.pvs.map((p) => ({ pvId: p.id })));
}

test("lvcreate allocations use only free extents, keep parallel areas apart and have the size asked for", () => {
  const arbCase = arbVg.chain((vg) =>
    fc.record({
      vg: fc.constant(vg),
      type: fc.constantFrom("linear", "striped", "raid1") as fc.Arbitrary<"linear" | "striped" | "raid1">,
      stripes: fc.integer({ min: 2, max: 3 }),
      mirrors: fc.integer({ min: 1, max: 2 }),
      extents: fc.integer({ min: 1, max: 30 }),
      pvs: arbPvList(vg),
      alloc: arbPolicy,
      approx: fc.boolean(),
    }),
  );
  fc.assert(
    fc.property(arbCase, (c) => {
      const before = structuredClone(c.vg);
      let lvs: LogicalVolume[];
      try {
        lvs = allocateLv(
          c.vg,
          { ...REQ, name: "t", extents: c.extents, type: c.type, stripes: c.stripes, stripeSize: 128, mirrors: c.mirrors, pvs: c.pvs, alloc: c.alloc, approx: c.approx },
          [],
        );
      } catch (e) {
        assert.ok(isLvmError(e), String(e));
        assert.deepEqual(c.vg, before, "a failed allocation changes nothing");
        if (c.type === "linear" && !c.approx && (c.alloc === "normal" || c.alloc === "anywhere" || c.alloc === "inherit"))
          assert.ok(freeIn(c.vg, c.pvs) < c.extents, "linear allocation only fails for lack of space");
        return;
      }
      assert.deepEqual(c.vg, before, "the input VG is not changed");
      const vg = { ...c.vg, lvs: [...c.vg.lvs, ...lvs] };
      assertNoOverlap(vg);
      assertWithinList(lvs, c.pvs);
      lvs.forEach(assertContiguousSegments);
      const top = lvs[0]!;
      const size = lvExtents(top);
      const wanted = c.type === "striped" ? Math.ceil(c.extents / c.stripes) * c.stripes : c.extents;
      if (c.approx) assert.ok(size > 0 && size <= wanted);
      else assert.equal(size, wanted);
      const apart = c.alloc !== "anywhere";
      if (c.type === "striped")
        for (const s of top.segments) {
          assert.equal(s.areas.length, c.stripes);
          if (apart) assert.equal(new Set(s.areas.map((a) => (a.kind === "pv" ? a.pvId : ""))).size, c.stripes);
        }
      if (c.type === "raid1") {
        const images = top.segments[0]!.areas.map((a) => findLv(vg, (a as { lv: string }).lv)!);
        const metas = top.segments[0]!.metaAreas.map((a) => findLv(vg, (a as { lv: string }).lv)!);
        assert.equal(images.length, c.mirrors + 1);
        for (const image of images) assert.equal(lvExtents(image), size);
        for (const meta of metas) assert.equal(lvExtents(meta), 1);
        // Each set of parallel areas is on distinct PVs: the rmetas (taken together) and the images at every LE.
        // (An rmeta can end up apart from its image when the first set found is only one extent long.)
        if (apart) {
          assert.equal(new Set(metas.map((m) => pvAt(m, 0))).size, metas.length, "rmetas share a PV");
          for (let le = 0; le < size; le++)
            assert.equal(new Set(images.map((img) => pvAt(img, le))).size, images.length, `legs share a PV at LE ${le}`);
        }
      }
      if (c.alloc === "contiguous") for (const lv of lvs) assert.equal(lv.segments.length, 1);
    }),
    { numRuns: 400 },
  );
});

/** Segments of `lv` up to `len` extents, the last one cut short. */
function truncated(segments: Segment[], len: number): Segment[] {
  return segments
    .filter((s) => s.startExtent < len)
    .map((s) => (s.startExtent + s.extentCount > len ? { ...s, extentCount: len - s.startExtent } : s));
}

test("lvextend adds exactly the extents asked for, from free space, leaving the existing mapping alone", () => {
  const arbCase = arbVg
    .filter((vg) => vg.lvs.length > 0)
    .chain((vg) =>
      fc.record({
        vg: fc.constant(vg),
        lv: fc.constantFrom(...vg.lvs.map((l) => l.name)),
        extents: fc.integer({ min: 1, max: 40 }),
        pvs: arbPvList(vg),
        alloc: arbPolicy,
        approx: fc.boolean(),
      }),
    );
  fc.assert(
    fc.property(arbCase, (c) => {
      const before = structuredClone(c.vg);
      const old = findLv(c.vg, c.lv)!;
      let vg: VolumeGroup;
      try {
        vg = extendLv(c.vg, c.lv, c.extents, { pvs: c.pvs, alloc: c.alloc, approx: c.approx });
      } catch (e) {
        assert.ok(isLvmError(e), String(e));
        if (!c.approx && (c.alloc === "normal" || c.alloc === "anywhere"))
          assert.ok(freeIn(c.vg, c.pvs) < c.extents, "linear extension only fails for lack of space");
        return;
      }
      assert.deepEqual(c.vg, before);
      assertNoOverlap(vg);
      const lv = findLv(vg, c.lv)!;
      assertContiguousSegments(lv);
      const grown = lvExtents(lv) - lvExtents(old);
      if (c.approx) assert.ok(grown >= 0 && grown <= c.extents);
      else assert.equal(grown, c.extents);
      assert.deepEqual(truncated(lv.segments, lvExtents(old)), old.segments);
      const added = { ...lv, segments: lv.segments.filter((s) => s.startExtent >= lvExtents(old)) };
      assertWithinList([added], c.pvs);
    }),
    { numRuns: 300 },
  );
});

test("lvreduce removes extents from the end only", () => {
  const arbCase = arbVg
    .filter((vg) => vg.lvs.some((l) => lvExtents(l) > 1))
    .chain((vg) => {
      const names = vg.lvs.filter((l) => lvExtents(l) > 1).map((l) => l.name);
      return fc.record({ vg: fc.constant(vg), lv: fc.constantFrom(...names), cut: fc.double({ min: 0, max: 1, noNaN: true }) });
    });
  fc.assert(
    fc.property(arbCase, (c) => {
      const old = findLv(c.vg, c.lv)!;
      const remove = 1 + Math.floor(c.cut * (lvExtents(old) - 2));
      const vg = reduceLv(c.vg, c.lv, remove);
      const lv = findLv(vg, c.lv)!;
      assert.equal(lvExtents(lv), lvExtents(old) - remove);
      assert.deepEqual(lv.segments, truncated(old.segments, lvExtents(lv)));
    }),
  );
});
