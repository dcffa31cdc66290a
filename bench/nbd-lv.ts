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
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { makeEnv, type TestEnv } from "../test/helpers/env.ts";
import { MiB, measure, nbdFio, option, randomFile, requireTools, startExternal, table } from "./fio-nbd.ts";

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
  requireTools(["fio", "nbdkit", "qemu-nbd", "nbdinfo", "nbdcopy"]);
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

await main();
