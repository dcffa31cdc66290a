/**
 * raid1 between ulvm and the real kernel, both ways, through the kernel oracle
 * (Linux 6.1 dm-raid and real lvm2 2.03.16 under qemu; scripts/kernel-oracle.sh
 * builds it when missing). One oracle boot per case, 32 MiB LVs:
 *   A. a raid1 ulvm made and synced, written through NBD and stopped cleanly, is
 *      activated by real lvm2 with no resync, equal legs and the data written;
 *   B. a raid1 real lvm2 and dm-raid made, synced, wrote and stopped cleanly is
 *      activated by ulvm with no resync, serves what the kernel wrote, and stays
 *      readable by the real lvm2 on the host.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeEnv, lvmNoise } from "../helpers/env.ts";
import { runOracle } from "../oracle/images.ts";
import { request } from "../../src/cli/daemon-client.ts";
import { nbdSocket, pidFile, type RaidStatus } from "../../src/daemon/protocol.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const LV_MIB = 32;
const LV_BYTES = LV_MIB << 20;
const LV_SECTORS = LV_BYTES / 512;
// Generous for TCG on a loaded 2-core host; a run takes ~15-20 s.
const ORACLE_TIMEOUT = "300";

const teardowns: (() => Promise<void>)[] = [];
after(async () => {
  for (const teardown of teardowns) await teardown();
});

/** A lab whose ulvm commands activate for real, on two blank image files given as --devices. */
function lab() {
  const env = makeEnv();
  const images = [env.image("a.img", "64M"), env.image("b.img", "64M")];
  const daemonEnv = { systemDir: env.vars.ULVM_SYSTEM_DIR!, runDir: env.vars.ULVM_RUN_DIR!, devDir: env.vars.ULVM_DEV_DIR! };
  const ok = (...args: string[]) => {
    const r = env.ulvm([...args, "--devices", images.join(",")], { env: { ULVM_ACTIVATION: "1" } });
    assert.equal(r.code, 0, `ulvm ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const syncState = (vglv: string) => ok("lvs", "--noheadings", "-o", "copy_percent,raid_sync_action", vglv).trim().split(/\s+/);
  const raidStatus = async (vg: string, lv: string): Promise<RaidStatus | undefined> => {
    const reply = await request(daemonEnv, { op: "status" });
    assert.ok(reply?.ok, `daemon status: ${JSON.stringify(reply)}`);
    return reply.active?.find((s) => s.vg === vg && s.lv === lv)?.raid;
  };
  const uri = (vglv: string) => `nbd+unix:///${vglv}?socket=${nbdSocket(daemonEnv.runDir)}`;
  const stopDaemon = async () => {
    await request(daemonEnv, { op: "shutdown" });
    for (let i = 0; i < 100 && existsSync(pidFile(daemonEnv.runDir)); i++) await sleep(100);
    assert.equal(existsSync(pidFile(daemonEnv.runDir)), false, "the daemon stopped");
  };
  // After a failure midway a daemon may still run: env.cleanup's SIGTERM does not wait for it to take
  // down its device nodes (nbdfuse mount, loop device) before the files go; a shutdown request does.
  teardowns.push(async () => {
    if (existsSync(pidFile(daemonEnv.runDir))) await stopDaemon();
    env.cleanup();
  });
  return { env, images, ok, syncState, raidStatus, uri, stopDaemon };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("hex");

/** The guest scripts' "RESULT key value" lines: every value of each key, in order. */
function results(output: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of output.matchAll(/^RESULT (\S+) ?(.*)$/gm)) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  return out;
}

/** The guest script's results, and a way to add its transcript to an assertion's message. */
function oracle(script: string, images: string[], vars: string): { r: Map<string, string[]>; says: (what: string) => string } {
  const { output } = runOracle(join(HERE, script), images, { ORACLE_ENV: vars, ORACLE_TIMEOUT });
  return { r: results(output), says: (what) => `${what}\n--- ${script} transcript ---\n${output}` };
}

/** dm-raid's status line of a 2-leg raid1 of LV_SECTORS that is in sync and idle. */
const IN_SYNC_STATUS = new RegExp(`^0 ${LV_SECTORS} raid raid1 2 AA ${LV_SECTORS}/${LV_SECTORS} idle 0 `);
// What md logs when it starts copying between legs (see test/fixtures/kernel/README.md).
const RESYNC_KMSG = /not clean|reconstruction|resync|recovery|out of date/;

test("A: a raid1 ulvm made, synced, wrote and stopped cleanly activates in the kernel with no resync and the data written", async () => {
  const { env, images, ok, syncState, uri, stopDaemon } = lab();
  ok("pvcreate", ...images);
  ok("vgcreate", "vgu", ...images);
  ok("lvcreate", "-m1", "-L", `${LV_MIB}m`, "-n", "r1", "vgu");
  let state = syncState("vgu/r1");
  for (const deadline = Date.now() + 120_000; state.join(" ") !== "100.00 idle" && Date.now() < deadline; state = syncState("vgu/r1")) await sleep(100);
  assert.deepEqual(state, ["100.00", "idle"], "ulvm's initial sync finished");
  const data = randomBytes(LV_BYTES);
  const src = join(env.dir, "data");
  writeFileSync(src, data);
  execFileSync("nbdcopy", [src, uri("vgu/r1")]);
  ok("lvchange", "-an", "vgu/r1");
  await stopDaemon();

  const { r, says } = oracle("lvm2-activates-raid1.guest.sh", images, "VG=vgu LV=r1");
  assert.match(r.get("first_status")?.[0] ?? "", IN_SYNC_STATUS, says("in sync as soon as it is active"));
  assert.match(r.get("later_status")?.[0] ?? "", IN_SYNC_STATUS, says("and no sync action started after"));
  const kmsg = r.get("kmsg") ?? [];
  assert.ok(kmsg.some((l) => l.includes("md/raid1:mdX: active with 2 out of 2 mirrors")), says("md assembled both legs"));
  assert.deepEqual(kmsg.filter((l) => RESYNC_KMSG.test(l)), [], says("md started no resync or recovery"));
  // The superblocks' event counts only: a resync would write the whole LV to a leg.
  assert.ok(Number(r.get("activation_written_kib")?.[0]) < 64, says(`activation wrote ${r.get("activation_written_kib")} KiB`));
  assert.deepEqual(r.get("legs_cmp"), ["equal"], says("the legs are equal"));
  assert.deepEqual(r.get("lv_md5"), [md5(data)], says("the LV holds the data written"));
});

test("B: a raid1 real lvm2 and dm-raid made, synced, wrote and stopped cleanly activates in ulvm with no resync and the kernel's data", async () => {
  const { env, images, ok, syncState, raidStatus, uri, stopDaemon } = lab();
  const { r, says } = oracle("lvm2-makes-raid1.guest.sh", images, `VG=vgk LV=r1 SIZE=${LV_MIB}M`);
  assert.match(r.get("synced_status")?.[0] ?? "", IN_SYNC_STATUS, says("the kernel's initial sync finished before the data was written"));
  const [kernelMd5] = r.get("lv_md5") ?? [];
  assert.match(kernelMd5 ?? "", /^[0-9a-f]{32}$/, says("the guest printed the LV's md5"));
  assert.deepEqual(r.get("legs_md5"), [`${kernelMd5} ${kernelMd5}`], says("the kernel left equal legs"));

  ok("vgchange", "-ay", "vgk");
  const inSync: RaidStatus = { health: "AA", syncBytes: LV_BYTES, size: LV_BYTES, syncAction: "idle", mismatchCount: 0, resyncedBytes: 0 };
  assert.deepEqual(await raidStatus("vgk", "r1"), inSync, "in sync as soon as it is active");
  assert.deepEqual(syncState("vgk/r1"), ["100.00", "idle"]);
  const back = join(env.dir, "back");
  execFileSync("nbdcopy", [uri("vgk/r1"), back]);
  assert.equal(md5(readFileSync(back)), kernelMd5, "ulvm serves what the kernel wrote");
  assert.deepEqual(await raidStatus("vgk", "r1"), inSync, "and copied nothing between the legs meanwhile");
  ok("lvchange", "-an", "vgk/r1");
  await stopDaemon();

  const loops = images.map((i) => env.loop(i));
  const vgs = env.lvm(["vgs", "--noheadings", "-o", "vg_name,pv_count,lv_count"], loops);
  assert.equal(lvmNoise(vgs.stderr), "");
  assert.deepEqual(vgs.stdout.trim().split(/\s+/), ["vgk", "2", "1"]);
  const lvs = env.lvm(["lvs", "-a", "--noheadings", "-o", "lv_name,segtype"], loops);
  assert.deepEqual(
    lvs.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/)),
    [["r1", "raid1"], ["[r1_rimage_0]", "linear"], ["[r1_rimage_1]", "linear"], ["[r1_rmeta_0]", "linear"], ["[r1_rmeta_1]", "linear"]],
  );
});
