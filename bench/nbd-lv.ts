/**
 * fio through NBD on a linear LV served by the ulvm daemon (the whole stack:
 * daemon, LV mapping, FileDevice on a PV image file), against nbdkit's file
 * plugin and qemu-nbd serving the LV's bytes of that same image over a unix
 * socket, with fio on them itself (io_uring) as the limit. Workloads:
 * sequential 1 MiB read and write, random 4 KiB read and write, all at iodepth
 * 32. Targets take turns on each workload, in the opposite order every other
 * round, so that drift on a shared machine hits them alike and each finds the
 * file as another target's run of the same workload left it; the table shows
 * medians and ratios.
 *
 *   node --import tsx bench/nbd-lv.ts [--size-mib 256] [--runtime 5] [--rounds 3] [--only "rand write"]
 *
 * Every byte is written before the runs and the image is small enough to stay
 * in the page cache, so the numbers measure the servers, not the disk. Every
 * target works on the same bytes of the same file because what the page cache
 * holds for a file depends on how it was last used: a 4 KiB pwrite into pages
 * that sequential I/O left behind took 15 µs here, into pages that 4 KiB writes
 * left behind 2 µs, which made a server on a file of its own look 2-5x faster.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { makeEnv, type TestEnv } from "../test/helpers/env.ts";
import { MiB, measure, nbdFio, option, randomFile, requireTools, machineTable, startExternal, table } from "./fio-nbd.ts";

/** Where an LV's bytes are, and its NBD URI. */
interface BenchLv {
  uri: string;
  pv: string;
  /** Byte offset of the LV's first extent in the PV image. */
  offset: number;
}

/** A VG on one PV image just big enough for a linear LV of `size`, activated: the daemon serves it. */
function ulvmLv(env: TestEnv, size: number, fill: string): BenchLv {
  // Room for the 1 MiB PV header area and one spare 4 MiB extent.
  const pv = env.image("pv.img", String(size + 8 * MiB));
  const ulvm = (...args: string[]) => {
    const r = env.ulvm([...args, "--devices", pv], { env: { ULVM_ACTIVATION: "1" } });
    if (r.code !== 0) throw new Error(`ulvm ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout.trim();
  };
  ulvm("pvcreate", pv);
  ulvm("vgcreate", "bench", pv);
  ulvm("lvcreate", "-L", `${size / MiB}m`, "-n", "lv", "bench");
  const uri = `nbd+unix:///bench/lv?socket=${join(env.vars.ULVM_RUN_DIR!, "nbd.sock")}`;
  const copy = spawnSync("nbdcopy", [fill, uri], { stdio: "inherit" });
  if (copy.status !== 0) throw new Error("nbdcopy into the LV failed");
  const bytes = (...args: string[]) => Number(ulvm(...args, "--noheadings", "--units", "b", "--nosuffix"));
  const firstPe = Number(/:(\d+)-/.exec(ulvm("lvs", "--noheadings", "-o", "seg_pe_ranges", "bench/lv"))![1]);
  const offset = bytes("pvs", "-o", "pe_start", pv) + firstPe * bytes("vgs", "-o", "vg_extent_size", "bench");
  return { uri, pv, offset };
}

async function main(): Promise<void> {
  requireTools(["fio", "nbdkit", "qemu-nbd", "nbdinfo", "nbdcopy"]);
  const cfg = { size: option("size-mib", 256) * MiB, runtime: option("runtime", 5), rounds: option("rounds", 3), paired: true };
  const env = makeEnv();
  try {
    const fill = join(env.dir, "fill.img");
    randomFile(fill, cfg.size);
    const lv = ulvmLv(env, cfg.size, fill);
    const targets = [
      { name: "file", start: async () => ({ fio: [`--filename=${lv.pv}`, `--offset=${lv.offset}`, "--ioengine=io_uring"], stop: async () => {} }) },
      // The daemon stays up for the whole bench, as it would for an active LV.
      { name: "ulvm", start: async () => ({ fio: nbdFio(lv.uri), stop: async () => {} }) },
      {
        name: "nbdkit",
        start: () =>
          startExternal(
            "nbdkit",
            ["-f", "-U", join(env.dir, "nbdkit.sock"), "--filter=offset", "file", `file=${lv.pv}`, `offset=${lv.offset}`, `range=${cfg.size}`],
            join(env.dir, "nbdkit.sock"),
            "lv",
          ),
      },
      {
        name: "qemu-nbd",
        // -t: stay up across fio's connections; --shared: fio's size probe and its job may overlap.
        start: () =>
          startExternal(
            "qemu-nbd",
            ["-t", "--shared=8", "-x", "lv", "-k", join(env.dir, "qemu.sock"), "--image-opts", `driver=raw,offset=${lv.offset},size=${cfg.size},file.driver=file,file.filename=${lv.pv}`],
            join(env.dir, "qemu.sock"),
            "lv",
          ),
      },
    ];
    const results = await measure(targets, cfg);
    console.log(`fio over a unix socket, linear LV and its ${cfg.size / MiB} MiB in the PV image in the page cache, ${cfg.runtime} s per run, median of ${cfg.rounds}`);
    for (const l of table(results, targets.map((t) => t.name), "ulvm", ["nbdkit", "qemu-nbd", "file"])) console.log(l);
    console.log("");
    for (const l of machineTable(results, targets.map((t) => t.name))) console.log(l);
  } finally {
    env.ulvm(["vgchange", "-an", "bench"], { env: { ULVM_ACTIVATION: "1" } });
    env.cleanup();
  }
}

await main();
