/**
 * raid1 creation, growth, shrinking and image count changes, against the
 * placements real lvm2 2.03.16 produced in the seed transcripts
 * (/work/shared/reference/lvm2-observed) and raid_manip.c's rules.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { allocateLv, extendLv, reduceLv } from "../../../src/core/alloc/lv.ts";
import { raidAddImages, raidRemoveImages } from "../../../src/core/alloc/raid.ts";
import { EXIT, LvmError } from "../../../src/core/errors.ts";
import type { VolumeGroup } from "../../../src/core/model/types.ts";
import { linearLv, linearSeg, makeLv, makeVg, placement, pvId, raid1Lvs, REQ } from "./helpers.ts";

/** 12 GiB disks as in the transcripts: 3071 extents of 4 MiB. */
const DISK = 3071;

function create(vg: VolumeGroup, name: string, extents: number, mirrors: number, pvs?: number[], notes: string[] = []) {
  const lvs = allocateLv(
    vg,
    { ...REQ, name, extents, type: "raid1", mirrors, alloc: "inherit", pvs: pvs?.map((i) => ({ pvId: pvId(i) })) },
    notes,
  );
  return { ...vg, lvs: [...vg.lvs, ...lvs] };
}

function throwsLvm(fn: () => unknown, lines: string[], exitCode: number = EXIT.FAILED) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LvmError);
    assert.deepEqual(e.lines, lines);
    assert.equal(e.exitCode, exitCode);
    return true;
  });
}

test("lvcreate -L 1G -m1 vg_data /dev/sdb /dev/sdc1: rmeta_N at PE 0 of the Nth PV given, rimage_N right after", () => {
  const vg = create(makeVg([DISK, DISK]), "lv_mirror", 256, 1, [0, 1]);
  assert.deepEqual(
    vg.lvs.map((lv) => [lv.name, lv.status]),
    [
      ["lv_mirror", ["READ", "WRITE", "VISIBLE"]],
      ["lv_mirror_rimage_0", ["READ", "WRITE"]],
      ["lv_mirror_rmeta_0", ["READ", "WRITE"]],
      ["lv_mirror_rimage_1", ["READ", "WRITE"]],
      ["lv_mirror_rmeta_1", ["READ", "WRITE"]],
    ],
  );
  assert.deepEqual(placement(vg, "lv_mirror_rmeta_0"), ["0:0+1"]);
  assert.deepEqual(placement(vg, "lv_mirror_rimage_0"), ["0:1+256"]);
  assert.deepEqual(placement(vg, "lv_mirror_rmeta_1"), ["1:0+1"]);
  assert.deepEqual(placement(vg, "lv_mirror_rimage_1"), ["1:1+256"]);
  const seg = vg.lvs[0]!.segments[0]!;
  assert.equal(seg.type, "raid1");
  assert.equal(seg.extentCount, 256);
  assert.equal(seg.regionSize, 4096);
  assert.deepEqual(seg.areas, [
    { kind: "lv", lv: "lv_mirror_rimage_0", le: 0 },
    { kind: "lv", lv: "lv_mirror_rimage_1", le: 0 },
  ]);
  assert.deepEqual(seg.metaAreas, [
    { kind: "lv", lv: "lv_mirror_rmeta_0", le: 0 },
    { kind: "lv", lv: "lv_mirror_rmeta_1", le: 0 },
  ]);
  assert.ok(vg.lvs.every((lv) => lv.creationTime === REQ.creationTime && lv.creationHost === "vm"));
});

test("image i follows the order of the PV list, not the VG's", () => {
  const vg = create(makeVg([DISK, DISK, DISK]), "lv", 2560, 1, [2, 0]);
  assert.deepEqual(placement(vg, "lv_rmeta_0"), ["2:0+1"]);
  assert.deepEqual(placement(vg, "lv_rimage_0"), ["2:1+2560"]);
  assert.deepEqual(placement(vg, "lv_rimage_1"), ["0:1+2560"]);
});

test("lv_two on PVs already holding a raid1's legs starts at the first free PE (65/66)", () => {
  // After the repair in transcript 03: leg 0 on sdd (PV 1), leg 1 on sdb (PV 0), 64 extents each.
  const vg0 = makeVg([DISK, DISK], raid1Lvs("lv_mirror", 64, [{ pv: 1, pe: 0 }, { pv: 0, pe: 0 }]));
  const vg = create(vg0, "lv_two", 32, 1, [0, 1]);
  assert.deepEqual(placement(vg, "lv_two_rmeta_0"), ["0:65+1"]);
  assert.deepEqual(placement(vg, "lv_two_rimage_0"), ["0:66+32"]);
  assert.deepEqual(placement(vg, "lv_two_rmeta_1"), ["1:65+1"]);
  assert.deepEqual(placement(vg, "lv_two_rimage_1"), ["1:66+32"]);
});

test("a 3-legged raid1 puts each leg on its own PV", () => {
  const vg = create(makeVg([DISK, DISK, DISK]), "r3", 100, 2);
  assert.deepEqual(
    [0, 1, 2].map((i) => placement(vg, `r3_rimage_${i}`)[0]),
    ["0:1+100", "1:1+100", "2:1+100"],
  );
  assert.deepEqual(vg.lvs[0]!.segments[0]!.metaAreas.length, 3);
});

test("raid1 refusals use LVM's messages (transcript 02 section F)", () => {
  const vg = makeVg([DISK, DISK, DISK], raid1Lvs("lv_mirror", 128, [0, 1, 2].map((pv) => ({ pv, pe: 0 }))));
  throwsLvm(() => create(vg, "lv_one", 25, 1, [0]), ["Insufficient suitable allocatable extents for logical volume lv_one: 52 more required"]);
  throwsLvm(() => create(vg, "lv_big", 5120, 1), ["Insufficient free space: 10242 extents needed, but only 8826 available"]);
  throwsLvm(
    () => create(vg, "lv_m0", 25, 0),
    ["--mirrors must be at least 1 with segment type raid1."],
    EXIT.INVALID_CMD_LINE,
  );
});

test("--nosync marks the raid1 NOTSYNCED and warns", () => {
  const notes: string[] = [];
  const vg = create(makeVg([DISK, DISK]), "lv_nosync", 25, 1, undefined, notes);
  const lvs = allocateLv(makeVg([DISK, DISK]), { ...REQ, name: "n", extents: 25, type: "raid1", mirrors: 1, nosync: true, alloc: "inherit" }, notes);
  assert.deepEqual(lvs[0]!.status, ["READ", "WRITE", "VISIBLE", "NOTSYNCED"]);
  assert.deepEqual(notes, ["WARNING: New raid1 won't be synchronised. Don't read what you didn't write!"]);
  assert.ok(!vg.lvs[0]!.status.includes("NOTSYNCED"));
});

test("a small raid1 gets a smaller region, a huge one a bigger region", () => {
  const notes: string[] = [];
  const small = create(makeVg([DISK, DISK], [], 1024), "s", 3, 1, undefined, notes);
  assert.equal(small.lvs[0]!.segments[0]!.regionSize, 2048);
  assert.deepEqual(notes, ["Using reduced mirror region size of 1.00 MiB"]);
  const huge = create(makeVg([2 ** 21, 2 ** 21], [], 2 ** 14), "h", 2 ** 20, 1);
  // 8 TiB of image needs 4 MiB regions to stay within 2^21 of them.
  assert.equal(huge.lvs[0]!.segments[0]!.regionSize, 8192);
});

test("lvextend of a raid1 grows every image on its own leg's PV and the top segment", () => {
  const vg0 = makeVg([DISK, DISK], raid1Lvs("lv_mirror", 128, [{ pv: 0, pe: 0 }, { pv: 1, pe: 0 }]));
  const vg = extendLv(vg0, "lv_mirror", 2);
  assert.deepEqual(placement(vg, "lv_mirror_rimage_0"), ["0:1+130"]);
  assert.deepEqual(placement(vg, "lv_mirror_rimage_1"), ["1:1+130"]);
  assert.deepEqual(placement(vg, "lv_mirror_rmeta_0"), ["0:0+1"]);
  assert.equal(vg.lvs[0]!.segments[0]!.extentCount, 130);
  assert.equal(vg0.lvs[0]!.segments[0]!.extentCount, 128, "input untouched");
});

test("growing a raid1 past 2^21 regions doubles its region size", () => {
  // 2^19 extents of 8 MiB: exactly 2^21 regions of 2 MiB; LVM doubles once a whole region more is needed.
  const vg0 = makeVg([2 ** 20, 2 ** 20], raid1Lvs("big", 2 ** 19, [{ pv: 0, pe: 0 }, { pv: 1, pe: 0 }]), 2 ** 14);
  assert.equal(extendLv(vg0, "big", 127).lvs[0]!.segments[0]!.regionSize, 4096);
  assert.equal(extendLv(vg0, "big", 128).lvs[0]!.segments[0]!.regionSize, 8192);
});

test("an LV ending in an error segment grows virtually", () => {
  const vg0 = makeVg([DISK], [makeLv("e", [{ ...linearSeg(0, 4, 0, 0), type: "error", areas: [] }])]);
  const vg = extendLv(vg0, "e", 3);
  assert.deepEqual(
    vg.lvs[0]!.segments.map((s) => [s.type, s.extentCount]),
    [["error", 7]],
  );
});

test("lvreduce of a raid1 shrinks every image from its end and keeps the rmeta", () => {
  const vg0 = makeVg([DISK, DISK], raid1Lvs("lv_mirror", 128, [{ pv: 0, pe: 0 }, { pv: 1, pe: 0 }]));
  const vg = reduceLv(vg0, "lv_mirror", 28);
  assert.deepEqual(placement(vg, "lv_mirror_rimage_0"), ["0:1+100"]);
  assert.deepEqual(placement(vg, "lv_mirror_rimage_1"), ["1:1+100"]);
  assert.deepEqual(placement(vg, "lv_mirror_rmeta_1"), ["1:0+1"]);
  assert.equal(vg.lvs[0]!.segments[0]!.extentCount, 100);
  throwsLvm(() => reduceLv(vg0, "lv_mirror", 128), ["Unable to reduce vg_data/lv_mirror below 1 extent."]);
});

test("a tracked split image blocks resizing and conversion (transcript 02 section D)", () => {
  const lvs = raid1Lvs("lv_mirror", 128, [0, 1, 2].map((pv) => ({ pv, pe: 0 })));
  lvs.find((l) => l.name === "lv_mirror_rimage_2")!.status = ["READ", "VISIBLE"];
  const vg = makeVg([DISK, DISK, DISK], lvs);
  throwsLvm(() => extendLv(vg, "lv_mirror", 2), ["Cannot resize logical volume vg_data/lv_mirror while it is tracking a split image."]);
  throwsLvm(() => reduceLv(vg, "lv_mirror", 2), ["Cannot resize logical volume vg_data/lv_mirror while it is tracking a split image."]);
  throwsLvm(() => raidAddImages(vg, "lv_mirror", 4, REQ, []), ["Conversion of tracking raid1 LV vg_data/lv_mirror is not supported."]);
  throwsLvm(() => raidRemoveImages(vg, "lv_mirror", 2, undefined, []), ["Conversion of tracking raid1 LV vg_data/lv_mirror is not supported."]);
  throwsLvm(() => extendLv(vg, "lv_mirror_rimage_0", 2), ["Cannot resize a RAID image directly"]);
});

test("lvconvert -m 2 lv_mirror /dev/sdd adds rmeta_2/rimage_2 at PE 0/1 of sdd (transcript 02 section D)", () => {
  const vg0 = makeVg([DISK, DISK, DISK], raid1Lvs("lv_mirror", 128, [{ pv: 0, pe: 0 }, { pv: 1, pe: 0 }]));
  const notes: string[] = [];
  const vg = raidAddImages(vg0, "lv_mirror", 3, { ...REQ, pvs: [{ pvId: pvId(2) }] }, notes);
  assert.deepEqual(notes, []);
  assert.deepEqual(placement(vg, "lv_mirror_rmeta_2"), ["2:0+1"]);
  assert.deepEqual(placement(vg, "lv_mirror_rimage_2"), ["2:1+128"]);
  assert.deepEqual(vg.lvs.slice(-2).map((l) => [l.name, l.status]), [
    ["lv_mirror_rmeta_2", ["READ", "WRITE"]],
    ["lv_mirror_rimage_2", ["READ", "WRITE"]],
  ]);
  assert.deepEqual(placement(vg, "lv_mirror"), ["lv_mirror_rimage_0", "lv_mirror_rimage_1", "lv_mirror_rimage_2"]);
  assert.equal(vg.lvs[0]!.segments[0]!.metaAreas.length, 3);
  assert.equal(vg0.lvs[0]!.segments[0]!.areas.length, 2, "input untouched");
});

test("new images avoid every PV holding an image, even when no PV is named", () => {
  const vg0 = makeVg([DISK, DISK, DISK], raid1Lvs("r", 10, [{ pv: 0, pe: 0 }, { pv: 2, pe: 0 }]));
  const vg = raidAddImages(vg0, "r", 3, REQ, []);
  assert.deepEqual(placement(vg, "r_rimage_2"), ["1:1+10"]);
  throwsLvm(() => raidAddImages(vg, "r", 4, REQ, []), ["Insufficient suitable allocatable extents for logical volume : 11 more required"]);
  const same: string[] = [];
  raidAddImages(vg, "r", 3, REQ, same);
  assert.deepEqual(same, ["WARNING: vg_data/r already has image count of 3."]);
});

test("lvconvert --type raid1 -m 1 on a linear LV (transcript 02a section C)", () => {
  // lv_mirror is linear at sdb PE 1-128 after its other leg was split off.
  const vg0 = makeVg([DISK, DISK], [linearLv("lv_mirror", 0, 1, 128)]);
  const vg = raidAddImages(vg0, "lv_mirror", 2, { ...REQ, pvs: [{ pvId: pvId(1) }] }, []);
  assert.deepEqual(
    vg.lvs.map((l) => l.name),
    ["lv_mirror", "lv_mirror_rmeta_0", "lv_mirror_rmeta_1", "lv_mirror_rimage_1", "lv_mirror_rimage_0"],
  );
  assert.deepEqual(placement(vg, "lv_mirror_rimage_0"), ["0:1+128"]);
  assert.deepEqual(placement(vg, "lv_mirror_rmeta_0"), ["0:0+1"]);
  assert.deepEqual(placement(vg, "lv_mirror_rmeta_1"), ["1:0+1"]);
  assert.deepEqual(placement(vg, "lv_mirror_rimage_1"), ["1:1+128"]);
  const seg = vg.lvs[0]!.segments[0]!;
  assert.equal(seg.type, "raid1");
  assert.equal(seg.regionSize, 4096);
  assert.deepEqual(vg.lvs[0]!.status, ["READ", "WRITE", "VISIBLE"]);
  assert.ok(vg.lvs.slice(1).every((l) => !l.status.includes("VISIBLE")));
});

test("removing images takes the last ones, or the one on the named PV with later ones renamed down", () => {
  const vg0 = makeVg([DISK, DISK, DISK], raid1Lvs("lv", 10, [0, 1, 2].map((pv) => ({ pv, pe: 0 }))));
  const last = raidRemoveImages(vg0, "lv", 2, undefined, []);
  assert.deepEqual(last.lvs.map((l) => l.name), ["lv", "lv_rimage_0", "lv_rmeta_0", "lv_rimage_1", "lv_rmeta_1"]);
  assert.deepEqual(placement(last, "lv_rimage_1"), ["1:1+10"]);

  const first = raidRemoveImages(vg0, "lv", 2, [{ pvId: pvId(0) }], []);
  assert.deepEqual(first.lvs.map((l) => l.name), ["lv", "lv_rimage_0", "lv_rmeta_0", "lv_rimage_1", "lv_rmeta_1"]);
  assert.deepEqual(placement(first, "lv_rimage_0"), ["1:1+10"]);
  assert.deepEqual(placement(first, "lv_rmeta_1"), ["2:0+1"]);
  assert.deepEqual(first.lvs[0]!.segments[0]!.metaAreas.map((a) => (a.kind === "lv" ? a.lv : "")), ["lv_rmeta_0", "lv_rmeta_1"]);
  // The survivors keep their identity under their new names.
  assert.equal(first.lvs.find((l) => l.name === "lv_rimage_0")!.id, vg0.lvs.find((l) => l.name === "lv_rimage_1")!.id);

  throwsLvm(
    () => raidRemoveImages(vg0, "lv", 1, [{ pvId: pvId(2) }], []),
    ["Unable to remove 2 images:  Only 1 device given.", "Failed to extract images from vg_data/lv."],
  );
});

test("down to one image the raid1 becomes linear on the remaining leg", () => {
  const vg0 = makeVg([DISK, DISK], raid1Lvs("lv", 10, [{ pv: 0, pe: 0 }, { pv: 1, pe: 0 }]));
  const vg = raidRemoveImages(vg0, "lv", 1, undefined, []);
  assert.deepEqual(vg.lvs.map((l) => l.name), ["lv"]);
  assert.deepEqual(placement(vg, "lv"), ["0:1+10"]);
  const keepSecond = raidRemoveImages(vg0, "lv", 1, [{ pvId: pvId(0) }], []);
  assert.deepEqual(placement(keepSecond, "lv"), ["1:1+10"]);
});

test("a failed leg (error segment) is removed first and blocks adding images", () => {
  const lvs = raid1Lvs("lv", 10, [0, 1, 2].map((pv) => ({ pv, pe: 0 })));
  const failed = lvs.find((l) => l.name === "lv_rimage_1")!;
  failed.segments = [{ ...failed.segments[0]!, type: "error", areas: [] }];
  const vg0 = makeVg([DISK, DISK, DISK], lvs);
  const vg = raidRemoveImages(vg0, "lv", 2, undefined, []);
  assert.deepEqual(placement(vg, "lv_rimage_1"), ["2:1+10"]);
  throwsLvm(
    () => raidRemoveImages(vg0, "lv", 2, [{ pvId: pvId(0) }], []),
    [
      "vg_data/lv has components with error targets that must be removed first: vg_data/lv_rimage_1.",
      "Try removing the PV list and rerun. the command.",
      "Failed to extract images from vg_data/lv.",
    ],
  );
  throwsLvm(
    () => raidAddImages(vg0, "lv", 4, REQ, []),
    ["Can't change number of mirrors of degraded vg_data/lv.", 'Please run "lvconvert --repair vg_data/lv" first.'],
  );
});
