/**
 * fio through NBD on a linear LV served by the ulvm daemon (the whole stack:
 * daemon, LV mapping, FileDevice on a PV image file), against nbdkit's file
 * plugin and qemu-nbd each serving a plain file of the LV's size over a unix
 * socket, with fio on such a file itself (io_uring) as the limit. Workloads:
 * sequential 1 MiB read and write, random 4 KiB read and write, all at iodepth
 * 32. Targets take turns in each round so that drift on a shared machine hits
 * them alike; the table shows medians and ratios.
 *
 *   node --import tsx bench/nbd-lv.ts [--size-mib 256] [--runtime 5] [--rounds 3]
 *
 * Every byte is written before the runs and the files are small enough to stay
 * in the page cache, so the numbers measure the servers, not the disk.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { closeSync, existsSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeEnv, type TestEnv } from "../test/helpers/env.ts";

const MiB = 2 ** 20;

export interface Workload {
  name: string;
  rw: string;
  bs: string;
  /** What the table reports. */
  unit: "MiB/s" | "kIOPS";
}

export const WORKLOADS: Workload[] = [
  { name: "seq read 1M", rw: "read", bs: "1m", unit: "MiB/s" },
  { name: "seq write 1M", rw: "write", bs: "1m", unit: "MiB/s" },
  { name: "rand read 4K", rw: "randread", bs: "4k", unit: "kIOPS" },
  { name: "rand write 4K", rw: "randwrite", bs: "4k", unit: "kIOPS" },
];

/** A running target: fio's I/O arguments for it, and how to stop it. */
export interface Running {
  fio: string[];
  stop(): Promise<void>;
}

export function nbdFio(uri: string): string[] {
  return ["--ioengine=nbd", `--uri=${uri}`];
}

/** nbdkit and qemu-nbd print nothing when ready: poll until an NBD client gets the size. */
async function waitForNbd(uri: string, socket: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (existsSync(socket) && spawnSync("nbdinfo", ["--size", uri]).status === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no NBD server came up on ${socket}`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
}

/** Starts an external NBD server serving `export` on `socket` and waits until it answers. */
export async function startExternal(cmd: string, args: string[], socket: string, exportName: string): Promise<Running> {
  // nbdkit leaves its socket behind, and the next round would find the address in use.
  rmSync(socket, { force: true });
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
  const uri = `nbd+unix:///${exportName}?socket=${socket}`;
  await waitForNbd(uri, socket);
  return { fio: nbdFio(uri), stop: stopper(child) };
}

/** One fio run; returns MiB/s or kIOPS as the workload reports. */
export function fio(io: string[], w: Workload, size: number, runtime: number): Promise<number> {
  const args = [
    "--name=bench",
    ...io,
    `--rw=${w.rw}`,
    `--bs=${w.bs}`,
    "--iodepth=32",
    "--numjobs=1",
    `--size=${size}`,
    "--time_based",
    `--runtime=${runtime}`,
    "--ramp_time=1",
    "--output-format=json",
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("fio", args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`fio ${args.join(" ")} exited with ${code}`));
      const job = JSON.parse(out.slice(out.indexOf("{"))).jobs[0];
      const side = w.rw.includes("read") ? job.read : job.write;
      resolve(w.unit === "MiB/s" ? side.bw_bytes / MiB : side.iops / 1000);
    });
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Runs every workload on every target, `rounds` times with targets taking turns; key "target/workload". */
export async function measure(
  targets: { name: string; start(): Promise<Running> }[],
  cfg: { size: number; runtime: number; rounds: number },
): Promise<Map<string, number[]>> {
  const results = new Map<string, number[]>();
  for (let round = 1; round <= cfg.rounds; round++) {
    for (const target of targets) {
      const running = await target.start();
      try {
        for (const w of WORKLOADS) {
          const v = await fio(running.fio, w, cfg.size, cfg.runtime);
          const key = `${target.name}/${w.name}`;
          results.set(key, [...(results.get(key) ?? []), v]);
          process.stderr.write(`round ${round}: ${key} ${v.toFixed(1)} ${w.unit}\n`);
        }
      } finally {
        await running.stop();
      }
    }
  }
  return results;
}

/** Markdown table of medians per target and the ratios of `subject` to each of `others`. */
export function table(results: Map<string, number[]>, targets: string[], subject: string, others: string[]): string[] {
  const m = (t: string, w: Workload) => median(results.get(`${t}/${w.name}`)!);
  const head = ["workload (iodepth 32)", "unit", ...targets, ...others.map((o) => `${subject}/${o}`)];
  const rows = WORKLOADS.map((w) => [
    w.name,
    w.unit,
    ...targets.map((t) => m(t, w).toFixed(w.unit === "MiB/s" ? 0 : 1)),
    ...others.map((o) => (m(subject, w) / m(o, w)).toFixed(2)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => "| " + r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |";
  return [line(head), "|" + widths.map((w, i) => (i < 2 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|", ...rows.map(line)];
}

/** Real data everywhere: no server may answer reads from holes. */
function randomFile(path: string, size: number): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.allocUnsafe(8 * MiB);
  for (let at = 0; at < size; at += chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, size - at), at);
  closeSync(fd);
}

/** A VG on one PV image just big enough for a linear LV of `size`, activated: the daemon serves it. */
function ulvmLv(env: TestEnv, size: number, fill: string): string {
  // Room for the 1 MiB PV header area and one spare 4 MiB extent.
  const pv = env.image("pv.img", String(size + 8 * MiB));
  const ulvm = (...args: string[]) => {
    const r = env.ulvm([...args, "--devices", pv], { env: { ULVM_ACTIVATION: "1" } });
    if (r.code !== 0) throw new Error(`ulvm ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  };
  ulvm("pvcreate", pv);
  ulvm("vgcreate", "bench", pv);
  ulvm("lvcreate", "-L", `${size / MiB}m`, "-n", "lv", "bench");
  const uri = `nbd+unix:///bench/lv?socket=${join(env.vars.ULVM_RUN_DIR!, "nbd.sock")}`;
  const copy = spawnSync("nbdcopy", [fill, uri], { stdio: "inherit" });
  if (copy.status !== 0) throw new Error("nbdcopy into the LV failed");
  return uri;
}

async function main(): Promise<void> {
  const missing = ["fio", "nbdkit", "qemu-nbd", "nbdinfo", "nbdcopy"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length) throw new Error(`bench needs: ${missing.join(", ")}`);
  const cfg = { size: option("size-mib", 256) * MiB, runtime: option("runtime", 5), rounds: option("rounds", 3) };
  const env = makeEnv();
  try {
    const file = join(env.dir, "disk.img");
    randomFile(file, cfg.size);
    const lvUri = ulvmLv(env, cfg.size, file);
    const targets = [
      { name: "file", start: async () => ({ fio: [`--filename=${file}`, "--ioengine=io_uring"], stop: async () => {} }) },
      // The daemon stays up for the whole bench, as it would for an active LV.
      { name: "ulvm", start: async () => ({ fio: nbdFio(lvUri), stop: async () => {} }) },
      { name: "nbdkit", start: () => startExternal("nbdkit", ["-f", "-U", join(env.dir, "nbdkit.sock"), "file", `file=${file}`], join(env.dir, "nbdkit.sock"), "lv") },
      {
        name: "qemu-nbd",
        // -t: stay up across fio's connections; --shared: fio's size probe and its job may overlap.
        start: () => startExternal("qemu-nbd", ["-f", "raw", "-t", "--shared=8", "-x", "lv", "-k", join(env.dir, "qemu.sock"), file], join(env.dir, "qemu.sock"), "lv"),
      },
    ];
    const results = await measure(targets, cfg);
    console.log(`fio over a unix socket, linear LV vs ${cfg.size / MiB} MiB file in the page cache, ${cfg.runtime} s per run, median of ${cfg.rounds}`);
    for (const l of table(results, targets.map((t) => t.name), "ulvm", ["nbdkit", "qemu-nbd", "file"])) console.log(l);
  } finally {
    env.ulvm(["vgchange", "-an", "bench"], { env: { ULVM_ACTIVATION: "1" } });
    env.cleanup();
  }
}

// The helpers above are exported for the other NBD benches; running this file runs the bench.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
