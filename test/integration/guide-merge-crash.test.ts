/**
 * What issue 5 promises beyond lvm2 for the guide's split, merge and repair,
 * on the transcript's setting (two 256 MiB disks, a 64 MiB raid1, 2 MiB
 * regions), with data written and read through NBD:
 *  - a merge copies exactly the regions written on either side while the
 *    image was split (lvm2 and dm-raid copy only the origin's), and the legs
 *    end identical, holding the origin's data;
 *  - kill -9 of the daemon while the repair recovers the new leg, and while a
 *    merge copies: after a restart by an activating command the operation
 *    finishes, the legs end identical and fio verifies what it wrote before.
 * The syncs are slowed with --maxrecoveryrate so that the kill lands in the
 * middle; the status read from the daemon says when it is there.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import type { RaidStatus } from "../../src/daemon/protocol.ts";
import { assertFioClean, fio, fioNbd, legDifferences } from "../helpers/raid-lab.ts";
import { LV, LV_SIZE, REGION, VG, VG_LV, makeGuideLab } from "../helpers/guide-lab.ts";

const g = makeGuideLab();
after(() => g.cleanup());
const { lab } = g;
const IMAGE = `${VG_LV}_rimage_1`;
const inSync = (r: RaidStatus) => r.syncAction === "idle" && r.health === "AA" && r.syncBytes === r.size;

function ulvmOk(...args: string[]): void {
  const r = g.ulvm(args);
  assert.equal(r.code, 0, `ulvm ${args.join(" ")}: ${r.stdout}${r.stderr}\n${lab.log()}`);
}

/** Writes `byte` over [offset, offset + length) of an active LV through NBD, and records it in `into` when given. */
function write(vgLv: string, offset: number, length: number, byte: number, into?: Buffer): void {
  const r = spawnSync("qemu-io", ["-f", "raw", "-c", `write -P ${byte} ${offset} ${length}`, "-c", "flush", lab.uri(vgLv)], { encoding: "utf8" });
  assert.match(r.stdout, new RegExp(`wrote ${length}/${length}`), `${vgLv} ${offset}+${length}: ${r.stdout}${r.stderr}`);
  into?.fill(byte, offset, offset + length);
}

function lvBytes(vgLv: string): Buffer {
  const file = join(lab.env.dir, "lv.read");
  const r = spawnSync("nbdcopy", [lab.uri(vgLv), file], { encoding: "utf8" });
  assert.equal(r.status, 0, `nbdcopy ${vgLv}: ${r.stderr}`);
  return readFileSync(file);
}

/** fio's verified pattern on one area: written once, verified later by the same job. */
const area = (offset: number, size: number) => (phase: "write" | "verify") =>
  fio(fioNbd(lab.uri(VG_LV), ["--rw=write", "--bs=64k", `--offset=${offset}`, `--size=${size}`, phase === "write" ? "--do_verify=0" : "--verify_only"]));

/** Waits until the running sync has copied something but not all, then kills the daemon with SIGKILL. */
async function killMidway(what: string): Promise<RaidStatus> {
  const pid = lab.daemonPid();
  const mid = await lab.waitRaid(VG_LV, (r) => r.syncAction === "recover" && r.resyncedBytes > 0 && r.syncBytes < r.size, 20_000, `${what} running`);
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100 && spawnSync("kill", ["-0", String(pid)]).status === 0; i++) await new Promise((r) => setTimeout(r, 50));
  return mid;
}

/** The restart as any activating command makes it: the daemon takes the LV back from its state file. */
async function restart(what: string): Promise<RaidStatus> {
  const pid = lab.daemonPid();
  ulvmOk("vgchange", "-ay", VG);
  assert.notEqual(lab.daemonPid(), pid, "a new daemon");
  return lab.waitRaid(VG_LV, inSync, 60_000, `${what} finished after the restart`);
}

test("setup: the guide's raid1 on vda and vdb, in sync", async () => {
  ulvmOk("pvcreate", g.vda, g.vdb);
  ulvmOk("vgcreate", VG, g.vda, g.vdb);
  ulvmOk("lvcreate", "-L", "64M", "-n", LV, "-m1", VG, g.vda, g.vdb);
  await lab.waitRaid(VG_LV, inSync, 60_000, "initial sync");
});

test("the merge copies exactly the union of the regions written on the origin and on the split image", async () => {
  const expected = Buffer.alloc(LV_SIZE);
  write(VG_LV, 0, LV_SIZE, 0x11, expected);
  ulvmOk("lvconvert", "-y", "--splitmirrors", "1", "--trackchanges", VG_LV);
  const origin: [number, number][] = [
    [1 * REGION + 4096, 65536],
    [3 * REGION, 1 << 20],
    [5 * REGION - 4096, 8192], // across the boundary of regions 4 and 5
    [10 * REGION, REGION],
    [31 * REGION + REGION - 512, 512],
  ];
  const image: [number, number][] = [
    [3 * REGION + (512 << 10), 4096], // region 3 again
    [7 * REGION, 4096],
    [10 * REGION + 512, 512], // region 10 again
    [12 * REGION + REGION - 512, 512],
  ];
  for (const [offset, length] of origin) write(VG_LV, offset, length, 0xaa, expected);
  for (const [offset, length] of image) write(IMAGE, offset, length, 0xbb);
  const regions = (writes: [number, number][]) => writes.flatMap(([offset, length]) => {
    const out: number[] = [];
    for (let r = Math.floor(offset / REGION); r * REGION < offset + length; r++) out.push(r);
    return out;
  });
  const union = new Set([...regions(origin), ...regions(image)]);
  assert.deepEqual([...union].sort((a, b) => a - b), [1, 3, 4, 5, 7, 10, 12, 31]);

  ulvmOk("lvconvert", "--merge", IMAGE);
  const merged = await lab.waitRaid(VG_LV, inSync, 60_000, "merge");
  assert.equal(merged.resyncedBytes, union.size * REGION, `copied ${merged.resyncedBytes / REGION} regions for ${union.size}\n${lab.log()}`);
  assert.deepEqual(legDifferences(lab.legs(VG_LV), LV_SIZE), [], "the legs are identical");
  assert.ok(lvBytes(VG_LV).equals(expected), "the LV holds the origin's data: what was written on the image is gone");
  g.assertLvm2Reads("merge");
});

const before = area(0, 16 << 20);
const during = area(16 << 20, 48 << 20);

test("kill -9 while the repair recovers the new leg: after a restart it finishes, the legs are identical, fio verifies", async () => {
  assertFioClean(await before("write"), 1);
  const dd = spawnSync("dd", ["if=/dev/zero", `of=${g.vda}`, "bs=1M", "count=1", "conv=notrunc"], { encoding: "utf8" });
  assert.equal(dd.status, 0, dd.stderr);
  ulvmOk("vgreduce", "--removemissing", "--mirrorsonly", "--force", VG);
  ulvmOk("pvcreate", g.vda);
  ulvmOk("vgextend", VG, g.vda);
  // 64 MiB at 16 MiB/s: a few seconds of recovery to land in.
  ulvmOk("lvchange", "--maxrecoveryrate", "16M", VG_LV);
  ulvmOk("lvconvert", "-y", "--repair", VG_LV);
  const mid = await killMidway("the repair's recovery");
  const done = await restart("the repair");
  // A replaced leg is rebuilt whole (dm-raid's "rebuild"): what the restart copies and what was copied before the kill cover it.
  assert.ok(mid.resyncedBytes + done.resyncedBytes >= LV_SIZE, `recovered ${mid.resyncedBytes} + ${done.resyncedBytes} bytes of ${LV_SIZE}`);
  assert.deepEqual(legDifferences(lab.legs(VG_LV), LV_SIZE), [], `the legs are identical (killed at ${mid.syncBytes} of ${mid.size} bytes)`);
  assertFioClean(await before("verify"), 1);
  g.assertLvm2Reads("repair after a kill");
});

test("kill -9 while a merge copies: after a restart it finishes, the legs are identical, fio verifies", async () => {
  ulvmOk("lvconvert", "-y", "--splitmirrors", "1", "--trackchanges", VG_LV);
  assertFioClean(await during("write"), 1);
  ulvmOk("lvconvert", "--merge", IMAGE);
  const mid = await killMidway("the merge");
  await restart("the merge");
  assert.deepEqual(legDifferences(lab.legs(VG_LV), LV_SIZE), [], `the legs are identical (killed after ${mid.resyncedBytes} bytes copied)`);
  assertFioClean(await before("verify"), 1);
  assertFioClean(await during("verify"), 1);
  const attrs = lab.lvs(VG).rows.map(([name, attr]) => `${name} ${attr}`);
  assert.ok(attrs.includes(`[${LV}_rimage_1] iwi-aor---`), `the image is merged and in sync: ${attrs.join(", ")}`);
  g.assertLvm2Reads("merge after a kill");
});
