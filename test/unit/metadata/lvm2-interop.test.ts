/**
 * The Session against real lvm2 2.03 on loop devices: lvm2 accepts what the
 * Session writes (vgck, vgs, its devices file and archives), and the Session reads
 * what lvm2 writes. Skipped where there is no lvm2 or no loop device to attach.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSession } from "../../../src/metadata/open-session.ts";
import type { Session, SessionOptions } from "../../../src/metadata/session.ts";
import { linearLv, newVg, pvFor } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "ulvm-interop-"));
const loops: string[] = [];
after(() => {
  for (const dev of loops.splice(0)) spawnSync("losetup", ["-d", dev]);
  rmSync(dir, { recursive: true, force: true });
});

function attach(name: string): string | undefined {
  const image = join(dir, name);
  execFileSync("truncate", ["-s", "64M", image]);
  const r = spawnSync("losetup", ["-f", "--show", image], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const dev = r.stdout.trim();
  loops.push(dev);
  return dev;
}

const hasLvm = spawnSync("lvm", ["version"], { encoding: "utf8" }).status !== null;
const devs = hasLvm && process.getuid?.() === 0 ? ["a", "b", "c"].map(attach) : [];
const skip = devs.length === 3 && devs.every(Boolean) ? false : "needs root, lvm2 and loop devices";
const [a, b, c] = devs as string[];

/** LVM's system dir doubles as ulvm's: the devices file, backup/ and archive/ are shared. */
const systemDir = join(dir, "etc");
function lvmConf(useDevicesFile: boolean): void {
  mkdirSync(systemDir, { recursive: true });
  writeFileSync(
    join(systemDir, "lvm.conf"),
    `global { activation = 0 }\ndevices { use_devicesfile = ${useDevicesFile ? 1 : 0} obtain_device_list_from_udev = 0 }\n` +
      "activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }\n",
  );
}

/** `devices` null: no --devices, so lvm2 goes by the devices file. */
function lvm(args: string[], devices: string[] | null = [a, b, c]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync("lvm", [...args, ...(devices ? ["--devices", devices.join(",")] : [])], {
    encoding: "utf8",
    env: { ...process.env, LVM_SYSTEM_DIR: systemDir, LVM_SUPPRESS_FD_WARNINGS: "1" },
  });
  const stderr = r.stderr
    .split("\n")
    .filter((l) => l && !/Activation disabled|device-mapper|mapper\/control|not zeroed|NOT backed up/.test(l))
    .join("\n");
  return { code: r.status ?? -1, stdout: r.stdout, stderr };
}

async function session(commandLine: string, warnings: string[], opts: Partial<SessionOptions> = {}): Promise<Session> {
  return openSession({
    systemDir,
    runDir: join(dir, "run"),
    devices: [a, b, c],
    commandLine,
    warn: (l) => warnings.push(l),
    ...opts,
  });
}

test("lvm2 reads, checks and changes a VG the Session wrote; the Session reads lvm2's changes", { skip }, async () => {
  lvmConf(false);
  const warnings: string[] = [];
  const s = await session(`vgcreate vgu ${a} ${b}`, warnings);
  for (const d of [a, b]) await s.createPv(d, {});
  const vg = newVg("vgu", "abcdefghijABCDEFGHIJ0123456789ab", [pvFor(s.findPv(a)!, 8192), pvFor(s.findPv(b)!, 8192)], 8192);
  await s.writeVg(undefined, vg);
  const loaded = s.readVg("vgu")!;
  loaded.vg.lvs.push(linearLv("lv0", "L0L0L0L0L0L0L0L0L0L0L0L0L0L0L0L0", loaded.vg.pvs[1]!.id, 3, 4));
  await s.writeVg(loaded, loaded.vg);
  await s.close();
  assert.deepEqual(warnings, []);

  const ck = lvm(["vgck", "vgu"]);
  assert.equal(ck.code, 0, ck.stderr);
  assert.equal(ck.stderr, "");
  const vgs = lvm(["vgs", "--noheadings", "-o", "vg_name,pv_count,lv_count,vg_seqno"]);
  assert.equal(vgs.code, 0, vgs.stderr);
  assert.deepEqual(vgs.stdout.trim().split(/\s+/), ["vgu", "2", "1", "2"]);
  assert.match(lvm(["lvs", "--noheadings", "-o", "lv_name,devices", "vgu"]).stdout, new RegExp(`lv0\\s+${b}\\(3\\)`));
  const list = lvm(["vgcfgrestore", "--list", "vgu"]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /Created \*before\* executing 'vgcreate vgu/);

  assert.equal(lvm(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "fromlvm", "vgu"]).code, 0);
  assert.equal(lvm(["vgextend", "vgu", c]).code, 0);

  const t = await session("lvs", warnings);
  const read = t.readVg("vgu")!;
  assert.deepEqual(warnings, []);
  assert.equal(read.vg.seqno, 4);
  assert.deepEqual(read.vg.lvs.map((l) => l.name), ["lv0", "fromlvm"]);
  assert.deepEqual([...read.devices.values()].map((d) => [d.device, d.used]), [
    [a, true],
    [b, true],
    [c, true],
  ]);
  // lvm2 put fromlvm on the first PV: drop both, as lvremove and vgreduce would.
  read.vg.lvs = read.vg.lvs.filter((l) => l.name !== "fromlvm");
  read.vg.pvs = read.vg.pvs.slice(1);
  await t.lockVg("vgu");
  await t.writeVg(read, read.vg);
  await t.close();

  const ck2 = lvm(["vgck", "vgu"]);
  assert.equal(ck2.code, 0, ck2.stderr);
  assert.equal(ck2.stderr, "");
  const pvs = lvm(["pvs", "--noheadings", "-o", "pv_name,vg_name"]);
  const rows = pvs.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/));
  assert.deepEqual(rows.sort(), [[a], [b, "vgu"], [c, "vgu"]].sort());

  const u = await session("vgremove vgu", warnings);
  await u.removeVg(u.readVg("vgu")!);
  await u.close();
  const empty = lvm(["vgs", "--noheadings"]);
  assert.equal(empty.code, 0);
  assert.equal(empty.stdout.trim(), "");
  assert.equal(lvm(["pvs", "--noheadings"]).stdout.trim().split("\n").length, 3, "the PVs are orphans lvm2 still sees");
});

test("the devices file: lvm2 uses the entries the Session wrote, the Session follows lvm2's", { skip }, async () => {
  lvmConf(true);
  // A named devices file: the system one would not be created on a machine where other VGs are visible.
  const name = "ulvm-test.devices";
  const path = join(systemDir, "devices", name);
  rmSync(path, { force: true });
  const warnings: string[] = [];
  const s = await session(`pvcreate ${c}`, warnings, { devices: undefined, devicesFile: name });
  await s.createPv(c, {});
  await s.addToDevicesFile(c);
  await s.close();
  const backing = readFileSync(`/sys/class/block/${c.slice(5)}/loop/backing_file`, "utf8").trim();
  assert.match(readFileSync(path, "utf8"), new RegExp(`^IDTYPE=loop_file IDNAME=${backing} DEVNAME=${c} PVID=\\w{32}$`, "m"));

  const pvs = lvm(["pvs", "--noheadings", "-o", "pv_name", "--devicesfile", name], null);
  assert.equal(pvs.code, 0, pvs.stderr);
  assert.deepEqual(pvs.stdout.trim().split(/\s+/), [c], "lvm2 sees exactly the devices file's device");

  const add = lvm(["lvmdevices", "--adddev", b, "--devicesfile", name], null);
  assert.equal(add.code, 0, add.stderr);
  assert.match(readFileSync(path, "utf8"), /^VERSION=1\.1\.2$/m);
  const t = await session("pvs", warnings, { devices: undefined, devicesFile: name });
  assert.deepEqual(t.allowedDevices(), [c, b]);
  assert.deepEqual(t.scannedPvs().map((p) => p.device), [c, b]);
  await t.close();
  // Before the file exists every device of the machine is scanned, other users' too: only ours are judged.
  assert.ok(warnings.includes(`Creating devices file ${path}`));
  assert.deepEqual(warnings.filter((l) => new RegExp(`(${b}|${c})\\b`).test(l)), []);
  assert.ok(readdirSync(join(systemDir, "devices")).every((n) => !n.endsWith("_new")));
});
