/**
 * vgreduce against the real lvm2 on the very same devices: each case starts from
 * one saved state, lvm2 runs first, the state is put back, ulvm runs, and the
 * output, exit code and lvm2's view of the result must be the same. The VG holds
 * a raid1, an old-style mirror and linear LVs (loaded with vgcfgrestore, the only
 * way to make them here); "missing" PVs are those left out of --devices.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { makeEnv, type RunResult } from "../helpers/env.ts";
import { readBytes, writeBytes } from "../helpers/device-bytes.ts";
import { cleanOnce, ok } from "../helpers/runs.ts";
import { HIDDEN, idMaker, linearSegment, lvSection, raid1Segment, VISIBLE, withLvSections } from "../helpers/lv-text.ts";

const env = makeEnv();
after(() => env.cleanup());
const dev = Array.from({ length: 5 }, (_, i) => env.loop(env.image(`d${i}.img`, "64M")));
const [d0, d1, d2, d3, d4] = dev as [string, string, string, string, string];

const HEAD = 2 << 20;
const ulvm = (args: string[], devices = dev): RunResult => cleanOnce(env.ulvm([...args, "--devices", devices.join(",")]));
const lvm = (args: string[], devices = dev): RunResult => cleanOnce(env.lvm(args, devices));

function saveHeads(): Buffer[] {
  return dev.map((d) => readBytes(d, 0, HEAD));
}

function restoreHeads(heads: Buffer[]): void {
  dev.forEach((d, i) => writeBytes(d, 0, heads[i]!));
}

const id = idMaker("T");
const linear = (name: string, status: string[], count: number, pv: string, pe: number): string => lvSection(name, id(), status, linearSegment(count, pv, pe));
const mirror = ['extent_count = 3', 'type = "mirror"', "mirror_count = 2", 'mirror_log = "m1_mlog"', "region_size = 1024", 'mirrors = ["m1_mimage_0", 0, "m1_mimage_1", 0]'];

/** pv0..pv4 = d0..d4. r1: raid1 on pv0/pv1; m1: mirror on pv2/pv3, log on pv4; lin: pv2; lin1: pv1; spare pv4 space. */
const LVS = [
  linear("lin", VISIBLE, 2, "pv2", 10),
  linear("lin1", VISIBLE, 3, "pv1", 5),
  lvSection("r1", id(), VISIBLE, raid1Segment("r1", 2, 2)),
  lvSection("m1", id(), VISIBLE, mirror),
  linear("r1_rimage_0", HIDDEN, 2, "pv0", 1),
  linear("r1_rmeta_0", HIDDEN, 1, "pv0", 0),
  linear("r1_rimage_1", HIDDEN, 2, "pv1", 1),
  linear("r1_rmeta_1", HIDDEN, 1, "pv1", 0),
  linear("m1_mimage_0", HIDDEN, 3, "pv2", 0),
  linear("m1_mimage_1", HIDDEN, 3, "pv3", 0),
  linear("m1_mlog", HIDDEN, 1, "pv4", 0),
].join("");

let initial: Buffer[];
before(() => {
  ok(lvm(["vgcreate", "vgr", ...dev]), "vgcreate");
  const file = join(env.dir, "vgr.vg");
  ok(lvm(["vgcfgbackup", "-f", file, "vgr"]), "vgcfgbackup");
  writeFileSync(file, withLvSections(readFileSync(file, "utf8"), LVS));
  ok(lvm(["vgcfgrestore", "-f", file, "vgr"]), "vgcfgrestore");
  initial = saveHeads();
});

/** lvm2's view of the VG, as seen through `devices`. */
function view(devices: string[]): string {
  const show = (args: string[]) => lvm(args, devices).stdout;
  return (
    show(["lvs", "-a", "--noheadings", "-o", "lv_name,lv_attr,lv_size,segtype,devices", "vgr"]) +
    show(["pvs", "--noheadings", "-o", "pv_name,vg_name,pv_attr,pv_size,pv_free", "-S", "vg_name=vgr"]) +
    show(["vgs", "--noheadings", "-o", "pv_count,lv_count,vg_attr,vg_size,vg_free", "vgr"])
  );
}

/** Runs the command with lvm2, then from the same start with ulvm; everything must agree. */
function sameAsLvm(args: string[], devices: string[]): RunResult {
  restoreHeads(initial);
  const real = lvm(args, devices);
  const realView = view(devices);
  const realAll = view(dev);
  restoreHeads(initial);
  const ours = ulvm(args, devices);
  assert.deepEqual(ours, real, `${args.join(" ")} with ${devices.length} devices`);
  assert.equal(view(devices), realView, `lvm's view after ${args.join(" ")}`);
  assert.equal(view(dev), realAll, `lvm's view with every device back after ${args.join(" ")}`);
  return ours;
}

test("vgreduce --removemissing with nothing missing", () => {
  const r = sameAsLvm(["vgreduce", "--removemissing", "vgr"], dev);
  assert.equal(r.stdout, '  Volume group "vgr" is already consistent.\n');
});

test("vgreduce --removemissing refuses while partial LVs remain, but flags the missing PVs", () => {
  const r = sameAsLvm(["vgreduce", "--removemissing", "vgr"], [d0, d2, d3, d4]);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /There are still partial LVs in VG vgr\./);
  assert.match(view([d0, d2, d3, d4]), /\[unknown\] +vgr +a-m/);
});

test("vgreduce --removemissing --force: raid legs become error segments, partial linear LVs go", () => {
  const r = sameAsLvm(["vgreduce", "--removemissing", "--force", "vgr"], [d0, d2, d3, d4]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Wrote out consistent volume group vgr\./);
  assert.match(view([d0, d2, d3, d4]), /r1_rimage_1\] +vwi-.{6} +8\.00m +error/);
});

test("vgreduce --removemissing --mirrorsonly --force keeps partial non-mirror LVs", () => {
  const r = sameAsLvm(["vgreduce", "--removemissing", "--mirrorsonly", "--force", "vgr"], [d0, d2, d3, d4]);
  assert.match(r.stderr, /Non-mirror-image LV lin1 found: can't remove\./);
});

test("vgreduce --removemissing --force on a mirror: a lost image or log is dropped", () => {
  sameAsLvm(["vgreduce", "--removemissing", "--force", "vgr"], [d0, d1, d2, d4]);
  sameAsLvm(["vgreduce", "--removemissing", "--force", "vgr"], [d0, d1, d2, d3]);
  sameAsLvm(["vgreduce", "--removemissing", "--force", "vgr"], [d0, d1, d4]);
});

test("vgreduce --removemissing agrees with lvm2 whichever PVs are missing", () => {
  fc.assert(
    fc.property(
      fc.subarray(dev, { minLength: 1, maxLength: dev.length - 1 }),
      fc.constantFrom([], ["--force"], ["--force", "--mirrorsonly"], ["--mirrorsonly"]),
      (present, opts) => {
        sameAsLvm(["vgreduce", "--removemissing", ...opts, "vgr"], present);
      },
    ),
    { numRuns: 12 },
  );
});

test("vgreduce of named PVs and -a", () => {
  restoreHeads(initial);
  ok(lvm(["lvremove", "-y", "vgr/m1"]), "lvremove");
  initial = saveHeads();
  const removed = sameAsLvm(["vgreduce", "vgr", d3], dev);
  assert.equal(removed.stdout, `  Removed "${d3}" from volume group "vgr"\n`);
  assert.equal(lvm(["pvs", "--noheadings", "-o", "vg_name", d3]).stdout.trim(), "", "an orphan again");
  sameAsLvm(["vgreduce", "vgr", d0], dev);
  sameAsLvm(["vgreduce", "vgr", "/dev/ulvm-no-such-device"], dev);
  sameAsLvm(["vgreduce", "vgnone", d3], dev);
  sameAsLvm(["vgreduce", "-a", "vgr"], dev);
  restoreHeads(initial);
  ok(lvm(["vgreduce", "vgr", d3]), "lvm vgreduce");
  initial = saveHeads();
  sameAsLvm(["vgreduce", "vgr", d3], dev);
});
