/**
 * pvdisplay, vgdisplay, lvdisplay against the real lvm2 on the same devices:
 * the full layouts, -c, -s, -m, -v, -a, --units, -C and the refusals. The
 * real lvm2 here runs with activation off and so omits "LV Status"; ulvm
 * prints it as lvm does on a host with device-mapper, "NOT available" for its
 * inactive LVs, right before "LV Size". That line is checked and then left
 * out of the comparison.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { lvmNoise, type RunResult } from "../helpers/env.ts";
import { makeLab } from "../helpers/lv-lab.ts";

const lab = makeLab(5, "128M");
after(() => lab.env.cleanup());
const [d0, d1, d2, d3, d4] = lab.devs as [string, string, string, string, string];
const { ulvm, real } = lab;

before(() => {
  lab.freshVg("vg1", [d0, d1]);
  lab.freshVg("vg2", [d2, d3]);
  real(["pvcreate", "-ff", "-y", d4]);
  real(["lvcreate", "-an", "-Zn", "-L", "20m", "-n", "lin", "vg1"]);
  real(["lvcreate", "-an", "-Zn", "-L", "16m", "-i", "2", "-n", "str", "vg1"]);
  real(["lvcreate", "-an", "-Zn", "-l", "1", "-n", "ro", "-p", "r", "--alloc", "contiguous", "vg2"]);
  assert.equal(ulvm(["lvcreate", "-L", "12m", "-m1", "-n", "mirror", "vg2"]).code, 0);
});

/** ulvm's "LV Status" lines: each must sit right before "LV Size"; returns the text without them. */
function withoutStatus(text: string): { text: string; statuses: string[] } {
  const lines = text.split("\n");
  const statuses: string[] = [];
  const kept = lines.filter((line, i) => {
    if (!line.startsWith("  LV Status ")) return true;
    assert.match(lines[i + 1] ?? "", /^ {2}LV Size /, "LV Status comes right before LV Size");
    statuses.push(line);
    return false;
  });
  return { text: kept.join("\n"), statuses };
}

/** The same display from both tools; returns ulvm's output with its LV Status lines. */
function assertSameDisplay(args: string[], devices = lab.devs): RunResult & { statuses: string[] } {
  const ours = lab.env.ulvm([...args, "--devices", devices.join(",")], { env: { ULVM_DEV_DIR: "/dev" } });
  const theirs = lab.env.lvm(args, devices);
  const { text, statuses } = withoutStatus(ours.stdout);
  assert.deepEqual(
    { stdout: text, stderr: lvmNoise(ours.stderr), code: ours.code },
    { stdout: theirs.stdout, stderr: lvmNoise(theirs.stderr), code: theirs.code },
    args.join(" "),
  );
  assert.equal(statuses.length, (ours.stdout.match(/--- Logical volume ---/g) ?? []).length, "one LV Status per LV");
  return { ...ours, statuses };
}

test("pvdisplay: full, maps, colon and short forms, orphans included", () => {
  for (const args of [["pvdisplay"], ["pvdisplay", "-m"], ["pvdisplay", "-c"], ["pvdisplay", "-s"], ["pvdisplay", d4, d2], ["pvdisplay", "--units", "s", d0]]) {
    const r = assertSameDisplay(args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /\S/);
  }
  assert.match(assertSameDisplay(["pvdisplay", d4]).stdout, new RegExp(`"${d4}" is a new physical volume of "128.00 MiB"\\n {2}--- NEW Physical volume ---`));
  assert.match(assertSameDisplay(["pvdisplay", "-m", d2]).stdout, /Logical volume\t\/dev\/vg2\/mirror_rmeta_0\n {4}Logical extents\t0 to 0\n/);
});

test("vgdisplay: full, verbose, colon and short forms", () => {
  for (const args of [["vgdisplay"], ["vgdisplay", "-v", "vg2"], ["vgdisplay", "-c"], ["vgdisplay", "-s", "vg2", "vg1"], ["vgdisplay", "-A"], ["vgdisplay", "--units", "b", "vg1"]]) {
    assert.equal(assertSameDisplay(args).code, 0, args.join(" "));
  }
});

test("lvdisplay: full with LV Status NOT available, maps, -a, colons", () => {
  const all = assertSameDisplay(["lvdisplay"]);
  assert.deepEqual(new Set(all.statuses), new Set(["  LV Status              NOT available"]));
  for (const args of [["lvdisplay", "-m"], ["lvdisplay", "-a", "-m", "vg2"], ["lvdisplay", "-c", "-a"], ["lvdisplay", "vg2/mirror_rimage_0"], ["lvdisplay", "--units", "k", "vg1/str", "vg2/ro"], ["lvdisplay", "-c", "-S", "lv_size>12m"]]) {
    assert.equal(assertSameDisplay(args).code, 0, args.join(" "));
  }
  const maps = assertSameDisplay(["lvdisplay", "-m", "vg2/mirror"]).stdout;
  assert.match(maps, /Type\t\traid1\n {4}Monitoring\t\t\n {4}Raid Data LV 0\n {6}Logical volume\tmirror_rimage_0\n/);
  assert.match(maps, /Raid Metadata LV 1\tmirror_rmeta_1\n/);
  assert.match(maps, /Mirrored volumes {7}2\n/);
});

test("ulvm's dev dir is where its LV paths point", () => {
  const r = lab.env.ulvm(["lvdisplay", "vg1/lin", "--devices", lab.devs.join(",")]);
  assert.match(r.stdout, new RegExp(`LV Path {16}${lab.env.vars.ULVM_DEV_DIR}/vg1/lin\\n`));
});

test("-C is the report; unknown names and incompatible options are refused as lvm does", () => {
  for (const args of [["pvdisplay", "-C"], ["vgdisplay", "-C", "vg1"], ["lvdisplay", "-C", "-o", "lv_name,lv_size"]]) assert.equal(assertSameDisplay(args).code, 0);
  const cases: [string[], number][] = [
    [["lvdisplay", "vg1/nosuch", "vg1/lin"], 5],
    [["lvdisplay", "nosuch/x"], 5],
    [["vgdisplay", "nosuch", "vg1"], 5],
    [["pvdisplay", "/dev/nosuch", d0], 5],
    [["pvdisplay", "-c", "-m"], 3],
    [["pvdisplay", "-c", "-s"], 3],
    [["pvdisplay", "-o", "pv_name"], 3],
    [["vgdisplay", "-A", "vg1"], 3],
    [["vgdisplay", "-c", "-s"], 3],
    [["vgdisplay", "--noheadings"], 3],
    [["lvdisplay", "-c", "-m"], 3],
    [["lvdisplay", "-C", "-m"], 3],
    [["lvdisplay", "--sort", "lv_name"], 3],
  ];
  for (const [args, code] of cases) {
    const r = assertSameDisplay(args);
    assert.equal(r.code, code, args.join(" "));
    assert.match(r.stderr, /\S/);
  }
});

test("missing PVs: lvm's warnings, [unknown] PV, partial LVs", () => {
  const devices = [d0, d1, d2, d4];
  assertSameDisplay(["pvdisplay"], devices);
  assertSameDisplay(["vgdisplay", "-v", "vg2"], devices);
  const lv = assertSameDisplay(["lvdisplay", "-a", "-m", "vg2"], devices);
  assert.match(lv.stderr, /WARNING: VG vg2 is missing PV/);
  assert.ok(lv.statuses.includes("  LV Status              NOT available (partial)"));
});
