/**
 * lvmdevices against the real lvm2: both keep a devices file of the same name
 * in their own system directory, take the same steps on the same loop devices,
 * and must print the same and keep files with the same entries.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { makeEnv, lvmNoise, type RunResult } from "../helpers/env.ts";

const env = makeEnv();
after(() => env.cleanup());
const dev = Array.from({ length: 3 }, (_, i) => env.loop(env.image(`d${i}.img`, "64M")));
const [d0, d1, d2] = dev as [string, string, string];

const FILE = "test.devices";
const clean = (r: RunResult): RunResult => ({ ...r, stderr: lvmNoise(r.stderr) });
const ulvm = (args: string[]): RunResult => clean(env.ulvm(args));
/**
 * Real lvm2 with a devices file, so without --devices (lvm refuses both); a
 * filter keeps it off other devices, and its note that the filter is ignored for
 * the devices file is dropped.
 */
function lvm(args: string[]): RunResult {
  const filter = [...dev.map((d) => `"a|^${d}$|"`), '"r|.*|"'].join(", ");
  const r = spawnSync("lvm", [...args, "--config", `devices { filter = [ ${filter} ] }`], {
    encoding: "utf8",
    env: { ...process.env, LVM_SYSTEM_DIR: join(env.dir, "lvm"), LVM_SUPPRESS_FD_WARNINGS: "1" },
  });
  const stderr = r.stderr.replace(/^ *Please remove the lvm.conf filter, it is ignored with the devices file.\n/m, "");
  return clean({ stdout: r.stdout, stderr, code: r.status ?? -1 });
}
const both = (args: string[]): { ours: RunResult; real: RunResult } => ({ real: lvm(args), ours: ulvm(args) });

function same(args: string[]): RunResult {
  const { ours, real } = both(args);
  assert.deepEqual(ours, real, args.join(" "));
  return ours;
}

/** The entries and version, without the comment naming the writer, its pid and the time. */
function entries(systemDir: string): string {
  return readFileSync(join(systemDir, "devices", FILE), "utf8").replace(/^#.*\n/gm, "");
}
const assertSameFiles = () => assert.equal(entries(env.vars.ULVM_SYSTEM_DIR!), entries(join(env.dir, "lvm")));

const pvid = (d: string): string =>
  lvmNoise(env.lvm(["pvs", "--noheadings", "-o", "pv_uuid", d], [d]).stdout)
    .trim()
    .replaceAll("-", "");

function wipe(d: string): void {
  const fd = openSync(d, "r+");
  writeSync(fd, Buffer.alloc(1 << 20), 0, 1 << 20, 0);
  closeSync(fd);
}

test("lvmdevices lists, adds and removes entries as lvm2 does", () => {
  const df = ["--devicesfile", FILE];
  assert.equal(same(["lvmdevices", ...df]).code, 5, "no file yet");
  assert.equal(same(["lvmdevices", "--devicesfile", ""]).code, 5, "devices file disabled");

  assert.equal(env.lvm(["pvcreate", d0], [d0]).code, 0);
  same(["lvmdevices", ...df, "--adddev", d0]);
  same(["lvmdevices", ...df, "--adddev", d1]);
  same(["lvmdevices", ...df, "--adddev", d1]);
  same(["lvmdevices", ...df, "--adddev", "/dev/ulvm-no-such-device"]);
  const list = same(["lvmdevices", ...df]);
  assert.match(list.stdout, new RegExp(`Device ${d0} IDTYPE=loop_file IDNAME=\\S+d0\\.img DEVNAME=${d0} PVID=${pvid(d0)}\\n`));
  assert.match(list.stdout, new RegExp(`Device ${d1} IDTYPE=loop_file IDNAME=\\S+d1\\.img DEVNAME=${d1} PVID=none\\n`));
  assertSameFiles();

  same(["lvmdevices", ...df, "--deldev", d1]);
  same(["lvmdevices", ...df, "--deldev", d1]);
  same(["lvmdevices", ...df, "--delpvid", "not-a-pvid"]);
  same(["lvmdevices", ...df, "--delpvid", pvid(d0)]);
  same(["lvmdevices", ...df, "--delpvid", pvid(d0)]);
  assertSameFiles();
  assert.equal(same(["lvmdevices", ...df]).stdout, "");

  // --addpvid reads every device of the machine, the real lvm2's included: ulvm alone here.
  const found = ulvm(["lvmdevices", ...df, "--addpvid", pvid(d0)]);
  assert.equal(found.code, 0, found.stderr);
  assert.equal(found.stdout, `  Found PVID ${pvid(d0)} on ${d0}.\n`);
  assert.match(ulvm(["lvmdevices", ...df]).stdout, new RegExp(`^  Device ${d0} .* PVID=${pvid(d0)}\n$`));
  const again = ulvm(["lvmdevices", ...df, "--addpvid", pvid(d0)]);
  assert.deepEqual([again.code, again.stderr], [5, `  PVID already exists in devices file for ${d0}.`]);
  const unknown = ulvm(["lvmdevices", ...df, "--addpvid", "0zPO4bKhjiMeRUUewstU65oclUCMrZfk"]);
  assert.equal(unknown.code, 5);
  assert.equal(unknown.stderr, "  PVID 0zPO4bKhjiMeRUUewstU65oclUCMrZfk not found on any devices.\n".repeat(2).trimEnd());
});

test("lvmdevices --check and --update follow PVIDs that changed on the devices", () => {
  const df = ["--devicesfile", "check.devices"];
  wipe(d2);
  same(["lvmdevices", ...df, "--adddev", d2]);
  assert.equal(same(["lvmdevices", ...df, "--check"]).code, 0);
  same(["lvmdevices", ...df, "--update"]);

  assert.equal(env.lvm(["pvcreate", d2], [d2]).code, 0);
  const check = same(["lvmdevices", ...df, "--check"]);
  assert.equal(check.code, 5);
  assert.equal(check.stderr, `  Device ${d2} has PVID ${pvid(d2)} (devices file none)\n  Updates needed for devices file.`);
  const update = same(["lvmdevices", ...df, "--update"]);
  assert.match(update.stdout, /^ {2}Updated devices file to version 1\.1\.\d+\n$/);
  assert.equal(same(["lvmdevices", ...df, "--check"]).code, 0);

  wipe(d2);
  assert.equal(same(["lvmdevices", ...df, "--check"]).code, 5);
  same(["lvmdevices", ...df, "--update"]);
  assert.match(same(["lvmdevices", ...df]).stdout, /PVID=none\n$/);
});

test("pvcreate records new PVs in the devices file and pvremove forgets their PVID", () => {
  const df = ["--devicesfile", "pv.devices"];
  wipe(d1);
  ulvm(["lvmdevices", ...df, "--adddev", d0]);
  const created = ulvm(["pvcreate", ...df, d1]);
  assert.equal(created.code, 0, created.stderr);
  const listed = ulvm(["lvmdevices", ...df]).stdout;
  assert.match(listed, new RegExp(`Device ${d1} IDTYPE=loop_file \\S+ DEVNAME=${d1} PVID=${pvid(d1)}\\n`));
  const removed = ulvm(["pvremove", ...df, d1]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(ulvm(["lvmdevices", ...df]).stdout, new RegExp(`Device ${d1} \\S+ \\S+ DEVNAME=${d1} PVID=none\\n`));
  const outside = ulvm(["pvremove", ...df, d2]);
  assert.equal(outside.code, 5);
  assert.equal(outside.stderr, `  Cannot use ${d2}: device is not in devices file`);

  // A PV outside the devices file is read before anything is done to it.
  wipe(d2);
  assert.equal(env.lvm(["vgcreate", "vgout", d2], [d2]).code, 0);
  const taken = ulvm(["pvcreate", ...df, d2]);
  assert.equal(taken.code, 5);
  assert.equal(
    taken.stderr,
    `  PV ${d2} is used by a VG but its metadata is missing.\n  Can't initialize PV '${d2}' without -ff.\n  ${d2}: physical volume not initialized.`,
  );
  assert.equal(lvmNoise(env.lvm(["vgs", "--noheadings", "-o", "vg_name", "vgout"], [d2]).stdout).trim(), "vgout", "left alone");
  assert.equal(env.lvm(["vgremove", "vgout"], [d2]).code, 0);
  const made = ulvm(["vgcreate", ...df, "vgin", d2]);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /Volume group "vgin" successfully created\n$/);
  const ck = env.lvm(["vgck", "vgin"], [d2]);
  assert.deepEqual([ck.code, lvmNoise(ck.stderr)], [0, ""]);
  assert.match(ulvm(["lvmdevices", ...df]).stdout, new RegExp(`DEVNAME=${d2} PVID=${pvid(d2)}\n`));
});
