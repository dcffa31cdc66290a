/**
 * raid1 against linear on the same two PVs (issue 4). fio through NBD on a
 * linear LV and on a 2-leg raid1 LV (made with --nosync, so no resync runs
 * under fio), both served by one ulvm daemon: sequential 1 MiB read and write,
 * random 4 KiB read and write at iodepth 32, the LVs taking turns in each
 * round. Targets: raid1/linear >= 0.90 for writes (every write goes to both
 * legs), >= 1.00 for reads.
 *
 * Resync: the initial sync of a new raid1 LV of --sync-mib (lvcreate -m1
 * without --nosync, no --maxrecoveryrate) against dd copying as many bytes
 * between the same two image files, from where rimage_0 lies to where
 * rimage_1 lies. dd is the peer because it is the plain copy a user would
 * make, in C with 1 MiB blocks: a copy loop written in Node would put the
 * engine's own runtime costs into the baseline (such a loop, 1 MiB reads and
 * writes 4 at a time, uses some 1.4 times dd's CPU per MiB here). The sync is
 * timed on the daemon's status (see resync), dd from its spawn to its exit.
 * Target: resync rate / copy rate (= copy time / resync time) >= 0.90.
 *
 *   node --import tsx bench/raid1.ts [--size-mib 256] [--sync-mib 1024] [--runtime 2] [--rounds 4] [--only "rand write"] [--cpu-prof DIR]
 *
 * The last columns give the CPU each side used per I/O (per MiB for the sync
 * row, where the daemon's includes activating the LV), the daemon's from
 * /proc and dd's from the shell's `times`: that cost moves much less than
 * throughput with what else the machine runs. Then the whole machine's: its
 * busy CPU per I/O (fio, daemon, kernel, anything else), the share of all CPUs
 * busy in the linear and the raid1 runs, and the CPU ceiling, linear's machine
 * CPU per I/O over raid1's: when both runs leave no CPU idle, raid1/linear
 * cannot exceed it, whatever the engine does, since every raid1 write costs
 * the kernel a copy into each leg's page cache.
 * --cpu-prof DIR: the daemon runs under node --cpu-prof and leaves its profile
 * in DIR when the bench stops it. The image files are written in full with
 * random bytes first and stay in the page cache, so the numbers measure ulvm,
 * not the disk. The exit code is 1 when a row misses its target.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { request } from "../src/cli/daemon-client.ts";
import type { Environment } from "../src/cli/context.ts";
import { logFile, nbdSocket } from "../src/daemon/protocol.ts";
import { makeEnv, repoRoot, type TestEnv } from "../test/helpers/env.ts";
import { MiB, WORKLOADS, figure, machineCpuSeconds, markdown, measure, median, nbdFio, option, procCpuSeconds, randomFile, requireTools, stopper, type Workload } from "./fio-nbd.ts";

const VG = "bench";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Lab {
  env: TestEnv;
  control: Environment;
  pvs: [string, string];
  ulvm(...args: string[]): string;
}

function lab(env: TestEnv, pvs: [string, string]): Lab {
  return {
    env,
    control: { systemDir: env.vars.ULVM_SYSTEM_DIR!, runDir: env.vars.ULVM_RUN_DIR!, devDir: env.vars.ULVM_DEV_DIR! },
    pvs,
    ulvm(...args) {
      const r = env.ulvm([...args, "--devices", pvs.join(",")], { env: { ULVM_ACTIVATION: "1" } });
      if (r.code !== 0) throw new Error(`ulvm ${args.join(" ")}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    },
  };
}

/**
 * The bench runs the daemon itself rather than letting lvcreate start one, so
 * that it can run it under the profiler and knows when it has exited.
 */
async function startDaemon(l: Lab, profileDir: string | undefined): Promise<ChildProcess> {
  mkdirSync(l.control.runDir, { recursive: true, mode: 0o700 });
  const log = openSync(logFile(l.control.runDir), "a");
  const profile = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...profile, join(repoRoot, "dist", "ulvm.mjs"), "daemon"], {
    stdio: ["ignore", log, log],
    env: { ...process.env, ...l.env.vars, ULVM_ACTIVATION: "1" },
  });
  closeSync(log);
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    if ((await request(l.control, { op: "status" }).catch(() => undefined))?.ok) return child;
    await sleep(50);
  }
  await stopper(child)();
  // The log goes with the temp dir: its end goes into the error.
  throw new Error(`the ulvm daemon did not come up:\n${readFileSync(logFile(l.control.runDir), "utf8").slice(-2000)}`);
}

/** MiB/s; microseconds of CPU per MiB copied, the copier's and the whole machine's; the share of all CPUs busy. */
interface Run {
  rate: number;
  cpu: number;
  machine: number;
  busy: number;
}

/** What the whole machine did from `before` on, per MiB of `size`. */
function machineRun(before: { busy: number; total: number }, size: number): { machine: number; busy: number } {
  const after = machineCpuSeconds();
  return { machine: ((after.busy - before.busy) * 1e6) / (size / MiB), busy: (after.busy - before.busy) / (after.total - before.total) };
}

/**
 * The initial sync of the new, inactive raid1 LV "sync" of `size`, and the daemon's CPU for it. It is
 * activated on the control socket as lvchange -ay would, timed from that request until the status
 * (polled every few ms) shows the array idle and in sync: no command's start-up is charged to the
 * sync, but activation's own steps before the sync starts are (reading the VG, opening the PVs,
 * assembling the array: some 25 ms here), which --sync-mib keeps small against the sync.
 */
async function resync(l: Lab, daemon: ChildProcess, size: number): Promise<Run> {
  const cpu = procCpuSeconds(daemon.pid!);
  const machine = machineCpuSeconds();
  const start = performance.now();
  const activated = await request(l.control, { op: "activate", vg: VG, lvs: ["sync"], scope: { devices: l.pvs } });
  if (!activated?.ok) throw new Error(`activating ${VG}/sync: ${activated ? activated.error.join(" ") : "no daemon answered"}`);
  for (;;) {
    const reply = await request(l.control, { op: "status" });
    const raid = reply?.ok ? reply.active?.find((s) => s.vg === VG && s.lv === "sync")?.raid : undefined;
    if (!raid) throw new Error(`the daemon reports no raid status for ${VG}/sync`);
    if (raid.syncAction === "idle" && raid.syncBytes === raid.size) {
      const seconds = (performance.now() - start) / 1000;
      // Anything else would copy less than the dd row does.
      if (raid.health !== "AA" || raid.resyncedBytes !== size) throw new Error(`the sync ended with health ${raid.health}, ${raid.resyncedBytes} bytes written`);
      return { rate: size / MiB / seconds, cpu: ((procCpuSeconds(daemon.pid!) - cpu) * 1e6) / (size / MiB), ...machineRun(machine, size) };
    }
    await sleep(2);
  }
}

/** Where an image sub-LV's data starts in its PV's file. */
function imageOffset(l: Lab, image: string): number {
  const pv = (name: string) => l.ulvm("pvs", "--noheadings", "--nosuffix", "--units", "b", "-o", "pv_name,pe_start").split("\n").map((r) => r.trim().split(/\s+/)).find((r) => r[0] === name)!;
  const extent = Number(l.ulvm("vgs", "--noheadings", "--nosuffix", "--units", "b", "-o", "vg_extent_size", VG).trim());
  const m = /^(.*)\((\d+)\)$/.exec(l.ulvm("lvs", "-a", "--noheadings", "-S", `lv_name=${image}`, "-o", "devices", VG).trim());
  if (!m) throw new Error(`no single device for ${image}`);
  return Number(pv(m[1]!)[1]) + Number(m[2]) * extent;
}

/** dd copying `size` bytes between the files and offsets of the sync LV's two images. */
function copy(l: Lab, size: number): Run {
  const args = [
    `if=${l.pvs[0]}`,
    `of=${l.pvs[1]}`,
    "bs=1M",
    `count=${size / MiB}`,
    "iflag=skip_bytes",
    "oflag=seek_bytes",
    `skip=${imageOffset(l, "sync_rimage_0")}`,
    `seek=${imageOffset(l, "sync_rimage_1")}`,
    "conv=notrunc",
    "status=none",
  ];
  const machine = machineCpuSeconds();
  const start = performance.now();
  // The shell's `times` prints its children's user and system CPU on its second line.
  const r = spawnSync("sh", ["-c", 'dd "$@" && times', "sh", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const seconds = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`dd ${args.join(" ")} failed`);
  const cpu = [...r.stdout.split("\n")[1]!.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
  return { rate: size / MiB / seconds, cpu: (cpu * 1e6) / (size / MiB), ...machineRun(machine, size) };
}

/** The resync row, `rounds` times: a new LV is synced, dd copies over the same bytes, the LV goes. */
async function measureResync(l: Lab, daemon: ChildProcess, size: number, rounds: number): Promise<{ sync: Run[]; copy: Run[] }> {
  const out = { sync: [] as Run[], copy: [] as Run[] };
  for (let round = 1; round <= rounds; round++) {
    l.ulvm("lvcreate", "-an", "--type", "raid1", "-m1", "-L", `${size / MiB}m`, "-n", "sync", VG, ...l.pvs);
    // Overwriting pages the page cache holds dirty costs less than dirtying clean ones: an untimed copy
    // first, so that the first sync does not pay for that alone (each side then overwrites the other's).
    if (round === 1) copy(l, size);
    const sync = await resync(l, daemon, size);
    const dd = copy(l, size);
    out.sync.push(sync);
    out.copy.push(dd);
    process.stderr.write(`round ${round}: resync ${sync.rate.toFixed(0)} MiB/s, dd ${dd.rate.toFixed(0)} MiB/s\n`);
    l.ulvm("lvremove", "-f", `${VG}/sync`);
  }
  return out;
}

/** Reads must keep up with linear (raid1 may read either leg); writes may cost a little for going to both legs. */
const goal = (w: Workload) => (w.rw.includes("read") ? 1 : 0.9);

async function main(): Promise<void> {
  requireTools(["fio", "nbdinfo", "dd"]);
  const cfg = { size: option("size-mib", 256) * MiB, runtime: option("runtime", 2), rounds: option("rounds", 4), paired: true };
  const syncSize = option("sync-mib", 1024) * MiB;
  const profileIndex = process.argv.indexOf("--cpu-prof");
  const profileDir = profileIndex > 0 ? process.argv[profileIndex + 1] : undefined;
  const env = makeEnv();
  const pvs: [string, string] = [join(env.dir, "a.img"), join(env.dir, "b.img")];
  const l = lab(env, pvs);
  let daemon: ChildProcess | undefined;
  try {
    // PV A holds the linear LV and one leg of each raid1 LV: room for them, 1 MiB of PV header, two 4 MiB rmeta extents and a spare.
    const imageSize = 2 * cfg.size + syncSize + 16 * MiB;
    for (const pv of pvs) randomFile(pv, imageSize);
    daemon = await startDaemon(l, profileDir);
    l.ulvm("pvcreate", ...pvs);
    l.ulvm("vgcreate", VG, ...pvs);
    l.ulvm("lvcreate", "-L", `${cfg.size / MiB}m`, "-n", "linear", VG, pvs[0]);
    l.ulvm("lvcreate", "--type", "raid1", "-m1", "--nosync", "-L", `${cfg.size / MiB}m`, "-n", "raid1", VG, ...pvs);
    const uri = (lv: string) => `nbd+unix:///${VG}/${lv}?socket=${nbdSocket(l.control.runDir)}`;
    // The images' random bytes are the LVs' contents: nothing reads a hole. Both LVs stay served for the whole bench.
    const pid = daemon.pid!;
    const targets = ["linear", "raid1"].map((lv) => ({ name: lv, start: async () => ({ fio: nbdFio(uri(lv)), stop: async () => {}, cpuSeconds: () => procCpuSeconds(pid) }) }));
    const io = await measure(targets, cfg);
    const synced = await measureResync(l, daemon, syncSize, cfg.rounds);

    let missed = false;
    const row = (name: string, unit: Workload["unit"], linear: number[], raid1: number[], cpu: number[][], target: number) => {
      const ratios = raid1.map((v, i) => v / linear[i]!);
      const ratio = median(ratios);
      const spread = `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`;
      missed ||= ratio < target;
      const verdict = [ratio.toFixed(2), spread, `>= ${target.toFixed(2)}`, ratio >= target ? "pass" : "FAIL"];
      const [, , machineLinear, machineRaid1, busyLinear, busyRaid1] = cpu.map(median) as [number, number, number, number, number, number];
      // Were both runs short of idle CPU, raid1 could do no better than the ratio of the machine's CPU per I/O.
      const ceiling = (machineLinear / machineRaid1).toFixed(2);
      const busy = `${(busyLinear * 100).toFixed(0)}/${(busyRaid1 * 100).toFixed(0)}`;
      return [name, unit, figure(median(linear), unit), figure(median(raid1), unit), ...verdict, ...cpu.slice(0, 4).map((c) => median(c).toFixed(1)), busy, ceiling];
    };
    const rows = WORKLOADS.map((w) => {
      const of = (t: string, suffix = "") => io.get(`${t}/${w.name}${suffix}`)!;
      const cpu = [" cpu", " machine cpu", " machine busy"].flatMap((k) => [of("linear", k), of("raid1", k)]);
      return row(w.name, w.unit, of("linear"), of("raid1"), cpu, goal(w));
    });
    const rates = (runs: Run[]) => runs.map((r) => r.rate);
    const cpus = (field: "cpu" | "machine" | "busy") => [synced.copy, synced.sync].map((runs) => runs.map((r) => r[field]));
    rows.push(row(`initial sync ${syncSize / MiB} MiB (linear: dd)`, "MiB/s", rates(synced.copy), rates(synced.sync), [...cpus("cpu"), ...cpus("machine"), ...cpus("busy")], 0.9));
    console.log(`raid1 (2 legs) vs linear on the same two PV files in the page cache, fio over NBD on ${cfg.size / MiB} MiB LVs, ${cfg.runtime} s per run; medians of ${cfg.rounds} rounds, ratios the median of the rounds' ratios`);
    for (const line of markdown(["workload (iodepth 32)", "unit", "linear", "raid1", "raid1/linear", "min-max", "target", "result", "CPU us/op linear", "raid1", "machine CPU us/op linear", "raid1", "machine busy %", "CPU ceiling"], rows)) console.log(line);
    if (missed) process.exitCode = 1;
  } finally {
    env.ulvm(["vgchange", "-an", VG, "--devices", pvs.join(",")], { env: { ULVM_ACTIVATION: "1" } });
    if (daemon) await stopper(daemon)();
    env.cleanup();
  }
}

await main();
