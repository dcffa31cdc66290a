/**
 * Split, merge, repair and replace of raid1 LVs on the model, against what
 * real lvm2 2.03.16 does in the seed transcripts
 * (/work/shared/reference/lvm2-observed) and raid_manip.c's rules.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  planMerge,
  planReplace,
  planSplitAndKeep,
  planSplitAndTrack,
  requestedImageCount,
  type RaidSync,
} from "../../../src/core/alloc/raid-split.ts";
import { raidAddImages, raidRemoveImages } from "../../../src/core/alloc/raid.ts";
import { LvmError } from "../../../src/core/errors.ts";
import type { LogicalVolume, VolumeGroup } from "../../../src/core/model/types.ts";
import { linearLv, makeVg, placement, pvId, raid1Lvs, REQ } from "./helpers.ts";

const DISK = 3071;
const SYNCED: RaidSync = { inSync: true, notes: [] };
const UNKNOWN: RaidSync = { inSync: false, notes: ["Unable to determine sync status of vg_data/lv_mirror."] };
const yes = () => true;

function lines(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LvmError, String(e));
    assert.equal(e.exitCode, 5);
    return e.lines;
  }
  assert.fail("no LvmError thrown");
}

/** A raid1 lv_mirror with leg i on PV i (rmeta at PE 0), plus `spare` empty PVs. */
function mirrorVg(legs: number, spare = 0, extents = 256): VolumeGroup {
  return makeVg(
    Array.from({ length: legs + spare }, () => DISK),
    raid1Lvs("lv_mirror", extents, Array.from({ length: legs }, (_, pv) => ({ pv, pe: 0 }))),
  );
}

const lvOf = (vg: VolumeGroup, name: string): LogicalVolume => vg.lvs.find((l) => l.name === name)!;
const imageNames = (vg: VolumeGroup, name = "lv_mirror") => lvOf(vg, name).segments[0]!.areas.map((a) => (a.kind === "lv" ? a.lv : "?"));

/** Turns a sub-LV into the error segment vgreduce --removemissing --force leaves. */
function failLeg(vg: VolumeGroup, name: string): void {
  const lv = lvOf(vg, name);
  lv.segments = [{ ...lv.segments[0]!, type: "error", areas: [] }];
}

test("requested image counts: -m N, -m +N, -m -N and --splitmirrors, with lvm's refusals", () => {
  const vg = mirrorVg(2);
  const lv = lvOf(vg, "lv_mirror");
  assert.equal(requestedImageCount(vg, lv, { mirrors: { sign: "", value: 2 } }), 3);
  assert.equal(requestedImageCount(vg, lv, { mirrors: { sign: "+", value: 1 } }), 3);
  assert.equal(requestedImageCount(vg, lv, { mirrors: { sign: "-", value: 1 } }), 1);
  assert.equal(requestedImageCount(vg, lv, { split: 1, track: true }), 1);
  assert.equal(requestedImageCount(vg, lv, {}), 2);
  assert.deepEqual(lines(() => requestedImageCount(vg, lv, { mirrors: { sign: "-", value: 2 } })), ["Unable to reduce images by specified amount."]);
  assert.deepEqual(lines(() => requestedImageCount(vg, lv, { split: 2, track: true })), ["Unable to split images by specified amount."]);
  assert.deepEqual(lines(() => requestedImageCount(vg, lv, { mirrors: { sign: "+", value: 63 } })), [
    "Only up to 64 mirrors in raid1 LV vg_data/lv_mirror supported currently.",
  ]);
  const three = mirrorVg(3);
  assert.deepEqual(lines(() => requestedImageCount(three, lvOf(three, "lv_mirror"), { split: 2, track: true })), [
    "Exactly one image must be split off from vg_data/lv_mirror when tracking changes.",
  ]);
});

test("split and track takes the highest image, makes it visible and read-only, and keeps it in the raid1", () => {
  const vg = mirrorVg(3);
  const asked: string[] = [];
  const { vg: split, image } = planSplitAndTrack(vg, "lv_mirror", undefined, SYNCED, (q) => (asked.push(q), true));
  assert.equal(image, "lv_mirror_rimage_2");
  assert.deepEqual(asked, [], "a 3-way raid1 does not ask");
  assert.deepEqual(lvOf(split, image).status, ["READ", "VISIBLE"]);
  assert.deepEqual(imageNames(split), imageNames(vg));
  assert.deepEqual(lvOf(vg, image).status, ["READ", "WRITE"], "input untouched");
  // Only images on the given PVs count: PV 0 holds image 0.
  assert.equal(planSplitAndTrack(vg, "lv_mirror", [{ pvId: pvId(0) }], SYNCED, yes).image, "lv_mirror_rimage_0");
  assert.deepEqual(lines(() => planSplitAndTrack(mirrorVg(3, 1), "lv_mirror", [{ pvId: pvId(3) }], SYNCED, yes)), [
    "Unable to find image to satisfy request.",
  ]);
});

test("split and track of a 2-legged raid1 asks; no means NOT split; it needs the array in sync", () => {
  const vg = mirrorVg(2);
  const asked: string[] = [];
  assert.deepEqual(lines(() => planSplitAndTrack(vg, "lv_mirror", undefined, SYNCED, (q) => (asked.push(q), false))), [
    "Logical volume vg_data/lv_mirror NOT split.",
  ]);
  assert.deepEqual(asked, ["Are you sure you want to split and track raid1 LV vg_data/lv_mirror losing resilience for any newly written data?"]);
  assert.deepEqual(lines(() => planSplitAndTrack(vg, "lv_mirror", undefined, UNKNOWN, yes)), [
    "Unable to determine sync status of vg_data/lv_mirror.",
    "Unable to split image from vg_data/lv_mirror while not in-sync.",
  ]);
  assert.deepEqual(lines(() => planSplitAndTrack(makeVg([DISK], [linearLv("lin", 0, 0, 4)]), "lin", undefined, SYNCED, yes)), [
    "Unable to split images from non-mirrored RAID.",
  ]);
});

test("while an image is tracked every conversion is refused; the image itself cannot be converted either", () => {
  const { vg } = planSplitAndTrack(mirrorVg(2), "lv_mirror", undefined, SYNCED, yes);
  for (const req of [{ mirrors: { sign: "+" as const, value: 1 } }, { split: 1, track: true }, { split: 1 }])
    assert.deepEqual(lines(() => requestedImageCount(vg, lvOf(vg, "lv_mirror"), req)), [
      "Conversion of tracking raid1 LV vg_data/lv_mirror is not supported.",
    ]);
  assert.deepEqual(lines(() => requestedImageCount(vg, lvOf(vg, "lv_mirror_rimage_1"), { mirrors: { sign: "", value: 1 } })), [
    "Failed to find RaidLV of RAID subvolume vg_data/lv_mirror_rimage_1.",
  ]);
  assert.deepEqual(lines(() => raidAddImages(vg, "lv_mirror", 3, REQ, [])), ["Conversion of tracking raid1 LV vg_data/lv_mirror is not supported."]);
});

test("merge puts the tracked image back exactly as it was before the split", () => {
  for (const legs of [2, 3]) {
    const vg = mirrorVg(legs);
    const { vg: split, image } = planSplitAndTrack(vg, "lv_mirror", undefined, SYNCED, yes);
    const merged = planMerge(split, image);
    assert.equal(merged.raidLv, "lv_mirror");
    assert.deepEqual(merged.vg, vg);
  }
});

test("merge refusals: lvm's messages for LVs that are no tracked image", () => {
  const { vg } = planSplitAndTrack(mirrorVg(2), "lv_mirror", undefined, SYNCED, yes);
  vg.lvs.push(linearLv("lin", 1, 300, 4));
  assert.deepEqual(lines(() => planMerge(vg, "lv_mirror_rimage_0")), ["vg_data/lv_mirror_rimage_0 cannot be merged because --trackchanges was not used."]);
  assert.deepEqual(lines(() => planMerge(vg, "lv_mirror")), ["vg_data/lv_mirror cannot be merged because --trackchanges was not used."]);
  assert.deepEqual(lines(() => planMerge(vg, "lin")), ["vg_data/lin cannot be merged because --trackchanges was not used."]);
  const readOnly = (name: string, pe: number) => ({ ...linearLv(name, 1, pe, 4), status: ["READ", "VISIBLE"] });
  vg.lvs.push(readOnly("ro", 310), readOnly("gone_rimage_0", 320), readOnly("lin_rimage_0", 330));
  assert.deepEqual(lines(() => planMerge(vg, "ro")), ["Unable to merge non-raid image vg_data/ro."]);
  assert.deepEqual(lines(() => planMerge(vg, "gone_rimage_0")), ["Unable to find containing RAID array for vg_data/gone_rimage_0."]);
  assert.deepEqual(lines(() => planMerge(vg, "lin_rimage_0")), ["Failed to find meta for vg_data/lin_rimage_0 in RAID array vg_data/lin."]);
  assert.deepEqual(lines(() => planMerge(vg, "lv_backup_rimage_1")), ['Failed to find logical volume "vg_data/lv_backup_rimage_1"']);
});

test("split and keep of a 2-legged raid1: both halves become linear LVs (transcript 02a section C)", () => {
  const vg = mirrorVg(2);
  const asked: string[] = [];
  const kept = planSplitAndKeep(vg, "lv_mirror", "lv_backup", 1, undefined, SYNCED, (q) => (asked.push(q), true));
  assert.deepEqual(asked, ["Are you sure you want to split raid1 LV vg_data/lv_mirror losing all resilience?"]);
  assert.deepEqual(kept.lvs.map((l) => [l.name, l.status, placement(kept, l.name)]), [
    ["lv_mirror", ["READ", "WRITE", "VISIBLE"], ["0:1+256"]],
    ["lv_backup", ["READ", "WRITE", "VISIBLE"], ["1:1+256"]],
  ]);
  assert.equal(lvOf(kept, "lv_backup").id, lvOf(vg, "lv_mirror_rimage_1").id, "the image itself becomes the new LV");
  assert.deepEqual(lines(() => planSplitAndKeep(vg, "lv_mirror", "lv_backup", 1, undefined, SYNCED, () => false)), [
    "Logical volume vg_data/lv_mirror NOT split.",
  ]);
  assert.deepEqual(lines(() => planSplitAndKeep(vg, "lv_mirror", "lv_backup", 1, undefined, UNKNOWN, yes)), [
    "Unable to determine sync status of vg_data/lv_mirror.",
    "Unable to split vg_data/lv_mirror while it is not in-sync.",
  ]);
  assert.deepEqual(lines(() => planSplitAndKeep(vg, "lv_mirror", "lv_mirror_rmeta_0", 1, undefined, SYNCED, yes)), [
    'Logical Volume "lv_mirror_rmeta_0" already exists in vg_data.',
  ]);
});

test("split and keep of a 3-legged raid1 takes the image on the given PV and renames the later ones down", () => {
  const vg = mirrorVg(3);
  const asked: string[] = [];
  const kept = planSplitAndKeep(vg, "lv_mirror", "copy", 2, [{ pvId: pvId(0) }], SYNCED, (q) => (asked.push(q), true));
  assert.deepEqual(asked, [], "only the step down to one image asks");
  assert.deepEqual(placement(kept, "copy"), ["0:1+256"]);
  assert.deepEqual(imageNames(kept), ["lv_mirror_rimage_0", "lv_mirror_rimage_1"]);
  assert.deepEqual(placement(kept, "lv_mirror_rimage_0"), ["1:1+256"]);
  assert.deepEqual(placement(kept, "lv_mirror_rmeta_1"), ["2:0+1"]);
  assert.ok(!kept.lvs.some((l) => l.name.endsWith("_extracted")));
  assert.equal(kept.lvs.length, vg.lvs.length - 1, "the split image's rmeta is gone");
  assert.deepEqual(lines(() => planSplitAndKeep(vg, "lv_mirror", "copy", 1, undefined, SYNCED, yes)), [
    "Unable to split more than one image from vg_data/lv_mirror.",
  ]);
});

test("repair after vgreduce --removemissing --force: a new pair under the old names on the free PV (seed step 8)", () => {
  // Transcript 01: leg 0 became error segments, sdb came back empty after sdc1 (which holds leg 1).
  const vg = makeVg([DISK, DISK], raid1Lvs("lv_mirror", 256, [{ pv: 1, pe: 0 }, { pv: 0, pe: 0 }]));
  failLeg(vg, "lv_mirror_rimage_0");
  failLeg(vg, "lv_mirror_rmeta_0");
  const { vg: repaired, replaced, printed } = planReplace(vg, "lv_mirror", { ...REQ, removePvs: [], sync: SYNCED });
  assert.equal(replaced, 1);
  assert.deepEqual(printed, []);
  assert.deepEqual(placement(repaired, "lv_mirror_rmeta_0"), ["1:0+1"]);
  assert.deepEqual(placement(repaired, "lv_mirror_rimage_0"), ["1:1+256"]);
  assert.deepEqual(imageNames(repaired), ["lv_mirror_rimage_0", "lv_mirror_rimage_1"]);
  assert.deepEqual(
    repaired.lvs.map((l) => [l.name, l.status]),
    [
      ["lv_mirror", ["READ", "WRITE", "VISIBLE"]],
      ["lv_mirror_rimage_1", ["READ", "WRITE"]],
      ["lv_mirror_rmeta_1", ["READ", "WRITE"]],
      ["lv_mirror_rmeta_0", ["READ", "WRITE"]],
      ["lv_mirror_rimage_0", ["READ", "WRITE"]],
    ],
    "the error sub-LVs are gone, the new pair comes last",
  );
  assert.ok(repaired.lvs.every((l) => l.segments.every((s) => s.type !== "error")));
});

test("repair with the failed PV still missing replaces the pair on it; named PVs restrict the new one", () => {
  const vg = mirrorVg(2, 2);
  vg.pvs[1]!.flags = ["MISSING"];
  const onAny = planReplace(vg, "lv_mirror", { ...REQ, removePvs: [{ pvId: pvId(1) }], sync: SYNCED });
  assert.deepEqual(placement(onAny.vg, "lv_mirror_rimage_1"), ["2:1+256"]);
  const onLast = planReplace(vg, "lv_mirror", { ...REQ, removePvs: [{ pvId: pvId(1) }], allocatePvs: [{ pvId: pvId(3) }], sync: SYNCED });
  assert.deepEqual(placement(onLast.vg, "lv_mirror_rimage_1"), ["3:1+256"]);
  assert.deepEqual(placement(onLast.vg, "lv_mirror_rmeta_1"), ["3:0+1"]);
});

test("--replace PV moves the pair on that PV elsewhere, never back onto a PV of the raid1", () => {
  const vg = mirrorVg(2, 1);
  const moved = planReplace(vg, "lv_mirror", { ...REQ, removePvs: [{ pvId: pvId(0) }], sync: SYNCED });
  assert.deepEqual(placement(moved.vg, "lv_mirror_rimage_0"), ["2:1+256"]);
  assert.deepEqual(placement(moved.vg, "lv_mirror_rimage_1"), ["1:1+256"]);
  assert.deepEqual(lines(() => planReplace(mirrorVg(2), "lv_mirror", { ...REQ, removePvs: [{ pvId: pvId(0) }], sync: SYNCED })), [
    "Insufficient free space: 257 extents needed, but only 0 available",
    "LV vg_data/lv_mirror in not partial.",
  ]);
});

test("replace refusals and no-ops use lvm's messages (transcripts 02 E, 03 H/I)", () => {
  const vg = mirrorVg(2, 1);
  assert.deepEqual(planReplace(vg, "lv_mirror", { ...REQ, removePvs: [], sync: SYNCED }), {
    vg,
    replaced: 0,
    printed: ["vg_data/lv_mirror does not contain devices specified to replace."],
    warnings: [],
  });
  assert.deepEqual(lines(() => planReplace(vg, "lv_mirror", { ...REQ, removePvs: [{ pvId: pvId(2) }], sync: SYNCED })), [
    "Logical volume vg_data/lv_mirror does not contain devices specified to replace.",
  ]);
  assert.deepEqual(lines(() => planReplace(vg, "lv_mirror", { ...REQ, removePvs: [{ pvId: pvId(0) }, { pvId: pvId(1) }], sync: SYNCED })), [
    "Unable to replace all PVs from vg_data/lv_mirror at once.",
  ]);
  assert.deepEqual(lines(() => planReplace(vg, "lv_mirror", { ...REQ, removePvs: [], sync: UNKNOWN })), [
    "Unable to determine sync status of vg_data/lv_mirror.",
    "Unable to replace devices in vg_data/lv_mirror while it is not in-sync.",
  ]);
  // 03 H: 64-extent legs, the PV of leg 0 missing, no other PV with room.
  const missing = mirrorVg(2, 0, 64);
  missing.pvs[0]!.flags = ["MISSING"];
  assert.deepEqual(lines(() => planReplace(missing, "lv_mirror", { ...REQ, removePvs: [{ pvId: pvId(0) }], sync: SYNCED })), [
    "Insufficient free space: 65 extents needed, but only 0 available",
  ]);
  // 03 I: the same after vgreduce --force turned leg 0 into error segments and dropped its PV.
  const errored = makeVg([DISK], raid1Lvs("lv_mirror", 64, [{ pv: 0, pe: 0 }, { pv: 0, pe: 0 }]));
  failLeg(errored, "lv_mirror_rimage_0");
  failLeg(errored, "lv_mirror_rmeta_0");
  assert.deepEqual(lines(() => planReplace(errored, "lv_mirror", { ...REQ, removePvs: [], sync: SYNCED })), [
    "Insufficient free space: 65 extents needed, but only 0 available",
    "LV vg_data/lv_mirror in not partial.",
  ]);
});

test("repair replaces an image the array failed ('D') while its PV is still there", () => {
  // Legs on PV 0, 1 and 2; leg 1 failed with I/O errors, PV 1 still present; PV 3 is free.
  const vg = mirrorVg(3, 1);
  const dead = { ...REQ, removePvs: [], sync: SYNCED, deadImages: ["lv_mirror_rimage_1"] };
  const result = planReplace(vg, "lv_mirror", dead);
  assert.deepEqual([result.replaced, result.printed, result.warnings], [1, [], []]);
  assert.deepEqual(imageNames(result.vg), imageNames(vg));
  assert.deepEqual(placement(result.vg, "lv_mirror_rmeta_1"), ["3:0+1"]);
  assert.deepEqual(placement(result.vg, "lv_mirror_rimage_1"), ["3:1+256"]);
  for (const leg of [0, 2]) assert.deepEqual(placement(result.vg, `lv_mirror_rimage_${leg}`), [`${leg}:1+256`], "the legs that work stay");

  // Its rmeta still works and keeps its PV from taking the new pair; with no other room the repair of a partial LV fails plainly.
  assert.deepEqual(lines(() => planReplace(mirrorVg(3), "lv_mirror", dead)), ["Insufficient free space: 257 extents needed, but only 0 available"]);
  // The same VG with no image failed: nothing is due.
  assert.equal(planReplace(vg, "lv_mirror", { ...dead, deadImages: [] }).replaced, 0);
});

test("a partial raid1 with room for fewer pairs than failed gets as many as fit, as lvm's repair tries", () => {
  // Legs 1 and 2 on the missing PV 1; PV 3 has room for one 256-extent pair only.
  const vg = makeVg([DISK, DISK, DISK, 300], raid1Lvs("lv_mirror", 256, [{ pv: 0, pe: 0 }, { pv: 1, pe: 0 }, { pv: 1, pe: 300 }]));
  vg.pvs[1]!.flags = ["MISSING"];
  vg.pvs[2]!.status = [];
  const result = planReplace(vg, "lv_mirror", { ...REQ, removePvs: [{ pvId: pvId(1) }], sync: SYNCED });
  assert.equal(result.replaced, 1);
  assert.deepEqual(result.warnings, [
    "Insufficient free space: 514 extents needed, but only 300 available",
    "Failed to replace 2 devices.",
    "Attempting to replace 1 instead.",
  ]);
  // The highest image on the missing PV goes first.
  assert.deepEqual(placement(result.vg, "lv_mirror_rimage_2"), ["3:1+256"]);
  assert.deepEqual(placement(result.vg, "lv_mirror_rimage_1"), ["1:1+256"]);
});

test("removing images: a raid1 still copying keeps image 0 unless forced; the step to linear asks", () => {
  const vg = mirrorVg(2);
  const notSynced: RaidSync = { inSync: false, notes: [] };
  assert.deepEqual(lines(() => raidRemoveImages(vg, "lv_mirror", 1, [{ pvId: pvId(0) }], [], { sync: notSynced })), [
    "Unable to extract primary RAID image while RAID array is not in-sync (use --force option to replace).",
    "Failed to extract images from vg_data/lv_mirror.",
  ]);
  assert.deepEqual(placement(raidRemoveImages(vg, "lv_mirror", 1, [{ pvId: pvId(0) }], [], { sync: notSynced, force: true }), "lv_mirror"), ["1:1+256"]);
  const asked: string[] = [];
  assert.deepEqual(lines(() => raidRemoveImages(vg, "lv_mirror", 1, undefined, [], { confirm: (q) => (asked.push(q), false) })), [
    "Logical volume vg_data/lv_mirror NOT converted.",
  ]);
  assert.deepEqual(asked, ["Are you sure you want to convert raid1 LV vg_data/lv_mirror to type linear losing all resilience?"]);
  assert.deepEqual(lines(() => raidAddImages(vg, "lv_mirror", 3, { ...REQ, sync: UNKNOWN }, [])), [
    "Unable to determine sync status of vg_data/lv_mirror.",
    "Can't add image to RAID LV that is still initializing.",
  ]);
  assert.equal(raidAddImages(makeVg([DISK, DISK], [linearLv("lin", 0, 0, 8)]), "lin", 2, { ...REQ, sync: UNKNOWN }, []).lvs.length, 5, "a linear LV is always in sync");
});

test("property: split and track then merge is the identity; a repair keeps names and puts every leg on its own PV", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 5 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 1, max: 200 }),
      fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 3 }),
      (legs, spare, extents, failed) => {
        const vg = mirrorVg(legs, spare + legs, extents);
        const targets = [...new Set(failed.map((i) => i % (legs + spare)))].map((i) => ({ pvId: pvId(i) }));
        const onTargets = targets.some((t) => vg.pvs.findIndex((p) => p.id === t.pvId) < legs);
        if (onTargets) {
          const { vg: split, image } = planSplitAndTrack(vg, "lv_mirror", targets, SYNCED, yes);
          assert.deepEqual(planMerge(split, image).vg, vg);
        }
        const bad = [...new Set(failed.map((i) => i % legs))].slice(0, legs - 1);
        const broken = structuredClone(vg);
        for (const i of bad) {
          failLeg(broken, `lv_mirror_rimage_${i}`);
          failLeg(broken, `lv_mirror_rmeta_${i}`);
        }
        const { vg: repaired, replaced } = planReplace(broken, "lv_mirror", { ...REQ, removePvs: [], sync: SYNCED });
        assert.equal(replaced, bad.length);
        assert.deepEqual(imageNames(repaired), imageNames(vg));
        assert.deepEqual(repaired.lvs.map((l) => l.name).sort(), vg.lvs.map((l) => l.name).sort());
        const legPvs = imageNames(repaired).map((name, i) => [placement(repaired, name)[0]!.split(":")[0], placement(repaired, `lv_mirror_rmeta_${i}`)[0]!.split(":")[0]]);
        assert.ok(legPvs.every(([image, meta]) => image === meta), "each rmeta sits with its image");
        assert.equal(new Set(legPvs.map(([image]) => image)).size, legs, "no two legs share a PV");
      },
    ),
    { numRuns: 150 },
  );
});
