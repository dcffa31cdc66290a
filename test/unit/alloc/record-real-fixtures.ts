/**
 * Records what real lvm2 does for the allocation scenarios below, as
 * test/fixtures/real/alloc-<scenario>.txt (metadata before and after each
 * command, its output and `lvs`), which alloc-real.test.ts replays against ulvm.
 *
 * Needs root, real lvm2 and free loop devices:
 *   node --import tsx test/unit/alloc/record-real-fixtures.ts
 * It attaches its own loop devices over image files in a temp dir, points lvm2
 * at them only (activation off) and detaches exactly those when done.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCENARIOS, type Scenario } from "./real-scenarios.ts";

const fixturesDir = join(import.meta.dirname, "..", "..", "fixtures", "real");
const VG = "avg";

function run(dir: string, loops: string[], args: string[]): { rc: number; out: string; err: string } {
  const r = spawnSync("lvm", args, {
    encoding: "utf8",
    env: { ...process.env, LVM_SYSTEM_DIR: join(dir, "etc"), LVM_SUPPRESS_FD_WARNINGS: "1" },
  });
  const clean = (s: string) =>
    s
      .split("\n")
      .filter((l) => !/metadata update is NOT backed up/.test(l))
      .filter((l) => l && !/Activation disabled|not zeroed|device-mapper|\/dev\/mapper\/control|Failure to communicate|Check that device-mapper|Incompatible libdevmapper|Failed to check for active/.test(l))
      .map((l) => loops.reduce((t, dev, i) => t.split(dev).join(`{pv${i}}`), l))
      .join("\n");
  return { rc: r.status ?? -1, out: clean(r.stdout), err: clean(r.stderr) };
}

function expand(args: string[], loops: string[]): string[] {
  return args.map((a) => a.replace(/\{pv(\d)\}/g, (_, i) => loops[Number(i)]!).replace(/\{vg\}/g, VG));
}

function rawBackup(dir: string, loops: string[]): string {
  const file = join(dir, "backup.vg");
  const r = run(dir, loops, ["vgcfgbackup", "-f", file, VG]);
  if (r.rc) throw new Error(`vgcfgbackup: ${r.err}`);
  return readFileSync(file, "utf8");
}

function backup(dir: string, loops: string[]): string {
  // Device hints and times differ from run to run; PVs are matched by pvN key.
  return rawBackup(dir, loops)
    .split("\n")
    .filter((l) => !/^(# Generated|description|creation_host|creation_time)/.test(l))
    .map((l) => loops.reduce((t, dev, i) => t.split(`"${dev}"`).join(`"{pv${i}}"`), l))
    .join("\n");
}

function record(scenario: Scenario): string {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-alloc-rec-"));
  const loops: string[] = [];
  try {
    mkdirSync(join(dir, "etc"));
    scenario.pvSizesMiB.forEach((mib, i) => {
      const img = join(dir, `pv${i}.img`);
      execFileSync("truncate", ["-s", `${mib}M`, img]);
      loops.push(execFileSync("losetup", ["-f", "--show", img], { encoding: "utf8" }).trim());
    });
    const accept = loops.map((l) => `"a|^${l}$|"`).join(", ");
    writeFileSync(
      join(dir, "etc", "lvm.conf"),
      `global { activation = 0 locking_dir = "${dir}/lock" }\n` +
        `devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 filter = [ ${accept}, "r|.*|" ] global_filter = [ ${accept}, "r|.*|" ] }\n` +
        `activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }\n` +
        `backup { backup = 1 backup_dir = "${dir}/backup" archive = 0 }\n`,
    );
    const must = (args: string[]) => {
      const r = run(dir, loops, expand(args, loops));
      if (r.rc) throw new Error(`${args.join(" ")}: ${r.err}`);
    };
    must(["vgcreate", "-s", scenario.extentSize, VG, ...loops.map((_, i) => `{pv${i}}`)]);
    for (const args of scenario.setup) must(args);
    if (scenario.raid) {
      const file = join(dir, "raid.vg");
      writeFileSync(file, scenario.raid(rawBackup(dir, loops)));
      must(["vgcfgrestore", "-f", file, VG]);
    }

    let text =
      `# Real lvm2 2.03.16 on loop devices: ${scenario.title}\n` +
      `# Recorded by test/unit/alloc/record-real-fixtures.ts; replayed by alloc-real.test.ts.\n` +
      `# Each step starts from the metadata after the last successful one (or the setup).\n` +
      `### setup:\n${backup(dir, loops)}\n`;
    for (const step of scenario.steps) {
      const r = run(dir, loops, expand(step.cmd, loops));
      const lvs = run(dir, loops, ["lvs", "-a", "-o", "lv_name,seg_pe_ranges,devices", VG]).out;
      text +=
        `### step: ${step.cmd.join(" ")}\n### op: ${JSON.stringify(step.op)}\n### rc: ${r.rc}\n` +
        `### stdout:\n${r.out}\n### stderr:\n${r.err}\n### lvs:\n${lvs}\n` +
        (r.rc === 0 ? `### after:\n${backup(dir, loops)}\n` : "");
    }
    return text;
  } finally {
    run(dir, loops, ["vgremove", "-ff", VG]);
    for (const dev of loops) spawnSync("losetup", ["-d", dev]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const only = process.argv.slice(2);
for (const scenario of SCENARIOS) {
  if (only.length && !only.includes(scenario.name)) continue;
  writeFileSync(join(fixturesDir, `alloc-${scenario.name}.txt`), record(scenario));
  console.log(`alloc-${scenario.name}.txt`);
}
