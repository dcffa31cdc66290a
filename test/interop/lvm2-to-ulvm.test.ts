/**
 * VGs made and changed by the real lvm2 load in ulvm with nothing lost: the same
 * report text, and real lvm2 still reads them after ulvm changed them.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeEnv, lvmNoise, type RunResult } from "../helpers/env.ts";
import { maskActivation } from "../helpers/report-compare.ts";
import { idMaker, raid1Sections, withLvSections } from "../helpers/lv-text.ts";

const env = makeEnv();
after(() => env.cleanup());
const devs = ["a", "b", "c"].map((n) => env.loop(env.image(`${n}.img`, "128M")));
const devArg = ["--devices", devs.join(",")];

function check(r: RunResult, what: string) {
  assert.equal(r.code, 0, `${what}: ${r.stdout}${lvmNoise(r.stderr)}`);
  return r;
}
const real = (args: string[]) => check(env.lvm(args, devs), `lvm ${args.join(" ")}`);
const ulvm = (args: string[]) => check(env.ulvm([...args, ...devArg]), `ulvm ${args.join(" ")}`);

function assertSameReports(step: string) {
  for (const report of [["pvs"], ["vgs"], ["lvs", "-a", "-o", "+devices"], ["lvs", "-a", "-o", "name,attr,segtype,devices,region_size,seg_pe_ranges"]]) {
    assert.equal(maskActivation(ulvm(report).stdout), maskActivation(real(report).stdout), `${step}: ${report.join(" ")}`);
  }
}

/** Adds a raid1 LV to the real VG through vgcfgrestore, the only way real lvm2 makes one here. */
function addRaid1ByRestore(vg: string) {
  const file = join(env.dir, "restore.vg");
  real(["vgcfgbackup", "-f", file, vg]);
  const raid = raid1Sections("mirror", 4, [{ pv: "pv1", pe: 20 }, { pv: "pv2", pe: 0 }], idMaker("raid"), { time: 1796071451, host: "vm" });
  writeFileSync(file, withLvSections(readFileSync(file, "utf8"), raid));
  real(["vgcfgrestore", "-f", file, vg]);
}

test("VGs made by real lvm2 load in ulvm with the same reports, and survive a ulvm change", () => {
  real(["pvcreate", ...devs]);
  real(["vgcreate", "vgr", ...devs]);
  real(["lvcreate", "-an", "-Zn", "-L", "40m", "-n", "lin", "vgr"]);
  real(["lvcreate", "-an", "-Zn", "-L", "16m", "-i2", "-n", "str", "vgr"]);
  real(["lvrename", "vgr", "lin", "lin2"]);
  real(["lvextend", "-L", "+8m", "vgr/lin2", devs[1]!]);
  addRaid1ByRestore("vgr");
  assertSameReports("made by lvm2");

  ulvm(["lvcreate", "-L", "12m", "-n", "fromulvm", "vgr"]);
  ulvm(["lvextend", "-L", "+4m", "vgr/str"]);
  const ck = real(["vgck", "vgr"]);
  assert.equal(lvmNoise(ck.stderr), "");
  assertSameReports("changed by ulvm");
  assert.match(real(["lvs", "vgr/fromulvm"]).stdout, /fromulvm/);
});
