/**
 * lvconvert on active raid1 LVs: what lvm does once the kernel (here the
 * daemon) says the LV is active and in sync, which this host's lvm2 cannot
 * run. A stand-in answers the daemon's control socket with the status each
 * case sets and records the requests, so these tests check lvconvert's side:
 * prompts, messages and exit codes of the seed transcripts, the metadata
 * (read back by the real lvm2), and the refresh/activate/deactivate requests
 * that make the daemon follow. The raid engine's own behaviour is tested
 * with the daemon.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { layoutRow, makeLab } from "../helpers/lv-lab.ts";
import { repoRoot, type RunResult } from "../helpers/env.ts";
import { controlSocket, type LvStatus, type RaidStatus, type Request } from "../../src/daemon/protocol.ts";

const lab = makeLab(4, "64M");
const [d0, d1, d2, d3] = lab.devs as [string, string, string, string];
const { real } = lab;
const scope = { devices: lab.devs };

/** The daemon as lvconvert sees it: the LVs it serves, and what it was asked. */
const daemon = {
  active: [] as LvStatus[],
  requests: [] as Request[],
};
const runDir = lab.env.vars.ULVM_RUN_DIR!;
mkdirSync(runDir, { recursive: true });
const server: Server = createServer((socket) => {
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text += chunk;
    const nl = text.indexOf("\n");
    if (nl < 0) return;
    const req = JSON.parse(text.slice(0, nl)) as Request;
    if (req.op !== "status") daemon.requests.push(req);
    socket.end(`${JSON.stringify(req.op === "status" ? { ok: true, active: daemon.active } : { ok: true })}\n`);
  });
}).listen(controlSocket(runDir));
after(() => {
  server.close();
  rmSync(controlSocket(runDir), { force: true });
  lab.env.cleanup();
});

/** ./bin/ulvm with activation on, without blocking the stand-in daemon living in this process. */
function ulvm(args: string[], input = ""): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(join(repoRoot, "bin", "ulvm"), [...args, "--devices", lab.devs.join(",")], {
      env: { ...process.env, ...lab.env.vars, ULVM_DEV_DIR: "/dev", ULVM_ACTIVATION: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("close", (code) => resolve({ stdout, stderr, code: code ?? -1 }));
    child.stdin.end(input);
  });
}

const SIZE = 8 * 1024 * 1024;
function raid(health: string, synced = SIZE): RaidStatus {
  return { health, syncBytes: synced, size: SIZE, syncAction: synced < SIZE ? "resync" : "idle", mismatchCount: 0, resyncedBytes: 0 };
}
const lvStatus = (lv: string, extra: Partial<LvStatus> = {}): LvStatus => ({ vg: "vg", lv, size: SIZE, openCount: 0, ...extra });

/** lv_mirror (raid1 on d0, d1, active and in sync), lin (linear on d2, active); d3 is free. */
function setup(legs = 2): void {
  lab.freshVg("vg", [d0, d1, d2, d3]);
  const pvs = [d0, d1, d3].slice(0, legs);
  assert.equal(lab.ulvm(["lvcreate", "-L", "8m", `-m${legs - 1}`, "-n", "lv_mirror", "vg", ...pvs]).code, 0);
  real(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "lin", "vg", d2]);
  daemon.active = [lvStatus("lv_mirror", { raid: raid("A".repeat(legs)) }), lvStatus("lin")];
  daemon.requests = [];
}

/** The real lvm2's view of an LV's layout row, and its check of the whole VG. */
const row = (lv: string) => layoutRow(lab.layout("vg"), lv) ?? "";
function lvmAccepts(): void {
  assert.equal(real(["vgck", "vg"]).stderr, "");
}
const refreshed = { op: "refresh", vg: "vg", scope };

test("-m: asks, then adds or removes legs and has the daemon take the new layout", async () => {
  setup();
  const before = lab.layout("vg");
  const declined = await ulvm(["lvconvert", "-m", "2", "vg/lv_mirror", d3]);
  assert.deepEqual([declined.code, declined.stdout, declined.stderr], [
    5,
    "",
    "Are you sure you want to convert raid1 LV vg/lv_mirror to 3 images enhancing resilience? [y/n]: [n]\n  Logical volume vg/lv_mirror NOT converted.\n",
  ]);
  assert.equal(lab.layout("vg"), before);
  assert.deepEqual(daemon.requests, []);

  // Transcript 02 D: `lvconvert -y -m 2 vg_data/lv_mirror /dev/sdd`.
  const grown = await ulvm(["lvconvert", "-y", "-m", "2", "vg/lv_mirror", d3]);
  assert.deepEqual([grown.code, grown.stdout, grown.stderr], [0, "  Logical volume vg/lv_mirror successfully converted.\n", ""]);
  assert.match(row("lv_mirror"), /lv_mirror_rimage_0\(0\),lv_mirror_rimage_1\(0\),lv_mirror_rimage_2\(0\)/);
  assert.match(row("[lv_mirror_rimage_2]"), new RegExp(`${d3}\\(1\\)`));
  assert.match(row("[lv_mirror_rmeta_2]"), new RegExp(`${d3}\\(0\\)`));
  assert.deepEqual(daemon.requests, [refreshed]);
  lvmAccepts();

  // Answered on stdin: the leg on d0 goes, the later ones are renamed down.
  const shrunk = await ulvm(["lvconvert", "-m", "-1", "vg/lv_mirror", d0], "y\n");
  assert.deepEqual([shrunk.code, shrunk.stdout], [0, "  Logical volume vg/lv_mirror successfully converted.\n"]);
  assert.equal(shrunk.stderr, "Are you sure you want to convert raid1 LV vg/lv_mirror to 2 images reducing resilience? [y/n]: ");
  assert.match(row("[lv_mirror_rimage_0]"), new RegExp(`${d1}\\(1\\)`));
  assert.match(row("[lv_mirror_rimage_1]"), new RegExp(`${d3}\\(1\\)`));
  assert.equal(row("[lv_mirror_rimage_2]"), "");
  lvmAccepts();

  const same = await ulvm(["lvconvert", "-y", "-m", "1", "vg/lv_mirror"]);
  assert.deepEqual([same.code, same.stdout, same.stderr], [
    0,
    "  Logical volume vg/lv_mirror successfully converted.\n",
    "  WARNING: vg/lv_mirror already has image count of 2.\n",
  ]);
});

test("-m 0 asks before the raid1 becomes linear; --type raid1 -m 1 turns a linear LV into a raid1", async () => {
  setup();
  const keep = await ulvm(["lvconvert", "-m", "0", "vg/lv_mirror"]);
  assert.deepEqual([keep.code, keep.stderr], [
    5,
    "Are you sure you want to convert raid1 LV vg/lv_mirror to type linear losing all resilience? [y/n]: [n]\n  Logical volume vg/lv_mirror NOT converted.\n",
  ]);
  const linear = await ulvm(["lvconvert", "-y", "-m", "0", "vg/lv_mirror"]);
  assert.deepEqual([linear.code, linear.stdout], [0, "  Logical volume vg/lv_mirror successfully converted.\n"]);
  assert.match(row("lv_mirror"), new RegExp(`-wi-\\?\\?---- linear\\s+${d0}\\(1\\)`));
  assert.equal(row("[lv_mirror_rimage_0]"), "");

  const ask = await ulvm(["lvconvert", "--type", "raid1", "-m", "1", "vg/lin"]);
  assert.deepEqual([ask.code, ask.stderr], [
    5,
    "Are you sure you want to convert linear LV vg/lin to raid1 with 2 images enhancing resilience? [y/n]: [n]\n  Logical volume vg/lin NOT converted.\n",
  ]);
  // Transcript 02a C: `lvconvert -y --type raid1 -m 1 vg_data/lv_mirror /dev/sdc1`.
  const raid1 = await ulvm(["lvconvert", "-y", "--type", "raid1", "-m", "1", "vg/lin", d1]);
  assert.deepEqual([raid1.code, raid1.stdout, raid1.stderr], [0, "  Logical volume vg/lin successfully converted.\n", ""]);
  assert.match(row("lin"), /rwi-\?\?r-\?- raid1\s+lin_rimage_0\(0\),lin_rimage_1\(0\)/);
  assert.match(row("[lin_rimage_0]"), new RegExp(`${d2}\\(0\\)`));
  assert.match(row("[lin_rimage_1]"), new RegExp(`${d1}\\(1\\)`));
  lvmAccepts();
});

test("an array still copying cannot grow or split (transcript 02 B); an inactive one cannot convert", async () => {
  setup();
  daemon.active = [lvStatus("lv_mirror", { raid: raid("aa", SIZE / 4) })];
  const cases: [string[], string][] = [
    [["lvconvert", "-y", "-m", "2", "vg/lv_mirror"], "  Can't add image to RAID LV that is still initializing.\n"],
    [["lvconvert", "-y", "--splitmirrors", "1", "--trackchanges", "vg/lv_mirror"], "  Unable to split image from vg/lv_mirror while not in-sync.\n"],
    [["lvconvert", "-y", "--splitmirrors", "1", "--name", "lv_slow_copy", "vg/lv_mirror"], "  Unable to split vg/lv_mirror while it is not in-sync.\n"],
    [["lvconvert", "-y", "--repair", "vg/lv_mirror"],
      "  Unable to replace devices in vg/lv_mirror while it is not in-sync.\n  Failed to replace faulty devices in vg/lv_mirror.\n"],
    [["lvconvert", "-y", "-m", "1", "vg/lin"], "  vg/lin must be active to perform this operation.\n"],
  ];
  const before = lab.layout("vg");
  for (const [args, stderr] of cases) {
    const r = await ulvm(args);
    assert.deepEqual([r.code, r.stdout, r.stderr], [5, "", stderr], args.join(" "));
  }
  assert.equal(lab.layout("vg"), before);
  assert.deepEqual(daemon.requests, []);
});

test("split and track: the prompt of a 2-legged raid1, the image visible and read-only, then served on its own (seed step 10)", async () => {
  setup();
  const no = await ulvm(["lvconvert", "--splitmirror", "1", "--trackchanges", "/dev/vg/lv_mirror"]);
  assert.deepEqual([no.code, no.stdout, no.stderr], [
    5,
    "",
    "Are you sure you want to split and track raid1 LV vg/lv_mirror losing resilience for any newly written data? [y/n]: [n]\n  Logical volume vg/lv_mirror NOT split.\n",
  ]);
  const yes = await ulvm(["lvconvert", "--splitmirror", "1", "--trackchanges", "/dev/vg/lv_mirror"], "y\n");
  assert.deepEqual([yes.code, yes.stdout, yes.stderr], [
    0,
    "  vg/lv_mirror_rimage_1 split from vg/lv_mirror for read-only purposes.\n  Use 'lvconvert --merge vg/lv_mirror_rimage_1' to merge back into vg/lv_mirror.\n",
    "Are you sure you want to split and track raid1 LV vg/lv_mirror losing resilience for any newly written data? [y/n]: " +
      "  WARNING: Any newly written data will be non-resilient on LV vg/lv_mirror during the split!\n",
  ]);
  assert.match(row("lv_mirror_rimage_1"), new RegExp(`Iri-\\?\\?r-\\?- linear\\s+${d1}\\(1\\)`), "shown without brackets");
  assert.match(row("lv_mirror"), /lv_mirror_rimage_0\(0\),lv_mirror_rimage_1\(0\)/, "still one of the raid1's images");
  assert.deepEqual(daemon.requests, [refreshed, { op: "activate", vg: "vg", lvs: ["lv_mirror_rimage_1"], scope }]);
  lvmAccepts();

  // With the image not served, repair cannot check it (transcript 02 D).
  const repair = await ulvm(["lvconvert", "-y", "--repair", "vg/lv_mirror"]);
  assert.deepEqual([repair.code, repair.stderr], [
    5,
    "  Check for existence of raid image vg/lv_mirror_rimage_1 failed.\n  Unable to replace devices in vg/lv_mirror while it is not in-sync.\n  Failed to replace faulty devices in vg/lv_mirror.\n",
  ]);
  // Served, there is nothing to replace: the split stays.
  daemon.active.push(lvStatus("lv_mirror_rimage_1"));
  const noop = await ulvm(["lvconvert", "-y", "--repair", "vg/lv_mirror"]);
  assert.deepEqual([noop.code, noop.stdout], [
    0,
    "  vg/lv_mirror does not contain devices specified to replace.\n  Faulty devices in vg/lv_mirror successfully replaced.\n",
  ]);
  assert.match(row("lv_mirror_rimage_1"), /Iri-/);
});

test("a 3-legged raid1 splits its last image without asking or warning (transcript 02 D)", async () => {
  setup(3);
  const r = await ulvm(["lvconvert", "--splitmirrors", "1", "--trackchanges", "vg/lv_mirror"]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [
    0,
    "  vg/lv_mirror_rimage_2 split from vg/lv_mirror for read-only purposes.\n  Use 'lvconvert --merge vg/lv_mirror_rimage_2' to merge back into vg/lv_mirror.\n",
    "",
  ]);
  assert.match(row("lv_mirror_rimage_2"), new RegExp(`Iri-.*${d3}\\(1\\)`));
});

test("merge: refused while the image is open, else the image is deactivated and goes back (seed step 12)", async () => {
  setup();
  assert.equal((await ulvm(["lvconvert", "-y", "--splitmirrors", "1", "--trackchanges", "vg/lv_mirror"])).code, 0);
  const split = lab.layout("vg");
  daemon.active.push(lvStatus("lv_mirror_rimage_1", { openCount: 1 }));
  daemon.requests = [];
  const open = await ulvm(["lvconvert", "--merge", "vg/lv_mirror_rimage_1"]);
  assert.deepEqual([open.code, open.stdout, open.stderr], [
    5,
    "",
    "  Logical volume vg/lv_mirror_rimage_1 in use.\n  Failed to deactivate vg/lv_mirror_rimage_1 before merging.\n",
  ]);
  assert.equal(lab.layout("vg"), split);
  assert.deepEqual(daemon.requests, []);

  // Mounted, as in the seed transcript: lvm names the file system.
  const fs = lab.env.loop(lab.env.image("fs.img", "8M"));
  const mnt = join(lab.env.dir, "mnt");
  mkdirSync(mnt);
  execFileSync("mkfs.ext2", ["-q", fs]);
  execFileSync("mount", [fs, mnt]);
  try {
    daemon.active[daemon.active.length - 1] = lvStatus("lv_mirror_rimage_1", { openCount: 1, node: fs });
    const mounted = await ulvm(["lvconvert", "--merge", "vg/lv_mirror_rimage_1"]);
    assert.deepEqual([mounted.code, mounted.stderr], [
      5,
      "  Logical volume vg/lv_mirror_rimage_1 contains a filesystem in use.\n  Failed to deactivate vg/lv_mirror_rimage_1 before merging.\n",
    ]);
  } finally {
    execFileSync("umount", [mnt]);
  }

  daemon.active[daemon.active.length - 1] = lvStatus("lv_mirror_rimage_1");
  const merged = await ulvm(["lvconvert", "--merge", "/dev/vg/lv_mirror_rimage_1"]);
  assert.deepEqual([merged.code, merged.stdout, merged.stderr], [0, "  vg/lv_mirror_rimage_1 successfully merged back into vg/lv_mirror.\n", ""]);
  assert.deepEqual(daemon.requests, [{ op: "deactivate", vg: "vg", lvs: ["lv_mirror_rimage_1"] }, refreshed]);
  assert.match(row("[lv_mirror_rimage_1]"), /Iwi-/);
  lvmAccepts();
});

test("split and keep: the image becomes a new linear LV, a 2-legged raid1 becomes linear (transcript 02a C)", async () => {
  setup();
  const no = await ulvm(["lvconvert", "--splitmirrors", "1", "--name", "lv_backup", "vg/lv_mirror"]);
  assert.deepEqual([no.code, no.stderr], [
    5,
    "Are you sure you want to split raid1 LV vg/lv_mirror losing all resilience? [y/n]: [n]\n  Logical volume vg/lv_mirror NOT split.\n",
  ]);
  const yes = await ulvm(["lvconvert", "-y", "--splitmirrors", "1", "--name", "lv_backup", "vg/lv_mirror"]);
  assert.deepEqual([yes.code, yes.stdout, yes.stderr], [0, "", ""]);
  assert.match(row("lv_backup"), new RegExp(`-wi-\\?\\?---- linear\\s+${d1}\\(1\\)`));
  assert.match(row("lv_mirror"), new RegExp(`-wi-\\?\\?---- linear\\s+${d0}\\(1\\)`));
  assert.doesNotMatch(lab.layout("vg"), /rimage|rmeta/);
  assert.deepEqual(daemon.requests, [refreshed, { op: "activate", vg: "vg", lvs: ["lv_backup"], scope }]);
  const merge = await ulvm(["lvconvert", "--merge", "vg/lv_backup"]);
  assert.deepEqual([merge.code, merge.stderr], [5, "  vg/lv_backup cannot be merged because --trackchanges was not used.\n"]);
  lvmAccepts();
});

/** What vgreduce --removemissing --force leaves of leg 0: error segments in place of its rmeta and image. */
function loseLeg0(): void {
  lab.editMetadata("vg", (text) =>
    text.replace(/(\t\tlv_mirror_r(?:image|meta)_0 \{[^]*?segment1 \{\n)[^]*?(\n\t\t\t\})/g, (_m, head: string, tail: string) => {
      const count = head.includes("rimage") ? 2 : 1;
      return `${head}\t\t\t\tstart_extent = 0\n\t\t\t\textent_count = ${count}\n\t\t\t\ttype = "error"${tail}`;
    }),
  );
}

test("repair: asks (EOF is no, and still success), then replaces the failed leg on a free PV (seed step 8)", async () => {
  setup();
  loseLeg0();
  assert.match(row("[lv_mirror_rimage_0]"), /\[lv_mirror_rimage_0\] vwi-\?\?r-\?- error /);
  const failed = lab.layout("vg");
  const no = await ulvm(["lvconvert", "--repair", "/dev/vg/lv_mirror"]);
  assert.deepEqual([no.code, no.stdout, no.stderr], [0, "", "Attempt to replace failed RAID images (requires full device resync)? [y/n]: [n]\n"]);
  assert.equal(lab.layout("vg"), failed);

  const yes = await ulvm(["lvconvert", "--repair", "/dev/vg/lv_mirror", d3], "y\n");
  assert.deepEqual([yes.code, yes.stdout, yes.stderr], [
    0,
    "  Faulty devices in vg/lv_mirror successfully replaced.\n",
    "Attempt to replace failed RAID images (requires full device resync)? [y/n]: ",
  ]);
  assert.match(row("[lv_mirror_rimage_0]"), new RegExp(`Iwi-\\?\\?r-\\?- linear\\s+${d3}\\(1\\)`));
  assert.match(row("[lv_mirror_rmeta_0]"), new RegExp(`${d3}\\(0\\)`));
  assert.match(row("[lv_mirror_rimage_1]"), new RegExp(`${d1}\\(1\\)`));
  assert.doesNotMatch(lab.layout("vg"), /error/);
  assert.deepEqual(daemon.requests, [refreshed]);
  lvmAccepts();

  // Nothing failed any more (transcript 02 E).
  const again = await ulvm(["lvconvert", "-y", "--repair", "vg/lv_mirror"]);
  assert.deepEqual([again.code, again.stdout], [
    0,
    "  vg/lv_mirror does not contain devices specified to replace.\n  Faulty devices in vg/lv_mirror successfully replaced.\n",
  ]);
});

test("repair without room for the new leg fails cleanly and changes nothing (transcript 03 I)", async () => {
  setup();
  loseLeg0();
  // Every PV without a leg is full; d1 holds leg 1, so the new one may not go there.
  for (const pv of [d0, d2, d3]) real(["lvcreate", "-an", "-Zn", "-l", "100%PVS", "-n", `fill${lab.devs.indexOf(pv)}`, "vg", pv]);
  const before = lab.layout("vg");
  const r = await ulvm(["lvconvert", "-y", "--repair", "vg/lv_mirror"]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [
    5,
    "",
    "  Insufficient free space: 3 extents needed, but only 0 available\n  LV vg/lv_mirror in not partial.\n  Failed to replace faulty devices in vg/lv_mirror.\n",
  ]);
  assert.equal(lab.layout("vg"), before);
});

test("--replace PV moves the leg on it to another PV, silently; a PV the LV does not use is refused", async () => {
  setup();
  const moved = await ulvm(["lvconvert", "--replace", d0, "vg/lv_mirror"]);
  assert.deepEqual([moved.code, moved.stdout, moved.stderr], [0, "", ""]);
  assert.match(row("[lv_mirror_rimage_0]"), new RegExp(`${d2}\\(\\d+\\)|${d3}\\(\\d+\\)`));
  assert.doesNotMatch(lab.layout("vg"), new RegExp(`${d0}\\(`));
  assert.deepEqual(daemon.requests, [refreshed]);
  lvmAccepts();
  const unused = await ulvm(["lvconvert", "--replace", d0, "vg/lv_mirror"]);
  assert.deepEqual([unused.code, unused.stderr], [5, "  Logical volume vg/lv_mirror does not contain devices specified to replace.\n"]);
});
