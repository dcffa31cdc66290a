/**
 * lvs and vgs on a VG with 1,000 LVs over 4 PVs: ulvm against the real lvm2 on
 * the same loop devices, median wall time of several runs each, printed as
 * ratios (ulvm / lvm2; below 1 means ulvm is faster). The VG is made by real
 * pvcreate/vgcreate and a vgcfgrestore of generated metadata, so both tools
 * read metadata that lvm2 itself wrote.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeEnv, lvmNoise } from "../test/helpers/env.ts";
import { idMaker, linearSegment, lvSection, VISIBLE, withLvSections } from "../test/helpers/lv-text.ts";

const LVS = 1000;
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

const env = makeEnv();
try {
  const devs = ["a", "b", "c", "d"].map((n) => env.loop(env.image(`${n}.img`, "1G")));
  const must = (r: { code: number; stderr: string }, what: string) => {
    if (r.code !== 0) throw new Error(`${what}: ${lvmNoise(r.stderr)}`);
  };
  must(env.lvm(["pvcreate", ...devs], devs), "pvcreate");
  must(env.lvm(["vgcreate", "-s", "1m", "vgbench", ...devs], devs), "vgcreate");
  const file = join(env.dir, "bench.vg");
  must(env.lvm(["vgcfgbackup", "-f", file, "vgbench"], devs), "vgcfgbackup");

  const id = idMaker("bench");
  let lvText = "";
  for (let i = 0; i < LVS; i++) lvText += lvSection(`lv${i}`, id(), VISIBLE, linearSegment(2, `pv${i % 4}`, Math.floor(i / 4) * 2), { time: 1796071451, host: "bench" });
  writeFileSync(file, withLvSections(readFileSync(file, "utf8"), lvText));
  must(env.lvm(["vgcfgrestore", "-f", file, "vgbench"], devs), "vgcfgrestore");
  must(env.ulvm(["lvmdevices", "--adddev", devs[0]!]), "lvmdevices");
  for (const d of devs.slice(1)) must(env.ulvm(["lvmdevices", "--adddev", d]), "lvmdevices");

  const time = (run: () => { code: number; stderr: string; stdout: string }) => {
    const samples: number[] = [];
    let out = "";
    for (let i = 0; i < RUNS; i++) {
      const t0 = process.hrtime.bigint();
      const r = run();
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.code !== 0) throw new Error(lvmNoise(r.stderr));
      out = r.stdout;
    }
    samples.sort((a, b) => a - b);
    return { median: samples[Math.floor(samples.length / 2)]!, lines: out.split("\n").length - 1 };
  };

  console.log(`bench: ${LVS} LVs over 4 PVs, median of ${RUNS} runs`);
  console.log("command       ulvm ms   lvm2 ms   ulvm/lvm2   rows");
  for (const cmd of [["lvs"], ["vgs"], ["lvs", "-a", "-o", "+devices"], ["pvs"]]) {
    const ours = time(() => env.ulvm(cmd));
    const theirs = time(() => env.lvm(cmd, devs));
    if (ours.lines !== theirs.lines) throw new Error(`${cmd.join(" ")}: ulvm printed ${ours.lines} lines, lvm2 ${theirs.lines}`);
    console.log(
      `${cmd.join(" ").padEnd(12)} ${ours.median.toFixed(1).padStart(8)} ${theirs.median.toFixed(1).padStart(9)} ${(ours.median / theirs.median).toFixed(2).padStart(11)} ${String(ours.lines).padStart(6)}`,
    );
  }
} finally {
  env.cleanup();
}
