/**
 * The seed guide's setting for the end-to-end tests of issue 5: two 256 MiB
 * image files named after the real transcript's disks (vda, vdb) carrying
 * vg_data, ulvm with activation on over them, real lvm2 reading the same VG
 * through loop devices over the same images, reports rewritten as the real
 * transcript would print them (its disk names in place of the image paths),
 * and a tree of files on a mounted filesystem checked by content after the
 * caches between it and the daemon are dropped.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { lvmNoise, type RunResult } from "./env.ts";
import { MiB } from "./device-bytes.ts";
import { makeRaidLab, type RaidLab } from "./raid-lab.ts";

/** The real transcript's sizes (real-lvm2-seed-transcript.txt): 256 MiB disks, a 64 MiB raid1, 2 MiB regions. */
const DISK = "256M";
export const LV_SIZE = 64 * MiB;
export const REGION = 2 * MiB;
export const VG = "vg_data";
export const LV = "lv_mirror";
export const VG_LV = `${VG}/${LV}`;

export interface GuideLab {
  lab: RaidLab;
  /** The image files standing for the transcript's /dev/vda and /dev/vdb. */
  vda: string;
  vdb: string;
  /** ulvm with activation on, stdin at EOF unless `input` is given. */
  ulvm(args: string[], input?: string): RunResult;
  /** A report as the real transcript prints it: the transcript's disk names for the image paths, columns kept in place. */
  asTranscript(text: string): string;
  /** Real lvm2 (activation off) over loop devices on the same images: it must read the VG and list the LVs ulvm lists. */
  assertLvm2Reads(step: string): void;
  /** Polls `lvs -o copy_percent,raid_sync_action` as the guide does until 100.00/idle. */
  waitLvsSync(timeoutMs: number, what: string): Promise<void>;
  /** Mount points to unmount first at cleanup, whatever failed. */
  mounts: string[];
  cleanup(): void;
}

export function makeGuideLab(): GuideLab {
  const lab = makeRaidLab();
  const vda = lab.image("vda.img", DISK);
  const vdb = lab.image("vdb.img", DISK);
  const loops = [lab.env.loop(vda), lab.env.loop(vdb)];
  const names = new Map([
    [vda, "/dev/vda"],
    [vdb, "/dev/vdb"],
    [loops[0]!, "/dev/vda"],
    [loops[1]!, "/dev/vdb"],
  ]);
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const asTranscript = (text: string): string => {
    let out = text;
    for (const [path, name] of names) {
      // A device cell keeps its width: what the path is longer by goes into the padding after it.
      out = out.replace(new RegExp(`${escape(path)}\\((\\d+)\\)( *)`, "g"), (cell: string, pe: string) => `${name}(${pe})`.padEnd(cell.length));
      out = out.replaceAll(path, name);
    }
    return out;
  };
  const lvNames = (text: string) => text.split("\n").map((l) => l.trim()).filter(Boolean).sort();
  const guide: GuideLab = {
    lab,
    vda,
    vdb,
    mounts: [],
    ulvm: (args, input = "") => lab.env.ulvm([...args, "--devices", `${vda},${vdb}`], { input, env: { ULVM_ACTIVATION: "1" } }),
    asTranscript,
    assertLvm2Reads(step) {
      const vgs = lab.env.lvm(["vgs", "--noheadings", "-o", "vg_name", VG], loops);
      assert.equal(vgs.code, 0, `${step}: real vgs: ${vgs.stdout}${lvmNoise(vgs.stderr)}`);
      assert.equal(vgs.stdout.trim(), VG, `${step}: real vgs`);
      // Which sub-LVs exist, their types and where they lie are metadata: the same for both tools.
      // Attrs are not compared: without device-mapper the real lvm2 knows no sync state, activity or health.
      const report = ["lvs", "-a", "--noheadings", "-o", "lv_name,segtype,devices", VG];
      const real = lab.env.lvm(report, loops);
      assert.equal(real.code, 0, `${step}: real lvs: ${lvmNoise(real.stderr)}`);
      const ours = guide.ulvm(report);
      assert.equal(ours.code, 0, `${step}: ulvm lvs: ${ours.stderr}`);
      const rows = (text: string) => lvNames(asTranscript(text).replace(/ +/g, " "));
      assert.deepEqual(rows(real.stdout), rows(ours.stdout), `${step}: real lvm2 reads the LVs ulvm shows`);
    },
    async waitLvsSync(timeoutMs, what) {
      const seen: string[] = [];
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
        const [percent, action] = lab.ok("lvs", "--noheadings", "-o", "copy_percent,raid_sync_action", VG_LV).stdout.trim().split(/\s+/);
        seen.push(`${percent} ${action}`);
        if (percent === "100.00" && action === "idle") return;
      }
      assert.fail(`${what}: not in sync within ${timeoutMs} ms: ${seen.slice(-5).join(", ")}\n${lab.log()}`);
    },
    cleanup() {
      for (const mnt of guide.mounts.splice(0).reverse())
        if (spawnSync("mountpoint", ["-q", mnt]).status === 0 && spawnSync("umount", [mnt]).status !== 0) spawnSync("umount", ["-l", mnt]);
      lab.cleanup();
    },
  };
  return guide;
}

/** sha256 of each file under `root`, by path relative to it. */
export type Tree = Map<string, string>;

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Writes `count` files of random content and assorted sizes (empty to ~1.5 MiB) under root/dir, in nested folders. */
export function writeTree(root: string, dir: string, count: number): Tree {
  const tree: Tree = new Map();
  for (let i = 0; i < count; i++) {
    const path = join(dir, `d${i % 3}`, `e${i % 2}`, `f${i}.bin`);
    const data = randomBytes(i === 0 ? 0 : Math.floor((i * 104729) % (1536 * 1024)) + (i % 7));
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), data);
    tree.set(path, sha256(data));
  }
  return tree;
}

/** The files under root/dir (or all of root) with their sha256. */
export function readTree(root: string, dir = ""): Tree {
  const tree: Tree = new Map();
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "lost+found") walk(path);
      } else tree.set(relative(root, path), sha256(readFileSync(path)));
    }
  };
  if (existsSync(join(root, dir))) walk(join(root, dir));
  return tree;
}

/** Asserts that root holds exactly the files of `trees` with their contents. */
export function assertTree(root: string, trees: Tree[], what: string): void {
  const want = new Map(trees.flatMap((t) => [...t]));
  const dirs = new Set([...want.keys()].map((p) => p.split("/")[0]!));
  const have: Tree = new Map([...dirs].flatMap((d) => [...readTree(root, d)]));
  const sorted = (t: Tree) => [...t].sort(([a], [b]) => a.localeCompare(b));
  assert.deepEqual(sorted(have), sorted(want), `${what}: files and contents`);
}

/**
 * Mounts an LV's device node after emptying every cache between the
 * filesystem and the daemon, so the files read next come from the LV's legs:
 * the filesystem's and the block device's are dropped by the unmount (done
 * by the caller) and the nbdfuse file's under a loop node by opening it.
 */
export function mountFresh(node: string, mnt: string, runDir: string, vgLv: string, options: string[] = []): void {
  const fuseFile = join(runDir, "fuse", vgLv, "nbd");
  // FUSE drops an inode's page cache on each open (nbdfuse does not ask to keep it).
  if (existsSync(fuseFile)) closeSync(openSync(fuseFile, "r"));
  mkdirSync(mnt, { recursive: true });
  const r = spawnSync("mount", [...options, node, mnt], { encoding: "utf8" });
  assert.equal(r.status, 0, `mount ${node}: ${r.stderr}`);
}

export function umount(mnt: string): void {
  const r = spawnSync("umount", [mnt], { encoding: "utf8" });
  assert.equal(r.status, 0, `umount ${mnt}: ${r.stderr}`);
}
