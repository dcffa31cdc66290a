/**
 * What the NBD benches (nbd-file.ts, nbd-lv.ts, raid1.ts) share: the fio workloads and
 * runner, starting and stopping NBD servers, the round loop in which targets
 * take turns, and the table of medians and ratios.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";

export const MiB = 2 ** 20;

export interface Workload {
  name: string;
  rw: string;
  bs: string;
  /** What the table reports. */
  unit: "MiB/s" | "kIOPS";
}

const ALL_WORKLOADS: Workload[] = [
  { name: "seq read 1M", rw: "read", bs: "1m", unit: "MiB/s" },
  { name: "seq write 1M", rw: "write", bs: "1m", unit: "MiB/s" },
  { name: "rand read 4K", rw: "randread", bs: "4k", unit: "kIOPS" },
  { name: "rand write 4K", rw: "randwrite", bs: "4k", unit: "kIOPS" },
];

/** The workloads to run: all, or with `--only "rand write"` those whose names contain it (for quick A/B runs). */
export const WORKLOADS: Workload[] = (() => {
  const i = process.argv.indexOf("--only");
  if (i < 0) return ALL_WORKLOADS;
  const picked = ALL_WORKLOADS.filter((w) => w.name.includes(process.argv[i + 1] ?? ""));
  if (picked.length === 0) throw new Error(`--only ${process.argv[i + 1]}: no such workload (${ALL_WORKLOADS.map((w) => w.name).join(", ")})`);
  return picked;
})();

/** A running target: fio's I/O arguments for it, and how to stop it. */
export interface Running {
  fio: string[];
  stop(): Promise<void>;
  /** CPU seconds (user + system) the server has used so far, when the bench can tell: measure then records its cost per I/O. */
  cpuSeconds?(): number;
}

/** A bench target: starts its server (if any) for one round. */
export interface Target {
  name: string;
  start(): Promise<Running>;
}

export function nbdFio(uri: string): string[] {
  return ["--ioengine=nbd", `--uri=${uri}`];
}

/** Throws unless every tool is on the PATH. */
export function requireTools(tools: string[]): void {
  const missing = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length) throw new Error(`bench needs: ${missing.join(", ")}`);
}

/** nbdkit and qemu-nbd print nothing when ready: poll until an NBD client gets the size. */
async function waitForNbd(uri: string, socket: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (existsSync(socket) && spawnSync("nbdinfo", ["--size", uri]).status === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no NBD server came up on ${socket}`);
}

/** Stops a server child with SIGTERM and waits until it has exited. */
export function stopper(child: ChildProcess): () => Promise<void> {
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

const RAMP_SECONDS = 1;

/** One fio run: MiB/s or kIOPS as the workload reports, and the I/Os done after the ramp. */
export function fio(io: string[], w: Workload, size: number, runtime: number): Promise<{ value: number; ios: number }> {
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
    `--ramp_time=${RAMP_SECONDS}`,
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
      resolve({ value: w.unit === "MiB/s" ? side.bw_bytes / MiB : side.iops / 1000, ios: side.total_ios });
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

let clockTicks: number | undefined;

/** A process's CPU seconds (user + system) so far, from /proc. */
export function procCpuSeconds(pid: number): number {
  clockTicks ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim());
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** CPU time of the whole machine so far, in seconds: busy (all but idle and iowait) and in all, summed over CPUs. */
export function machineCpuSeconds(): { busy: number; total: number } {
  clockTicks ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim());
  const ticks = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: (total - ticks[3]! - ticks[4]!) / clockTicks, total: total / clockTicks };
}

/** Real data everywhere: no server may answer reads from holes. */
export function randomFile(path: string, size: number): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.allocUnsafe(8 * MiB);
  for (let at = 0; at < size; at += chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, size - at), at);
  closeSync(fd);
}

/**
 * Runs every workload on every target, `rounds` times; key "target/workload", values in round order,
 * and for a target that tells its CPU, key "target/workload cpu": microseconds of its CPU per I/O
 * (the ramp's CPU spread over the I/Os the ramp did at the measured rate); for every target, key
 * "target/workload machine cpu": the whole machine's busy CPU per I/O (fio, server, kernel), and
 * "target/workload machine busy": the share of all CPUs busy during the run (1 = none idle).
 * Every run starts with no dirty page cache (sync): a run does not pay for the writeback of an earlier one.
 * Targets take turns each round, or with `paired` on each workload, first one then the other first
 * from round to round: runs that are compared are then seconds apart and neither always goes first,
 * so per-round ratios hold up on a busy machine.
 */
export async function measure(targets: Target[], cfg: { size: number; runtime: number; rounds: number; paired?: boolean }): Promise<Map<string, number[]>> {
  // Writeback of one run's dirty pages would otherwise land in the next run, whichever target that is.
  const settle = () => spawnSync("sync");
  const results = new Map<string, number[]>();
  const record = (key: string, v: number) => results.set(key, [...(results.get(key) ?? []), v]);
  const run = async (round: number, target: Target, workloads: Workload[]) => {
    const running = await target.start();
    try {
      for (const w of workloads) {
        settle();
        const cpuBefore = running.cpuSeconds?.();
        const machineBefore = machineCpuSeconds();
        const { value, ios } = await fio(running.fio, w, cfg.size, cfg.runtime);
        const machine = machineCpuSeconds();
        const key = `${target.name}/${w.name}`;
        record(key, value);
        const allIos = (ios * (cfg.runtime + RAMP_SECONDS)) / cfg.runtime;
        if (cpuBefore !== undefined) record(`${key} cpu`, ((running.cpuSeconds!() - cpuBefore) * 1e6) / allIos);
        // fio counts I/Os; its MiB/s rows are in 1 MiB blocks, so per I/O is per MiB there.
        record(`${key} machine cpu`, ((machine.busy - machineBefore.busy) * 1e6) / allIos);
        record(`${key} machine busy`, (machine.busy - machineBefore.busy) / (machine.total - machineBefore.total));
        process.stderr.write(`round ${round}: ${key} ${value.toFixed(1)} ${w.unit}\n`);
      }
    } finally {
      await running.stop();
    }
  };
  for (let round = 1; round <= cfg.rounds; round++) {
    if (!cfg.paired) for (const target of targets) await run(round, target, WORKLOADS);
    else for (const w of WORKLOADS) for (const target of round % 2 ? targets : [...targets].reverse()) await run(round, target, [w]);
  }
  return results;
}

/** A median as the table prints it: whole MiB/s, kIOPS to one decimal. */
export function figure(value: number, unit: Workload["unit"]): string {
  return value.toFixed(unit === "MiB/s" ? 0 : 1);
}

/** Markdown table lines; the first `left` columns are text (left-aligned), the rest numbers (right-aligned). */
export function markdown(head: string[], rows: string[][], left = 2): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => "| " + r.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |";
  return [line(head), "|" + widths.map((w, i) => (i < left ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|", ...rows.map(line)];
}

/** Markdown table of medians per target and the ratios of `subject` to each of `others`. */
export function table(results: Map<string, number[]>, targets: string[], subject: string, others: string[]): string[] {
  const m = (t: string, w: Workload) => median(results.get(`${t}/${w.name}`)!);
  const head = ["workload (iodepth 32)", "unit", ...targets, ...others.map((o) => `${subject}/${o}`)];
  const rows = WORKLOADS.map((w) => [w.name, w.unit, ...targets.map((t) => figure(m(t, w), w.unit)), ...others.map((o) => (m(subject, w) / m(o, w)).toFixed(2))]);
  return markdown(head, rows);
}

/**
 * Markdown table of what each run cost the whole machine: busy CPU per I/O (fio, server, kernel) and the
 * share of all CPUs busy. Where a server reaches fewer IOPS with CPU left idle, one of its threads is the limit.
 */
export function machineTable(results: Map<string, number[]>, targets: string[]): string[] {
  const m = (t: string, w: Workload, k: string) => median(results.get(`${t}/${w.name} ${k}`)!);
  const head = ["machine CPU per I/O, busy", "unit", ...targets];
  const rows = WORKLOADS.map((w) => [w.name, w.unit === "MiB/s" ? "us/MiB" : "us/IO", ...targets.map((t) => `${m(t, w, "machine cpu").toFixed(1)}, ${(m(t, w, "machine busy") * 100).toFixed(0)}%`)]);
  return markdown(head, rows);
}
