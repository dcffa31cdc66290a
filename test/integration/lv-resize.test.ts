/**
 * lvextend, lvreduce, lvresize against the real lvm2 from the same VG states:
 * sizes, percentages, PV lists, stripes, raid1 (every image grows; the real
 * lvm2 can extend a raid1 without device-mapper but not shrink one, so
 * reductions are checked against the image sizes), and the refusals.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { layoutRow, makeLab } from "../helpers/lv-lab.ts";

const lab = makeLab(3, "128M");
after(() => lab.env.cleanup());
const [d0, d1, d2] = lab.devs as [string, string, string];
const { ulvm, real } = lab;

function setup(): void {
  lab.freshVg("vg", [d0, d1, d2]);
  real(["lvcreate", "-an", "-Zn", "-L", "12m", "-n", "lin", "vg", d0]);
  real(["lvcreate", "-an", "-Zn", "-L", "4m", "-n", "gap", "vg", d0]);
  real(["lvcreate", "-an", "-Zn", "-L", "16m", "-i", "2", "-n", "str", "vg", d1, d2]);
}

test("sizes, percentages and PV lists resize as lvm does", () => {
  setup();
  const cases = [
    ["lvextend", "-L", "+4m", "vg/lin"],
    ["lvextend", "-L", "40m", "vg/lin"],
    ["lvextend", "-l", "+10%FREE", "vg/lin"],
    ["lvextend", "-l", "+50%LV", "vg/lin"],
    ["lvextend", "-l", "100%VG", "vg/lin"],
    ["lvextend", "-L", "+8m", "vg/lin", d2],
    ["lvextend", "-L", "+4m", "vg/lin", `${d1}:20-25`],
    ["lvextend", "vg/lin", d1],
    ["lvreduce", "-L", "4m", "vg/lin"],
    ["lvreduce", "-l", "-1", "vg/lin"],
    ["lvreduce", "-l", "50%LV", "vg/lin"],
    ["lvreduce", "-L", "1k", "vg/lin"],
    ["lvresize", "-L", "3m", "vg/lin"],
    ["lvresize", "-l", "+1", "/dev/vg/lin"],
    ["lvresize", "-L", "-4m", "vg/lin", d1],
  ];
  for (const args of cases) {
    const r = lab.assertSame("vg", args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stdout, /Size of logical volume vg\/lin changed from .* extents\) to .* extents\)\.\n {2}Logical volume vg\/lin successfully resized\.\n$/);
    setup();
  }
});

test("striped LVs keep their stripes, with lvm's messages", () => {
  setup();
  for (const args of [
    ["lvextend", "-L", "+8m", "vg/str"],
    ["lvextend", "-l", "+3", "vg/str"],
    ["lvextend", "-i", "2", "-I", "128k", "-L", "+8m", "vg/lin"],
    ["lvextend", "-i", "2", "-L", "+8m", "vg/lin"],
    ["lvreduce", "-l", "-3", "vg/str"],
    ["lvresize", "-i", "3", "-L", "8m", "vg/str"],
  ]) {
    const r = lab.assertSame("vg", args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    setup();
  }
  assert.match(lab.assertSame("vg", ["lvextend", "-L", "+8m", "vg/str"]).stdout, /^ {2}Using stripesize of last segment 64\.00 KiB\n/);
});

test("refusals: lvm's messages and exit codes, nothing changed", () => {
  setup();
  const cases: [string[], number][] = [
    [["lvextend", "-L", "4m", "vg/lin"], 5],
    [["lvreduce", "-L", "40m", "vg/lin"], 5],
    [["lvresize", "-L", "12m", "vg/lin"], 5],
    [["lvextend", "-L", "-4m", "vg/lin"], 3],
    [["lvreduce", "-L", "+4m", "vg/lin"], 3],
    [["lvreduce", "-l", "-100", "vg/lin"], 5],
    [["lvextend", "-L", "+100g", "vg/lin"], 5],
    [["lvextend", "-r", "-L", "+4m", "vg/lin"], 5],
    [["lvextend", "-L", "+4m", "vg/nosuch"], 5],
    [["lvextend", "-L", "+4m", "nosuch/lv"], 5],
    [["lvextend", "-L", "+4m", "lin"], 3],
    [["lvextend", "-L", "+4m", "vg/a/b"], 3],
    [["lvextend", "-l", "+0", "vg/lin"], 3],
    [["lvextend", "-L", "+4m", "-m", "1", "vg/lin"], 5],
    [["lvextend", "-L", "+4m", "vg/lin", `${d0}:1000`], 5],
    [["lvextend", "-L", "+4m", "--type", "linear", "-i", "2", "vg/lin"], 3],
  ];
  for (const [args, code] of cases) {
    const r = lab.assertSame("vg", args);
    assert.equal(r.code, code, args.join(" "));
    assert.match(r.stderr, /\S/, args.join(" "));
  }
});

test("raid1 grows in every image as lvm does, and shrinks in every image", () => {
  const raid = () => {
    setup();
    assert.equal(ulvm(["lvcreate", "-L", "8m", "-m1", "-n", "r", "vg", d1, d2]).code, 0);
  };
  for (const args of [
    ["lvextend", "-L", "+8m", "vg/r"],
    ["lvextend", "-l", "+10%FREE", "vg/r"],
    ["lvextend", "-L", "+4m", "vg/r", d0, d2],
    ["lvresize", "-l", "50%VG", "vg/r"],
  ]) {
    raid();
    const r = lab.assertSame("vg", args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stdout, /^ {2}Extending 2 mirror images\.\n/);
  }
  raid();
  const sizes = () => {
    const rows = real(["lvs", "-a", "--noheadings", "--units", "s", "--nosuffix", "-o", "name,size", "vg"]).stdout;
    const size = new Map(rows.trim().split("\n").map((l) => l.trim().split(/\s+/) as [string, string]));
    return ["r", "[r_rimage_0]", "[r_rimage_1]", "[r_rmeta_0]"].map((lv) => size.get(lv));
  };
  assert.deepEqual(sizes(), ["16384", "16384", "16384", "8192"]);
  const grown = ulvm(["lvextend", "-L", "+8m", "vg/r"]);
  assert.equal(grown.code, 0);
  assert.deepEqual(sizes(), ["32768", "32768", "32768", "8192"]);
  const shrunk = ulvm(["lvreduce", "-L", "-12m", "vg/r"]);
  assert.deepEqual([shrunk.code, shrunk.stdout, shrunk.stderr], [
    0,
    "  Size of logical volume vg/r changed from 16.00 MiB (4 extents) to 4.00 MiB (1 extents).\n  Logical volume vg/r successfully resized.\n",
    "",
  ]);
  assert.deepEqual(sizes(), ["8192", "8192", "8192", "8192"]);
  assert.equal(real(["vgck", "vg"]).stderr, "");
  for (const [sub, what] of [["r_rimage_0", "image"], ["r_rmeta_1", "metadata area"]]) {
    const r = ulvm(["lvextend", "-L", "+4m", `vg/${sub}`]);
    assert.deepEqual([r.code, r.stderr], [5, `  Cannot resize a RAID ${what} directly\n`]);
  }
});

test("a raid1 tracking a split-off image cannot be resized", () => {
  setup();
  assert.equal(ulvm(["lvcreate", "-L", "8m", "-m1", "-n", "r", "vg"]).code, 0);
  lab.editMetadata("vg", (text) => text.replace(/(\tr_rimage_1 \{[^]*?status = )\["READ", "WRITE"\]/, '$1["READ", "VISIBLE"]'));
  const before = lab.layout("vg");
  assert.match(layoutRow(before, "r_rimage_1") ?? "", /Iri-/, "the image is split off and tracked");
  for (const args of [["lvextend", "-L", "+4m", "vg/r"], ["lvreduce", "-y", "-L", "-4m", "vg/r"]]) {
    const r = ulvm(args);
    assert.deepEqual([r.code, r.stderr], [5, "  Cannot resize logical volume vg/r while it is tracking a split image.\n"]);
  }
  assert.equal(lab.layout("vg"), before);
});
