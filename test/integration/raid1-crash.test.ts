/**
 * kill -9 of the daemon under write load, 20 times at random moments, on a
 * 128 MiB raid1. Each round: fio writes with crc32c verify headers to one
 * 8 MiB area while a second fio keeps random data in flight on another; at a
 * random moment fio's verify trigger saves which writes completed, a flush
 * makes them durable, and the daemon is killed. The bitmaps are then read off
 * the rmetas; the daemon is started again the way commands start it
 * (vgchange -ay, the LV coming back from its state file); the resync must
 * copy only regions the bitmaps marked, which all lie in the two areas; then
 * fio verifies every write acknowledged before the flush and the legs must be
 * byte-identical. Writes still in flight at the kill are not checked: they
 * may or may not have landed, but they must land on both legs or neither.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MiB } from "../helpers/device-bytes.ts";
import { alive } from "../helpers/flaky-pv.ts";
import { assertFioClean, dirtyRegions, fio, legDifferences, makeRaidLab, waitBitmapsClean, type Area } from "../helpers/raid-lab.ts";

const lab = makeRaidLab();
after(() => lab.cleanup());

const LV = 128 * MiB;
const REGION = 2 * MiB;
const KILLS = 20;
/** fio's verified writes go here, the unverified in-flight load there; nothing else is written. */
const VERIFIED = { offset: 32 * MiB, size: 8 * MiB };
const NOISE = { offset: 96 * MiB, size: 8 * MiB };
const regionsOf = (area: { offset: number; size: number }) =>
  Array.from({ length: area.size / REGION }, (_, i) => area.offset / REGION + i);
const WRITTEN_REGIONS = new Set([...regionsOf(VERIFIED), ...regionsOf(NOISE)]);

let legs: Area[][] = [];
let metas: Area[][] = [];

test("setup: a 128 MiB raid1, in sync, its bitmaps clean", async () => {
  const pvs = [lab.image("c0.img", "160M"), lab.image("c1.img", "160M")];
  lab.ok("pvcreate", ...pvs);
  lab.ok("vgcreate", "vc", ...pvs);
  lab.ok("lvcreate", "-m1", "-L", `${LV / MiB}m`, "-n", "r", "vc");
  await lab.waitRaid("vc/r", (r) => r.syncAction === "idle" && r.syncBytes === r.size, 60_000, "initial sync done");
  legs = lab.legs("vc/r");
  metas = lab.metas("vc/r");
  // Bits left by the initial sync would be resynced after the first kill, all over the LV.
  await waitBitmapsClean(metas, 20_000);
});

/** The verified writer: the same job writes, and later verifies what its state file says completed. */
function verifiedJob(round: number, dir: string): string[] {
  return [
    "--name=v",
    "--ioengine=nbd",
    `--uri=${lab.uri("vc/r")}`,
    "--rw=randwrite",
    "--bssplit=4k/40:64k/40:256k/20",
    // fio's verify state tells exactly which writes completed only with one in flight (the other writer
    // keeps many in flight); its verify pass, with one read at a time, then stops right after the last.
    "--iodepth=1",
    `--offset=${VERIFIED.offset}`,
    `--size=${VERIFIED.size}`,
    // Slow enough that the trigger always lands in the write phase.
    "--rate=6m",
    `--randseed=${round}`,
    "--verify=crc32c",
    "--verify_fatal=1",
    `--aux-path=${dir}`,
  ];
}

test(`kill -9 under fio load ${KILLS} times: the resync covers only bitmap regions, acknowledged writes survive, the legs end identical`, { timeout: 240_000 }, async (t) => {
  let dirtySeen = 0;
  let resyncedTotal = 0;
  let diverged = 0;
  for (let round = 1; round <= KILLS; round++) {
    const dir = join(lab.env.dir, `round${round}`);
    mkdirSync(dir);
    const pid = lab.daemonPid();
    const trigger = join(dir, "trigger");
    const flushed = join(dir, "flush.rc");
    // fio saves its write state (the completed writes) before it runs this: the flush makes all of them
    // durable, then the daemon dies with the other writer's requests in flight.
    const onTrigger = `qemu-io -f raw -c flush '${lab.uri("vc/r")}' >'${dir}/flush.log' 2>&1; echo $? >'${flushed}'; kill -9 ${pid}`;
    const noise = fio([
      "--name=n",
      "--ioengine=nbd",
      `--uri=${lab.uri("vc/r")}`,
      "--rw=randwrite",
      "--bs=64k",
      "--iodepth=32",
      "--refill_buffers",
      `--offset=${NOISE.offset}`,
      `--size=${NOISE.size}`,
      "--time_based",
      "--runtime=60",
      "--verify_state_save=0",
    ]);
    const writer = fio([...verifiedJob(round, dir), "--do_verify=0", "--verify_state_save=1", `--trigger-file=${trigger}`, `--trigger=${onTrigger}`]);
    // Both writers connected, then a random moment of their load.
    for (const deadline = Date.now() + 10_000; ((await lab.status("vc/r"))?.openCount ?? 0) < 2 && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 20));
    const at = 150 + Math.floor(Math.random() * 600);
    setTimeout(() => writeFileSync(trigger, ""), at);
    const [w] = await Promise.all([writer, noise]);
    assert.ok(existsSync(flushed), `round ${round}: fio ran its trigger ${at} ms into the load\n${w.log}`);
    assert.equal(readFileSync(flushed, "utf8").trim(), "0", `round ${round}: the flush before the kill (${at} ms): ${readFileSync(join(dir, "flush.log"), "utf8")}\n${w.log}`);
    assert.ok(existsSync(join(dir, "local-v-0-verify.state")), `round ${round}: fio saved its write state\n${w.log}`);
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(pid), false, `round ${round}: the daemon was killed`);

    const dirty = dirtyRegions(metas);
    const stray = [...dirty].filter((r) => !WRITTEN_REGIONS.has(r));
    assert.deepEqual(stray, [], `round ${round}: only regions written to are marked in the bitmaps`);
    dirtySeen += dirty.size;
    if (legDifferences(legs, LV, 1).length) diverged++;

    lab.ok("vgchange", "-ay", "vc");
    assert.notEqual(lab.daemonPid(), pid);
    const status = await lab.waitRaid("vc/r", (r) => r.syncAction === "idle" && r.syncBytes === r.size && r.health === "AA", 30_000, `round ${round}: resync done`);
    assert.ok(
      status.resyncedBytes <= dirty.size * REGION,
      `round ${round}: resynced ${status.resyncedBytes} bytes, the bitmaps marked ${dirty.size} regions of ${REGION}\n${lab.log()}`,
    );
    resyncedTotal += status.resyncedBytes;

    const check = await fio([...verifiedJob(round, dir), "--do_verify=1", "--verify_only", "--verify_state_load=1", "--verify_state_save=0"]);
    assertFioClean(check, 1);
    const wrote = w.jobs[0]?.write.io_bytes ?? 0;
    assert.ok(wrote > 0, `round ${round}: fio wrote before the kill, ${at} ms into the load\n${w.log}\n${lab.log()}`);
    // The one write in flight when fio saved its state may have completed after; every other one is checked.
    const verified = check.jobs[0]!.read.io_bytes;
    assert.ok(verified <= wrote && verified >= wrote - 256 * 1024, `round ${round}: fio verified ${verified} of the ${wrote} bytes written before the kill\n${check.log}`);
    assert.deepEqual(legDifferences(legs, LV), [], `round ${round}: legs identical after the resync`);
  }
  t.diagnostic(`${KILLS} kills: ${diverged} left the legs differing, ${dirtySeen} regions marked in all, ${resyncedTotal} bytes resynced in all`);
  // The checks above bound the resync; these show the bitmap and the resync were at work at all.
  assert.ok(dirtySeen > 0, "some kill found regions marked in the bitmaps");
  assert.ok(resyncedTotal > 0, "and some restart resynced them");
});
