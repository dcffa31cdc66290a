/**
 * lvconvert on active raid1 LVs, under the real daemon: raid1 LVs on image
 * files, data written through the NBD exports, and the live effect of each
 * conversion checked as lvm2 2.03.16 over dm-raid shows it
 * (/work/shared/reference/lvm2-seed-behaviour.md): a leg added, replaced or
 * repaired is recovered in full (Cpy%Sync back at 100.00, the image `i`, the
 * legs' extents equal on the image files); a leg dropped no longer gets
 * writes; a split image is served on its own and its slot is `-` in the
 * array's health; a merge copies exactly the regions written on either side.
 * With the prompts (EOF is "no"), messages and exit codes of the seed
 * transcripts, and the real lvm2 (on loop devices over the same images)
 * reading the layouts ulvm wrote.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MiB } from "../helpers/device-bytes.ts";
import { lvmNoise, repoRoot, type RunResult } from "../helpers/env.ts";
import { legDifferences, makeRaidLab, readAreas, type Area } from "../helpers/raid-lab.ts";
import type { RaidStatus } from "../../src/daemon/protocol.ts";
import { runAsync } from "../helpers/runs.ts";

const lab = makeRaidLab();
const mounts: string[] = [];
after(() => {
  for (const mnt of mounts) spawnSync("umount", [mnt]);
  lab.cleanup();
});
const devDir = lab.env.vars.ULVM_DEV_DIR!;

// vg: the conversions; vm: a PV lost (label wiped); vd: a leg that fails with I/O errors.
const [a, b, c, d] = ["a", "b", "c", "d"].map((n) => lab.image(`${n}.img`, "64M")) as [string, string, string, string];
const [m0, m1] = ["m0", "m1"].map((n) => lab.image(`${n}.img`, "64M")) as [string, string];
const flaky = lab.flaky("f0.img", "64M");
const [f1, f2] = ["f1", "f2"].map((n) => lab.image(`${n}.img`, "64M")) as [string, string];
/** The lab's device list, in its order: the daemon reads VGs with the scope a command gives. */
const devices = [a, b, c, d, m0, m1, flaky.path, f1, f2];

const LV = 8 * MiB;
/** The split and merge tests' region size (-R 512k): 16 regions, so that a merge's copy can be counted. */
const REGION = 512 * 1024;

/** ./bin/ulvm with activation on, answering its prompts with `input`. */
function answering(input: string, ...args: string[]): Promise<RunResult> {
  const env = { ...process.env, ...lab.env.vars, ULVM_ACTIVATION: "1" };
  return runAsync(join(repoRoot, "bin", "ulvm"), [...args, "--devices", devices.join(",")], env, 60_000, { input });
}

const same = (r: RunResult) => [r.code, r.stdout, r.stderr];

function qemuIo(vgLv: string, ...cmds: string[]): string {
  const r = spawnSync("qemu-io", ["-f", "raw", ...cmds.flatMap((cmd) => ["-c", cmd]), lab.uri(vgLv)], { encoding: "utf8" });
  assert.equal(r.status, 0, `qemu-io ${cmds.join("; ")} on ${vgLv}: ${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stdout + r.stderr, /failed|error/i, `qemu-io ${cmds.join("; ")} on ${vgLv}`);
  return r.stdout;
}

/** Fills an LV with one byte through its export. */
function fill(vgLv: string, byte: number): void {
  qemuIo(vgLv, `write -P ${byte} 0 ${LV}`, "flush");
}

/** `lvs -a` rows (name, attr, Cpy%Sync, health, devices) of one LV and its sub-LVs. */
function rows(vg: string, lv: string): string[][] {
  const own = new RegExp(`^\\[?${lv}(_r(image|meta)_\\d+)?\\]?$`);
  return lab.lvs(vg).rows.filter(([name]) => own.test(name!));
}

/** The raid1 has settled: every leg in sync, nothing running. */
function settled(legs: number): (s: RaidStatus) => boolean {
  return (s) => s.health === "A".repeat(legs) && s.syncAction === "idle" && s.syncBytes === s.size;
}

/** A raid1 of two 8 MiB legs after its initial sync (not --nosync: lvm adds no image to a raid1 that never synced). */
async function syncedRaid1(vgLv: string, pvs: string[], opts: string[] = []): Promise<void> {
  const [vg, lv] = vgLv.split("/") as [string, string];
  lab.ok("lvcreate", "-m1", "-L", "8m", ...opts, "-n", lv, vg, ...pvs);
  await lab.waitRaid(vgLv, settled(2), 30_000, "the initial sync");
}

/** Every leg of the raid1 holds `expected` (and so they are equal), read from the image files; the legs' areas. */
function assertLegsHold(vgLv: string, expected: Buffer): Area[][] {
  const legs = lab.legs(vgLv);
  assert.deepEqual(legDifferences(legs, LV), [], `${vgLv}: the legs are equal`);
  assert.ok(readAreas(legs[0]!, 0, LV).equals(expected), `${vgLv}: the legs hold what was written`);
  return legs;
}

/** The exports the daemon lists, as an NBD client sees them. */
function exportNames(): string[] {
  const r = spawnSync("nbdinfo", ["--list", "--json", `nbd+unix:///?socket=${join(lab.env.vars.ULVM_RUN_DIR!, "nbd.sock")}`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout).exports as { "export-name": string }[]).map((e) => e["export-name"]).sort();
}

let loops: Map<string, string> | undefined;
/**
 * The real lvm2 reads what ulvm wrote: vgck is clean and its LVs, segment types
 * and devices are ulvm's (through loop devices over the same image files).
 */
function lvmAgrees(vg: string, images: string[]): void {
  loops ??= new Map([a, b, c, d, m0, m1].map((image) => [lab.env.loop(image), image]));
  const on = [...loops.keys()].filter((loop) => images.includes(loops!.get(loop)!));
  const vgck = lab.env.lvm(["vgck", vg], on);
  assert.deepEqual([vgck.code, lvmNoise(vgck.stderr)], [0, ""], vgck.stderr);
  const layout = ["lvs", "-a", "--noheadings", "--separator", "|", "-o", "lv_name,segtype,devices", vg];
  const theirs = lab.env.lvm(layout, on).stdout.replace(/\/dev\/loop\d+/g, (loop) => loops!.get(loop)!);
  assert.equal(lab.ok(...layout).stdout, theirs);
}

const NOT_CONVERTED = (lv: string, q: string) => `${q} [y/n]: [n]\n  Logical volume vg/${lv} NOT converted.\n`;

test("-m asks (EOF is no), then adds a leg that is recovered in full; a third leg splits without asking; -m -1 drops a leg live", async () => {
  lab.ok("pvcreate", a, b, c, d);
  lab.ok("vgcreate", "vg", a, b, c, d);
  await syncedRaid1("vg/r1", [a, b]);
  fill("vg/r1", 0x5a);
  const before = lab.lvs("vg").rows;
  const declined = lab.ulvm("lvconvert", "-m", "2", "vg/r1", c);
  assert.deepEqual(same(declined), [5, "", NOT_CONVERTED("r1", "Are you sure you want to convert raid1 LV vg/r1 to 3 images enhancing resilience?")]);
  assert.deepEqual(lab.lvs("vg").rows, before);
  assert.equal((await lab.raid("vg/r1")).health, "AA");

  // Transcript 02 D: `lvconvert -y -m 2 vg_data/lv_mirror /dev/sdd`.
  const grown = lab.ulvm("lvconvert", "-y", "-m", "2", "vg/r1", c);
  assert.deepEqual(same(grown), [0, "  Logical volume vg/r1 successfully converted.\n", ""]);
  const synced = await lab.waitRaid("vg/r1", settled(3), 30_000, "the new leg recovered");
  assert.equal(synced.resyncedBytes, LV, "the whole new leg was copied");
  assert.deepEqual(rows("vg", "r1").map(([name, attr, cpy, , devs]) => [name, attr, cpy, devs]), [
    ["r1", "rwi-a-r---", "100.00", "r1_rimage_0(0),r1_rimage_1(0),r1_rimage_2(0)"],
    ["[r1_rimage_0]", "iwi-aor---", "", `${a}(1)`],
    ["[r1_rimage_1]", "iwi-aor---", "", `${b}(1)`],
    ["[r1_rimage_2]", "iwi-aor---", "", `${c}(1)`],
    ["[r1_rmeta_0]", "ewi-aor---", "", `${a}(0)`],
    ["[r1_rmeta_1]", "ewi-aor---", "", `${b}(0)`],
    ["[r1_rmeta_2]", "ewi-aor---", "", `${c}(0)`],
  ]);
  const [dropped] = assertLegsHold("vg/r1", Buffer.alloc(LV, 0x5a));
  lvmAgrees("vg", [a, b, c, d]);

  // Transcript 02 D: a 3-legged raid1 splits its last image without asking or warning.
  const split = lab.ulvm("lvconvert", "--splitmirrors", "1", "--trackchanges", "vg/r1");
  assert.deepEqual(same(split), [
    0,
    "  vg/r1_rimage_2 split from vg/r1 for read-only purposes.\n  Use 'lvconvert --merge vg/r1_rimage_2' to merge back into vg/r1.\n",
    "",
  ]);
  assert.equal((await lab.raid("vg/r1")).health, "AA-");
  assert.deepEqual(same(lab.ulvm("lvconvert", "--merge", "vg/r1_rimage_2")), [0, "  vg/r1_rimage_2 successfully merged back into vg/r1.\n", ""]);
  await lab.waitRaid("vg/r1", settled(3), 30_000, "the merged image back in sync");

  // Answered on stdin: the leg on a goes, the later ones are renamed down, and writes reach only the other two.
  const shrunk = await answering("y\n", "lvconvert", "-m", "-1", "vg/r1", a);
  assert.deepEqual(same(shrunk), [
    0,
    "  Logical volume vg/r1 successfully converted.\n",
    "Are you sure you want to convert raid1 LV vg/r1 to 2 images reducing resilience? [y/n]: ",
  ]);
  assert.equal((await lab.raid("vg/r1")).health, "AA");
  fill("vg/r1", 0xa5);
  assert.deepEqual(assertLegsHold("vg/r1", Buffer.alloc(LV, 0xa5)).map((leg) => leg[0]!.image), [b, c]);
  assert.ok(readAreas(dropped!, 0, LV).equals(Buffer.alloc(LV, 0x5a)), "the dropped leg got none of the new writes");
  lvmAgrees("vg", [a, b, c, d]);

  const again = lab.ulvm("lvconvert", "-y", "-m", "1", "vg/r1");
  assert.deepEqual(same(again), [0, "  Logical volume vg/r1 successfully converted.\n", "  WARNING: vg/r1 already has image count of 2.\n"]);
  lab.ok("lvremove", "-y", "vg/r1");
});

test("-m 0 asks before the raid1 becomes linear; --type raid1 -m 1 makes an active linear LV a raid1, its new leg recovered", async () => {
  await syncedRaid1("vg/two", [a, b]);
  fill("vg/two", 0x21);
  const keep = lab.ulvm("lvconvert", "-m", "0", "vg/two");
  assert.deepEqual(same(keep), [5, "", NOT_CONVERTED("two", "Are you sure you want to convert raid1 LV vg/two to type linear losing all resilience?")]);
  const linear = lab.ulvm("lvconvert", "-y", "-m", "0", "vg/two");
  assert.deepEqual(same(linear), [0, "  Logical volume vg/two successfully converted.\n", ""]);
  assert.deepEqual(rows("vg", "two").map((r) => r.slice(0, 4)), [["two", "-wi-a-----", "", ""]]);
  assert.match(rows("vg", "two")[0]![4]!, new RegExp(`^${a}\\(\\d+\\)$`), "on the first leg's extents");
  assert.equal((await lab.status("vg/two"))?.raid, undefined, "served as a linear LV");
  qemuIo("vg/two", `read -P 0x21 0 ${LV}`);

  lab.ok("lvcreate", "-L", "8m", "-n", "lin", "vg", d);
  fill("vg/lin", 0x33);
  const ask = lab.ulvm("lvconvert", "--type", "raid1", "-m", "1", "vg/lin");
  assert.deepEqual(same(ask), [
    5,
    "",
    "Are you sure you want to convert linear LV vg/lin to raid1 with 2 images enhancing resilience? [y/n]: [n]\n  Logical volume vg/lin NOT converted.\n",
  ]);
  // Transcript 02a C: `lvconvert -y --type raid1 -m 1 vg_data/lv_mirror /dev/sdc1`.
  const raid1 = lab.ulvm("lvconvert", "-y", "--type", "raid1", "-m", "1", "vg/lin", c);
  assert.deepEqual(same(raid1), [0, "  Logical volume vg/lin successfully converted.\n", ""]);
  const synced = await lab.waitRaid("vg/lin", settled(2), 30_000, "the new leg recovered");
  assert.equal(synced.resyncedBytes, LV, "the whole new leg was copied");
  assert.deepEqual(rows("vg", "lin").map(([name, attr, cpy, , devs]) => [name, attr, cpy, devs]), [
    ["lin", "rwi-a-r---", "100.00", "lin_rimage_0(0),lin_rimage_1(0)"],
    ["[lin_rimage_0]", "iwi-aor---", "", `${d}(0)`],
    ["[lin_rimage_1]", "iwi-aor---", "", `${c}(1)`],
    ["[lin_rmeta_0]", "ewi-aor---", "", `${d}(2)`],
    ["[lin_rmeta_1]", "ewi-aor---", "", `${c}(0)`],
  ]);
  assertLegsHold("vg/lin", Buffer.alloc(LV, 0x33));
  lvmAgrees("vg", [a, b, c, d]);
  lab.ok("lvremove", "-y", "vg/two", "vg/lin");
});

test("an array still copying cannot grow, split or be repaired (transcript 02 B); an inactive LV cannot be converted", async () => {
  // 64 KiB/s per device: the 8 MiB resync outlasts the test.
  lab.ok("lvcreate", "-m1", "-R", "512k", "--maxrecoveryrate", "64k", "-L", "8m", "-n", "slow", "vg", a, b);
  lab.ok("lvcreate", "-an", "-L", "8m", "-n", "idle", "vg", d);
  assert.equal((await lab.raid("vg/slow")).syncAction, "resync");
  const cases: [string[], string][] = [
    [["-y", "-m", "2", "vg/slow"], "  Can't add image to RAID LV that is still initializing.\n"],
    [["-y", "--splitmirrors", "1", "--trackchanges", "vg/slow"], "  Unable to split image from vg/slow while not in-sync.\n"],
    [["-y", "--splitmirrors", "1", "--name", "lv_slow_copy", "vg/slow"], "  Unable to split vg/slow while it is not in-sync.\n"],
    [["-y", "--repair", "vg/slow"], "  Unable to replace devices in vg/slow while it is not in-sync.\n  Failed to replace faulty devices in vg/slow.\n"],
    [["-y", "-m", "1", "vg/idle"], "  vg/idle must be active to perform this operation.\n"],
  ];
  const before = lab.lvs("vg").rows;
  for (const [args, stderr] of cases) assert.deepEqual(same(lab.ulvm("lvconvert", ...args)), [5, "", stderr], args.join(" "));
  assert.deepEqual(lab.lvs("vg").rows.map((r) => [r[0], r[4]]), before.map((r) => [r[0], r[4]]));
  assert.equal((await lab.raid("vg/slow")).health, "aa", "still the initial sync");
  lab.ok("lvremove", "-y", "vg/slow", "vg/idle");
});

test("split and track: the prompt of a 2-legged raid1, the image served on its own and `-` in the array; repair cannot check it unserved (seed step 10)", async () => {
  await syncedRaid1("vg/tr", [a, b], ["-R", "512k"]);
  const path = join(devDir, "vg", "tr");
  const question = "Are you sure you want to split and track raid1 LV vg/tr losing resilience for any newly written data? [y/n]: ";
  const no = lab.ulvm("lvconvert", "--splitmirror", "1", "--trackchanges", path);
  assert.deepEqual(same(no), [5, "", `${question}[n]\n  Logical volume vg/tr NOT split.\n`]);
  assert.equal((await lab.raid("vg/tr")).health, "AA");

  const yes = await answering("y\n", "lvconvert", "--splitmirror", "1", "--trackchanges", path);
  assert.deepEqual(same(yes), [
    0,
    "  vg/tr_rimage_1 split from vg/tr for read-only purposes.\n  Use 'lvconvert --merge vg/tr_rimage_1' to merge back into vg/tr.\n",
    `${question}  WARNING: Any newly written data will be non-resilient on LV vg/tr during the split!\n`,
  ]);
  assert.deepEqual(exportNames(), ["vg/tr", "vg/tr_rimage_1"]);
  assert.equal((await lab.raid("vg/tr")).health, "A-");
  assert.deepEqual(rows("vg", "tr"), [
    ["tr", "rwi-a-r---", "100.00", "", "tr_rimage_0(0),tr_rimage_1(0)"],
    ["[tr_rimage_0]", "iwi-aor---", "", "", `${a}(1)`],
    ["tr_rimage_1", "Iri-a-r---", "", "", `${b}(1)`],
    ["[tr_rmeta_0]", "ewi-aor---", "", "", `${a}(0)`],
    ["[tr_rmeta_1]", "ewi-a-r---", "", "", `${b}(0)`],
  ]);
  lvmAgrees("vg", [a, b, c, d]);

  // Transcript 02 D: with the image not served, repair cannot check it.
  lab.ok("lvchange", "-an", "vg/tr_rimage_1");
  assert.deepEqual(exportNames(), ["vg/tr"]);
  const unchecked = lab.ulvm("lvconvert", "-y", "--repair", "vg/tr");
  assert.deepEqual(same(unchecked), [
    5,
    "",
    "  Check for existence of raid image vg/tr_rimage_1 failed.\n  Unable to replace devices in vg/tr while it is not in-sync.\n  Failed to replace faulty devices in vg/tr.\n",
  ]);
  // Served, there is nothing to replace: the split stays.
  lab.ok("lvchange", "-ay", "vg/tr_rimage_1");
  const noop = lab.ulvm("lvconvert", "-y", "--repair", "vg/tr");
  assert.deepEqual(same(noop), [0, "  vg/tr does not contain devices specified to replace.\n  Faulty devices in vg/tr successfully replaced.\n", ""]);
  assert.equal((await lab.raid("vg/tr")).health, "A-");
});

test("merge: refused while an NBD client or a mount holds the image; then exactly the regions written on either side are copied (seed step 12)", async () => {
  // Both sides written while split: regions 1 and 8 on the raid1, 5 and 8 on the image.
  const expected = readAreas(lab.legs("vg/tr")[0]!, 0, LV);
  expected.fill(0x11, 1 * REGION, 1 * REGION + 64 * 1024).fill(0x11, 8 * REGION, 8 * REGION + 64 * 1024);
  qemuIo("vg/tr", `write -P 0x11 ${1 * REGION} 64k`, `write -P 0x11 ${8 * REGION} 64k`, "flush");
  qemuIo("vg/tr_rimage_1", `write -P 0x22 ${5 * REGION} 64k`, `write -P 0x22 ${8 * REGION + 128 * 1024} 64k`, "flush");

  const holder = spawn("qemu-io", ["-f", "raw", lab.uri("vg/tr_rimage_1")], { stdio: ["pipe", "ignore", "ignore"] });
  const gone = new Promise((resolve) => holder.once("exit", resolve));
  try {
    for (let i = 0; ((await lab.status("vg/tr_rimage_1"))?.openCount ?? 0) === 0; i++) {
      assert.ok(i < 100, "the client opened the export");
      await new Promise((r) => setTimeout(r, 50));
    }
    const open = lab.ulvm("lvconvert", "--merge", "vg/tr_rimage_1");
    assert.deepEqual(same(open), [5, "", "  Logical volume vg/tr_rimage_1 in use.\n  Failed to deactivate vg/tr_rimage_1 before merging.\n"]);
  } finally {
    holder.stdin!.end("quit\n");
    await gone;
  }
  assert.equal((await lab.raid("vg/tr")).health, "A-", "the refused merge changed nothing");

  const merged = lab.ulvm("lvconvert", "--merge", join(devDir, "vg", "tr_rimage_1"));
  assert.deepEqual(same(merged), [0, "  vg/tr_rimage_1 successfully merged back into vg/tr.\n", ""]);
  const synced = await lab.waitRaid("vg/tr", settled(2), 30_000, "the merge copied");
  assert.equal(synced.resyncedBytes, 3 * REGION, "regions 1, 5 and 8: the union of both sides' writes");
  assert.deepEqual(exportNames(), ["vg/tr"]);
  assertLegsHold("vg/tr", expected);
  assert.deepEqual(rows("vg", "tr")[2], ["[tr_rimage_1]", "iwi-aor---", "", "", `${b}(1)`]);

  // Transcript 02 A: a mounted file system on the image is named as such.
  assert.equal(lab.ulvm("lvconvert", "-y", "--splitmirrors", "1", "--trackchanges", "vg/tr").code, 0);
  const node = join(devDir, "vg", "tr_rimage_1");
  const mnt = join(lab.env.dir, "mnt");
  mkdirSync(mnt);
  const mkfs = spawnSync("mkfs.ext4", ["-q", node], { encoding: "utf8" });
  assert.equal(mkfs.status, 0, mkfs.stderr);
  assert.equal(spawnSync("mount", [node, mnt]).status, 0, "mount the split image");
  mounts.push(mnt);
  try {
    const busy = lab.ulvm("lvconvert", "--merge", "vg/tr_rimage_1");
    assert.deepEqual(same(busy), [5, "", "  Logical volume vg/tr_rimage_1 contains a filesystem in use.\n  Failed to deactivate vg/tr_rimage_1 before merging.\n"]);
  } finally {
    assert.equal(spawnSync("umount", [mnt]).status, 0);
    mounts.pop();
  }
  assert.equal(lab.ulvm("lvconvert", "--merge", "vg/tr_rimage_1").code, 0);
  await lab.waitRaid("vg/tr", settled(2), 30_000, "the merge copied");
  // What mkfs wrote on the image is undone: the raid1's side wins.
  assertLegsHold("vg/tr", expected);
  lvmAgrees("vg", [a, b, c, d]);
  lab.ok("lvremove", "-y", "vg/tr");
});

test("split and keep: the image becomes a new linear LV served on its own, a 2-legged raid1 becomes linear (transcript 02a C)", async () => {
  await syncedRaid1("vg/kp", [a, b]);
  fill("vg/kp", 0x44);
  const no = lab.ulvm("lvconvert", "--splitmirrors", "1", "--name", "lv_backup", "vg/kp");
  assert.deepEqual(same(no), [5, "", "Are you sure you want to split raid1 LV vg/kp losing all resilience? [y/n]: [n]\n  Logical volume vg/kp NOT split.\n"]);
  const yes = lab.ulvm("lvconvert", "-y", "--splitmirrors", "1", "--name", "lv_backup", "vg/kp");
  assert.deepEqual(same(yes), [0, "", ""]);
  // Each on the extents of its leg.
  const kept = [...rows("vg", "kp"), ...rows("vg", "lv_backup")];
  assert.deepEqual(kept.map((r) => r.slice(0, 4)), [["kp", "-wi-a-----", "", ""], ["lv_backup", "-wi-a-----", "", ""]]);
  assert.deepEqual(kept.map((r) => r[4]!.replace(/\(\d+\)$/, "")), [a, b]);
  assert.deepEqual(exportNames(), ["vg/kp", "vg/lv_backup"]);
  // Both copies hold the data, and are separate LVs from now on.
  qemuIo("vg/lv_backup", `read -P 0x44 0 ${LV}`);
  qemuIo("vg/kp", `write -P 0x45 0 1M`, "flush");
  qemuIo("vg/lv_backup", `read -P 0x44 0 1M`);
  const merge = lab.ulvm("lvconvert", "--merge", "vg/lv_backup");
  assert.deepEqual(same(merge), [5, "", "  vg/lv_backup cannot be merged because --trackchanges was not used.\n"]);
  lvmAgrees("vg", [a, b, c, d]);
  lab.ok("lvremove", "-y", "vg/kp", "vg/lv_backup");
});

test("--replace PV moves the leg on it to another PV live, silently, recovered in full; a PV the LV does not use is refused", async () => {
  await syncedRaid1("vg/mv", [a, b]);
  fill("vg/mv", 0x99);
  const moved = lab.ulvm("lvconvert", "--replace", a, "vg/mv");
  assert.deepEqual(same(moved), [0, "", ""]);
  const synced = await lab.waitRaid("vg/mv", settled(2), 30_000, "the new leg recovered");
  assert.equal(synced.resyncedBytes, LV, "the whole new leg was copied");
  const legs = assertLegsHold("vg/mv", Buffer.alloc(LV, 0x99)).map((leg) => leg[0]!.image);
  assert.ok([c, d].includes(legs[0]!) && legs[1] === b, `leg 0 moved off ${a}: ${legs.join(",")}`);
  assert.ok(rows("vg", "mv").every((r) => !r[4]!.startsWith(`${a}(`)), "nothing of the LV is left on the PV");
  lvmAgrees("vg", [a, b, c, d]);
  const unused = lab.ulvm("lvconvert", "--replace", a, "vg/mv");
  assert.deepEqual(same(unused), [5, "", "  Logical volume vg/mv does not contain devices specified to replace.\n"]);
  lab.ok("lvremove", "-y", "vg/mv");
});

test("a leg's PV lost under the live array (seed steps 3-4): the reports warn of the LVs still using it, a repair without room is refused (transcript 03 H)", async () => {
  lab.ok("pvcreate", m0, m1);
  lab.ok("vgcreate", "vm", m0, m1);
  await syncedRaid1("vm/r", []);
  fill("vm/r", 0x66);
  const uuid = lab.ok("pvs", "--noheadings", "-o", "pv_uuid", m0).stdout.trim();
  const dd = spawnSync("dd", ["if=/dev/zero", `of=${m0}`, "bs=1M", "count=1", "conv=notrunc"], { encoding: "utf8" });
  assert.equal(dd.status, 0, dd.stderr);

  // Step 4: the reports name the active sub-LVs still on the lost PV; commands that change the VG do not.
  const lost = `  WARNING: Couldn't find device with uuid ${uuid}.\n  WARNING: VG vm is missing PV ${uuid} (last written to ${m0}).\n`;
  const used = "  WARNING: Couldn't find all devices for LV vm/r_rimage_0 while checking used and assumed devices.\n" +
    "  WARNING: Couldn't find all devices for LV vm/r_rmeta_0 while checking used and assumed devices.\n";
  for (const report of [["lvs", "vm"], ["vgs", "vm"], ["pvs"]]) {
    const r = lab.ulvm(...report);
    assert.deepEqual([r.code, r.stderr], [0, lost + used], report.join(" "));
  }
  // Transcript 03 H: the PV still missing, no other PV with room.
  const cramped = lab.ulvm("lvconvert", "-y", "--repair", "vm/r");
  assert.deepEqual(same(cramped), [5, "", `${lost}  Insufficient free space: 3 extents needed, but only 0 available\n  Failed to replace faulty devices in vm/r.\n`]);
});

test("then vgreduce --removemissing --force, pvcreate, vgextend: repair asks (EOF is no), then recovers a new leg in full (seed steps 5-9)", async () => {
  assert.equal(lab.ulvm("vgreduce", "--removemissing", "--force", "vm").code, 0);
  assert.equal((await lab.raid("vm/r")).health[1], "A", "the surviving leg serves");
  // Transcript 03 I: after vgreduce --force the leg is an error segment, the LV no longer partial.
  const full = lab.ulvm("lvconvert", "-y", "--repair", "vm/r");
  assert.deepEqual(same(full), [
    5,
    "",
    "  Insufficient free space: 3 extents needed, but only 0 available\n  LV vm/r in not partial.\n  Failed to replace faulty devices in vm/r.\n",
  ]);

  lab.ok("pvcreate", m0);
  lab.ok("vgextend", "vm", m0);
  const no = lab.ulvm("lvconvert", "--repair", join(devDir, "vm", "r"));
  assert.deepEqual(same(no), [0, "", "Attempt to replace failed RAID images (requires full device resync)? [y/n]: [n]\n"]);
  assert.match(rows("vm", "r")[1]!.slice(0, 2).join(" "), /^\[r_rimage_0\] vwi-a/, "still the error segment");

  const yes = await answering("y\n", "lvconvert", "--repair", join(devDir, "vm", "r"), m0);
  assert.deepEqual(same(yes), [
    0,
    "  Faulty devices in vm/r successfully replaced.\n",
    "Attempt to replace failed RAID images (requires full device resync)? [y/n]: ",
  ]);
  const synced = await lab.waitRaid("vm/r", settled(2), 30_000, "the new leg recovered");
  assert.equal(synced.resyncedBytes, LV, "the whole new leg was copied");
  assert.deepEqual(rows("vm", "r"), [
    ["r", "rwi-a-r---", "100.00", "", "r_rimage_0(0),r_rimage_1(0)"],
    ["[r_rimage_0]", "iwi-aor---", "", "", `${m0}(1)`],
    ["[r_rimage_1]", "iwi-aor---", "", "", `${m1}(1)`],
    ["[r_rmeta_0]", "ewi-aor---", "", "", `${m0}(0)`],
    ["[r_rmeta_1]", "ewi-aor---", "", "", `${m1}(0)`],
  ]);
  assertLegsHold("vm/r", Buffer.alloc(LV, 0x66));
  lvmAgrees("vm", [m0, m1]);

  // Transcript 02 E: nothing failed any more.
  const again = lab.ulvm("lvconvert", "-y", "--repair", "vm/r");
  assert.deepEqual(same(again), [0, "  vm/r does not contain devices specified to replace.\n  Faulty devices in vm/r successfully replaced.\n", ""]);
});

test("repair replaces a leg the array failed on I/O errors while its PV is still there, and recovers the new one in full; --usepolicies follows raid_fault_policy", async () => {
  lab.ok("pvcreate", flaky.path, f1, f2);
  lab.ok("vgcreate", "vd", flaky.path, f1, f2);
  await syncedRaid1("vd/r", [flaky.path, f1]);
  fill("vd/r", 0x77);
  flaky.inject(true);
  try {
    qemuIo("vd/r", "write -P 0x78 0 1M", "flush");
    await lab.waitRaid("vd/r", (s) => s.health === "DA", 10_000, "the array failed the leg");
  } finally {
    flaky.inject(false);
  }
  // The PV reads again: only the array knows the leg is dead.
  assert.deepEqual(rows("vd", "r")[1]!.slice(0, 4), ["[r_rimage_0]", "Iwi-aor-r-", "", "refresh needed"]);

  // As dmeventd runs it: lvm.conf's raid_fault_policy decides, "warn" by default, "allocate" replaces without asking.
  const warned = lab.ulvm("lvconvert", "--repair", "--usepolicies", "vd/r");
  assert.deepEqual(same(warned), [0, "", "  Use 'lvconvert --repair vd/r' to replace failed device.\n"]);
  assert.equal((await lab.raid("vd/r")).health, "DA");
  writeFileSync(join(lab.env.vars.ULVM_SYSTEM_DIR!, "lvm.conf"), 'activation {\n\traid_fault_policy = "allocate"\n}\n');
  const repaired = lab.ulvm("lvconvert", "--repair", "--usepolicies", "vd/r");
  assert.deepEqual(same(repaired), [0, "  Faulty devices in vd/r successfully replaced.\n", ""]);
  const synced = await lab.waitRaid("vd/r", settled(2), 30_000, "the new leg recovered");
  assert.equal(synced.resyncedBytes, LV, "the whole new leg was copied");
  assert.deepEqual(rows("vd", "r"), [
    ["r", "rwi-a-r---", "100.00", "", "r_rimage_0(0),r_rimage_1(0)"],
    ["[r_rimage_0]", "iwi-aor---", "", "", `${f2}(1)`],
    ["[r_rimage_1]", "iwi-aor---", "", "", `${f1}(1)`],
    ["[r_rmeta_0]", "ewi-aor---", "", "", `${f2}(0)`],
    ["[r_rmeta_1]", "ewi-aor---", "", "", `${f1}(0)`],
  ]);
  const expected = Buffer.alloc(LV, 0x77).fill(0x78, 0, MiB);
  assertLegsHold("vd/r", expected);
});

test("raid_fault_policy allocate: the daemon replaces a leg that fails under I/O by itself, as dmeventd does", async () => {
  // lvm.conf says allocate since the test before.
  await syncedRaid1("vd/auto", [flaky.path, f1]);
  fill("vd/auto", 0x55);
  flaky.inject(true);
  try {
    qemuIo("vd/auto", "write -P 0x56 0 1M", "flush");
    // No command is run: the daemon's own repair moves the failed leg to the free PV and recovers it.
    await lab.waitRaid("vd/auto", (r) => r.health === "AA" && r.syncAction === "idle" && r.resyncedBytes === LV, 60_000, "the automatic repair");
  } finally {
    flaky.inject(false);
  }
  assert.deepEqual(
    rows("vd", "auto").map((r) => [r[0], r[1], r[4]]),
    [
      ["auto", "rwi-a-r---", "auto_rimage_0(0),auto_rimage_1(0)"],
      // After r's pairs (PE 0-2) on both: the failed leg moved from the flaky PV to f2.
      ["[auto_rimage_0]", "iwi-aor---", `${f2}(4)`],
      ["[auto_rimage_1]", "iwi-aor---", `${f1}(4)`],
      ["[auto_rmeta_0]", "ewi-aor---", `${f2}(3)`],
      ["[auto_rmeta_1]", "ewi-aor---", `${f1}(3)`],
    ],
  );
  assert.match(lab.log(), /raid_fault_policy allocate: repairing[\s\S]*lvconvert --repair finished/);
  assertLegsHold("vd/auto", Buffer.alloc(LV, 0x55).fill(0x56, 0, MiB));
});
