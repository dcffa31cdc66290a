/**
 * lvchange's raid options and lvcreate's --nosync and recovery rates.
 *
 * First side by side with the real lvm2 on loop devices (it has no
 * device-mapper here, so its raid LVs are inactive): the refusals of
 * --syncaction and --rebuild, the recovery rates lvchange writes (checked as
 * the real lvm2 reads them back) and lvcreate's checks. Then under ulvm's
 * daemon, against what lvm2 2.03.16 does over dm-raid
 * (/work/shared/reference/lvm2-seed-behaviour.md): a throttled initial resync,
 * scrubbing with check and repair, a full rebuild of one leg, --nosync.
 * The daemon part needs the daemon's syncaction and rebuild handlers.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { makeLab } from "../helpers/lv-lab.ts";
import { makeRaidLab, legDifferences } from "../helpers/raid-lab.ts";
import { cleanOnce, ok } from "../helpers/runs.ts";
import type { RunResult } from "../helpers/env.ts";
import { MiB } from "../helpers/device-bytes.ts";

const lab = makeLab(3, "64M");
const live = makeRaidLab();
after(() => {
  lab.env.cleanup();
  live.cleanup();
});
const [d0, d1, d2] = lab.devs as [string, string, string];

/** A VG with a linear LV on d0 and a raid1 on d1 and d2, made by ulvm (the real lvm2 cannot make raid1 here). */
function raidVg(): void {
  lab.freshVg("vg", [d0, d1, d2]);
  lab.real(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "lin", "vg", d0]);
  ok(lab.ulvm(["lvcreate", "-L", "8m", "-m1", "-n", "r1", "vg", d1, d2]), "ulvm lvcreate raid1");
}

const RATES = ["lvs", "-a", "--noheadings", "-o", "lv_name,raid_min_recovery_rate,raid_max_recovery_rate", "vg"];

/** Runs that change nothing: both tools on the same VG print and exit the same. */
function assertSameRefusals(cases: string[][]): void {
  const before = lab.real(["vgs", "--noheadings", "-o", "vg_seqno", "vg"]).stdout;
  for (const args of cases) {
    const pick = (r: RunResult) => ({ stdout: r.stdout, stderr: r.stderr, code: r.code });
    assert.deepEqual(pick(lab.ulvm(args)), pick(lab.lvm(args)), args.join(" "));
  }
  assert.equal(lab.real(["vgs", "--noheadings", "-o", "vg_seqno", "vg"]).stdout, before, "and neither wrote the VG");
}

/** Both tools from the same VG state: the same output and exit code, and the same recovery rates as the real lvm2 reads them. */
function assertSameRates(args: string[], devices = lab.devs): RunResult {
  const saved = join(lab.env.dir, "vg.saved");
  lab.real(["vgcfgbackup", "-f", saved, "vg"]);
  const run = (r: RunResult) => ({ ...cleanOnce(r), rates: lab.real(RATES).stdout });
  const real = run(lab.env.lvm(args, devices));
  lab.real(["vgcfgrestore", "-f", saved, "vg"]);
  const ours = run(lab.env.ulvm([...args, "--devices", devices.join(",")], { env: { ULVM_DEV_DIR: "/dev" } }));
  assert.deepEqual(ours, real, args.join(" "));
  return ours;
}

test("--syncaction and --rebuild: lvm's refusals for inactive LVs, other LV types, a VG with a PV missing, prompts and PVs not in the VG", () => {
  raidVg();
  assertSameRefusals([
    ["lvchange", "--syncaction", "check", "vg/r1"],
    // A whole VG passes over other LV types with a warning; named ones are refused.
    ["lvchange", "--syncaction", "repair", "vg"],
    ["lvchange", "--syncaction", "check", "vg/r1_rmeta_0", "vg/lin", "vg/nolv"],
    ["lvchange", "--rebuild", d1, "vg/r1"],
    ["lvchange", "-y", "--rebuild", d1, "--rebuild", d2, "vg"],
    // lvm reports the PV and still exits 0.
    ["lvchange", "-y", "--rebuild", "/dev/no-such-pv", "vg/r1"],
  ]);
  const r = assertSameRates(["lvchange", "--syncaction", "check", "vg/r1"], [d0, d1]);
  assert.match(r.stderr, /Cannot change VG vg while PVs are missing\./);
});

test("--minrecoveryrate/--maxrecoveryrate: written as lvm writes them (KiB/s, 0 for none), checked as lvm checks them", () => {
  raidVg();
  assertSameRates(["lvchange", "--minrecoveryrate", "50", "--maxrecoveryrate", "1M", "vg/r1"]);
  // A minimum above the maximum is said once per rate option given; other LV types are refused.
  assertSameRefusals([
    ["lvchange", "--minrecoveryrate", "2M", "vg/r1"],
    ["lvchange", "--minrecoveryrate", "30", "--maxrecoveryrate", "20", "vg/r1"],
    ["lvchange", "--maxrecoveryrate", "8", "vg/lin", "vg/r1_rimage_1"],
  ]);
  // A whole VG, and a size in sectors halved into KiB.
  assertSameRates(["lvchange", "--maxrecoveryrate", "3s", "vg"]);
  // Sizes saturate at 32 bits of sectors; a maximum of 0 lifts the limit; activation comes after, with a warning.
  assertSameRates(["lvchange", "--maxrecoveryrate", "0", "--minrecoveryrate", "9T", "-an", "vg/r1"]);
  // The rates are changed with a PV missing, as lvm does.
  const r = assertSameRates(["lvchange", "--minrecoveryrate", "64", "vg/r1"], [d0, d1]);
  assert.equal(r.stdout, "  Logical volume vg/r1 changed.\n");
});

test("lvcreate: the recovery-rate check (a minimum alone is refused) and --nosync and rates in the metadata the real lvm2 reads", () => {
  raidVg();
  assertSameRefusals([
    ["lvcreate", "--type", "raid1", "-m1", "--minrecoveryrate", "10", "--maxrecoveryrate", "5", "-L", "8m", "-n", "x", "vg"],
    ["lvcreate", "-m1", "--minrecoveryrate", "10", "-L", "8m", "-n", "x", "vg"],
    ["lvcreate", "-L", "4m", "--maxrecoveryrate", "1", "-n", "x", "vg"],
  ]);
  const rates = ok(lab.ulvm(["lvcreate", "-m1", "--minrecoveryrate", "50", "--maxrecoveryrate", "1M", "-L", "4m", "-n", "rr", "vg", d1, d2]), "rates");
  assert.equal(rates.stdout, '  Logical volume "rr" created.\n');
  const nosync = ok(lab.ulvm(["lvcreate", "--type", "raid1", "-m1", "--nosync", "-L", "4m", "-n", "ns", "vg", d1, d2]), "nosync");
  assert.equal(nosync.stderr, "  WARNING: New raid1 won't be synchronised. Don't read what you didn't write!\n");
  const read = lab.real(["lvs", "--noheadings", "--separator", "|", "-o", "lv_name,lv_attr,raid_min_recovery_rate,raid_max_recovery_rate", "vg/rr", "vg/ns"]);
  const rows = read.stdout.split("\n").filter(Boolean).map((l) => l.trim().split("|"));
  assert.deepEqual(
    rows.map(([name, attr, min, max]) => [name, attr![0], min!.trim(), max!.trim()]),
    [
      ["ns", "R", "", ""],
      ["rr", "r", "50", "1024"],
    ],
  );
});

// ---- under the daemon ---------------------------------------------------------

const LV_SIZE = 16 * MiB;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `lvs -a` rows of name, attr, copy_percent, sync action, mismatches, health and max rate, of an LV and its sub-LVs. */
function rows(vgLv: string): string[][] {
  const [vg, lv] = vgLv.split("/") as [string, string];
  const r = live.ok("lvs", "-a", "--noheadings", "--separator", "|", "-o", "lv_name,lv_attr,copy_percent,raid_sync_action,raid_mismatch_count,lv_health_status,raid_max_recovery_rate", vg);
  return r.stdout
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => l.trim().split("|").map((f) => f.trim()))
    .filter(([name]) => new RegExp(`^\\[?${lv}(_r(image|meta)_\\d+)?\\]?$`).test(name!));
}

const pvA = live.image("a.img", "64M");
const pvB = live.image("b.img", "64M");
const pvC = live.image("c.img", "64M");

test("a throttled initial resync: lvs shows it, a scrub and a rebuild are refused until it is done, lifting the rate finishes it", async () => {
  live.ok("pvcreate", pvA, pvB, pvC);
  live.ok("vgcreate", "vr", pvA, pvB, pvC);
  // 1 MiB/s per device, in 512 KiB regions: the 16 MiB resync would take 16 s.
  const created = live.ok("lvcreate", "--type", "raid1", "-m1", "-R", "512k", "--maxrecoveryrate", "1M", "-L", "16m", "-n", "slow", "vr", pvA, pvB);
  assert.equal(created.stdout, '  Logical volume "slow" created.\n');
  const syncing = rows("vr/slow");
  assert.deepEqual(
    syncing.map(([name, attr, , action, , , max]) => [name, attr, action, max]),
    [
      ["slow", "rwi-a-r---", "resync", "1024"],
      ["[slow_rimage_0]", "Iwi-aor---", "", ""],
      ["[slow_rimage_1]", "Iwi-aor---", "", ""],
      ["[slow_rmeta_0]", "ewi-aor---", "", ""],
      ["[slow_rmeta_1]", "ewi-aor---", "", ""],
    ],
  );
  assert.ok(Number(syncing[0]![2]) < 100, `Cpy%Sync ${syncing[0]![2]}`);

  const scrub = live.ulvm("lvchange", "--syncaction", "check", "vr/slow");
  assert.deepEqual([scrub.code, scrub.stdout, scrub.stderr], [5, "", '  vr/slow state is currently "resync".  Unable to switch to "check".\n']);
  const rebuild = live.ulvm("lvchange", "-y", "--rebuild", pvB, "vr/slow");
  assert.deepEqual([rebuild.code, rebuild.stderr], [5, "  Unable to replace devices in vr/slow while it is not in-sync.\n"]);

  // The new rate reaches the running array through the daemon's refresh.
  assert.equal(live.ok("lvchange", "--maxrecoveryrate", "0", "vr/slow").stdout, "  Logical volume vr/slow changed.\n");
  await live.waitRaid("vr/slow", (s) => s.health === "AA" && s.syncAction === "idle", 30_000, "in sync once unthrottled");
  assert.deepEqual(
    rows("vr/slow").map(([name, attr, cpy, action]) => [name, attr, cpy, action]),
    [
      ["slow", "rwi-a-r---", "100.00", "idle"],
      ["[slow_rimage_0]", "iwi-aor---", "", ""],
      ["[slow_rimage_1]", "iwi-aor---", "", ""],
      ["[slow_rmeta_0]", "ewi-aor---", "", ""],
      ["[slow_rmeta_1]", "ewi-aor---", "", ""],
    ],
  );
});

test("--syncaction check counts what differs between the legs (m, mismatches exist), repair makes them equal", async () => {
  live.ok("lvcreate", "--type", "raid1", "-m1", "-L", "16m", "-n", "r", "vr", pvA, pvB);
  await live.waitRaid("vr/r", (s) => s.health === "AA" && s.syncAction === "idle", 30_000, "initial sync");
  const legs = live.legs("vr/r");
  const area = legs[1]!.find((a) => a.lvOffset <= 4 * MiB && 4 * MiB + MiB <= a.lvOffset + a.length)!;
  // 1 MiB written under the array onto leg 1 only: 2048 sectors the legs disagree on.
  const fd = openSync(area.image, "r+");
  writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, area.at + 4 * MiB - area.lvOffset);
  closeSync(fd);

  const check = live.ok("lvchange", "--syncaction", "check", "vr/r");
  assert.deepEqual([check.stdout, check.stderr], ["", ""]);
  // A scrub may be over before the first look: what it found is the sign that it ran.
  await live.waitRaid("vr/r", (s) => s.syncAction === "idle" && s.mismatchCount > 0, 30_000, "check found the differences");
  assert.deepEqual(rows("vr/r")[0]!.slice(0, 6), ["r", "rwi-a-r-m-", "100.00", "idle", "2048", "mismatches exist"]);

  live.ok("lvchange", "--syncaction", "repair", "vr/r");
  for (const deadline = Date.now() + 30_000; legDifferences(live.legs("vr/r"), LV_SIZE).length; await sleep(100))
    assert.ok(Date.now() < deadline, `repair made the legs equal\n${live.log()}`);
  await live.waitRaid("vr/r", (s) => s.syncAction === "idle", 30_000, "repair done");
  live.ok("lvchange", "--syncaction", "check", "vr/r");
  await live.waitRaid("vr/r", (s) => s.syncAction === "idle" && s.mismatchCount === 0, 30_000, "second check found nothing");
  assert.deepEqual(rows("vr/r")[0]!.slice(0, 6), ["r", "rwi-a-r---", "100.00", "idle", "0", ""]);
});

test("--rebuild PV recovers the leg on it in full; a PV with no leg, or every leg at once, is refused; no answer is no", async () => {
  const before = (await live.raid("vr/r")).resyncedBytes;
  const rebuilt = live.ok("lvchange", "-y", "--rebuild", pvB, "vr/r");
  assert.deepEqual([rebuilt.stdout, rebuilt.stderr], ["", ""]);
  const done = await live.waitRaid("vr/r", (s) => s.health === "AA" && s.syncAction === "idle", 30_000, "rebuilt");
  assert.ok(done.resyncedBytes - before >= LV_SIZE, `the whole leg was copied: ${done.resyncedBytes - before} bytes`);

  const none = live.ulvm("lvchange", "-y", "--rebuild", pvC, "vr/r");
  assert.deepEqual([none.code, none.stderr], [5, "  Logical volume vr/r does not contain devices specified to rebuild.\n"]);
  const all = live.ulvm("lvchange", "-y", "--rebuild", pvA, "--rebuild", pvB, "vr/r");
  assert.deepEqual([all.code, all.stderr], [5, "  Unable to rebuild all PVs from vr/r at once.\n"]);
  const asked = live.ulvm("lvchange", "--rebuild", pvA, "vr/r");
  assert.deepEqual(
    [asked.code, asked.stderr],
    [5, "Do you really want to rebuild 1 PVs of logical volume vr/r [y/n]: [n]\n  Logical volume vr/r not rebuild.\n"],
  );
});

test("--nosync: R and 100.00 at once, nothing to resync", async () => {
  const r = live.ok("lvcreate", "--type", "raid1", "-m1", "--nosync", "-L", "8m", "-n", "ns", "vr", pvA, pvC);
  assert.equal(r.stderr, "  WARNING: New raid1 won't be synchronised. Don't read what you didn't write!\n");
  const status = await live.raid("vr/ns");
  assert.deepEqual([status.health, status.syncAction, status.syncBytes === status.size], ["AA", "idle", true]);
  assert.deepEqual(rows("vr/ns")[0]!.slice(0, 4), ["ns", "Rwi-a-r---", "100.00", "idle"]);
});
