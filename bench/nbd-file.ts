/**
 * fio through ulvm's NBD server on a file served by FileDevice (no LV mapping,
 * no daemon), against nbdkit's file plugin and qemu-nbd serving the same file
 * over a unix socket, with fio on the file itself (io_uring) as the limit.
 * Workloads: sequential 1 MiB read and write, random 4 KiB read and write, all
 * at iodepth 32. Servers take turns on each workload, in the opposite order
 * every other round, so that drift on a shared machine hits them alike and
 * each finds the file as another server's run of the same workload left it
 * (nbd-lv.ts says why that matters); the table shows medians and ratios.
 *
 *   node --import tsx bench/nbd-file.ts [--size-mib 256] [--runtime 8] [--rounds 3] [--only "rand write"]
 *
 * The file is fully written first and small enough to stay in the page cache, so
 * the numbers measure the servers, not the disk.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openBlockDevice } from "../src/io/file-device.ts";
import { ExportMap, blockDeviceExport } from "../src/nbd/export.ts";
import { NbdServer } from "../src/nbd/server.ts";
import { MiB, measure, nbdFio, option, randomFile, requireTools, machineTable, startExternal, stopper, table, type Running, type Target } from "./fio-nbd.ts";

const EXPORT = "bench";
const thisFile = fileURLToPath(import.meta.url);

/** Child mode: serve FILE on SOCKET until SIGTERM. */
async function serve(file: string, socketPath: string): Promise<void> {
  const registry = new ExportMap();
  registry.add(blockDeviceExport(await openBlockDevice(file, { writable: true }), { name: EXPORT }));
  const server = new NbdServer({ registry, socketPath });
  await server.listen();
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
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

/** Runs this file in `--serve` mode as a child and waits until it is ready. */
async function startServe(file: string, socket: string): Promise<Running> {
  rmSync(socket, { force: true });
  const child = spawn(process.execPath, ["--import", "tsx", thisFile, "--serve", file, socket], { stdio: ["ignore", "pipe", "inherit"] });
  await waitForLine(child, "ready");
  return { fio: nbdFio(`nbd+unix:///${EXPORT}?socket=${socket}`), stop: stopper(child) };
}

function targets(file: string, dir: string): Target[] {
  return [
    { name: "file", start: async () => ({ fio: [`--filename=${file}`, "--ioengine=io_uring"], stop: async () => {} }) },
    { name: "ulvm", start: () => startServe(file, join(dir, "ulvm.sock")) },
    { name: "nbdkit", start: () => startExternal("nbdkit", ["-f", "-U", join(dir, "nbdkit.sock"), "file", `file=${file}`], join(dir, "nbdkit.sock"), EXPORT) },
    {
      name: "qemu-nbd",
      // -t: stay up across fio's connections; --shared: fio's size probe and its job may overlap.
      start: () => startExternal("qemu-nbd", ["-f", "raw", "-t", "--shared=8", "-x", EXPORT, "-k", join(dir, "qemu.sock"), file], join(dir, "qemu.sock"), EXPORT),
    },
  ];
}

async function main(): Promise<void> {
  requireTools(["fio", "nbdkit", "qemu-nbd", "nbdinfo"]);
  const cfg = { size: option("size-mib", 256) * MiB, runtime: option("runtime", 8), rounds: option("rounds", 3), paired: true };
  const dir = mkdtempSync(join(tmpdir(), "ulvm-nbd-bench-"));
  const file = join(dir, "disk.img");
  try {
    randomFile(file, cfg.size);
    const all = targets(file, dir);
    const results = await measure(all, cfg);
    console.log(`fio over a unix socket, ${cfg.size / MiB} MiB file in the page cache, ${cfg.runtime} s per run, median of ${cfg.rounds}`);
    for (const l of table(results, all.map((t) => t.name), "ulvm", ["nbdkit", "qemu-nbd", "file"])) console.log(l);
    console.log("");
    for (const l of machineTable(results, all.map((t) => t.name))) console.log(l);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--serve") await serve(process.argv[3]!, process.argv[4]!);
else await main();
