/**
 * pvcreate, pvremove, pvck, pvscan and the builtin help/version: ulvm's output,
 * refusals and exit codes against the real lvm2 run on the same loop devices,
 * and what ulvm writes read back by real lvm2.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeEnv, lvmNoise, type RunResult } from "../helpers/env.ts";
import { MiB, readBytes, wipe as wipeAt, writeBytes } from "../helpers/device-bytes.ts";
import { ok } from "../helpers/runs.ts";

const env = makeEnv();
after(() => env.cleanup());
const dev = Array.from({ length: 6 }, (_, i) => env.loop(env.image(`d${i}.img`, "64M")));
const [d0, d1, d2, d3, d4] = dev as [string, string, string, string, string];

/** Clears everything either tool may have written: the label, the first mda and the one at the end. */
const wipe = (...devices: string[]): void => wipeAt(devices, [0, 62 * MiB]);

const clean = (r: RunResult): RunResult => ({ ...r, stderr: lvmNoise(r.stderr) });
const ulvm = (args: string[], input = ""): RunResult => clean(env.ulvm([...args, "--devices", dev.join(",")], { input }));
const lvm = (args: string[], input = ""): RunResult => clean(env.lvm(args, dev, { input }));
/**
 * Real lvm2 confined by a device filter rather than --devices: its pvck refuses
 * a lone block device when given --devices.
 */
function lvmFiltered(args: string[]): RunResult {
  const filter = [...dev.map((d) => `"a|^${d}$|"`), '"r|.*|"'].join(", ");
  const r = spawnSync("lvm", [...args, "--config", `devices { filter = [ ${filter} ] }`], {
    encoding: "utf8",
    env: { ...process.env, LVM_SYSTEM_DIR: join(env.dir, "lvm"), LVM_SUPPRESS_FD_WARNINGS: "1" },
  });
  return clean({ stdout: r.stdout, stderr: r.stderr, code: r.status ?? -1 });
}

/** The same refusal from both: nothing is written, so both see the same devices. */
function assertSameRefusal(args: string[], input = ""): RunResult {
  const real = lvm(args, input);
  const ours = ulvm(args, input);
  assert.deepEqual({ stdout: ours.stdout, stderr: ours.stderr, code: ours.code }, { stdout: real.stdout, stderr: real.stderr, code: real.code }, args.join(" "));
  assert.notEqual(ours.code, 0);
  return ours;
}

/** lvm prints prompts on stderr and ends them with its own "[y/n]? "; only the question is compared. */
function withoutPrompt(text: string): string {
  return text
    .split("\n")
    .filter((l) => !l.includes("[y/n]"))
    .join("\n");
}

/** Whole names only (/dev/loop1 must not rewrite /dev/loop11), all at once so the pairs cannot chain. */
const rename = (text: string, from: string[], to: string[]): string =>
  text.replace(new RegExp(from.map((f) => `${f.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(?![\\w])`).join("|"), "g"), (m) => to[from.indexOf(m)]!);
/** Rows sorted and blanks squeezed: the twin devices' names sort and pad differently. */
const sortedLines = (text: string): string => text.split("\n").map((l) => l.replace(/ +/g, " ")).sort().join("\n");
const pvFields = ["pvs", "--noheadings", "-o", "pv_name,vg_name,pv_fmt,pv_attr,pv_size,pv_free,pe_start,pv_mda_count,pv_mda_size,pv_ba_start,pv_ba_size"];

test("pvcreate makes PVs real lvm2 sees as its own, with each layout option", () => {
  const cases: string[][] = [
    [],
    ["--metadatasize", "32k", "--dataalignment", "4k"],
    ["--pvmetadatacopies", "2", "--bootloaderareasize", "1m"],
    ["--pvmetadatacopies", "0"],
    ["--labelsector", "3"],
    ["--dataalignment", "3m", "--dataalignmentoffset", "512k", "--metadatasize", "100k"],
  ];
  for (const opts of cases) {
    wipe(d0, d1, d2, d3);
    const ours = ok(ulvm(["pvcreate", ...opts, d0, d1]), `ulvm pvcreate ${opts}`);
    const real = ok(lvm(["pvcreate", ...opts, d2, d3]), `lvm pvcreate ${opts}`);
    assert.equal(rename(ours.stdout, [d0, d1], [d2, d3]), real.stdout);
    assert.equal(ours.stderr, "");
    const seen = ok(lvm([...pvFields, d0, d1]), "pvs");
    assert.equal(sortedLines(rename(seen.stdout, [d0, d1], [d2, d3])), sortedLines(ok(lvm([...pvFields, d2, d3]), "pvs").stdout), `layout ${opts}`);
    const sector = opts.includes("--labelsector") ? ["--labelsector", "3"] : [];
    const dump = (d: string) =>
      ok(lvmFiltered(["pvck", "--dump", "headers", ...sector, d]), "pvck").stdout.replace(/(pv_uuid|crc|checksum) \S+/g, "$1 X");
    assert.equal(dump(d0), dump(d2), `headers ${opts}`);
  }
});

test("pvcreate zeroes the start of the device unless -Zn", () => {
  for (const [zero, expectKept] of [[[], false], [["-Zn"], true]] as const) {
    wipe(d0);
    writeBytes(d0, 0, Buffer.alloc(512, 0xaa));
    ok(ulvm(["pvcreate", ...zero, d0]), "pvcreate");
    assert.equal(readBytes(d0, 0, 512).every((b) => b === 0xaa), expectKept, `pvcreate ${zero}`);
    ok(lvm(["pvck", d0]), "pvck");
  }
});

test("pvcreate refuses what lvm refuses, with its messages and exit codes", () => {
  wipe(d0, d1, d2);
  ok(lvm(["vgcreate", "vgpv", d0]), "lvm vgcreate");
  assertSameRefusal(["pvcreate", d0]);
  assertSameRefusal(["pvcreate", "-f", d0]);
  assertSameRefusal(["pvcreate", "/dev/ulvm-no-such-device"]);
  assertSameRefusal(["pvcreate", "--labelsector", "4", d1]);
  assertSameRefusal(["pvcreate", "--pvmetadatacopies", "3", d1]);
  assertSameRefusal(["pvcreate", "--restorefile", "/nonexistent", d1]);
  assertSameRefusal(["pvcreate", "--uuid", "abc", d1]);
  assertSameRefusal(["pvcreate", "--uuid", "0zPO4b-Khji-MeRU-Uews-tU65-oclU-CMrZfk", "--norestorefile", d1, d2]);

  // -ff asks; no answer means no, with lvm's lines around the prompt.
  const real = lvm(["pvcreate", "-ff", d0]);
  const ours = ulvm(["pvcreate", "-ff", d0]);
  assert.equal(ours.code, 5);
  assert.equal(real.code, 5);
  assert.match(ours.stdout + ours.stderr, /Really INITIALIZE physical volume "[^"]+" of volume group "vgpv" \[y\/n\]. \[n\]/);
  assert.equal(withoutPrompt(ours.stderr), withoutPrompt(real.stderr));
  assert.equal(lvm(["vgs", "--noheadings", "-o", "vg_name", "vgpv"]).stdout.trim(), "vgpv", "the PV is still in its VG");

  // Some devices fail, the others are still created, and the exit code says so.
  const partly = ulvm(["pvcreate", d1, "/dev/ulvm-no-such-device"]);
  assert.equal(partly.code, 5);
  assert.equal(partly.stdout, `  Physical volume "${d1}" successfully created.\n`);
  assert.equal(partly.stderr, "No device found for /dev/ulvm-no-such-device.".replace(/^/, "  "));
});

test("pvcreate -ff -y takes a PV from its VG, and --uuid --restorefile rebuilds one lvm2 can restore", () => {
  wipe(d0, d1);
  ok(lvm(["vgcreate", "vgff", d0, d1]), "lvm vgcreate");
  const backup = join(env.dir, "vgff.vg");
  ok(lvm(["vgcfgbackup", "-f", backup, "vgff"]), "lvm vgcfgbackup");
  const uuid = lvm(["pvs", "--noheadings", "-o", "pv_uuid", d0]).stdout.trim();

  const forced = ok(ulvm(["pvcreate", "-ff", "-y", d0]), "pvcreate -ff -y");
  assert.equal(forced.stdout, `  Physical volume "${d0}" successfully created.\n`);
  assert.notEqual(lvm(["pvs", "--noheadings", "-o", "pv_uuid", d0]).stdout.trim(), uuid);
  assert.match(lvm(["vgs", "vgff"]).stderr, new RegExp(`VG vgff is missing PV ${uuid}`));

  wipe(d0);
  ok(ulvm(["pvcreate", "--uuid", uuid, "--restorefile", backup, d0]), "pvcreate --restorefile");
  assert.equal(lvm(["pvs", "--noheadings", "-o", "pv_uuid", d0]).stdout.trim(), uuid);
  ok(lvm(["vgcfgrestore", "-f", backup, "vgff"]), "lvm vgcfgrestore");
  const ck = lvm(["vgck", "vgff"]);
  assert.equal(ck.code, 0, ck.stderr);
  assert.equal(ck.stderr, "");

  const elsewhere = ulvm(["pvcreate", "--uuid", uuid, "--norestorefile", d2]);
  assert.equal(elsewhere.code, 5);
  assert.equal(elsewhere.stderr, `  UUID ${uuid} already in use on "${d0}".`);
  const unknown = "0zPO4b-Khji-MeRU-Uews-tU65-oclU-CMrZfk";
  assertSameRefusal(["pvcreate", "--uuid", unknown, "--restorefile", backup, d1]);
});

test("pvremove wipes labels, and refuses PVs in a VG unless -ff and confirmed", () => {
  wipe(d0, d1, d2, d3);
  ok(lvm(["pvcreate", d0]), "lvm pvcreate");
  const removed = ok(ulvm(["pvremove", d0]), "pvremove");
  assert.equal(removed.stdout, `  Labels on physical volume "${d0}" successfully wiped.\n`);
  assert.equal(lvm(["pvs", d0]).code, 5, "lvm finds no PV any more");
  assert.ok(readBytes(d0, 512, 512).every((b) => b === 0), "label sector zeroed");

  assertSameRefusal(["pvremove", d1]);
  assertSameRefusal(["pvremove", "/dev/ulvm-no-such-device"]);
  const forcedReal = lvm(["pvremove", "-f", d1]);
  assert.deepEqual(ulvm(["pvremove", "-f", d1]), forcedReal);

  ok(lvm(["vgcreate", "vgrm", d2, d3]), "lvm vgcreate");
  assertSameRefusal(["pvremove", d2]);
  assertSameRefusal(["pvremove", "-f", d2]);
  const real = lvm(["pvremove", "-ff", d2]);
  const ours = ulvm(["pvremove", "-ff", d2]);
  assert.equal(ours.code, real.code);
  assert.equal(ours.code, 5);
  assert.match(ours.stdout + ours.stderr, /Really WIPE LABELS from physical volume "[^"]+" of volume group "vgrm" \[y\/n\]. \[n\]/);
  assert.equal(withoutPrompt(ours.stderr), withoutPrompt(real.stderr));

  const forced = ok(ulvm(["pvremove", "-ff", "-y", d2]), "pvremove -ff -y");
  assert.equal(forced.stdout, `  Labels on physical volume "${d2}" successfully wiped.\n`);
  assert.equal(forced.stderr, `  WARNING: PV ${d2} is used by VG vgrm.\n  WARNING: Wiping physical volume label from ${d2} of volume group "vgrm".`);
  assert.match(lvm(["vgs", "vgrm"]).stderr, /VG vgrm is missing PV/);
});

test("pvck prints what lvm2's pvck prints, for good and damaged devices", () => {
  wipe(d0, d1, d2, d3);
  ok(lvm(["pvcreate", "--pvmetadatacopies", "2", d1]), "lvm pvcreate");
  ok(lvm(["vgcreate", "vgck1", d0, d1]), "lvm vgcreate");
  ok(ulvm(["pvcreate", d2]), "ulvm pvcreate");
  const same = (args: string[]) => {
    const real = lvmFiltered(args);
    const ours = ulvm(args);
    assert.deepEqual(ours, real, args.join(" "));
    return ours;
  };
  assert.equal(same(["pvck", d0, d1, d2]).code, 0);
  for (const d of [d0, d1, d2]) {
    assert.equal(same(["pvck", "--dump", "headers", d]).code, 0);
    same(["pvck", "--dump", "metadata", d]);
  }
  same(["pvck", "--dump", "metadata", "--pvmetadatacopies", "2", d1]);
  const ours = join(env.dir, "metadata-ulvm.txt");
  const theirs = join(env.dir, "metadata-lvm.txt");
  for (let i = 0; i < 2; i++) {
    // The second time the files exist: both tools refuse to overwrite them.
    const mine = ulvm(["pvck", "--dump", "metadata", "-f", ours, d0]);
    assert.deepEqual({ ...mine, stderr: mine.stderr.replace(ours, theirs) }, lvmFiltered(["pvck", "--dump", "metadata", "-f", theirs, d0]));
  }
  assert.equal(readFileSync(ours, "utf8"), readFileSync(theirs, "utf8"));
  assert.equal(same(["pvck", d3]).code, 5, "no label");
  same(["pvck", "--dump", "headers", d3]);
  same(["pvck", "/dev/ulvm-no-such-device"]);
  same(["pvck", d0, "/dev/ulvm-no-such-device"]);

  const poke = (d: string, offset: number) => writeBytes(d, offset, Buffer.from("X"));
  poke(d2, 512 + 100); // inside the label's CRC range
  assert.equal(same(["pvck", d2]).code, 5);
  same(["pvck", "--dump", "headers", d2]);
  poke(d0, 4096 + 300); // inside the mda header
  same(["pvck", d0]);
  same(["pvck", "--dump", "headers", d0]);
});

test("pvscan lists PVs, sizes and totals as lvm2 does", () => {
  wipe(...dev);
  ok(lvm(["vgcreate", "vgscan1", d0, d1]), "vgcreate");
  ok(lvm(["vgcreate", "-s", "1m", "vgscan2", d2]), "vgcreate");
  ok(lvm(["lvcreate", "-an", "-Zn", "-L", "12m", "-n", "lv", "vgscan1"]), "lvcreate");
  ok(lvm(["pvcreate", d3, d4]), "pvcreate");
  for (const args of [["pvscan"], ["pvscan", "-s"], ["pvscan", "-u"], ["pvscan", "-n"], ["pvscan", "-e"], ["pvscan", "-e", "-n"]]) {
    const real = lvm(args);
    const ours = ulvm(args);
    assert.deepEqual(ours, real, args.join(" "));
  }
  assert.match(ulvm(["pvscan"]).stdout, /Total: 5 \[/);
});

test("help and version", () => {
  const list = ok(env.ulvm(["help"]), "help");
  assert.equal(list.stdout, "");
  const lines = list.stderr.split("\n");
  assert.deepEqual(lines.slice(0, 3), ["  Available lvm commands:", "  Use 'lvm help <command>' for more information", "   "]);
  for (const cmd of ["pvcreate", "vgcreate", "vgreduce", "lvmdevices", "vgcfgrestore"])
    assert.ok(lines.some((l) => l.startsWith(`  ${cmd.padEnd(16)}`)), `help lists ${cmd}`);
  const realList = lvm(["help"]).stderr.split("\n");
  const realNames = new Set(realList.map((l) => l.trim().split(/\s+/)[0]));
  const shared = lines.slice(3).filter((l) => l && realNames.has(l.trim().split(/\s+/)[0]));
  assert.ok(shared.length >= 20, "lists lvm's commands");
  for (const line of shared) assert.ok(realList.includes(line), `lvm's own line: ${line}`);

  assert.deepEqual(clean(env.ulvm(["help", "nosuchcmd"])), lvm(["help", "nosuchcmd"]));
  assert.match(ok(env.ulvm(["help", "vgcreate"]), "help vgcreate").stdout, /^ {2}vgcreate - Create a volume group\n/);

  const version = ok(env.ulvm(["version"]), "version").stdout.split("\n");
  assert.match(version[0]!, /^ {2}ulvm version: +\d+\.\d+\.\d+$/);
  const realVersion = lvm(["version"]).stdout.split("\n")[0];
  assert.equal(version[1], realVersion, "names the LVM2 release it follows, as lvm version does");
});
