/**
 * pvs, vgs, lvs: ulvm and the real lvm2 read the same devices and must print
 * the same rows, messages and exit codes; only what depends on activation
 * (lv_attr state, open and raid health, which this host's lvm2 cannot know)
 * is masked. Covers argument selection, rc 5 with the rows that were found,
 * orphans, hidden sub-LVs and missing PVs.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { lvmNoise, type RunResult } from "../helpers/env.ts";
import { makeLab } from "../helpers/lv-lab.ts";
import { maskActivation } from "../helpers/report-compare.ts";

const lab = makeLab(6, "128M");
after(() => lab.env.cleanup());
const [d0, d1, d2, d3, d4, blank] = lab.devs as [string, string, string, string, string, string];
const { ulvm, real } = lab;

before(() => {
  lab.freshVg("vg1", [d0, d1]);
  lab.freshVg("vg2", [d2, d3]);
  real(["pvcreate", "-ff", "-y", d4]);
  real(["lvcreate", "-an", "-Zn", "-L", "20m", "-n", "lin", "--addtag", "blue", "vg1"]);
  real(["lvcreate", "-an", "-Zn", "-L", "16m", "-i", "2", "-n", "str", "vg1"]);
  real(["lvcreate", "-an", "-Zn", "-L", "4m", "-n", "small", "vg2"]);
  real(["vgchange", "--addtag", "red", "vg2"]);
  assert.equal(ulvm(["lvcreate", "-L", "12m", "-m1", "-n", "mirror", "vg2"]).code, 0);
  assert.equal(ulvm(["lvcreate", "-L", "4m", "-m1", "--nosync", "-n", "fast", "vg1"]).code, 0);
});

/** The same report from both tools on `devices`; returns ulvm's. */
function assertSameReport(args: string[], devices = lab.devs): RunResult {
  const clean = (r: RunResult) => ({ stdout: maskActivation(r.stdout), stderr: lvmNoise(r.stderr), code: r.code });
  const ours = lab.env.ulvm([...args, "--devices", devices.join(",")], { env: { ULVM_DEV_DIR: "/dev" } });
  const theirs = lab.env.lvm(args, devices);
  assert.deepEqual(clean(ours), clean(theirs), args.join(" "));
  return ours;
}

test("default and chosen columns, sorting, units and output formats are lvm's", () => {
  for (const args of [
    ["pvs"],
    ["vgs"],
    ["lvs"],
    ["lvs", "-a", "-o", "+devices"],
    ["lvs", "-a", "-o", "name,attr,segtype,devices,region_size,seg_pe_ranges,lv_role,lv_layout,tags"],
    ["lvs", "--segments", "-a"],
    ["pvs", "--segments", "-o", "+lv_name,seg_pe_ranges"],
    ["vgs", "-o", "+pv_name,vg_tags"],
    ["pvs", "-o", "pv_name,pv_uuid,pe_start,pv_pe_count,pv_pe_alloc_count,pv_mda_count"],
    ["lvs", "--units", "s", "--nosuffix", "-O", "-lv_size", "-o", "lv_name,lv_size"],
    ["lvs", "--noheadings", "--separator", ":", "-o", "lv_name,vg_name,lv_size"],
    ["vgs", "--reportformat", "json"],
    ["lvs", "-S", "lv_size>10m", "-o", "lv_name"],
    ["lvs", "--nameprefixes", "--noheadings", "-o", "lv_name,lv_size"],
    ["lvs", "-o", "lv_name,lv_time", "vg1"],
  ]) {
    const r = assertSameReport(args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /\S/, args.join(" "));
  }
});

test("what the arguments name, with rc 5 and the rows found when some is missing", () => {
  const cases: [string[], number][] = [
    [["lvs", "vg1/lin", "/dev/vg2/small"], 0],
    [["lvs", "vg1", "vg1/lin"], 0],
    [["lvs", "@blue"], 0],
    [["lvs", "@red"], 0],
    [["lvs", "vg2/mirror_rimage_0", "vg2/mirror"], 0],
    [["lvs", "-a", "vg2"], 0],
    [["lvs", "vg1/lin", "vg1/nosuch"], 5],
    [["lvs", "nosuch/x", "vg1/lin"], 5],
    [["lvs", "nosuch"], 5],
    [["lvs", "lin"], 5],
    [["vgs", "vg2", "nosuch", "vg1"], 5],
    [["vgs", "@red"], 0],
    [["pvs", d3, d0], 0],
    [["pvs", d4], 0],
    [["pvs", d0, "/dev/nosuch"], 5],
    [["pvs", "/dev/loop-nosuch"], 5],
  ];
  for (const [args, code] of cases) assert.equal(assertSameReport(args).code, code, args.join(" "));
  const orphans = assertSameReport(["pvs", "-o", "pv_name,vg_name,pv_attr"]);
  assert.match(orphans.stdout, new RegExp(`${d4}\\s+---`), "the orphan PV is listed");
});

test("a device that is not a PV, and one outside the devices list", () => {
  const notPv = assertSameReport(["pvs", blank, d0]);
  assert.deepEqual([notPv.code, notPv.stderr], [5, `  Failed to find physical volume "${blank}".\n`]);
  assert.match(notPv.stdout, new RegExp(d0));
  const outside = assertSameReport(["pvs", d4], [d0, d1, d2, d3]);
  assert.deepEqual([outside.code, outside.stderr], [5, `  Cannot use ${d4}: device is not in devices list\n`]);
});

test("missing PVs: lvm's warnings on stderr, [unknown] devices, partial attributes, rc 0", () => {
  const devices = [d0, d1, d2, d4];
  for (const args of [["pvs"], ["vgs"], ["lvs", "-a", "-o", "+devices,lv_health_status"], ["lvs", "vg2"]]) {
    const r = assertSameReport(args, devices);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /WARNING: Couldn't find device with uuid .*\n {2}WARNING: VG vg2 is missing PV .* \(last written to /);
  }
  assert.match(assertSameReport(["vgs", "vg2"], devices).stdout, /wz-pn-/);
});
