/**
 * lvrename: both syntaxes and every refusal against the real lvm2 from the
 * same VG state; a raid1's sub-LVs follow its new name and the real lvm2
 * reads the result.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { layoutRow, makeLab } from "../helpers/lv-lab.ts";

const lab = makeLab(2, "128M");
after(() => lab.env.cleanup());
const [d0, d1] = lab.devs as [string, string];
const { ulvm, real } = lab;

function setup(): void {
  lab.freshVg("vg", [d0, d1]);
  real(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "lv1", "vg"]);
  real(["lvcreate", "-an", "-Zn", "-L", "4m", "-n", "other", "vg"]);
}

test("renames print lvm's message in both syntaxes", () => {
  setup();
  for (const args of [
    ["lvrename", "vg", "lv1", "lv2"],
    ["lvrename", "vg/lv1", "vg/lv2"],
    ["lvrename", "/dev/vg/lv1", "lv2"],
    ["lvrename", "vg", "vg/lv1", "/dev/vg/lv2"],
  ]) {
    const r = lab.assertSame("vg", args);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '  Renamed "lv1" to "lv2" in volume group "vg"\n', ""], args.join(" "));
    assert.ok(layoutRow(lab.layout("vg"), "lv2"));
    real(["lvrename", "vg", "lv2", "lv1"]);
  }
});

test("refusals: lvm's messages and exit codes, nothing changed", () => {
  setup();
  const cases: [string[], number][] = [
    [["lvrename", "lv1", "lv2"], 3],
    [["lvrename", "vg", "lv1", "lv1"], 3],
    [["lvrename", "vg", "lv1", "other"], 5],
    [["lvrename", "vg", "lv1", "vg2/x"], 3],
    [["lvrename", "vg", "vg2/lv1", "x"], 3],
    [["lvrename", "vg/lv1", "vg2/x"], 3],
    [["lvrename", "vg", "nosuch", "x"], 5],
    [["lvrename", "nosuch", "a", "b"], 5],
    [["lvrename", "vg", "lv1", "a_rimage"], 3],
    [["lvrename", "vg", "lv1", "snapshot1"], 3],
    [["lvrename", "vg", "lv1", "bad%name"], 3],
    [["lvrename", "vg", "lv1", ""], 3],
    [["lvrename", "vg", "lv1", "x".repeat(130)], 3],
    [["lvrename", "vg/a/b", "c"], 3],
    [["lvrename", "a%b", "lv1", "x"], 3],
  ];
  for (const [args, code] of cases) {
    const r = lab.assertSame("vg", args);
    assert.equal(r.code, code, args.join(" "));
    assert.match(r.stderr, /\S/, args.join(" "));
  }
  assert.ok(layoutRow(lab.layout("vg"), "lv1"));
});

test("a raid1's rimage/rmeta sub-LVs are renamed with it, and cannot be renamed alone", () => {
  setup();
  assert.equal(ulvm(["lvcreate", "-L", "4m", "-m1", "-n", "r", "vg"]).code, 0);
  for (const [sub, what] of [["r_rimage_1", "image"], ["r_rmeta_0", "metadata area"]]) {
    const refused = ulvm(["lvrename", "vg", sub!, "x"]);
    assert.deepEqual([refused.code, refused.stderr], [5, `  Cannot rename a RAID ${what} directly\n`]);
  }
  const r = ulvm(["lvrename", "vg/r", "vg/mirror"]);
  assert.deepEqual([r.code, r.stdout], [0, '  Renamed "r" to "mirror" in volume group "vg"\n']);
  const layout = lab.layout("vg");
  assert.match(layoutRow(layout, "mirror") ?? "", /mirror_rimage_0\(0\),mirror_rimage_1\(0\)/);
  for (const sub of ["[mirror_rimage_0]", "[mirror_rimage_1]", "[mirror_rmeta_0]", "[mirror_rmeta_1]"]) assert.ok(layoutRow(layout, sub), sub);
  assert.doesNotMatch(layout, /\br_r/);
  assert.equal(real(["vgck", "vg"]).stderr, "");
  const taken = ulvm(["lvrename", "vg", "mirror", "lv1"]);
  assert.deepEqual([taken.code, taken.stderr], [5, '  Logical Volume "lv1" already exists in volume group "vg"\n']);
});

test("a raid1 tracking a split-off image cannot be renamed", () => {
  setup();
  assert.equal(ulvm(["lvcreate", "-L", "4m", "-m1", "-n", "r", "vg"]).code, 0);
  // What lvconvert --splitmirrors 1 --trackchanges leaves: the image visible and read-only.
  lab.editMetadata("vg", (text) =>
    text.replace(/(\tr_rimage_1 \{[^]*?status = )\["READ", "WRITE"\]/, '$1["READ", "VISIBLE"]'),
  );
  const r = lab.assertSame("vg", ["lvrename", "vg", "r", "r2"]);
  assert.deepEqual([r.code, r.stderr], [5, "  Cannot rename r while it is tracking a split image\n"]);
  assert.deepEqual(lab.assertSame("vg", ["lvrename", "vg", "r_rimage_1", "x"]).stderr, "  Cannot rename a RAID image directly\n");
});
