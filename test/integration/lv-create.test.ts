/**
 * lvcreate: ulvm against the real lvm2 on the same loop devices. Where the
 * real lvm2 can do the same here (linear and striped LVs, created with -an
 * -Zn because this host has no device-mapper) both run from the same VG state
 * and must print, refuse and lay out exactly the same; raid1, which the real
 * lvm2 cannot create without device-mapper, is checked against lvm's
 * documented layout and read back by the real lvm2.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { lvmNoise } from "../helpers/env.ts";
import { layoutRow, makeLab } from "../helpers/lv-lab.ts";

const lab = makeLab(4, "128M");
after(() => lab.env.cleanup());
const [d0, d1, d2, d3] = lab.devs as [string, string, string, string];
const { ulvm, real } = lab;
const OK = 0;
const INVALID = 3;
const FAILED = 5;

function vgck(vg: string): void {
  const r = real(["vgck", vg]);
  assert.equal(r.stderr, "", `real vgck ${vg} warned`);
}

test("linear: messages, default names and placement are lvm's", () => {
  lab.freshVg("vg", [d0, d1]);
  for (const args of [
    ["lvcreate", "-an", "-Zn", "-L", "10m", "-n", "lin", "vg"],
    ["lvcreate", "-an", "-Zn", "-l", "3", "vg"],
    ["lvcreate", "-an", "-Zn", "-L", "100m", "vg"],
    ["lvcreate", "-an", "-Zn", "-L", "4m", "--addtag", "t1", "--addtag", "t2", "-n", "tagged", "vg"],
    ["lvcreate", "-an", "-Zn", "-L", "4m", "-C", "y", "-n", "contig", "vg"],
    ["lvcreate", "-an", "-Zn", "-L", "4m", "--alloc", "anywhere", "-n", "anyw", "vg", `${d1}:10-20`],
    ["lvcreate", "-an", "-Zn", "-l", "1", "-ky", "--setautoactivation", "n", "-r", "100", "-n", "flags", "vg"],
    ["lvcreate", "-Zn", "-l", "1", "-p", "r", "-r", "none", "-n", "ro", "vg"],
  ]) {
    const r = lab.assertSame("vg", args);
    assert.equal(r.code, OK, args.join(" "));
    assert.match(r.stdout, /Logical volume "[^"]+" created\.\n$/);
  }
  const layout = lab.layout("vg");
  assert.match(layoutRow(layout, "lvol0") ?? "", /linear/);
  assert.match(layoutRow(layout, "lvol1") ?? "", /linear/);
  assert.match(layoutRow(layout, "tagged") ?? "", /t1,t2/);
  assert.match(layoutRow(layout, "contig") ?? "", /contiguous/);
  assert.match(layoutRow(layout, "anyw") ?? "", new RegExp(`${d1}:1\\d-`));
  assert.match(layoutRow(layout, "flags") ?? "", /inherit\s+96S\s+skip activation\s*$/);
  assert.match(layoutRow(layout, "ro") ?? "", /-ri-/);
  vgck("vg");
});

test("sizes in percent and PV lists with ranges are lvm's", () => {
  lab.freshVg("vg", [d0, d1]);
  for (const args of [
    ["lvcreate", "-an", "-Zn", "-l", "10%FREE", "-n", "f", "vg"],
    ["lvcreate", "-an", "-Zn", "-l", "20%VG", "-n", "v", "vg"],
    ["lvcreate", "-an", "-Zn", "-l", "50%PVS", "-n", "p", "vg", d1],
    ["lvcreate", "-an", "-Zn", "-l", "200%FREE", "-n", "rest", "vg"],
  ])
    assert.equal(lab.assertSame("vg", args).code, OK, args.join(" "));
  lab.freshVg("vg", [d0, d1]);
  assert.equal(lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "r", "vg", `${d0}:5-6`, `${d1}:0`]).code, OK);
  vgck("vg");
});

test("striped: default stripe size, rounding to the stripe boundary, -I", () => {
  lab.freshVg("vg", [d0, d1, d2]);
  const r = lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "-i", "2", "-L", "10m", "-n", "s2", "vg"]);
  assert.equal(r.stdout.split("\n")[0], "  Using default stripesize 64.00 KiB.");
  assert.match(r.stdout, /Rounding size 12\.00 MiB \(3 extents\) up to stripe boundary size 16\.00 MiB \(4 extents\)\./);
  lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "-i", "3", "-I", "128k", "-l", "6", "-n", "s3", "vg"]);
  lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "-i", "2", "-I", "8m", "-L", "8m", "-n", "big", "vg"]);
  lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "--type", "striped", "-L", "4m", "-n", "one", "vg"]);
  assert.match(layoutRow(lab.layout("vg"), "s3") ?? "", /striped .*256S/);
  vgck("vg");
});

test("refusals print lvm's messages and exit codes, and change nothing", () => {
  lab.freshVg("vg", [d0, d1]);
  real(["lvcreate", "-an", "-Zn", "-L", "4m", "-n", "lin", "vg"]);
  const cases: [string[], number][] = [
    [["lvcreate", "-L", "4m", "-n", "lin", "vg"], FAILED],
    [["lvcreate", "-L", "4g", "-n", "big", "vg"], FAILED],
    [["lvcreate", "-l", "1000", "-n", "big", "vg"], FAILED],
    [["lvcreate", "-L", "4m", "-n", "x_rimage_0", "vg"], INVALID],
    [["lvcreate", "-L", "4m", "-n", "a_rmeta", "vg"], INVALID],
    [["lvcreate", "-L", "4m", "-n", "pvmove0", "vg"], INVALID],
    [["lvcreate", "-L", "4m", "-n", "snapshot", "vg"], INVALID],
    [["lvcreate", "-L", "4m", "-n", "bad name", "vg"], INVALID],
    [["lvcreate", "-L", "4m", "-n", "-x", "vg"], INVALID],
    [["lvcreate", "-L", "4m", "-n", "a/b/c", "vg"], INVALID],
    [["lvcreate", "-L", "4m", "vg/x"], INVALID],
    [["lvcreate", "-L", "4m", "-n", "vg/x", "other"], INVALID],
    [["lvcreate", "-L", "4m", "nosuch"], FAILED],
    [["lvcreate", "-L", "0", "vg"], INVALID],
    [["lvcreate", "-l", "0", "vg"], INVALID],
    [["lvcreate", "-L", "4m", "-l", "1", "vg"], INVALID],
    [["lvcreate", "-l", "100%LV", "vg"], FAILED],
    [["lvcreate", "-L", "4m", "--nosync", "vg"], INVALID],
    [["lvcreate", "--type", "raid1", "-m", "0", "-L", "4m", "vg"], INVALID],
    [["lvcreate", "-m", "70", "-L", "4m", "vg"], INVALID],
    [["lvcreate", "-i", "200", "-L", "4m", "vg"], INVALID],
    [["lvcreate", "-i", "2", "-I", "3k", "-L", "4m", "vg"], INVALID],
    [["lvcreate", "-C", "y", "--alloc", "normal", "-L", "4m", "vg"], INVALID],
    [["lvcreate", "-L", "4m", "vg", `${d0}:1000`], FAILED],
    [["lvcreate", "-L", "4m", "vg", `${d0}:0-0`], FAILED],
    [["lvcreate", "-L", "4m", "vg", d3], FAILED],
  ];
  for (const [args, code] of cases) {
    const r = lab.assertSame("vg", [...args.slice(0, 1), "-an", "-Zn", ...args.slice(1)]);
    assert.equal(r.code, code, args.join(" "));
    assert.notEqual(r.stderr, "", args.join(" "));
  }
  // lvm refuses to zero an LV it does not activate but still exits 0.
  const z = lab.assertSame("vg", ["lvcreate", "-an", "-Zy", "-L", "4m", "-n", "z", "vg"]);
  assert.deepEqual([z.code, z.stderr], [OK, "  Cannot zero inactive logical volume with option -Zy or -Wy.\n"]);
});

test("a VG's LV limit is lvm's", () => {
  lab.freshVg("vg", [d0]);
  real(["vgchange", "-l", "1", "vg"]);
  assert.equal(lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "-l", "1", "-n", "one", "vg"]).code, OK);
  const full = lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "-l", "1", "-n", "two", "vg"]);
  assert.deepEqual([full.code, full.stderr], [FAILED, "  Maximum number of logical volumes (1) reached in volume group vg\n"]);
  assert.equal(lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "-l", "1", "-n", "one", "vg"]).code, FAILED);
});

test("raid1: lvm's layout of rmeta/rimage pairs on distinct PVs, read back by the real lvm2", () => {
  lab.freshVg("vg", [d0, d1, d2]);
  const r = ulvm(["lvcreate", "-L", "10m", "-m1", "-n", "r", "vg", d1, d0]);
  assert.deepEqual([r.code, r.stderr], [OK, ""]);
  assert.equal(r.stdout, '  Rounding up size to full physical extent 12.00 MiB\n  Logical volume "r" created.\n');
  const layout = lab.layout("vg");
  // Leg i goes on the i-th PV given: its rmeta at the first free PE, the image right after it.
  assert.match(layoutRow(layout, "r") ?? "", /r\s+rwi-\?\?r-\?- raid1\s+r_rimage_0\(0\),r_rimage_1\(0\) .*4096S/);
  const at = (lv: string, dev: string, range: string, attr: string) =>
    assert.match(layoutRow(layout, lv) ?? "", new RegExp(`${attr}-\\?\\?r-\\?- linear\\s+${dev}\\(\\d+\\)\\s+${dev}:${range}\\s`), lv);
  at("[r_rmeta_0]", d1, "0-0", "ewi");
  at("[r_rimage_0]", d1, "1-3", "Iwi");
  at("[r_rmeta_1]", d0, "0-0", "ewi");
  at("[r_rimage_1]", d0, "1-3", "Iwi");
  vgck("vg");

  const three = ulvm(["lvcreate", "-l", "2", "--type", "raid1", "-m", "2", "-R", "1m", "-n", "r3", "vg"]);
  assert.equal(three.code, OK, three.stderr);
  const rows = [0, 1, 2].map((i) => layoutRow(lab.layout("vg"), `[r3_rimage_${i}]`) ?? "");
  assert.equal(rows.length, 3);
  assert.equal(new Set(rows.map((l) => /(\/dev\/loop\d+)\(/.exec(l)?.[1])).size, 3, "each image on its own PV");
  assert.match(layoutRow(lab.layout("vg"), "r3") ?? "", /2048S/);

  const nosync = ulvm(["lvcreate", "-l", "1", "-m1", "--nosync", "-n", "ns", "vg"]);
  assert.equal(nosync.stderr, "  WARNING: New raid1 won't be synchronised. Don't read what you didn't write!\n");
  assert.match(layoutRow(lab.layout("vg"), "ns") ?? "", /\sRwi-/);
  vgck("vg");
});

test("raid1 refusals: legs need distinct PVs and enough space", () => {
  lab.freshVg("vg", [d0, d1]);
  const one = ulvm(["lvcreate", "-L", "20m", "-m1", "-n", "one", "vg", d0]);
  assert.deepEqual([one.code, one.stderr], [FAILED, "  Insufficient suitable allocatable extents for logical volume one: 12 more required\n"]);
  const big = ulvm(["lvcreate", "-L", "200m", "-m1", "-n", "big", "vg"]);
  assert.deepEqual([big.code, big.stderr], [FAILED, "  Insufficient free space: 102 extents needed, but only 62 available\n"]);
  const stripes = ulvm(["lvcreate", "--type", "raid1", "-i", "2", "-L", "4m", "vg"]);
  assert.deepEqual([stripes.code, stripes.stderr], [INVALID, "  Stripes argument cannot be used with segment type, raid1\n  Run `lvcreate --help' for more information.\n"]);
  assert.equal(real(["lvs", "--noheadings", "vg"]).stdout, "");
});

test("a new LV's first 4 KiB are zeroed unless -Zn, and raid metadata LVs always", () => {
  const fill = (dev: string) => {
    const fd = openSync(dev, "r+");
    writeSync(fd, Buffer.alloc(32 << 20, 0xab), 0, 32 << 20, 1 << 20);
    closeSync(fd);
  };
  const bytesAt = (dev: string, pe: number, length: number) => {
    const buf = Buffer.alloc(length);
    const fd = openSync(dev, "r");
    readSync(fd, buf, 0, length, (1 << 20) + pe * (4 << 20));
    closeSync(fd);
    return buf;
  };
  const zeroedStart = (dev: string, pe: number) => {
    const b = bytesAt(dev, pe, 4097);
    return b.subarray(0, 4096).every((x) => x === 0) && b[4096] === 0xab;
  };
  lab.freshVg("vg", [d0, d1]);
  fill(d0);
  fill(d1);
  const z = ulvm(["lvcreate", "-L", "4m", "-n", "z", "vg", d0]);
  assert.deepEqual([z.code, z.stderr], [OK, ""]);
  assert.ok(zeroedStart(d0, 0), "LV start zeroed");
  const nz = ulvm(["lvcreate", "-Zn", "-L", "4m", "-n", "nz", "vg", d0]);
  assert.equal(nz.stderr, "  WARNING: Logical volume vg/nz not zeroed.\n");
  assert.ok(bytesAt(d0, 1, 4096).every((x) => x === 0xab), "-Zn leaves the data alone");
  const r = ulvm(["lvcreate", "-Zn", "-l", "1", "-m1", "-n", "r", "vg", d0, d1]);
  assert.equal(r.code, OK, r.stderr);
  // Where each leg went, from the real lvm2's view: "<dev>:<pe>-<pe>".
  const where = (lv: string) => /(\/dev\/\S+):(\d+)-/.exec(layoutRow(lab.layout("vg"), lv) ?? "")!.slice(1) as [string, string];
  for (const leg of [0, 1]) {
    const [metaDev, metaPe] = where(`[r_rmeta_${leg}]`);
    const [imageDev, imagePe] = where(`[r_rimage_${leg}]`);
    assert.ok(zeroedStart(metaDev, Number(metaPe)), `rmeta_${leg} cleared`);
    assert.ok(bytesAt(imageDev, Number(imagePe), 4096).every((x) => x === 0xab), `-Zn: rimage_${leg} untouched`);
  }
  assert.equal(ulvm(["lvcreate", "-l", "1", "-m1", "-n", "z2", "vg", d0, d1]).code, OK);
  for (const leg of [0, 1]) {
    const [imageDev, imagePe] = where(`[z2_rimage_${leg}]`);
    assert.ok(zeroedStart(imageDev, Number(imagePe)), `z2_rimage_${leg}: the raid LV's start is zeroed on every leg`);
  }
});

test("a VG with a missing PV is not changed", () => {
  lab.freshVg("vg", [d0, d1]);
  const partial = lab.env.ulvm(["lvcreate", "-L", "4m", "-n", "x", "vg", "--devices", d0]);
  const realPartial = lab.env.lvm(["lvcreate", "-an", "-Zn", "-L", "4m", "-n", "x", "vg"], [d0]);
  assert.equal(partial.code, FAILED);
  assert.match(partial.stderr, /Cannot change VG vg while PVs are missing\.\n {2}See vgreduce --removemissing and vgextend --restoremissing\.\n {2}Cannot process volume group vg\n$/);
  assert.equal(partial.stderr, `${lvmNoise(realPartial.stderr)}\n`);
  assert.equal(real(["lvs", "--noheadings", "vg"]).stdout, "");
});

test("messages printed before a failed allocation are kept", () => {
  lab.freshVg("vg", [d0, d1]);
  lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "-i", "3", "-L", "8m", "vg"]);
  real(["lvcreate", "-an", "-Zn", "-l", "100%PVS", "-n", "full", "vg", d1]);
  lab.assertSame("vg", ["lvcreate", "-an", "-Zn", "-L", "4m", "vg", d1]);
});
