/**
 * Activation end to end with real clients: the daemon started on demand by
 * lvchange/vgchange/lvcreate, NBD exports checked with nbdinfo, nbdcopy and
 * qemu-io, bytes checked on the PV image files, a filesystem through the
 * device node, kill -9 under writes, and lvextend of an LV in use.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, writeFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { makeEnv } from "../helpers/env.ts";

const env = makeEnv();
const run = env.vars.ULVM_RUN_DIR!;
const devDir = env.vars.ULVM_DEV_DIR!;
const [a, b] = [env.image("a.img", "96M"), env.image("b.img", "96M")];
const devices = ["--devices", `${a},${b}`];
const ulvm = (...args: string[]) => env.ulvm([...args, ...devices], { env: { ULVM_ACTIVATION: "1" } });
const ok = (...args: string[]) => {
  const r = ulvm(...args);
  assert.equal(r.code, 0, `ulvm ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r;
};
const uri = (lv: string) => `nbd+unix:///vg/${lv}?socket=${join(run, "nbd.sock")}`;
const attr = (lv: string) => ok("lvs", "--noheadings", "--separator", "|", "-o", "lv_attr,lv_active,lv_device_open", `vg/${lv}`).stdout.trim().split("|");
const INACTIVE = ["-wi-------", "", "unknown"];
const daemonPid = () => Number(readFileSync(join(run, "ulvmd.pid"), "utf8"));
const mnt = join(env.dir, "mnt");

after(() => {
  // Whatever a failed test left: unmount, deactivate, stop the daemon, then the files go.
  spawnSync("umount", [mnt]);
  ulvm("vgchange", "-an", "vg");
  if (existsSync(join(run, "ulvmd.pid"))) {
    const pid = daemonPid();
    try {
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 100 && existsSync(join(run, "ulvmd.pid")); i++) spawnSync("sleep", ["0.1"]);
    } catch {}
  }
  // A daemon that died leaves its nodes: detach their loop devices and unmount their nbdfuse files.
  for (const lv of ["lin", "str"]) {
    const link = join(devDir, "vg", lv);
    if (existsSync(join(devDir, "vg")) && spawnSync("test", ["-L", link]).status === 0) spawnSync("losetup", ["-d", readlinkSync(link)]);
    spawnSync("umount", [join(run, "fuse", "vg", lv)]);
  }
  env.cleanup();
});

/** LV bytes of the first segment → (image, byte) for linear or striped LVs, from lvs' own report of the segment. */
function pvBytes(lv: string, offset: number): { image: string; at: number } {
  const [devs, stripe] = ok("lvs", "--segments", "--noheadings", "--units", "b", "--nosuffix", "-o", "devices,stripe_size", `vg/${lv}`).stdout.trim().split("\n")[0]!.trim().split(/\s+/) as [string, string];
  const areas = devs.split(",").map((d) => /^(.*)\((\d+)\)$/.exec(d)!.slice(1) as [string, string]);
  const extent = 4 << 20;
  const peStart = 1 << 20;
  if (areas.length === 1) return { image: areas[0]![0], at: peStart + Number(areas[0]![1]) * extent + offset };
  const size = Number(stripe);
  const chunk = Math.floor(offset / size);
  const area = areas[chunk % areas.length]!;
  return { image: area[0], at: peStart + Number(area[1]) * extent + Math.floor(chunk / areas.length) * size + (offset % size) };
}

function readImage(image: string, at: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const fd = openSync(image, "r");
  readSync(fd, buf, 0, length, at);
  closeSync(fd);
  return buf;
}

test("activation starts the daemon; nbdinfo lists the exports; attrs follow clients; refusals are lvm's", async () => {
  ok("pvcreate", a, b);
  ok("vgcreate", "vg", a, b);
  ok("lvcreate", "-an", "-L", "40m", "-n", "lin", "vg");
  assert.deepEqual(attr("lin"), INACTIVE);
  assert.equal(existsSync(join(run, "ulvmd.sock")), false, "-an starts no daemon, and lvs does not either");
  ok("lvcreate", "-i", "2", "-I", "64k", "-L", "16m", "-n", "str", "vg");
  assert.deepEqual(attr("str"), ["-wi-a-----", "active", ""]);
  const v = ok("vgchange", "-ay", "vg");
  assert.equal(v.stdout, '  2 logical volume(s) in volume group "vg" now active\n');
  const list = execFileSync("nbdinfo", ["--json", "--list", `nbd+unix:///?socket=${join(run, "nbd.sock")}`], { encoding: "utf8" });
  const sizes = Object.fromEntries((JSON.parse(list).exports as { "export-name": string; "export-size": number }[]).map((e) => [e["export-name"], e["export-size"]]));
  assert.deepEqual(sizes, { "vg/lin": 40 << 20, "vg/str": 16 << 20 });

  // A client holding the export makes the LV open.
  const client = spawn("qemu-io", ["-f", "raw", uri("lin")], { stdio: ["pipe", "pipe", "pipe"] });
  for (let i = 0; i < 100 && attr("lin")[0] !== "-wi-ao----"; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(attr("lin"), ["-wi-ao----", "active", "open"]);
  const busy = ulvm("lvchange", "-an", "vg/lin");
  assert.deepEqual([busy.code, busy.stderr], [5, "  Logical volume vg/lin in use.\n"]);
  const rm = ulvm("lvremove", "-f", "vg/lin");
  assert.deepEqual([rm.code, rm.stderr], [5, "  Logical volume vg/lin in use.\n"]);

  // lvextend of the LV in use, then a refresh: the connected client keeps working, new ones see the new size.
  ok("lvextend", "-L", "+8m", "vg/lin");
  ok("lvchange", "--refresh", "vg/lin");
  const out: string[] = [];
  client.stdout.on("data", (d) => out.push(String(d)));
  client.stderr.on("data", (d) => out.push(String(d)));
  // One command at a time: qemu-io may stop at the end of its input before it has run every line it was given.
  const send = async (cmd: string, done: RegExp) => {
    client.stdin.write(`${cmd}\n`);
    for (let i = 0; i < 200 && !done.test(out.join("")); i++) await new Promise((r) => setTimeout(r, 25));
  };
  await send("write -P 0x5a 0 64k", /wrote 65536\/65536|error|failed/i);
  await send("read -P 0x5a 0 64k", /read 65536\/65536|error|failed/i);
  client.stdin.end();
  await new Promise((r) => client.once("exit", r));
  assert.match(out.join(""), /wrote 65536\/65536[\s\S]*read 65536\/65536/);
  assert.doesNotMatch(out.join(""), /Pattern verification failed|error/i);
  assert.equal(execFileSync("nbdinfo", ["--size", uri("lin")], { encoding: "utf8" }).trim(), String(48 << 20));
  assert.deepEqual(attr("lin"), ["-wi-a-----", "active", ""]);

  // raid1 is served by the raid engine, its legs on both PVs.
  ok("lvcreate", "-m1", "--nosync", "-L", "4m", "-n", "r", "vg");
  assert.equal(execFileSync("nbdinfo", ["--size", uri("r")], { encoding: "utf8" }).trim(), String(4 << 20));
  ok("lvremove", "-f", "vg/r");
  assert.equal(ulvm("lvs", "vg/r").code, 5);
});

test("nbdcopy round-trips random data through linear and striped LVs onto the right PV extents", () => {
  for (const [lv, size] of [["lin", 48 << 20], ["str", 16 << 20]] as const) {
    const data = randomBytes(size);
    const src = join(env.dir, `${lv}.src`);
    const back = join(env.dir, `${lv}.back`);
    writeFileSync(src, data);
    execFileSync("nbdcopy", [src, uri(lv)]);
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "raw", uri(lv), back]);
    assert.ok(readFileSync(back).equals(data), `${lv}: read back what was written`);
    for (const offset of [0, 65536, 65536 * 3 + 100, (16 << 20) - 4096]) {
      const { image, at } = pvBytes(lv, offset);
      assert.ok(readImage(image, at, 512).equals(data.subarray(offset, offset + 512)), `${lv} byte ${offset} on ${image} at ${at}`);
    }
  }
});

test("ext4 through the device node survives deactivation and reactivation", () => {
  const node = join(devDir, "vg", "lin");
  assert.match(readlinkSync(node), /^\/dev\/loop\d+$/);
  execFileSync("mkfs.ext4", ["-q", "-F", node]);
  mkdirSync(mnt, { recursive: true });
  execFileSync("mount", [node, mnt]);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < 20; i++) {
    const dir = join(mnt, `d${i % 4}`);
    mkdirSync(dir, { recursive: true });
    const data = randomBytes(1000 + i * 7919);
    writeFileSync(join(dir, `f${i}`), data);
    files.set(join(`d${i % 4}`, `f${i}`), data);
  }
  const mounted = ulvm("lvchange", "-an", "vg/lin");
  assert.deepEqual([mounted.code, mounted.stderr], [5, "  Logical volume vg/lin contains a filesystem in use.\n"]);
  assert.equal(attr("lin")[0], "-wi-ao----");
  execFileSync("umount", [mnt]);
  execFileSync("e2fsck", ["-fn", node]);
  ok("lvchange", "-an", "vg/lin");
  assert.equal(existsSync(node), false, "deactivation removes the node");
  assert.deepEqual(attr("lin"), INACTIVE);
  ok("lvchange", "-ay", "vg/lin");
  execFileSync("mount", [node, mnt]);
  try {
    for (const [name, data] of files) assert.ok(readFileSync(join(mnt, name)).equals(data), name);
  } finally {
    execFileSync("umount", [mnt]);
  }
});

test("lvextend: an unused device node is made again with the new size; one in use keeps its size and says so", () => {
  const node = join(devDir, "vg", "lin");
  const nodeBytes = () => Number(execFileSync("blockdev", ["--getsize64", node], { encoding: "utf8" }).trim());
  const lvBytes = () => Number(ok("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size", "vg/lin").stdout.trim());
  execFileSync("mount", [node, mnt]);
  const before = nodeBytes();
  try {
    const r = ok("lvextend", "-L", "+4M", "vg/lin");
    assert.match(r.stderr, new RegExp(`WARNING: ${node} is in use and keeps its old size until vg/lin is deactivated and activated again.`));
    assert.equal(nodeBytes(), before);
  } finally {
    execFileSync("umount", [mnt]);
  }
  ok("lvextend", "-L", "+4M", "vg/lin");
  assert.equal(nodeBytes(), lvBytes());
  assert.equal(nodeBytes(), before + (8 << 20));
  execFileSync("e2fsck", ["-fp", node]);
  execFileSync("resize2fs", [node], { stdio: "ignore" });
  execFileSync("e2fsck", ["-fn", node]);
});

test("kill -9 under writes: every write acknowledged with a flush or FUA is there after a restart", async () => {
  const done: number[] = [];
  const write = (k: number) =>
    new Promise<number | null>((resolve) => {
      // Odd regions are flushed after the write, even ones written with FUA.
      const cmds = k % 2 ? ["-c", `write -P ${k} ${k}M 1M`, "-c", "flush"] : ["-c", `write -F -P ${k} ${k}M 1M`];
      const p = spawn("qemu-io", ["-f", "raw", "-t", k % 2 ? "writeback" : "none", ...cmds, uri("lin")], { stdio: "ignore" });
      p.once("exit", (code) => resolve(code));
    });
  const pid = daemonPid();
  const killer = setTimeout(() => process.kill(pid, "SIGKILL"), 1500);
  for (let k = 1; k < 40; k++) {
    if ((await write(k)) !== 0) break;
    done.push(k);
  }
  clearTimeout(killer);
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
  assert.ok(done.length > 0, "some writes finished before the kill");
  // The restarted daemon activates again what was active, from its state file.
  ok("lvchange", "-ay", "vg/str");
  assert.notEqual(daemonPid(), pid);
  assert.deepEqual(attr("lin"), ["-wi-a-----", "active", ""]);
  for (const k of done) {
    const r = spawnSync("qemu-io", ["-f", "raw", "-c", `read -P ${k} ${k}M 1M`, uri("lin")], { encoding: "utf8" });
    assert.doesNotMatch(r.stdout + r.stderr, /verification failed|error/i, `region ${k}`);
    assert.match(r.stdout, /read 1048576\/1048576/);
  }
});

test("vgchange -an deactivates all, lvremove of an active LV asks and deactivates it first, SIGTERM stops the daemon", async () => {
  ok("lvchange", "-ay", "vg/lin");
  const no = ulvm("lvremove", "vg/str");
  assert.equal(no.code, 5);
  assert.match(no.stderr, /Do you really want to remove active logical volume vg\/str\? \[y\/n\]: \[n\]\n {2}Logical volume vg\/str not removed\.\n$/);
  const yes = ulvm("lvremove", "-y", "vg/str");
  assert.deepEqual([yes.code, yes.stdout], [0, '  Logical volume "str" successfully removed.\n']);
  assert.equal(existsSync(join(devDir, "vg", "str")), false);
  assert.equal(ok("vgchange", "-an", "vg").stdout, '  0 logical volume(s) in volume group "vg" now active\n');
  assert.equal(JSON.parse(readFileSync(join(run, "active.json"), "utf8")).active.length, 0);
  process.kill(daemonPid(), "SIGTERM");
  for (let i = 0; i < 100 && existsSync(join(run, "ulvmd.sock")); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(existsSync(join(run, "ulvmd.sock")), false, "the daemon removed its socket on SIGTERM");
  assert.deepEqual(attr("lin"), INACTIVE);
});
