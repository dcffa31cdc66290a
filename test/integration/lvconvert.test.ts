/**
 * lvconvert on raid1 with activation off, side by side with the real lvm2
 * (activation = 0) from the same VG states: what lvm2 can do without an
 * active LV (merging a tracked image back) and every refusal it makes first
 * (LV types, hidden LVs, PV lists, counts, tracking, "must be active", sync
 * status unknown), plus the tracking refusals of the other LV commands and
 * ulvm's extra "Did you mean" line. Raid1 LVs are made by ulvm and tracked
 * states by editing the metadata, as the real lvm2 can do neither here.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { layoutRow, makeLab } from "../helpers/lv-lab.ts";
import { cleanOnce } from "../helpers/runs.ts";

const lab = makeLab(4, "64M");
after(() => lab.env.cleanup());
const [d0, d1, d2, d3] = lab.devs as [string, string, string, string];
const { ulvm, real } = lab;

/** lv_mirror (raid1 on d0, d1), lin (linear on d2), st (striped on d0, d1); d3 is a PV outside the VG. */
function setup(): void {
  lab.freshVg("vg", [d0, d1, d2]);
  real(["pvcreate", "-ff", "-y", d3]);
  assert.equal(ulvm(["lvcreate", "-L", "8m", "-m1", "-n", "lv_mirror", "vg", d0, d1]).code, 0);
  real(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "lin", "vg", d2]);
  real(["lvcreate", "-an", "-Zn", "-L", "8m", "-i", "2", "-n", "st", "vg", d0, d1]);
}

/**
 * Runs a command lvm2 refuses with both tools from the same state: outputs and
 * exit codes must agree. The VG is compared once after all of them (a refusal
 * changes nothing), which keeps the many cases fast.
 */
function sameRefusal(args: string[]): { code: number; stdout: string; stderr: string } {
  const theirs = lab.lvm(args);
  const ours = ulvm(args);
  assert.deepEqual({ code: ours.code, stdout: ours.stdout, stderr: ours.stderr }, { code: theirs.code, stdout: theirs.stdout, stderr: theirs.stderr }, args.join(" "));
  assert.notEqual(ours.code, 0, args.join(" "));
  return ours;
}

/** What --splitmirrors 1 --trackchanges leaves: the image visible and read-only. */
function track(image: string): void {
  lab.editMetadata("vg", (text) => text.replace(new RegExp(`(\\t${image} \\{[^]*?status = )\\["READ", "WRITE"\\]`), '$1["READ", "VISIBLE"]'));
}

test("refusals before anything needs an active LV: lvm's messages, exit codes and an unchanged VG", () => {
  setup();
  const cases: string[][] = [
    ["-m", "70", "vg/lv_mirror"],
    ["-m", "+63", "vg/lv_mirror"],
    ["-m", "-2", "vg/lv_mirror"],
    ["-m", "-1", "vg/lin"],
    ["-m", "2", "vg/lv_mirror", d3],
    ["-m", "2", "vg/lv_mirror", "/dev/nonexistent"],
    ["-m", "2", "vg/lv_mirror", `${d2}:999`],
    ["-m", "0", "vg/lv_mirror_rimage_0"],
    ["-m", "1", "vg/lv_mirror_rmeta_0"],
    ["-m", "1", "lin"],
    ["-m", "1", "vg/nosuch"],
    ["-m", "1", "nosuch/lv"],
    ["--splitmirrors", "2", "--trackchanges", "vg/lv_mirror"],
    ["--splitmirrors", "3", "--name", "x", "vg/lv_mirror"],
    ["--splitmirrors", "1", "--name", "x", "vg/lin"],
    ["--splitmirrors", "1", "--name", "lin", "vg/lv_mirror"],
    ["--splitmirrors", "1", "--name", "a b", "vg/lv_mirror"],
    ["--splitmirrors", "1", "--name", "x_rimage_0", "vg/lv_mirror"],
    ["--splitmirrors", "1", "--trackchanges", "vg/lv_mirror_rimage_0"],
    ["--splitmirrors", "1", "--trackchanges", "vg/st"],
    ["--repair", "vg/st"],
    ["--repair", "vg/lv_mirror_rmeta_0"],
    ["--repair", "vg/lv_mirror", d3],
    ["--replace", d2, "vg/lin"],
    ["--replace", d3, "vg/lv_mirror"],
    ["--mergemirrors", "vg/lv_mirror_rimage_1"],
    ["--mergemirrors", "vg/st"],
    ["--merge", "vg/lv_mirror_rimage_1"],
    ["--merge", "vg/lv_mirror_rmeta_1"],
    ["--merge", "vg/lv_mirror"],
    ["--merge", "vg"],
    ["--merge", "nosuch/lv"],
    ["--merge", "lv_mirror_rimage_1"],
  ];
  const before = lab.layout("vg");
  for (const args of cases) {
    const r = sameRefusal(["lvconvert", ...args]);
    assert.ok(r.code === 5 || r.code === 3, `${args.join(" ")}: ${r.code}`);
    assert.match(r.stderr, /\S/, args.join(" "));
  }
  assert.equal(lab.layout("vg"), before);
});

test("with activation off every LV is inactive: conversions need it active, splits cannot see the sync status", () => {
  setup();
  const inactive = (lv: string) => `  vg/${lv} must be active to perform this operation.\n`;
  const unknown = "  Unable to determine sync status of vg/lv_mirror.\n";
  const cases: [string[], string][] = [
    [["-y", "-m", "2", "vg/lv_mirror"], inactive("lv_mirror")],
    [["-m", "+1", "vg/lv_mirror", d2], inactive("lv_mirror")],
    [["-m", "1", "vg/lv_mirror"], inactive("lv_mirror")],
    [["-y", "-m", "0", "vg/lv_mirror"], inactive("lv_mirror")],
    [["-y", "-m", "1", "vg/lin"], inactive("lin")],
    [["-y", "--type", "raid1", "-m", "1", "vg/lin", d0], inactive("lin")],
    [["-m", "1", "vg/st"], inactive("st")],
    [["-y", "--splitmirrors", "1", "--trackchanges", "vg/lv_mirror"], `${unknown}  Unable to split image from vg/lv_mirror while not in-sync.\n`],
    [["--splitmirror", "1", "--trackchanges", "/dev/vg/lv_mirror"], `${unknown}  Unable to split image from vg/lv_mirror while not in-sync.\n`],
    [["-y", "--splitmirrors", "1", "--name", "lv_backup", "vg/lv_mirror"], `${unknown}  Unable to split vg/lv_mirror while it is not in-sync.\n`],
    [["--repair", "vg/lv_mirror"], inactive("lv_mirror")],
    [["-y", "--repair", "vg/lv_mirror", d2], inactive("lv_mirror")],
    [["--replace", d0, "vg/lv_mirror"], inactive("lv_mirror")],
  ];
  const before = lab.layout("vg");
  for (const [args, stderr] of cases) {
    const r = sameRefusal(["lvconvert", ...args]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [5, "", stderr], args.join(" "));
  }
  assert.equal(lab.layout("vg"), before);
});

test("--merge puts a tracked image back: the same metadata as lvm's, whatever the spelling", () => {
  for (const args of [["--merge", "vg/lv_mirror_rimage_1"], ["--mergemirrors", "vg/lv_mirror_rimage_1"], ["--merge", "/dev/vg/lv_mirror_rimage_1"], ["--merge", "vg"]]) {
    setup();
    track("lv_mirror_rimage_1");
    assert.match(layoutRow(lab.layout("vg"), "lv_mirror_rimage_1") ?? "", /Iri-/);
    const r = lab.assertSame("vg", ["lvconvert", ...args]);
    assert.match(r.stdout, /^ {2}vg\/lv_mirror_rimage_1 successfully merged back into vg\/lv_mirror\.\n$/);
    assert.match(layoutRow(lab.layout("vg"), "[lv_mirror_rimage_1]") ?? "", /Iwi-/, "hidden and writable again");
    assert.equal(r.code, args[1] === "vg" ? 5 : 0, "the other LVs of the VG were never split");
  }
  // Merged, it is an image like any other: a second merge is refused.
  const again = lab.assertSame("vg", ["lvconvert", "--merge", "vg/lv_mirror_rimage_1"]);
  assert.deepEqual([again.code, again.stderr], [5, "  vg/lv_mirror_rimage_1 cannot be merged because --trackchanges was not used.\n"]);
});

test("while an image is tracked, conversions of the raid1 and changes to the image are refused (seed step 10)", () => {
  setup();
  track("lv_mirror_rimage_1");
  const tracking = "  Conversion of tracking raid1 LV vg/lv_mirror is not supported.\n";
  const cases: [string[], string][] = [
    [["lvconvert", "-y", "-m", "+1", "vg/lv_mirror"], tracking],
    [["lvconvert", "-y", "-m", "1", "vg/lv_mirror"], tracking],
    [["lvconvert", "-m", "70", "vg/lv_mirror"], tracking],
    [["lvconvert", "-m", "2", "vg/lv_mirror", d3], '  Physical Volume "' + d3 + '" not found in Volume Group "vg".\n'],
    [["lvconvert", "--splitmirrors", "1", "--trackchanges", "vg/lv_mirror"], tracking],
    [["lvconvert", "-y", "--splitmirrors", "1", "--name", "lv_keep", "vg/lv_mirror"], tracking],
    [["lvconvert", "-y", "--type", "raid1", "-m", "1", "vg/lv_mirror_rimage_1"], "  Failed to find RaidLV of RAID subvolume vg/lv_mirror_rimage_1.\n"],
    [["lvconvert", "--splitmirrors", "1", "--trackchanges", "vg/lv_mirror_rimage_1"],
      "  Command on LV vg/lv_mirror_rimage_1 does not accept LV type linear.\n  Command not permitted on LV vg/lv_mirror_rimage_1.\n"],
    [["lvconvert", "--merge", "vg/lv_mirror_rimage_0"], "  vg/lv_mirror_rimage_0 cannot be merged because --trackchanges was not used.\n"],
    [["lvextend", "-L", "+4m", "vg/lv_mirror"], "  Cannot resize logical volume vg/lv_mirror while it is tracking a split image.\n"],
    [["lvrename", "vg/lv_mirror_rimage_1", "vg/foo"], "  Cannot rename a RAID image directly\n"],
    [["lvremove", "-y", "vg/lv_mirror_rimage_1"], "  Can't remove logical volume vg/lv_mirror_rimage_1 used as RAID device.\n"],
  ];
  const before = lab.layout("vg");
  for (const [args, stderr] of cases) {
    const r = sameRefusal(args);
    assert.deepEqual([r.code, r.stderr], [5, stderr], args.join(" "));
  }
  assert.equal(lab.layout("vg"), before);
  // The real lvm2 cannot shrink a raid1 without device-mapper; ulvm refuses as lvm does on the guest.
  const reduce = ulvm(["lvreduce", "-y", "-L", "-4m", "vg/lv_mirror"]);
  assert.deepEqual([reduce.code, reduce.stderr], [5, "  Cannot resize logical volume vg/lv_mirror while it is tracking a split image.\n"]);
});

test("--merge goes VG by VG, as lvm's process_each_lv: a later VG's \"not found\" comes after what was done in an earlier one", () => {
  setup();
  track("lv_mirror_rimage_1");
  const merged = lab.assertSame("vg", ["lvconvert", "--merge", "vg/lv_mirror_rimage_1", "x"]);
  assert.deepEqual([merged.code, merged.stderr], [5, '  Volume group "x" not found\n  Cannot process volume group x\n']);
  for (const args of [
    ["--merge", "vg/lin", "x/y", "vg/nosuch"],
    ["--merge", "zz/a", "vg/lv_mirror_rimage_1", "aa/b"],
  ]) {
    const r = sameRefusal(["lvconvert", ...args]);
    assert.match(r.stderr, /trackchanges was not used\.\n(.*\n)? {2}Volume group "(x|aa)" not found/, args.join(" "));
  }
});

test("a name that is not found gets lvm's message and a hint at the LV probably meant", () => {
  setup();
  track("lv_mirror_rimage_1");
  const cases: [string[], string | undefined][] = [
    [["--merge", "/dev/vg/lv_backup_rimage_1"], "vg/lv_mirror_rimage_1"],
    [["-y", "-m", "2", "vg/lv_mirorr"], "vg/lv_mirror"],
    [["--repair", "vg/lv_mirror_rmeta_2"], "vg/lv_mirror_rmeta_0"],
    [["-m", "1", "vg/backup"], undefined],
  ];
  for (const [args, hint] of cases) {
    const { lvm, ulvm: ours } = lab.both("vg", ["lvconvert", ...args]);
    const name = args.at(-1)!.replace("/dev/", "");
    assert.equal(lvm.stderr, `  Failed to find logical volume "${name}"\n`);
    assert.deepEqual(
      { code: ours.code, stdout: ours.stdout, stderr: ours.stderr, layout: ours.layout },
      { code: 5, stdout: "", stderr: lvm.stderr + (hint ? `  Did you mean "${hint}"?\n` : ""), layout: lvm.layout },
    );
  }
});

test("with a PV missing only --repair gets past reading the VG", () => {
  setup();
  const present = [d0, d2, d3];
  const both = (args: string[]) => ({
    lvm: cleanOnce(lab.env.lvm(["lvconvert", ...args], present)),
    ulvm: cleanOnce(lab.env.ulvm(["lvconvert", ...args, "--devices", present.join(",")], { env: { ULVM_DEV_DIR: "/dev" } })),
  });
  for (const args of [["-y", "--repair", "vg/lv_mirror"], ["-y", "-m", "2", "vg/lv_mirror"], ["--merge", "vg/lv_mirror_rimage_1"], ["--replace", d0, "vg/lv_mirror"]]) {
    const { lvm, ulvm: ours } = both(args);
    assert.deepEqual({ code: ours.code, stdout: ours.stdout, stderr: ours.stderr }, { code: lvm.code, stdout: lvm.stdout, stderr: lvm.stderr }, args.join(" "));
    assert.equal(ours.code, 5);
    assert.match(ours.stderr, args[1] === "--repair" ? /must be active/ : /Cannot change VG vg while PVs are missing/);
  }
});
