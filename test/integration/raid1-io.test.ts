/**
 * raid1 I/O end to end through the daemon, checked with real clients and on
 * the PV images: the initial sync seen climbing in lvs at --maxrecoveryrate and
 * skipped with --nosync, fio with verification on 2- and 3-leg raid1 with legs
 * compared byte for byte afterwards, reads spread over the legs (counted by
 * nbdkit under each leg), lvextend of an active raid1, and lvconvert -m of
 * one under load.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { MiB } from "../helpers/device-bytes.ts";
import { assertFioClean, fio, fioNbd, legDifferences, makeRaidLab, type Area } from "../helpers/raid-lab.ts";

const lab = makeRaidLab();
after(() => lab.cleanup());

const GiB = 1024 * MiB;
const inSync = (r: { syncAction: string; syncBytes: number; size: number }) => r.syncAction === "idle" && r.syncBytes === r.size;

interface Sample {
  at: number;
  percent: string;
  action: string;
  attrs: Record<string, string>;
}

function sample(vg: string, lv: string): Sample {
  const rows = lab
    .ok("lvs", "-a", "--noheadings", "--separator", "|", "-o", "lv_name,lv_attr,copy_percent,raid_sync_action", vg)
    .stdout.split("\n")
    .filter((l) => l.trim())
    .map((l) => l.trim().split("|") as [string, string, string, string]);
  const top = rows.find((r) => r[0] === lv)!;
  return { at: Date.now(), percent: top[2], action: top[3], attrs: Object.fromEntries(rows.map((r) => [r[0], r[1]])) };
}

test("a new 1 GiB raid1 syncs at --maxrecoveryrate with lvs showing it climb; with --nosync it is 100.00 at once", async () => {
  const [s0, s1] = [lab.image("s0.img", "1100M"), lab.image("s1.img", "1100M")];
  lab.ok("pvcreate", s0, s1);
  lab.ok("vgcreate", "vs", s0, s1);
  lab.ok("lvcreate", "-m1", "-L", "1g", "--maxrecoveryrate", "64M", "-n", "big", "vs");
  const samples: Sample[] = [];
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const s = sample("vs", "big");
    samples.push(s);
    if (s.percent === "100.00" && s.action === "idle") break;
  }
  const last = samples.at(-1)!;
  assert.deepEqual([last.percent, last.action], ["100.00", "idle"], `synced within a minute: ${JSON.stringify(samples.slice(-3))}`);
  assert.deepEqual(last.attrs, {
    big: "rwi-a-r---",
    "[big_rimage_0]": "iwi-aor---",
    "[big_rimage_1]": "iwi-aor---",
    "[big_rmeta_0]": "ewi-aor---",
    "[big_rmeta_1]": "ewi-aor---",
  });
  const during = samples.filter((s) => Number(s.percent) > 0 && Number(s.percent) < 100);
  assert.ok(during.length >= 3, `the sync is seen in between: ${JSON.stringify(samples.map((s) => s.percent))}`);
  for (const s of during) {
    assert.equal(s.action, "resync");
    assert.deepEqual(
      [s.attrs.big, s.attrs["[big_rimage_0]"], s.attrs["[big_rimage_1]"]],
      ["rwi-a-r---", "Iwi-aor---", "Iwi-aor---"],
      "images are not in sync until the initial sync ends",
    );
  }
  const percents = samples.map((s) => Number(s.percent));
  assert.deepEqual(percents, [...percents].sort((x, y) => x - y), "copy_percent never goes back");
  assert.equal(lab.ok("lvs", "--noheadings", "-o", "raid_max_recovery_rate", "vs/big").stdout.trim(), "65536", "the rate is in the metadata, KiB/s");
  // 64 MiB/s per device from the first sample in between to the end, give or take the second md's own
  // throttle lets a sync run ahead of its rate.
  const first = during[0]!;
  const synced = ((100 - Number(first.percent)) / 100) * GiB;
  const allowed = 64 * MiB * ((last.at - first.at) / 1000 + 1);
  const seen = samples.map((s) => `${s.at - first.at}ms:${s.percent}`).join(" ");
  assert.ok(synced <= allowed, `synced ${(synced / MiB).toFixed(0)} MiB where --maxrecoveryrate 64M allows ${(allowed / MiB).toFixed(0)}: ${seen}`);
  const status = await lab.raid("vs/big");
  assert.deepEqual([status.health, status.resyncedBytes], ["AA", GiB], "the initial sync copied the whole leg once");
  assert.deepEqual(legDifferences(lab.legs("vs/big"), GiB), []);

  const nosync = lab.ok("lvcreate", "-m1", "-L", "64m", "--nosync", "-n", "ns", "vs");
  assert.equal(nosync.stderr, "  WARNING: New raid1 won't be synchronised. Don't read what you didn't write!\n");
  const ns = sample("vs", "ns");
  assert.deepEqual([ns.percent, ns.action, ns.attrs.ns, ns.attrs["[ns_rimage_0]"], ns.attrs["[ns_rimage_1]"]], ["100.00", "idle", "Rwi-a-r---", "iwi-aor---", "iwi-aor---"]);
  const nsStatus = await lab.raid("vs/ns");
  assert.deepEqual([nsStatus.health, nsStatus.syncAction, nsStatus.resyncedBytes], ["AA", "idle", 0]);
  lab.ok("vgchange", "-an", "vs");
});

/** A region of `bytes` per job, one job per region, each block written once and read back against its crc32c. */
function verifyLoad(vgLv: string, jobs: number, bytes: number, bs: string[], from = 0): ReturnType<typeof fio> {
  return fio(
    fioNbd(lab.uri(vgLv), [
      "--rw=randwrite",
      ...bs,
      "--iodepth=32",
      `--numjobs=${jobs}`,
      `--offset=${from}`,
      `--size=${bytes}`,
      `--offset_increment=${bytes}`,
      "--do_verify=1",
    ]),
  );
}

const legsOf = new Map<string, Area[][]>();

test("fio with verify on a 2-leg and a 3-leg raid1 at once, block sizes 512 to 1m: every block reads back right and the legs are byte-identical", async () => {
  const pvs = [lab.image("i0.img", "200M"), lab.image("i1.img", "200M"), lab.image("i2.img", "200M")];
  lab.ok("pvcreate", ...pvs);
  lab.ok("vgcreate", "vio", ...pvs);
  lab.ok("lvcreate", "-m1", "-L", "64m", "-n", "two", "vio");
  lab.ok("lvcreate", "-m2", "-L", "64m", "-n", "three", "vio");
  for (const lv of ["two", "three"]) {
    await lab.waitRaid(`vio/${lv}`, inSync, 60_000, "initial sync done");
    legsOf.set(lv, lab.legs(`vio/${lv}`));
  }
  assert.equal(legsOf.get("three")!.length, 3);
  const mixed = ["--bssplit=512/10:4k/25:12k/10:64k/20:256k/20:1m/15"];
  const [two, three] = await Promise.all([verifyLoad("vio/two", 4, 16 * MiB, mixed), verifyLoad("vio/three", 4, 16 * MiB, ["--bsrange=512-1m", "--bs_unaligned"])]);
  assertFioClean(two, 4);
  assertFioClean(three, 4);
  // Zeroing and discarding are writes too: every leg must get them.
  for (const lv of ["two", "three"]) {
    const r = spawnSync("qemu-io", ["-f", "raw", "-c", "write -z 3M 5M", "-c", "discard 20M 2M", "-c", "write -z 1536 512", lab.uri(`vio/${lv}`)], { encoding: "utf8" });
    assert.doesNotMatch(r.stdout + r.stderr, /error|failed/i, r.stdout + r.stderr);
  }
  for (const lv of ["two", "three"]) {
    const status = await lab.raid(`vio/${lv}`);
    assert.deepEqual([status.health, status.syncAction, status.mismatchCount], [lv === "two" ? "AA" : "AAA", "idle", 0]);
    assert.deepEqual(legDifferences(legsOf.get(lv)!, 64 * MiB), [], `vio/${lv}: legs identical`);
  }
  assert.deepEqual(
    lab.ok("lvs", "--noheadings", "--separator", "|", "-o", "lv_name,lv_attr,copy_percent,raid_sync_action,lv_health_status", "vio").stdout.trim().split("\n").map((l) => l.trim()),
    ["three|rwi-a-r---|100.00|idle|", "two|rwi-a-r---|100.00|idle|"],
  );
});

test("lvextend of an active raid1 in use: the new part is synced, written and read back right, and the legs stay identical", async () => {
  // A client connected across the resize, as a mounted filesystem would be.
  const holder = spawn("qemu-io", ["-f", "raw", lab.uri("vio/two")], { stdio: ["pipe", "pipe", "pipe"] });
  const out: string[] = [];
  holder.stdout.on("data", (d) => out.push(String(d)));
  holder.stderr.on("data", (d) => out.push(String(d)));
  for (const deadline = Date.now() + 10_000; !((await lab.status("vio/two"))?.openCount ?? 0) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await lab.status("vio/two"))?.openCount, 1, "qemu-io holds the LV open");
  lab.ok("lvextend", "-L", "96m", "vio/two");
  await lab.waitRaid("vio/two", (r) => r.size === 96 * MiB && inSync(r), 60_000, "the new part synced");
  holder.stdin.end("write -P 0x77 0 1M\nread -P 0x77 0 1M\nflush\n");
  await new Promise((r) => holder.once("exit", r));
  assert.match(out.join(""), /wrote 1048576\/1048576[\s\S]*read 1048576\/1048576/);
  assert.doesNotMatch(out.join(""), /verification failed|error/i);
  assert.equal(spawnSync("nbdinfo", ["--size", lab.uri("vio/two")], { encoding: "utf8" }).stdout.trim(), String(96 * MiB));
  assertFioClean(await verifyLoad("vio/two", 2, 16 * MiB, ["--bssplit=4k/50:64k/30:1m/20"], 64 * MiB), 2);
  const legs = lab.legs("vio/two");
  assert.ok(legs.every((areas) => areas.reduce((n, a) => n + a.length, 0) === 96 * MiB), "each leg grew");
  assert.deepEqual(legDifferences(legs, 96 * MiB), []);
  assert.deepEqual(lab.ok("lvs", "--noheadings", "--separator", "|", "-o", "lv_size,copy_percent", "--units", "m", "vio/two").stdout.trim(), "96.00m|100.00");
});

test("lvconvert -m 2 then -m 1 of the active raid1 under fio load: the new leg is recovered in full, every leg identical, every block right", async () => {
  const load = verifyLoad("vio/two", 2, 16 * MiB, ["--bssplit=4k/40:64k/40:1m/20", "--rate=16m"]);
  await new Promise((r) => setTimeout(r, 300));
  lab.ok("lvconvert", "-y", "-m", "2", "vio/two");
  const grown = await lab.waitRaid("vio/two", (r) => r.health === "AAA" && inSync(r), 60_000, "the third leg recovered");
  assert.ok(grown.resyncedBytes >= 96 * MiB, `the new leg was copied in full: ${grown.resyncedBytes} bytes\n${lab.log()}`);
  assertFioClean(await load, 2);
  const three = lab.legs("vio/two");
  assert.equal(three.length, 3);
  assert.deepEqual(legDifferences(three, 96 * MiB), []);
  const after = sample("vio", "two");
  assert.deepEqual([after.percent, after.action], ["100.00", "idle"]);
  assert.deepEqual(
    Object.entries(after.attrs).filter(([lv]) => lv.includes("two")),
    [
      ["two", "rwi-a-r---"],
      ["[two_rimage_0]", "iwi-aor---"],
      ["[two_rimage_1]", "iwi-aor---"],
      ["[two_rimage_2]", "iwi-aor---"],
      ["[two_rmeta_0]", "ewi-aor---"],
      ["[two_rmeta_1]", "ewi-aor---"],
      ["[two_rmeta_2]", "ewi-aor---"],
    ],
  );

  const shrinking = verifyLoad("vio/two", 2, 16 * MiB, ["--bssplit=4k/40:64k/40:1m/20", "--rate=16m"], 32 * MiB);
  await new Promise((r) => setTimeout(r, 300));
  lab.ok("lvconvert", "-y", "-m", "1", "vio/two");
  assertFioClean(await shrinking, 2);
  const status = await lab.raid("vio/two");
  assert.deepEqual([status.health, status.syncAction, status.syncBytes], ["AA", "idle", status.size]);
  const two = lab.legs("vio/two");
  assert.equal(two.length, 2);
  assert.deepEqual(legDifferences(two, 96 * MiB), []);
  assert.equal(spawnSync("nbdinfo", ["--size", lab.uri("vio/two")], { encoding: "utf8" }).stdout.trim(), String(96 * MiB));
});

test("reads are spread over the legs (nbdkit under each counts them) and return what was written", async () => {
  const pvs = [lab.flaky("r0.img", "96M", { log: true }), lab.flaky("r1.img", "96M", { log: true })];
  lab.ok("pvcreate", ...pvs.map((p) => p.path));
  lab.ok("vgcreate", "vr", ...pvs.map((p) => p.path));
  lab.ok("lvcreate", "-m1", "-L", "64m", "-n", "r", "vr");
  await lab.waitRaid("vr/r", inSync, 60_000, "initial sync done");
  const legs = lab.legs("vr/r");
  const job = [...fioNbd(lab.uri("vr/r"), ["--rw=randwrite", "--bssplit=4k/40:64k/40:256k/20", "--iodepth=16", "--numjobs=4", "--size=16m", "--offset_increment=16m", "--randseed=42"])];
  assertFioClean(await fio([...job, "--do_verify=0"]), 4);
  // What the writes left in the page cache would be read without asking either leg.
  for (const pv of pvs) pv.dropCache();
  const before = pvs.map((pv) => pv.requests().length);
  const check = await fio([...job, "--do_verify=1", "--verify_only"]);
  assertFioClean(check, 4);
  const readBytes = pvs.map((pv, i) => {
    const image = legs[i]![0]!;
    return pv
      .requests()
      .slice(before[i])
      .filter((r) => r.op === "Read" && r.offset >= image.at && r.offset < image.at + image.length)
      .reduce((n, r) => n + r.count, 0);
  });
  const total = readBytes[0]! + readBytes[1]!;
  assert.ok(total >= 64 * MiB, `the legs served every block once at least: ${readBytes}`);
  for (const [i, n] of readBytes.entries()) assert.ok(n >= total / 4, `leg ${i} served ${n} of ${total} bytes read`);
});
