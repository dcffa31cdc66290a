/**
 * vgcreate, vgextend, vgremove, vgrename and vgck against the real lvm2: each
 * change is made by ulvm on some loop devices and by lvm2 on twins, and real
 * lvm2's view of both must agree; each refusal must match lvm2's on the same
 * devices, message for message.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { makeEnv, type RunResult } from "../helpers/env.ts";
import { MiB, readBytes, wipe as wipeAt, writeBytes } from "../helpers/device-bytes.ts";
import { cleanOnce, ok } from "../helpers/runs.ts";

const env = makeEnv();
after(() => env.cleanup());
const dev = Array.from({ length: 6 }, (_, i) => env.loop(env.image(`d${i}.img`, "64M")));
const [d0, d1, d2, d3, d4, d5] = dev as [string, string, string, string, string, string];

const wipe = (...devices: string[]): void => wipeAt(devices, [0, 62 * MiB]);

const ulvm = (args: string[], opts: { devices?: string[]; input?: string } = {}): RunResult =>
  cleanOnce(env.ulvm([...args, "--devices", (opts.devices ?? dev).join(",")], { input: opts.input ?? "" }));
const lvm = (args: string[], opts: { devices?: string[]; input?: string } = {}): RunResult =>
  cleanOnce(env.lvm(args, opts.devices ?? dev, { input: opts.input ?? "" }));

function assertSameRefusal(args: string[], opts: { devices?: string[]; input?: string } = {}): RunResult {
  const real = lvm(args, opts);
  const ours = ulvm(args, opts);
  assert.deepEqual(ours, real, args.join(" "));
  assert.notEqual(ours.code, 0, args.join(" "));
  return ours;
}

const withoutPrompt = (text: string): string =>
  text
    .split("\n")
    .filter((l) => !l.includes("[y/n]"))
    .join("\n");

/** Whole names only: /dev/loop1 must not rewrite /dev/loop11. */
const rename = (text: string, pairs: [string, string][]): string =>
  text.replace(new RegExp(pairs.map(([a]) => `${a.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(?![\\w])`).join("|"), "g"), (m) => pairs.find(([a]) => a === m)![1]);
/**
 * Rows sorted and blanks squeezed: reports sort PVs by device name and pad columns
 * to the longest name, and the twin devices' loop numbers sort and pad differently.
 */
const sortedLines = (text: string): string => text.split("\n").map((l) => l.replace(/ +/g, " ")).sort().join("\n");

/** Real lvm2's view of a VG and its PVs. */
function view(vg: string): string {
  const vgs = ok(
    lvm(["vgs", "--noheadings", "-o", "vg_name,pv_count,lv_count,vg_attr,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_tags,max_pv,max_lv,vg_mda_copies,seqno", vg]),
    "vgs",
  ).stdout;
  const pvs = ok(lvm(["pvs", "--noheadings", "-o", "pv_name,vg_name,pv_attr,pv_size,pv_free,pv_pe_count,pe_start", "-S", `vg_name=${vg}`]), "pvs").stdout;
  return vgs + pvs;
}

function assertCleanVg(vg: string): void {
  const ck = lvm(["vgck", vg]);
  assert.equal(ck.code, 0, `vgck ${vg}: ${ck.stderr}`);
  assert.equal(ck.stderr, "", `vgck ${vg} warned`);
}

test("vgcreate: same VG as lvm2's, with pvcreate of blank devices and every option", () => {
  const variants: string[][] = [
    [],
    ["-s", "8m", "-p", "4", "-l", "7", "--alloc", "contiguous", "--addtag", "t1", "--addtag", "t2", "--vgmetadatacopies", "1"],
    ["-s", "3m", "--alloc", "anywhere", "--setautoactivation", "n"],
    ["--pvmetadatacopies", "2", "--metadatasize", "64k"],
  ];
  for (const opts of variants) {
    wipe(d0, d1, d2, d3);
    ok(lvm(["pvcreate", d1, d3]), "pvcreate");
    const ours = ok(ulvm(["vgcreate", ...opts, "vgu", d0, d1]), `ulvm vgcreate ${opts}`);
    const real = ok(lvm(["vgcreate", ...opts, "vgl", d2, d3]), `lvm vgcreate ${opts}`);
    const twin: [string, string][] = [[d0, d2], [d1, d3], ["vgu", "vgl"]];
    assert.equal(rename(ours.stdout, twin), real.stdout, `output ${opts}`);
    assert.equal(ours.stderr, "");
    assertCleanVg("vgu");
    assert.equal(sortedLines(rename(view("vgu"), twin)), sortedLines(view("vgl")), `lvm's view ${opts}`);
    ok(lvm(["vgremove", "vgu", "vgl"]), "cleanup");
  }
});

test("vgcreate refuses as lvm2 does and then writes nothing", () => {
  wipe(d0, d1, d2, d3);
  ok(lvm(["pvcreate", d0, d1]), "pvcreate");
  ok(lvm(["vgcreate", "vgtaken", d2]), "vgcreate");
  assertSameRefusal(["vgcreate", "vgtaken", d0]);
  assertSameRefusal(["vgcreate", "bad name", d0]);
  assertSameRefusal(["vgcreate", "-s", "0", "vgx", d0]);
  assertSameRefusal(["vgcreate", "-s", "3k", "vgx", d0]);
  assertSameRefusal(["vgcreate", "-s", "3t", "vgx", d0]);
  assertSameRefusal(["vgcreate", "--alloc", "inherit", "vgx", d0]);
  assertSameRefusal(["vgcreate", "vgx", "/dev/ulvm-no-such-device"]);
  assertSameRefusal(["vgcreate", "vgx", d0, "/dev/ulvm-no-such-device"]);
  assertSameRefusal(["vgcreate", "vgx", d0, d2]);
  assertSameRefusal(["vgcreate", "-p", "1", "vgx", d0, d1]);
  assertSameRefusal(["vgcreate", "--clustered", "y", "vgx", d0]);

  // lvm creates the PV before it sees the extent size is wrong; ulvm checks first.
  const r = ulvm(["vgcreate", "-s", "3k", "vgx", d3]);
  assert.equal(r.code, 5);
  assert.equal(r.stdout, "");
  assert.equal(lvm(["pvs", d3]).code, 5, "the blank device stays blank");

  const devDir = env.vars.ULVM_DEV_DIR!;
  mkdirSync(join(devDir, "vgindev"), { recursive: true });
  const inDev = ulvm(["vgcreate", "vgindev", d0]);
  assert.equal(inDev.code, 3);
  assert.equal(inDev.stderr, `  ${join(devDir, "vgindev")}: already exists in filesystem\n  Run \`vgcreate --help' for more information.`);
  assert.equal(lvm(["vgs", "vgx"]).code, 5, "no VG was made");
});

test("vgextend adds PVs, pvcreating blank devices, and refuses as lvm2 does", () => {
  wipe(...dev);
  ok(lvm(["vgcreate", "vgu", d0]), "vgcreate");
  ok(lvm(["vgcreate", "vgl", d1]), "vgcreate");
  ok(lvm(["pvcreate", d3]), "pvcreate");
  const ours = ok(ulvm(["vgextend", "vgu", d2]), "ulvm vgextend");
  const real = ok(lvm(["vgextend", "vgl", d3]), "lvm vgextend");
  // lvm prints no "created" line for a device that already is a PV.
  assert.equal(ours.stdout, `  Physical volume "${d2}" successfully created.\n  Volume group "vgu" successfully extended\n`);
  assert.equal(real.stdout, `  Volume group "vgl" successfully extended\n`);
  assertCleanVg("vgu");
  assert.equal(sortedLines(rename(view("vgu"), [[d0, d1], [d2, d3], ["vgu", "vgl"]])), sortedLines(view("vgl")));

  ok(lvm(["pvcreate", d4]), "pvcreate");
  assertSameRefusal(["vgextend", "vgnone", d4]);
  // lvm initialises a blank device before it finds the VG missing; ulvm checks first.
  const noVg = ulvm(["vgextend", "vgnone", d5]);
  assert.equal(noVg.code, 5);
  assert.equal(noVg.stdout, "");
  assert.equal(lvm(["pvs", d5]).code, 5, "the blank device stays blank");
  assertSameRefusal(["vgextend", "vgu", d1]);
  assertSameRefusal(["vgextend", "vgu", d0]);
  assertSameRefusal(["vgextend", "vgu", "/dev/ulvm-no-such-device"]);
  ok(lvm(["vgchange", "-p", "2", "vgu"]), "vgchange");
  assertSameRefusal(["vgextend", "vgu", d4]);
  assertSameRefusal(["vgextend", "--restoremissing", "vgu", d0]);
  assertSameRefusal(["vgextend", "--restoremissing", "vgu", d4]);
});

test("vgextend --restoremissing takes back a PV the VG marked missing", () => {
  wipe(...dev);
  ok(lvm(["vgcreate", "vgm", d0, d1]), "vgcreate");
  ok(lvm(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "lv", "vgm", d1]), "lvcreate");
  // A write while d1 is away marks it MISSING for good.
  ok(lvm(["vgck", "--updatemetadata", "vgm"], { devices: [d0] }), "vgck --updatemetadata");
  assert.match(lvm(["vgs", "-o", "vg_attr", "--noheadings", "vgm"]).stdout, /wz-pn-/);
  const r = ok(ulvm(["vgextend", "--restoremissing", "vgm", d1]), "vgextend --restoremissing");
  assert.equal(r.stdout, '  Volume group "vgm" successfully extended\n');
  assert.match(lvm(["vgs", "-o", "vg_attr", "--noheadings", "vgm"]).stdout, /wz--n-/);
  assertCleanVg("vgm");
});

test("vgremove removes VGs, asking first when they hold LVs", () => {
  wipe(...dev);
  ok(lvm(["vgcreate", "vgu", d0, d1]), "vgcreate");
  ok(lvm(["vgcreate", "vgl", d2, d3]), "vgcreate");
  for (const vg of ["vgu", "vgl"]) {
    ok(lvm(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "a", vg]), "lvcreate");
    ok(lvm(["lvcreate", "-an", "-Zn", "-L", "4m", "-n", "b", vg]), "lvcreate");
  }
  const refusedReal = lvm(["vgremove", "vgl"]);
  const refused = ulvm(["vgremove", "vgu"]);
  assert.equal(refused.code, 5);
  assert.equal(refusedReal.code, 5);
  assert.match(refused.stdout + refused.stderr, /Do you really want to remove volume group "vgu" containing 2 logical volumes\? \[y\/n\]: \[n\]/);
  assert.equal(withoutPrompt(refused.stderr), rename(withoutPrompt(refusedReal.stderr), [["vgl", "vgu"]]));
  assert.equal(lvm(["lvs", "--noheadings", "-o", "lv_name", "vgu"]).stdout.split("\n").filter(Boolean).length, 2, "nothing removed");

  const yes = ok(ulvm(["vgremove", "vgu"], { input: "y\n" }), "vgremove answered y");
  const real = ok(lvm(["vgremove", "-f", "vgl"]), "lvm vgremove -f");
  assert.equal(rename(yes.stdout, [["vgu", "vgl"]]).replace(/^.*\[y\/n\]: /, ""), real.stdout);
  assert.equal(lvm(["pvs", "--noheadings", "-o", "vg_name", d0, d1]).stdout.trim(), "", "its PVs are orphans");
  assert.equal(lvm(["vgs", "vgu"]).code, 5);

  assertSameRefusal(["vgremove", "vgnone"]);
  ok(lvm(["vgcreate", "vgm", d0, d1]), "vgcreate");
  assertSameRefusal(["vgremove", "vgm"], { devices: [d0, d2] });
  const forced = ok(ulvm(["vgremove", "-f", "vgm"], { devices: [d0, d2] }), "vgremove -f with a PV missing");
  assert.equal(forced.stdout, '  Volume group "vgm" successfully removed\n');
  assert.equal(lvm(["pvs", "--noheadings", "-o", "vg_name", d0], { devices: [d0, d2] }).stdout.trim(), "", "d0 is an orphan");
});

test("vgrename by name, /dev path and UUID; refusals as lvm2's", () => {
  wipe(...dev);
  ok(lvm(["vgcreate", "vga", d0]), "vgcreate");
  ok(lvm(["vgcreate", "vgb", d1]), "vgcreate");
  const r = ok(ulvm(["vgrename", "vga", "vgc"]), "vgrename");
  assert.equal(r.stdout, '  Volume group "vga" successfully renamed to "vgc"\n');
  assertCleanVg("vgc");
  const backups = join(env.vars.ULVM_SYSTEM_DIR!, "backup");
  assert.ok(existsSync(join(backups, "vgc")) && !existsSync(join(backups, "vga")), "the backup file follows the name");

  const devDir = env.vars.ULVM_DEV_DIR!;
  ok(ulvm(["vgrename", `${devDir}/vgc`, `${devDir}/vgd`]), "vgrename by path");
  assertCleanVg("vgd");

  const uuid = lvm(["vgs", "--noheadings", "-o", "vg_uuid", "vgd"]).stdout.trim();
  const byUuid = ok(ulvm(["vgrename", uuid, "vge"]), "vgrename by uuid");
  assert.equal(byUuid.stdout, `  Processing VG vgd because of matching UUID ${uuid}\n  Volume group "${uuid}" successfully renamed to "vge"\n`);
  assertCleanVg("vge");

  assertSameRefusal(["vgrename", "vge", "vge"]);
  assertSameRefusal(["vgrename", "vge", "bad name"]);
  assertSameRefusal(["vgrename", "vge", "vgb"]);
  assertSameRefusal(["vgrename", "vgnone", "vgz"]);
  assertSameRefusal(["vgrename", uuid, "vge"]);
  const uuidB = lvm(["vgs", "--noheadings", "-o", "vg_uuid", "vgb"]).stdout.trim();
  assertSameRefusal(["vgrename", "vge", uuidB]);
});

test("vgck: silent on a good VG, rc 5 with missing PVs, and --updatemetadata repairs stale copies", () => {
  wipe(...dev);
  ok(lvm(["vgcreate", "vgk", d0, d1, d2]), "vgcreate");
  const same = (args: string[], devices = dev) => {
    const real = lvm(args, { devices });
    assert.deepEqual(ulvm(args, { devices }), real, args.join(" "));
    return real;
  };
  assert.equal(same(["vgck", "vgk"]).code, 0);
  assert.equal(same(["vgck"]).code, 0);
  const missing = same(["vgck", "vgk"], [d0, d1]);
  assert.equal(missing.code, 5);
  assert.match(missing.stderr, /The volume group is missing 1 physical volumes\./);
  same(["vgck", "vgnone"]);

  // d2 keeps seqno 1 while the others move on: a stale copy.
  const head = readBytes(d2, 0, MiB);
  ok(lvm(["lvcreate", "-an", "-Zn", "-L", "4m", "-n", "lv", "vgk"]), "lvcreate");
  writeBytes(d2, 0, head);
  assert.match(lvm(["vgs", "vgk"]).stderr, /ignoring metadata seqno 1/);
  ok(ulvm(["vgck", "--updatemetadata", "vgk"]), "vgck --updatemetadata");
  assertCleanVg("vgk");
  assert.equal(lvm(["vgs", "vgk"]).stderr, "");
  assert.equal(lvm(["lvs", "--noheadings", "-o", "lv_name", "vgk"]).stdout.trim(), "lv");
});

