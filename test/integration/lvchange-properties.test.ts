/**
 * lvchange's metadata properties (-p, --alloc/-C, -r, --addtag/--deltag, -k,
 * --errorwhenfull) side by side with the real lvm2 on loop devices: for each
 * command both tools start from the same VG and must print, exit and leave the
 * LVs' metadata (the LV sections as lvm's vgcfgbackup writes them, and lvs)
 * the same. Then under ulvm's daemon: -p r makes the LV's NBD export
 * read-only live, for new connections (the read-only flag) and for one
 * negotiated before (writes fail with EPERM), and -p rw undoes it.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeLab, layoutRow } from "../helpers/lv-lab.ts";
import { makeRaidLab } from "../helpers/raid-lab.ts";
import { NBDSH_EXPECT } from "../helpers/nbdsh.ts";
import { ok, runAsync } from "../helpers/runs.ts";

const lab = makeLab(2, "64M");
const live = makeRaidLab();
after(() => {
  lab.env.cleanup();
  live.cleanup();
});
const [d0, d1] = lab.devs as [string, string];

/** The LV sections of the VG's metadata, as the real lvm2 reads and writes them back. */
function lvSections(): string {
  const file = join(lab.env.dir, "vg.meta");
  lab.real(["vgcfgbackup", "-f", file, "vg"]);
  const text = readFileSync(file, "utf8");
  return text.slice(text.indexOf("logical_volumes {"));
}

/** Both tools run `args` from the same VG state; the VG is left as ulvm changed it. */
function assertSame(args: string[]): { stdout: string; stderr: string; code: number } {
  const saved = join(lab.env.dir, "vg.saved");
  lab.real(["vgcfgbackup", "-f", saved, "vg"]);
  const seen = (r: { stdout: string; stderr: string; code: number }) => ({ stdout: r.stdout, stderr: r.stderr, code: r.code, layout: lab.layout("vg"), meta: lvSections() });
  const real = seen(lab.lvm(args));
  lab.real(["vgcfgrestore", "-f", saved, "vg"]);
  const ours = seen(lab.ulvm(args));
  assert.deepEqual(ours, real, args.join(" "));
  return ours;
}

const seqno = () => lab.real(["vgs", "--noheadings", "-o", "vg_seqno", "vg"]).stdout.trim();

function freshLvs(): void {
  lab.freshVg("vg", [d0, d1]);
  lab.real(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "a", "vg"]);
  lab.real(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "b", "--addtag", "t1", "vg"]);
  lab.real(["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "c", "vg"]);
}

test("each property as lvm2 sets it, and its 'already' refusal", () => {
  freshLvs();
  const cases: [string[], number][] = [
    [["lvchange", "-p", "r", "vg/a"], 0],
    [["lvchange", "-p", "r", "vg/a"], 5],
    [["lvchange", "-p", "rw", "vg/b"], 5],
    [["lvchange", "-p", "rw", "vg/a"], 0],
    [["lvchange", "--alloc", "cling", "vg/a"], 0],
    [["lvchange", "--alloc", "cling", "vg/a"], 5],
    [["lvchange", "-C", "y", "vg/a"], 0],
    [["lvchange", "-C", "n", "vg/a"], 0],
    [["lvchange", "-C", "n", "vg/a"], 5],
    [["lvchange", "-r", "100", "vg/a"], 0],
    [["lvchange", "-r", "100", "vg/a"], 5],
    [["lvchange", "-r", "none", "vg/a"], 0],
    [["lvchange", "-r", "0", "vg/a"], 5],
    [["lvchange", "-r", "auto", "vg/a"], 0],
    [["lvchange", "-r", "auto", "vg/a"], 5],
    [["lvchange", "-r", "64k", "vg/a"], 0],
    [["lvchange", "--addtag", "t2", "--addtag", "t3", "vg/b"], 0],
    // lvm adds before it deletes, whatever the order on the command line.
    [["lvchange", "--deltag", "t2", "--addtag", "t2", "vg/b"], 0],
    [["lvchange", "--deltag", "nosuchtag", "--addtag", "t1", "vg/b"], 0],
    [["lvchange", "-k", "y", "vg/c"], 0],
    [["lvchange", "-k", "y", "vg/c"], 0],
    [["lvchange", "-k", "n", "vg/c"], 0],
    // vg comes before zz: lvm is done with it (and says so) before it finds zz missing.
    [["lvchange", "--addtag", "t4", "vg/a", "vg/nosuch", "zz/x"], 5],
  ];
  for (const [args, code] of cases) assert.equal(assertSame(args).code, code, args.join(" "));
  const row = layoutRow(lab.layout("vg"), "a")!;
  assert.match(row, /\b128S\b/, "the last read-ahead stays");
});

test("several properties at once: one commit, one 'changed', refusals beside changes", () => {
  freshLvs();
  const all = assertSame(["lvchange", "-p", "r", "--addtag", "x", "--alloc", "cling", "-r", "16", "-k", "y", "vg/c"]);
  assert.equal(all.stdout, "  Logical volume vg/c changed.\n");
  const before = Number(seqno());
  ok(lab.ulvm(["lvchange", "-p", "r", "--addtag", "x", "--alloc", "cling", "-r", "16", "-k", "y", "vg/a"]), "ulvm lvchange");
  assert.equal(Number(seqno()), before + 1, "one commit");
  const mixed = assertSame(["lvchange", "-r", "16", "-p", "r", "--alloc", "cling", "-k", "y", "--addtag", "y", "vg/c"]);
  assert.equal(mixed.code, 5);
  assert.match(mixed.stderr, /already read only[\s\S]*Read ahead is already 16/);
  assert.equal(mixed.stdout, "  Logical volume vg/c changed.\n");
  const refused = assertSame(["lvchange", "-p", "r", "--alloc", "cling", "vg/c"]);
  assert.deepEqual([refused.code, refused.stdout], [5, ""]);
});

test("by VG, tag and --select; --errorwhenfull wants a thin pool", () => {
  freshLvs();
  assert.equal(assertSame(["lvchange", "--addtag", "sel", "@t1"]).stdout, "  Logical volume vg/b changed.\n");
  assertSame(["lvchange", "-r", "100", "vg"]);
  assertSame(["lvchange", "-p", "r", "@sel", "vg/c"]);
  assertSame(["lvchange", "-p", "r", "vg"]);
  assertSame(["lvchange", "-S", "lv_name=~^[ab]$", "-k", "y", "--deltag", "t1"]);
  assert.equal(assertSame(["lvchange", "--errorwhenfull", "y", "vg"]).code, 0);
  assert.equal(assertSame(["lvchange", "--errorwhenfull", "n", "-p", "rw", "vg/a"]).code, 5);
});

test("raid sub-LVs: --permission refused on images and rmetas, others on any hidden LV; rates refused beside another change", () => {
  lab.freshVg("vg", [d0, d1]);
  ok(lab.ulvm(["lvcreate", "-L", "8m", "-m1", "-n", "r", "vg", d0, d1]), "ulvm lvcreate raid1");
  for (const args of [
    ["lvchange", "-p", "r", "vg/r_rimage_0"],
    ["lvchange", "-p", "r", "--addtag", "q", "vg/r_rmeta_1"],
    ["lvchange", "--minrecoveryrate", "1", "-p", "r", "vg/r_rmeta_0"],
    ["lvchange", "--addtag", "q", "vg/r_rimage_1"],
    ["lvchange", "-k", "y", "vg/r_rmeta_0"],
    ["lvchange", "-p", "r", "-r", "8", "vg/r"],
    ["lvchange", "--minrecoveryrate", "100", "--maxrecoveryrate", "10", "--addtag", "z", "vg/r"],
    ["lvchange", "--minrecoveryrate", "100", "--maxrecoveryrate", "10", "vg/r"],
  ])
    assertSame(args);
});

test("options still not implemented are refused by name", () => {
  const r = lab.ulvm(["lvchange", "--setautoactivation", "n", "-p", "r", "vg/r"]);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /ulvm's lvchange supports .* -p, --alloc, -C, -r, --addtag, --deltag, -k, --errorwhenfull, --minrecoveryrate and --maxrecoveryrate only\./);
});

test("-p r on an active LV: its NBD export turns read-only live, and -p rw makes it writable again", async () => {
  live.image("p0.img", "64M");
  live.ok("pvcreate", live.env.dir + "/p0.img");
  live.ok("vgcreate", "vl", live.env.dir + "/p0.img");
  live.ok("lvcreate", "-L", "8m", "-n", "lv", "vl");
  const uri = live.uri("vl/lv");
  const readOnly = () => spawnSync("nbdinfo", ["--is", "read-only", uri]).status;
  assert.equal(readOnly(), 2, "writable at first");
  const step = (name: string) => join(live.env.dir, name);
  const waitFor = async (name: string) => {
    for (let i = 0; i < 600 && !existsSync(step(name)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(step(name)), `nbdsh reached ${name}`);
  };
  // One connection across both changes, negotiated while the LV was writable.
  const script = `${NBDSH_EXPECT}
import os, time
def wait(name):
    for _ in range(600):
        if os.path.exists(os.path.join(${JSON.stringify(live.env.dir)}, name)): return
        time.sleep(0.05)
    raise AssertionError("no " + name)
def mark(name):
    open(os.path.join(${JSON.stringify(live.env.dir)}, name), "w").close()
assert not h.is_read_only()
h.pwrite(b"\\x11" * 4096, 0)
mark("connected")
wait("ro")
expect("EPERM", h.pwrite, b"\\x22" * 4096, 0)
expect("EPERM", h.zero, 4096, 0)
assert h.pread(4096, 0) == b"\\x11" * 4096
mark("refused")
wait("rw")
h.pwrite(b"\\x33" * 4096, 0)
h.flush()
assert h.pread(4096, 0) == b"\\x33" * 4096
print("all passed")
`;
  const env = { ...process.env, PATH: `/usr/bin:${process.env.PATH}` };
  const client = runAsync("nbdsh", ["-u", uri, "-c", script], env, 60_000);
  try {
    await waitFor("connected");
    assert.equal(live.ok("lvchange", "-p", "r", "vl/lv").stdout, "  Logical volume vl/lv changed.\n");
    assert.equal(readOnly(), 0, "a new connection sees the read-only flag");
    writeFileSync(step("ro"), "");
    await waitFor("refused");
    live.ok("lvchange", "-p", "rw", "vl/lv");
    assert.equal(readOnly(), 2, "writable again for new connections");
    writeFileSync(step("rw"), "");
  } finally {
    writeFileSync(step("ro"), "");
    writeFileSync(step("rw"), "");
  }
  const r = await client;
  assert.match(r.stdout, /all passed/, `${r.stdout}${r.stderr}\n${live.log()}`);
  // Activation reads the permission as well.
  live.ok("lvchange", "-p", "r", "vl/lv");
  live.ok("lvchange", "-an", "vl/lv");
  live.ok("lvchange", "-ay", "vl/lv");
  assert.equal(readOnly(), 0, "activated read-only");
  assert.equal(execFileSync("nbdinfo", ["--size", uri], { encoding: "utf8" }).trim(), String(8 << 20));
});
