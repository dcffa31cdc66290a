/**
 * VGs made and changed by ulvm are read by the real lvm2 exactly as ulvm reads
 * them: after every step real vgck passes and real pvs/vgs/lvs print the same
 * text as ulvm, apart from what depends on activation (see maskActivation).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { makeEnv, lvmNoise } from "../helpers/env.ts";
import { maskActivation } from "../helpers/report-compare.ts";

const REPORTS: string[][] = [
  ["pvs"],
  ["vgs"],
  ["lvs", "-a", "-o", "+devices"],
  ["lvs", "-a", "-o", "name,attr,segtype,devices,region_size,seg_pe_ranges"],
];

const env = makeEnv();
after(() => env.cleanup());
const devs = ["a", "b", "c", "d"].map((n) => env.loop(env.image(`${n}.img`, "128M")));

function ok(args: string[]) {
  const r = env.ulvm(args, { input: "" });
  assert.equal(r.code, 0, `ulvm ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return r;
}

function assertSameAsLvm2(step: string, vg: string) {
  const ck = env.lvm(["vgck", vg], devs);
  assert.equal(ck.code, 0, `${step}: real vgck failed:\n${ck.stdout}${lvmNoise(ck.stderr)}`);
  assert.equal(lvmNoise(ck.stderr), "", `${step}: real vgck warned`);
  for (const report of REPORTS) {
    const real = env.lvm(report, devs);
    assert.equal(real.code, 0, `${step}: real ${report.join(" ")}: ${lvmNoise(real.stderr)}`);
    const ours = env.ulvm(report);
    assert.equal(ours.code, 0, `${step}: ulvm ${report.join(" ")}: ${ours.stderr}`);
    assert.equal(maskActivation(ours.stdout), maskActivation(real.stdout), `${step}: ${report.join(" ")} differs`);
  }
}

test("ulvm-made VGs are read identically by real lvm2 through create and change", () => {
  ok(["pvcreate", ...devs]);
  ok(["vgcreate", "vg1", devs[0]!, devs[1]!, devs[2]!]);
  assertSameAsLvm2("vgcreate", "vg1");

  ok(["lvcreate", "-L", "40m", "-n", "lin", "vg1"]);
  ok(["lvcreate", "-L", "16m", "-i2", "-n", "str", "vg1"]);
  ok(["lvcreate", "-L", "16m", "-m1", "-n", "r2", "vg1"]);
  ok(["lvcreate", "-L", "8m", "-m2", "-n", "r3", "vg1"]);
  assertSameAsLvm2("lvcreate linear, striped, raid1 x2, raid1 x3", "vg1");

  ok(["lvextend", "-L", "+20m", "vg1/lin", devs[2]!]);
  ok(["lvextend", "-L", "+8m", "vg1/r2"]);
  assertSameAsLvm2("lvextend", "vg1");

  ok(["lvrename", "vg1", "lin", "linear"]);
  ok(["lvrename", "vg1/r2", "vg1/mirror"]);
  assertSameAsLvm2("lvrename", "vg1");

  ok(["lvremove", "-y", "vg1/str"]);
  assertSameAsLvm2("lvremove", "vg1");

  ok(["vgextend", "vg1", devs[3]!]);
  assertSameAsLvm2("vgextend", "vg1");

  ok(["vgreduce", "vg1", devs[3]!]);
  assertSameAsLvm2("vgreduce", "vg1");

  ok(["vgrename", "vg1", "vg2"]);
  assertSameAsLvm2("vgrename", "vg2");
});
