/**
 * fio's nbd engine with verification through the ulvm daemon: random writes of
 * 4 KiB to 1 MiB at iodepth 32 on a linear and a striped LV, each block read
 * back and checked against its crc32c, first on one connection per LV, then on
 * several connections to both LVs at once.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { makeEnv } from "../helpers/env.ts";

const MiB = 1024 * 1024;
const LV_SIZE = 64 * MiB;
const skip = ["fio", "nbdinfo"].some((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0) && "needs fio and nbdinfo";

const env = makeEnv();
const run = env.vars.ULVM_RUN_DIR!;
const [a, b] = [env.image("a.img", "128M"), env.image("b.img", "128M")];
const ulvm = (...args: string[]) => env.ulvm([...args, "--devices", `${a},${b}`], { env: { ULVM_ACTIVATION: "1" } });
const ok = (...args: string[]) => {
  const r = ulvm(...args);
  assert.equal(r.code, 0, `ulvm ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r;
};
const uri = (lv: string) => `nbd+unix:///vg/${lv}?socket=${join(run, "nbd.sock")}`;
const pidFile = join(run, "ulvmd.pid");

after(() => {
  ulvm("vgchange", "-an", "vg");
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
      for (let i = 0; i < 100 && existsSync(pidFile); i++) spawnSync("sleep", ["0.1"]);
    } catch {}
  }
  // A daemon that died leaves its device nodes: their loop devices and nbdfuse mounts are ours to undo.
  for (const lv of ["lin", "str"]) {
    const link = join(env.vars.ULVM_DEV_DIR!, "vg", lv);
    if (spawnSync("test", ["-L", link]).status === 0) spawnSync("losetup", ["-d", readlinkSync(link)]);
    spawnSync("umount", [join(run, "fuse", "vg", lv)]);
  }
  env.cleanup();
});

interface FioJob {
  error: number;
  write: { io_bytes: number };
  read: { io_bytes: number };
}

/**
 * Runs fio asynchronously so that several runs overlap. Each of `jobs` jobs owns
 * its own connection and its own region of the LV, so the verify pass of one
 * never reads blocks another overwrote.
 */
function fioVerify(lv: string, jobs: number, bs: string[]): Promise<{ code: number | null; jobs: FioJob[]; log: string }> {
  const region = LV_SIZE / jobs;
  const args = [
    "--name=verify",
    "--ioengine=nbd",
    `--uri=${uri(lv)}`,
    "--rw=randwrite",
    ...bs,
    "--iodepth=32",
    `--numjobs=${jobs}`,
    `--size=${region}`,
    `--offset_increment=${region}`,
    "--verify=crc32c",
    "--do_verify=1",
    "--verify_fatal=1",
    "--output-format=json",
  ];
  return new Promise((resolve) => {
    const child = execFile("fio", args, { encoding: "utf8", maxBuffer: 64 * MiB, timeout: 120_000 }, (_err, stdout, stderr) => {
      const json = stdout.indexOf("{") >= 0 ? (JSON.parse(stdout.slice(stdout.indexOf("{"))).jobs as FioJob[]) : [];
      resolve({ code: child.exitCode, jobs: json, log: `fio ${args.join(" ")}\n${stderr}${stdout.slice(0, 2000)}` });
    });
  });
}

function assertVerified(r: Awaited<ReturnType<typeof fioVerify>>, jobs: number): void {
  assert.equal(r.code, 0, r.log);
  assert.doesNotMatch(r.log, /verify: bad|crc32c: verify failed|fio: pid=\d+, err=/, r.log);
  assert.equal(r.jobs.length, jobs, r.log);
  for (const job of r.jobs) {
    assert.equal(job.error, 0, r.log);
    assert.equal(job.write.io_bytes, LV_SIZE / jobs, "each job wrote its whole region once");
    assert.equal(job.read.io_bytes, LV_SIZE / jobs, "and read all of it back to verify");
  }
}

const BSSPLIT = ["--bssplit=4k/40:16k/20:64k/15:256k/15:1m/10"];
const BSRANGE = ["--bsrange=4k-1m"];

test("daemon setup: a linear and a striped LV, active and served", { skip }, () => {
  ok("pvcreate", a, b);
  ok("vgcreate", "vg", a, b);
  ok("lvcreate", "-L", `${LV_SIZE / MiB}m`, "-n", "lin", "vg");
  ok("lvcreate", "-i", "2", "-I", "64k", "-L", `${LV_SIZE / MiB}m`, "-n", "str", "vg");
  for (const lv of ["lin", "str"]) assert.equal(spawnSync("nbdinfo", ["--size", uri(lv)], { encoding: "utf8" }).stdout.trim(), String(LV_SIZE));
});

for (const lv of ["lin", "str"]) {
  test(`fio verify on vg/${lv}: randwrite 4k-1m (bssplit), iodepth 32, one connection`, { skip, timeout: 120_000 }, async () => {
    assertVerified(await fioVerify(lv, 1, BSSPLIT), 1);
  });
}

test("fio verify on both LVs at once, four connections each on separate regions (bsrange 4k-1m)", { skip, timeout: 120_000 }, async () => {
  const jobs = 4;
  // A short fio run can end before one lvs has run, so an idle client per LV keeps
  // each open for certain; lvs must count them alongside fio's connections.
  const holders = ["lin", "str"].map((lv) => spawn("qemu-io", ["-f", "raw", uri(lv)], { stdio: ["pipe", "ignore", "ignore"] }));
  try {
    const open = () => ok("lvs", "--noheadings", "-o", "lv_device_open", "vg/lin", "vg/str").stdout.split("\n").filter((l) => l.trim() === "open").length;
    let bothOpen = false;
    for (const deadline = Date.now() + 20_000; !(bothOpen = open() === 2) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    assert.ok(bothOpen, "lvs shows both LVs open while clients are connected");
    const [lin, str] = await Promise.all([fioVerify("lin", jobs, BSRANGE), fioVerify("str", jobs, BSRANGE)]);
    assertVerified(lin, jobs);
    assertVerified(str, jobs);
  } finally {
    for (const h of holders) h.stdin.end();
  }
});
