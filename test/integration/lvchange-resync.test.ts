/**
 * lvchange --resync of raid1 LVs under the daemon, on image files: an active
 * raid1 made with --nosync and written (its legs made to differ under it) is
 * asked about, deactivated, its rmetas wiped and NOTSYNCED dropped, and comes
 * back syncing in full from image 0; a "no" (typed or EOF) and an open LV
 * (an NBD client, a mount) change nothing; an inactive raid1 syncs in full at its next activation;
 * other LV types are refused as the real lvm2 refuses them, and the real lvm2
 * (on loop devices over the same images) reads the VG afterwards.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { MiB } from "../helpers/device-bytes.ts";
import { lvmNoise, type RunResult } from "../helpers/env.ts";
import { legDifferences, makeRaidLab, readAreas } from "../helpers/raid-lab.ts";
import type { RaidStatus } from "../../src/daemon/protocol.ts";

const lab = makeRaidLab();
const mnt = join(lab.env.dir, "mnt");
after(() => {
  // A failed test may leave the file system mounted; the lab's cleanup needs the LV free.
  spawnSync("umount", [mnt]);
  lab.cleanup();
});
const [a, b, c] = ["a", "b", "c"].map((n) => lab.image(`${n}.img`, "64M")) as [string, string, string];
const devices = [a, b, c];
const LV = 8 * MiB;

const same = (r: RunResult) => [r.code, r.stdout, r.stderr];

/** ./bin/ulvm with activation on, its prompts answered by `input`. */
function answering(input: string, ...args: string[]): RunResult {
  return lab.env.ulvm([...args, "--devices", devices.join(",")], { input, env: { ULVM_ACTIVATION: "1" } });
}

/** The raid1 has settled: both legs in sync, nothing running. */
const settled = (s: RaidStatus) => s.health === "AA" && s.syncAction === "idle" && s.syncBytes === s.size;

/** `lvs` of the LV alone: attr and Cpy%Sync. */
function attrAndSync(vgLv: string): string[] {
  return lab.ok("lvs", "--noheadings", "--separator", "|", "-o", "lv_attr,copy_percent", vgLv).stdout.trim().split("|").map((f) => f.trim());
}

function seqno(vg: string): string {
  return lab.ok("vgs", "--noheadings", "-o", "vg_seqno", vg).stdout.trim();
}

/** Writes `length` bytes of `byte` onto leg 1's image at an LV offset, behind the array's back: the legs then differ. */
function scribbleOnLeg1(vgLv: string, offset: number, length: number, byte: number): void {
  const area = lab.legs(vgLv)[1]!.find((x) => x.lvOffset <= offset && offset + length <= x.lvOffset + x.length)!;
  const fd = openSync(area.image, "r+");
  try {
    writeSync(fd, Buffer.alloc(length, byte), 0, length, area.at + offset - area.lvOffset);
  } finally {
    closeSync(fd);
  }
}

/** A --nosync raid1 whose first 3 MiB were written through its export and whose leg 1 differs at 5 MiB; what leg 0 holds. */
async function unsyncedRaid1(vgLv: string): Promise<Buffer> {
  const [vg, lv] = vgLv.split("/") as [string, string];
  lab.ok("lvcreate", "--type", "raid1", "-m1", "--nosync", "-L", "8m", "-n", lv, vg, a, b);
  const qemu = spawn("qemu-io", ["-f", "raw", "-c", "write -P 0x33 0 3M", "-c", "flush", lab.uri(vgLv)], { stdio: "ignore" });
  assert.equal(await new Promise((r) => qemu.once("exit", r)), 0, "qemu-io wrote through the export");
  scribbleOnLeg1(vgLv, 5 * MiB, MiB, 0x77);
  assert.ok(legDifferences(lab.legs(vgLv), LV).length > 0, "the legs differ before the resync");
  const expected = Buffer.alloc(LV).fill(0x33, 0, 3 * MiB);
  assert.ok(readAreas(lab.legs(vgLv)[0]!, 0, LV).equals(expected), "leg 0 holds what was written");
  return expected;
}

/** Both legs hold `expected`, read from the image files. */
function assertLegsHold(vgLv: string, expected: Buffer): void {
  const legs = lab.legs(vgLv);
  assert.deepEqual(legDifferences(legs, LV), [], `${vgLv}: the legs are equal`);
  assert.ok(readAreas(legs[0]!, 0, LV).equals(expected), `${vgLv}: the legs hold what was written`);
}

let loops: string[] | undefined;
/** The real lvm2, on loop devices over the lab's images. */
function realLvm(...args: string[]): RunResult {
  loops ??= devices.map((image) => lab.env.loop(image));
  return lab.env.lvm(args, loops);
}

test("setup: a VG over the images", () => {
  lab.ok("pvcreate", a, b, c);
  lab.ok("vgcreate", "vs", a, b, c);
});

test("active raid1: no (typed or EOF) and an open LV change nothing; -y resyncs it in full from image 0 and clears NOTSYNCED", async () => {
  const expected = await unsyncedRaid1("vs/r");
  assert.deepEqual(attrAndSync("vs/r"), ["Rwi-a-r---", "100.00"]);
  const before = { seqno: seqno("vs"), raid: await lab.raid("vs/r") };
  const unchanged = async (what: string) => {
    assert.equal(seqno("vs"), before.seqno, `${what}: the VG was not written`);
    assert.deepEqual(await lab.raid("vs/r"), before.raid, `${what}: the array kept running as it was`);
    assert.deepEqual(attrAndSync("vs/r"), ["Rwi-a-r---", "100.00"], what);
  };

  const question = "Do you really want to deactivate logical volume vs/r to resync it? [y/n]: ";
  assert.deepEqual(same(answering("n\n", "lvchange", "--resync", "vs/r")), [5, "", `${question}  Logical volume vs/r not resynced.\n`]);
  await unchanged("answered n");
  assert.deepEqual(same(answering("", "lvchange", "--resync", "vs/r")), [5, "", `${question}[n]\n  Logical volume vs/r not resynced.\n`]);
  await unchanged("EOF");

  const holder = spawn("qemu-io", ["-f", "raw", lab.uri("vs/r")], { stdio: ["pipe", "ignore", "ignore"] });
  const gone = new Promise((resolve) => holder.once("exit", resolve));
  try {
    for (let i = 0; ((await lab.status("vs/r"))?.openCount ?? 0) === 0; i++) {
      assert.ok(i < 100, "the client opened the export");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(same(answering("", "lvchange", "--resync", "-y", "vs/r")), [
      5,
      "",
      "  Logical volume vs/r in use.\n  Can't resync open logical volume vs/r.\n",
    ]);
  } finally {
    holder.stdin!.end("quit\n");
    await gone;
  }
  before.raid = await lab.raid("vs/r");
  await unchanged("open");

  assert.deepEqual(same(answering("", "lvchange", "--resync", "-y", "vs/r")), [0, "", ""]);
  const done = await lab.waitRaid("vs/r", settled, 30_000, "the full resync");
  assert.equal(done.resyncedBytes, done.size, "every region was copied");
  assert.equal(done.size, LV);
  assert.deepEqual(attrAndSync("vs/r"), ["rwi-a-r---", "100.00"]);
  assertLegsHold("vs/r", expected);

  const vgck = realLvm("vgck", "vs");
  assert.deepEqual([vgck.code, lvmNoise(vgck.stderr)], [0, ""], vgck.stderr);
  // Without device-mapper lvm2 knows no live state: the volume type (r, not R), the skip flag and the hidden sub-LVs are the metadata's.
  const theirs = realLvm("lvs", "-a", "--noheadings", "-o", "lv_name,lv_attr", "vs");
  assert.deepEqual(
    theirs.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/)).map(([name, attr]) => [name, attr![0], attr![9]]),
    [["r", "r", "-"], ["[r_rimage_0]", "I", "-"], ["[r_rimage_1]", "I", "-"], ["[r_rmeta_0]", "e", "-"], ["[r_rmeta_1]", "e", "-"]],
  );
});

test("inactive raid1: no question, the rmetas are blank and NOTSYNCED gone; the next activation syncs in full", async () => {
  const expected = await unsyncedRaid1("vs/q");
  lab.ok("lvchange", "-an", "vs/q");
  const heads = () => lab.metas("vs/q").map((m) => readAreas(m, 0, 4096));
  assert.ok(heads().every((h) => h.some((byte) => byte !== 0)), "the legs had dm-raid superblocks");

  assert.deepEqual(same(answering("", "lvchange", "--resync", "vs/q")), [0, "", ""]);
  assert.ok(heads().every((h) => h.every((byte) => byte === 0)), "the rmetas' superblocks are wiped");
  assert.deepEqual(attrAndSync("vs/q"), ["rwi---r---", ""]);
  assert.equal(await lab.status("vs/q"), undefined, "it stays inactive");

  lab.ok("lvchange", "-ay", "vs/q");
  const done = await lab.waitRaid("vs/q", settled, 30_000, "the full resync at activation");
  assert.equal(done.resyncedBytes, done.size, "every region was copied");
  assertLegsHold("vs/q", expected);
  assert.deepEqual(attrAndSync("vs/q"), ["rwi-a-r---", "100.00"]);
});

test("a mounted raid1 is refused, its file system named", async () => {
  const node = (await lab.status("vs/q"))?.node;
  assert.ok(node, "vs/q has a device node");
  assert.equal(spawnSync("mkfs.ext4", ["-q", node]).status, 0, "mkfs.ext4");
  mkdirSync(mnt, { recursive: true });
  assert.equal(spawnSync("mount", [node, mnt]).status, 0, "mount");
  try {
    const before = seqno("vs");
    assert.deepEqual(same(answering("", "lvchange", "--resync", "-y", "vs/q")), [
      5,
      "",
      "  Logical volume vs/q contains a filesystem in use.\n  Can't resync open logical volume vs/q.\n",
    ]);
    assert.equal(seqno("vs"), before);
  } finally {
    assert.equal(spawnSync("umount", [mnt]).status, 0, "umount");
  }
});

test("other LV types are refused as the real lvm2 refuses them, and nothing is written", () => {
  lab.ok("lvcreate", "-L", "4m", "-n", "lin", "vs", c);
  const before = seqno("vs");
  for (const args of [
    ["lvchange", "--resync", "-y", "vs/lin"],
    ["lvchange", "--resync", "-y", "vs/r_rmeta_0", "vs/nolv"],
  ]) {
    const ours = answering("", ...args);
    const real = realLvm(...args);
    const pick = (r: RunResult) => [r.code, r.stdout, lvmNoise(r.stderr)];
    assert.deepEqual(pick(ours), pick(real), args.join(" "));
    assert.equal(ours.code, 5, args.join(" "));
  }
  assert.equal(seqno("vs"), before);
});

test("a raid1 tracking a split image is refused: its rmeta holds the changes the merge needs", () => {
  lab.ok("lvcreate", "--type", "raid1", "-m1", "--nosync", "-L", "4m", "-n", "t", "vs", a, b);
  lab.ok("lvconvert", "--splitmirrors", "1", "--trackchanges", "-y", "vs/t");
  const before = { seqno: seqno("vs"), metas: lab.metas("vs/t").map((m) => readAreas(m, 0, 4096)) };
  assert.deepEqual(same(answering("", "lvchange", "--resync", "-y", "vs/t")), [5, "", "  Cannot resync t while it is tracking a split image\n"]);
  assert.equal(seqno("vs"), before.seqno);
  assert.deepEqual(lab.metas("vs/t").map((m) => readAreas(m, 0, 4096)), before.metas, "no rmeta was wiped");
});
