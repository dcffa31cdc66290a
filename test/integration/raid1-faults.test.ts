/**
 * Faults under a live raid1, made with real tools: a leg whose I/O fails with
 * EIO (nbdkit's error filter behind nbdfuse), a leg whose image is truncated,
 * a leg whose PV label is wiped with dd, each in the middle of an fio write
 * load with verification. The client must see no error and read back what it
 * wrote; lvs must show what lvm2 shows over dm-raid (lvm2-seed-behaviour.md
 * steps 3-6): a PV that cannot be read is missing (`p`, partial, [unknown]),
 * a leg the array failed is 'D' and `r` (refresh needed), a label lost under a
 * live array fails nothing. First the fault injector itself is checked.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { readBytes, MiB } from "../helpers/device-bytes.ts";
import { startFlakyPv } from "../helpers/flaky-pv.ts";
import { assertFioClean, fio, fioNbd, legDifferences, makeRaidLab, readAreas, waitBitmapsClean, type Area } from "../helpers/raid-lab.ts";

const lab = makeRaidLab();
after(() => lab.cleanup());

const LV = 64 * MiB;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function errnoOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
  return undefined;
}

test("flaky PV: reads and writes through its nbdfuse file fail with EIO while injected, and work otherwise", () => {
  const image = lab.env.image("self.img", "8M");
  const pv = startFlakyPv(image);
  try {
    const data = Buffer.alloc(64 * 1024, 0x5a);
    const fd = openSync(pv.path, "r+");
    try {
      writeSync(fd, data, 0, data.length, MiB);
      assert.ok(readBytes(pv.path, MiB, data.length).equals(data), "read back through the file");
      assert.ok(readBytes(image, MiB, data.length).equals(data), "and it reached the image");
      pv.inject(true);
      assert.equal(pv.injecting, true);
      const buf = Buffer.alloc(4096);
      // The bytes just read are no cache's: the kernel must ask nbdkit again and get its error.
      assert.equal(errnoOf(() => readSync(fd, buf, 0, buf.length, MiB)), "EIO", "read while injected");
      assert.equal(errnoOf(() => writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 2 * MiB)), "EIO", "write while injected");
      assert.ok(readBytes(image, 2 * MiB, 4096).equals(Buffer.alloc(4096)), "the failed write changed nothing");
      pv.inject(false);
      assert.equal(readSync(fd, buf, 0, buf.length, MiB), buf.length);
      assert.ok(buf.equals(data.subarray(0, 4096)));
      writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 2 * MiB);
      assert.ok(readBytes(image, 2 * MiB, 4096).equals(Buffer.alloc(4096, 0xa5)), "writes work again");
    } finally {
      closeSync(fd);
    }
  } finally {
    pv.stop();
  }
  assert.equal(existsSync(pv.path), false, "stop unmounts the file");
  const mounts = readFileSync("/proc/self/mountinfo", "utf8");
  assert.equal(mounts.includes(` ${join(lab.env.dir, "flaky-self.img")} `), false, "and no mount is left");
});

function qemuIo(uri: string, cmd: string): string {
  const r = spawnSync("qemu-io", ["-f", "raw", "-c", cmd, uri], { encoding: "utf8" });
  return r.stdout + r.stderr;
}

test("a linear LV on a flaky PV: the NBD client sees EIO while the fault is on, as linear has no other copy", () => {
  const pv = lab.flaky("lin.img", "32M");
  lab.ok("pvcreate", pv.path);
  lab.ok("vgcreate", "vl", pv.path);
  lab.ok("lvcreate", "-L", "16m", "-n", "lin", "vl");
  const uri = lab.uri("vl/lin");
  assert.match(qemuIo(uri, "write -P 0x33 0 1M"), /wrote 1048576\/1048576/);
  pv.inject(true);
  assert.match(qemuIo(uri, "read -P 0x33 0 1M"), /read failed: Input\/output error/);
  assert.match(qemuIo(uri, "write -P 0x44 1M 1M"), /write failed: Input\/output error/);
  pv.inject(false);
  const back = qemuIo(uri, "read -P 0x33 0 1M");
  assert.match(back, /read 1048576\/1048576/);
  assert.doesNotMatch(back, /verification failed/);
  lab.ok("vgchange", "-an", "vl");
});

/** A raid1 LV of two legs on the given PVs, in sync. */
async function syncedRaid1(vg: string, pvs: string[]): Promise<Area[][]> {
  lab.ok("pvcreate", ...pvs);
  lab.ok("vgcreate", vg, ...pvs);
  lab.ok("lvcreate", "-m1", "-L", `${LV / MiB}m`, "-n", "r", vg);
  await lab.waitRaid(`${vg}/r`, (r) => r.syncAction === "idle" && r.health === "AA" && r.syncBytes === r.size, 60_000, "initial sync done");
  return lab.legs(`${vg}/r`);
}

const uuidOf = (pv: string) => lab.ok("pvs", "--noheadings", "-o", "pv_uuid", pv).stdout.trim();

/**
 * Random writes with verification on the LV's first 32 MiB (two jobs, 16 MiB
 * each), slowed so that the fault lands in the write phase, then read back and
 * checked; `fault` runs `at` ms after fio starts.
 */
async function loadWithFault(vg: string, at: number, fault: () => void): Promise<void> {
  const run = fio(
    fioNbd(lab.uri(`${vg}/r`), [
      "--rw=randwrite",
      "--bssplit=4k/30:64k/40:1m/30",
      "--iodepth=16",
      "--numjobs=2",
      "--size=16m",
      "--offset_increment=16m",
      "--rate=12m",
      "--do_verify=1",
    ]),
  );
  await sleep(at);
  fault();
  const r = await run;
  assertFioClean(r, 2);
  for (const job of r.jobs) assert.equal(job.write.io_bytes, 16 * MiB, `every write went through: ${r.log}`);
}

/** The LV read whole over NBD, which also makes the engine read every leg it still trusts. */
function lvBytes(vgLv: string): Buffer {
  const file = join(lab.env.dir, `${vgLv.replace("/", "-")}.read`);
  const r = spawnSync("nbdcopy", [lab.uri(vgLv), file], { encoding: "utf8" });
  assert.equal(r.status, 0, `nbdcopy ${vgLv}: ${r.stderr}\n${lab.log()}`);
  return readFileSync(file);
}

function missingPvWarnings(vg: string, uuid: string, path: string, leg: number): string {
  return (
    `  WARNING: Couldn't find device with uuid ${uuid}.\n` +
    `  WARNING: VG ${vg} is missing PV ${uuid} (last written to ${path}).\n` +
    `  WARNING: Couldn't find all devices for LV ${vg}/r_rimage_${leg} while checking used and assumed devices.\n` +
    `  WARNING: Couldn't find all devices for LV ${vg}/r_rmeta_${leg} while checking used and assumed devices.\n`
  );
}

test("EIO on one leg mid-load: fio sees no error and verifies; lvs shows the PV missing and the LV partial, then the leg failed; --refresh recovers only what was written meanwhile", async () => {
  const a = lab.flaky("ea.img", "80M");
  const b = lab.image("eb.img", "80M");
  const legs = await syncedRaid1("ve", [a.path, b]);
  const uuid = uuidOf(a.path);
  // Bits of the initial sync still set would be recovered too; the bound below is about the writes alone.
  await waitBitmapsClean(lab.metas("ve/r"), 20_000);
  await loadWithFault("ve", 400, () => a.inject(true));
  assert.equal((await lab.raid("ve/r")).health, "DA", "the array failed the leg");
  assert.ok(lvBytes("ve/r").equals(readAreas(legs[1]!, 0, LV)), "the LV reads what the surviving leg holds");

  // While every read of the PV fails lvm cannot find its label: a missing PV, as in step 4.
  const down = lab.lvs("ve");
  assert.equal(down.code, 0);
  assert.deepEqual(down.rows, [
    ["r", "rwi-a-r-p-", "100.00", "partial", "r_rimage_0(0),r_rimage_1(0)"],
    ["[r_rimage_0]", "Iwi-aor-p-", "", "partial", "[unknown](1)"],
    ["[r_rimage_1]", "iwi-aor---", "", "", `${b}(1)`],
    ["[r_rmeta_0]", "ewi-aor-p-", "", "partial", "[unknown](0)"],
    ["[r_rmeta_1]", "ewi-aor---", "", "", `${b}(0)`],
  ]);

  // The PV readable again: lvm finds it, the array still has the leg failed until a refresh.
  a.inject(false);
  const back = lab.lvs("ve");
  assert.deepEqual([back.code, back.stderr], [0, ""]);
  assert.deepEqual(back.rows, [
    ["r", "rwi-a-r-r-", "100.00", "refresh needed", "r_rimage_0(0),r_rimage_1(0)"],
    ["[r_rimage_0]", "Iwi-aor-r-", "", "refresh needed", `${a.path}(1)`],
    ["[r_rimage_1]", "iwi-aor---", "", "", `${b}(1)`],
    ["[r_rmeta_0]", "ewi-aor-r-", "", "refresh needed", `${a.path}(0)`],
    ["[r_rmeta_1]", "ewi-aor---", "", "", `${b}(0)`],
  ]);

  lab.ok("lvchange", "--refresh", "ve/r");
  const synced = await lab.waitRaid("ve/r", (r) => r.health === "AA" && r.syncAction === "idle" && r.syncBytes === r.size, 60_000, "the refreshed leg recovered");
  // Writes went to the first 32 MiB only: the bitmap holds no more than that to recover.
  assert.ok(synced.resyncedBytes > 0 && synced.resyncedBytes <= 32 * MiB, `recovered ${synced.resyncedBytes} bytes\n${lab.log()}`);
  assert.deepEqual(legDifferences(legs, LV), []);
  assert.deepEqual(
    lab.lvs("ve").rows.map((r) => r.slice(0, 4)),
    [
      ["r", "rwi-a-r---", "100.00", ""],
      ["[r_rimage_0]", "iwi-aor---", "", ""],
      ["[r_rimage_1]", "iwi-aor---", "", ""],
      ["[r_rmeta_0]", "ewi-aor---", "", ""],
      ["[r_rmeta_1]", "ewi-aor---", "", ""],
    ],
  );
  assert.equal(down.stderr, missingPvWarnings("ve", uuid, a.path, 0));
});

test("a leg's image truncated under the running daemon: fio sees no error; the leg is failed and its PV missing", async () => {
  const c = lab.image("tc.img", "80M");
  const d = lab.image("td.img", "80M");
  const legs = await syncedRaid1("vt", [c, d]);
  const uuid = uuidOf(d);
  await loadWithFault("vt", 400, () => assert.equal(spawnSync("truncate", ["-s", "0", d]).status, 0));
  assert.ok(lvBytes("vt/r").equals(readAreas(legs[0]!, 0, LV)), "the LV reads what the intact leg holds");
  assert.equal((await lab.raid("vt/r")).health, "AD", "the array failed the truncated leg");
  const r = lab.lvs("vt");
  assert.equal(r.code, 0);
  assert.deepEqual(r.rows, [
    ["r", "rwi-a-r-p-", "100.00", "partial", "r_rimage_0(0),r_rimage_1(0)"],
    ["[r_rimage_0]", "iwi-aor---", "", "", `${c}(1)`],
    ["[r_rimage_1]", "Iwi-aor-p-", "", "partial", "[unknown](1)"],
    ["[r_rmeta_0]", "ewi-aor---", "", "", `${c}(0)`],
    ["[r_rmeta_1]", "ewi-aor-p-", "", "partial", "[unknown](0)"],
  ]);
  assert.equal(r.stderr, missingPvWarnings("vt", uuid, d, 1));
});

test("a leg's PV label wiped with dd under the running daemon: nothing fails, the legs stay identical, lvs shows the PV missing", async () => {
  const e = lab.image("we.img", "80M");
  const f = lab.image("wf.img", "80M");
  const legs = await syncedRaid1("vw", [e, f]);
  const uuid = uuidOf(e);
  await loadWithFault("vw", 400, () => {
    const dd = spawnSync("dd", ["if=/dev/zero", `of=${e}`, "bs=1M", "count=1", "conv=notrunc"], { encoding: "utf8" });
    assert.equal(dd.status, 0, dd.stderr);
  });
  // Step 3: the array keeps the device open and never notices.
  const status = await lab.raid("vw/r");
  assert.deepEqual([status.health, status.syncAction, status.syncBytes], ["AA", "idle", status.size]);
  assert.deepEqual(legDifferences(legs, LV), [], "both legs got every write");
  assert.ok(lvBytes("vw/r").equals(readAreas(legs[0]!, 0, LV)));
  const r = lab.lvs("vw");
  assert.equal(r.code, 0);
  assert.deepEqual(r.rows, [
    ["r", "rwi-a-r-p-", "100.00", "partial", "r_rimage_0(0),r_rimage_1(0)"],
    ["[r_rimage_0]", "iwi-aor-p-", "", "partial", "[unknown](1)"],
    ["[r_rimage_1]", "iwi-aor---", "", "", `${f}(1)`],
    ["[r_rmeta_0]", "ewi-aor-p-", "", "partial", "[unknown](0)"],
    ["[r_rmeta_1]", "ewi-aor---", "", "", `${f}(0)`],
  ]);
  assert.equal(r.stderr, missingPvWarnings("vw", uuid, e, 0));
});
