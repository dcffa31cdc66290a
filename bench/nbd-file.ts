/**
 * fio through ulvm's NBD server on a file-backed export, against nbdkit's file
 * plugin and qemu-nbd serving the same file over a unix socket, with fio on the
 * file itself (io_uring) as the limit. Workloads: sequential 1 MiB read and
 * write, random 4 KiB read and write, all at iodepth 32. Servers take turns in
 * each round so that drift on a shared machine hits them alike; the table shows
 * medians and ratios.
 *
 *   node --import tsx bench/nbd-file.ts [--size-mib 256] [--runtime 8] [--rounds 3]
 *
 * The file is fully written first and small enough to stay in the page cache, so
 * the numbers measure the servers, not the disk.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { closeSync, existsSync, fdatasync, fstatSync, mkdtempSync, openSync, read, rmSync, write, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openBlockDevice } from "../src/io/file-device.ts";
import { ExportMap, blockDeviceExport, type NbdExport } from "../src/nbd/export.ts";
import { NbdServer } from "../src/nbd/server.ts";

const EXPORT = "bench";
const thisFile = fileURLToPath(import.meta.url);

/**
 * The file served through Node's callback fs API, the cheapest way Node offers:
 * the server's own cost shows without that of any storage layer.
 */
function fdExport(file: string): NbdExport {
  const fd = openSync(file, "r+");
  const settle = (length: number, resolve: () => void, reject: (e: Error) => void) => (err: Error | null, n: number) =>
    err ? reject(err) : n === length ? resolve() : reject(new Error("short I/O"));
  const io = (op: "read" | "write", buf: Uint8Array, offset: number) =>
    new Promise<void>((resolve, reject) => {
      if (op === "read") read(fd, buf, 0, buf.length, offset, settle(buf.length, resolve, reject));
      else write(fd, buf, 0, buf.length, offset, settle(buf.length, resolve, reject));
    });
  const flush = () => new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  return {
    name: EXPORT,
    size: fstatSync(fd).size,
    readOnly: false,
    canMultiConn: true,
    read: (buf, offset) => io("read", buf, offset),
    write: async (buf, offset, fua) => {
      await io("write", buf, offset);
      if (fua) await flush();
    },
    flush,
  };
}

/** Child mode: serve FILE on SOCKET until SIGTERM, through fdExport or ulvm's FileDevice. */
async function serve(file: string, socketPath: string, backend: string): Promise<void> {
  const registry = new ExportMap();
  const dev = backend === "filedevice" ? await openBlockDevice(file, { writable: true }) : undefined;
  registry.add(dev ? blockDeviceExport(dev, { name: EXPORT }) : fdExport(file));
  const server = new NbdServer({ registry, socketPath });
  await server.listen();
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
}

interface Workload {
  name: string;
  rw: string;
  bs: string;
  /** What the table reports. */
  unit: "MiB/s" | "kIOPS";
}

const WORKLOADS: Workload[] = [
  { name: "seq read 1M", rw: "read", bs: "1m", unit: "MiB/s" },
  { name: "seq write 1M", rw: "write", bs: "1m", unit: "MiB/s" },
  { name: "rand read 4K", rw: "randread", bs: "4k", unit: "kIOPS" },
  { name: "rand write 4K", rw: "randwrite", bs: "4k", unit: "kIOPS" },
];

interface Target {
  name: string;
  /** Starts the server (if any); returns fio's I/O arguments and a stop function. */
  start(file: string, dir: string): Promise<{ fio: string[]; stop(): Promise<void> }>;
}

function nbdArgs(socket: string): string[] {
  return ["--ioengine=nbd", `--uri=nbd+unix:///${EXPORT}?socket=${socket}`];
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes(line)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before "${line}"`)));
  });
}

/** nbdkit and qemu-nbd print nothing when ready: poll until an NBD client gets the size. */
async function waitForNbd(socket: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (existsSync(socket) && spawnSync("nbdinfo", ["--size", `nbd+unix:///${EXPORT}?socket=${socket}`]).status === 0) return;
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

async function startServer(cmd: string, args: string[], socket: string) {
  // nbdkit leaves its socket behind, and the next round would find the address in use.
  rmSync(socket, { force: true });
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  if (cmd === process.execPath) await waitForLine(child, "ready");
  else await waitForNbd(socket);
  return { fio: nbdArgs(socket), stop: stopper(child) };
}

const TARGETS: Target[] = [
  {
    name: "file",
    start: async (file) => ({ fio: [`--filename=${file}`, "--ioengine=io_uring"], stop: async () => {} }),
  },
  {
    name: "ulvm",
    start: (file, dir) => {
      const socket = join(dir, "ulvm.sock");
      return startServer(process.execPath, ["--import", "tsx", thisFile, "--serve", file, socket, "fd"], socket);
    },
  },
  {
    name: "ulvm+FileDevice",
    start: (file, dir) => {
      const socket = join(dir, "ulvm-fd.sock");
      return startServer(process.execPath, ["--import", "tsx", thisFile, "--serve", file, socket, "filedevice"], socket);
    },
  },
  {
    name: "nbdkit",
    start: (file, dir) => {
      const socket = join(dir, "nbdkit.sock");
      return startServer("nbdkit", ["-f", "-U", socket, "file", `file=${file}`], socket);
    },
  },
  {
    name: "qemu-nbd",
    start: (file, dir) => {
      const socket = join(dir, "qemu.sock");
      // -t: stay up across fio's connections; --shared: fio's size probe and its job may overlap.
      return startServer("qemu-nbd", ["-f", "raw", "-t", "--shared=8", "-x", EXPORT, "-k", socket, file], socket);
    },
  },
];

function fio(io: string[], w: Workload, size: number, runtime: number): Promise<number> {
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
      resolve(w.unit === "MiB/s" ? side.bw_bytes / 2 ** 20 : side.iops / 1000);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const missing = ["fio", "nbdkit", "qemu-nbd", "nbdinfo"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length) throw new Error(`bench needs: ${missing.join(", ")}`);
  const size = option("size-mib", 256) * 2 ** 20;
  const runtime = option("runtime", 8);
  const rounds = option("rounds", 3);
  const dir = mkdtempSync(join(tmpdir(), "ulvm-nbd-bench-"));
  const file = join(dir, "disk.img");
  try {
    // Real data everywhere: no server may answer reads from holes.
    const fd = openSync(file, "w");
    const chunk = Buffer.allocUnsafe(8 * 2 ** 20);
    for (let at = 0; at < size; at += chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, size - at), at);
    closeSync(fd);

    const results = new Map<string, number[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const target of TARGETS) {
        const running = await target.start(file, dir);
        try {
          for (const w of WORKLOADS) {
            const v = await fio(running.fio, w, size, runtime);
            const key = `${target.name}/${w.name}`;
            results.set(key, [...(results.get(key) ?? []), v]);
            process.stderr.write(`round ${round}: ${key} ${v.toFixed(1)} ${w.unit}\n`);
          }
        } finally {
          await running.stop();
        }
      }
    }
    report(results, { size, runtime, rounds });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(results: Map<string, number[]>, cfg: { size: number; runtime: number; rounds: number }): void {
  const m = (t: string, w: Workload) => median(results.get(`${t}/${w.name}`)!);
  const head = ["workload (iodepth 32)", "unit", ...TARGETS.map((t) => t.name), "ulvm/nbdkit", "ulvm/qemu-nbd", "ulvm/file"];
  const rows = WORKLOADS.map((w) => [
    w.name,
    w.unit,
    ...TARGETS.map((t) => m(t.name, w).toFixed(w.unit === "MiB/s" ? 0 : 1)),
    ...["nbdkit", "qemu-nbd", "file"].map((o) => (m("ulvm", w) / m(o, w)).toFixed(2)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => "| " + r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |";
  console.log(`fio over a unix socket, ${cfg.size / 2 ** 20} MiB file in the page cache, ${cfg.runtime} s per run, median of ${cfg.rounds}`);
  console.log(line(head));
  console.log("|" + widths.map((w, i) => (i < 2 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|");
  for (const r of rows) console.log(line(r));
}

if (process.argv[2] === "--serve") await serve(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
