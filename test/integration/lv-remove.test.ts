/**
 * lvremove: ulvm against the real lvm2 on the same loop devices, from the
 * same VG states; raid1 LVs (made by ulvm, since the real lvm2 cannot make
 * them here) go with all their sub-LVs. Inactive LVs are removed without a
 * prompt, as lvm does.
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
  real(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "a", "vg"]);
  real(["lvcreate", "-an", "-Zn", "-L", "8m", "-i", "2", "-n", "b", "vg"]);
  real(["lvcreate", "-an", "-Zn", "-L", "4m", "-n", "c", "vg"]);
}

const seqno = () => real(["vgs", "--noheadings", "-o", "seqno", "vg"]).stdout.trim();

test("removing LVs prints lvm's messages, without a prompt, and commits once; -S selects", () => {
  setup();
  const r = lab.assertSame("vg", ["lvremove", "vg/a", "/dev/vg/b"]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '  Logical volume "a" successfully removed.\n  Logical volume "b" successfully removed.\n', ""]);
  setup();
  const before = Number(seqno());
  assert.equal(ulvm(["lvremove", "vg/a", "vg/b"]).code, 0);
  assert.equal(Number(seqno()), before + 1, "one metadata write for both");
  assert.match(lab.layout("vg"), /\bc\b/);
  assert.equal(real(["vgck", "vg"]).stderr, "");
  setup();
  const selected = lab.assertSame("vg", ["lvremove", "-S", "lv_name=~^[ab]$"]);
  assert.equal(selected.stdout, '  Logical volume "a" successfully removed.\n  Logical volume "b" successfully removed.\n');
  assert.ok(layoutRow(lab.layout("vg"), "c"), "-S leaves what it does not match");
  setup();
  for (const args of [["lvremove", "-y", "vg/a"], ["lvremove", "-f", "vg/c", "vg/c"], ["lvremove", "vg"]])
    assert.equal(lab.assertSame("vg", args, "n\n").code, 0, args.join(" "));
  assert.equal(real(["lvs", "--noheadings", "vg"]).stdout, "");
});

test("refusals and unknown names: lvm's messages, rc 5, what was found is still removed", () => {
  setup();
  for (const args of [
    ["lvremove", "vg/nosuch"],
    ["lvremove", "nosuch/x"],
    ["lvremove", "vg/a", "vg/nosuch"],
    ["lvremove", "nosuch"],
    ["lvremove", "vg/a/b"],
    ["lvremove", "nosuch/x", "vg/c"],
    // vg comes before zz: its "not found" line comes first, as lvm is done with one VG before it reads the next.
    ["lvremove", "vg/nosuch", "zz/x"],
  ]) {
    const r = lab.assertSame("vg", args);
    assert.equal(r.code, 5, args.join(" "));
    assert.notEqual(r.stderr, "");
  }
  assert.equal(layoutRow(lab.layout("vg"), "a"), undefined, "vg/a went despite vg/nosuch");
  assert.equal(layoutRow(lab.layout("vg"), "c"), undefined);
});

test("a raid1 goes with its sub-LVs; its sub-LVs cannot be removed alone", () => {
  setup();
  assert.equal(ulvm(["lvcreate", "-L", "8m", "-m1", "-n", "r", "vg"]).code, 0);
  const before = seqno();
  for (const sub of ["r_rimage_0", "r_rmeta_1"]) {
    const r = ulvm(["lvremove", `vg/${sub}`]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [5, "", `  Can't remove logical volume vg/${sub} used as RAID device.\n`]);
  }
  // One refused LV keeps the whole VG as it was, as lvm writes nothing then.
  const mixed = ulvm(["lvremove", "vg/a", "vg/r_rimage_1"]);
  assert.deepEqual([mixed.code, mixed.stdout], [5, ""]);
  assert.equal(seqno(), before);
  assert.ok(layoutRow(lab.layout("vg"), "a"));

  const r = ulvm(["lvremove", "vg/r"]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '  Logical volume "r" successfully removed.\n', ""]);
  assert.doesNotMatch(lab.layout("vg"), /r_r(image|meta)/);
  assert.equal(real(["vgck", "vg"]).stderr, "");
});

test("lvremove VG removes every LV, raid1 included, one message per visible LV", () => {
  setup();
  assert.equal(ulvm(["lvcreate", "-L", "4m", "-m1", "-n", "r", "vg"]).code, 0);
  const r = ulvm(["lvremove", "vg"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, ["a", "b", "c", "r"].map((lv) => `  Logical volume "${lv}" successfully removed.\n`).join(""));
  assert.equal(real(["lvs", "-a", "--noheadings", "vg"]).stdout, "");
  assert.equal(real(["vgs", "--noheadings", "-o", "pv_free", "--units", "m", "--nosuffix", "vg"]).stdout, "  124.00\n  124.00\n  124.00\n");
});

test("lvremove copes with a missing PV, as lvm does", () => {
  setup();
  const ours = lab.env.ulvm(["lvremove", "vg/a", "--devices", [d0, d2].join(",")]);
  assert.equal(ours.code, 0, ours.stderr);
  assert.match(ours.stderr, /WARNING: VG vg is missing PV/);
  assert.equal(ours.stdout, '  Logical volume "a" successfully removed.\n');
  assert.equal(layoutRow(lab.layout("vg"), "a"), undefined);
});
