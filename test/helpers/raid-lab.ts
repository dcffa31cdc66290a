/**
 * A lab for raid1 under the daemon: ./bin/ulvm with activation on over image
 * files (plain or flaky), the daemon's raid status from its control socket, the
 * legs' bytes read offline from the PV images, fio through the NBD exports, and
 * a cleanup that leaves no daemon, mount or loop device behind whatever failed.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { activeLvs } from "../../src/cli/daemon-client.ts";
import { decodeRmeta } from "../../src/core/format/dmraid.ts";
import { bitmapRegions, getRegionBit } from "../../src/core/format/md-bitmap.ts";
import type { LvStatus, RaidStatus } from "../../src/daemon/protocol.ts";
import { readBytes, MiB } from "./device-bytes.ts";
import { makeEnv, type RunResult, type TestEnv } from "./env.ts";
import { startFlakyPv, type FlakyPv } from "./flaky-pv.ts";

/** Bytes of a sub-LV on one PV image. */
export interface Area {
  /** The image file holding them (the backing file of a flaky PV). */
  image: string;
  /** Byte in the image. */
  at: number;
  /** Byte of the sub-LV where the area starts. */
  lvOffset: number;
  length: number;
}

export interface RaidLab {
  env: TestEnv;
  /** A plain image file used as a PV. */
  image(name: string, size: string): string;
  /** An image used as a PV through a fault injector; its FUSE file is the PV. */
  flaky(name: string, size: string, opts?: { log?: boolean }): FlakyPv;
  ulvm(...args: string[]): RunResult;
  /** ulvm that must succeed. */
  ok(...args: string[]): RunResult;
  /** The NBD URI of an active LV ("vg/lv"). */
  uri(vgLv: string): string;
  daemonPid(): number;
  /** The daemon's status of an active LV, undefined when it is not active. */
  status(vgLv: string): Promise<LvStatus | undefined>;
  /** The raid part of an active raid LV's status. */
  raid(vgLv: string): Promise<RaidStatus>;
  /** Polls the raid status until `done` holds; fails after `timeoutMs` with the last status and the daemon's log. */
  waitRaid(vgLv: string, done: (r: RaidStatus) => boolean, timeoutMs: number, what: string): Promise<RaidStatus>;
  /** Each image's areas of a raid1 LV, in image order. */
  legs(vgLv: string): Area[][];
  /** Each rmeta's areas of a raid1 LV, in image order. */
  metas(vgLv: string): Area[][];
  /**
   * `lvs -a` of a VG as rows of name (brackets kept), attr, copy_percent, health
   * and devices (one row per segment, as lvm prints segment fields), with its
   * stderr and exit code.
   */
  lvs(vg: string): { rows: string[][]; stderr: string; code: number };
  /** The last lines of the daemon's log, for failure messages. */
  log(): string;
  cleanup(): void;
}

export function makeRaidLab(): RaidLab {
  const env = makeEnv();
  const run = env.vars.ULVM_RUN_DIR!;
  const devDir = env.vars.ULVM_DEV_DIR!;
  const devices: string[] = [];
  const backing = new Map<string, string>();
  const flakies: FlakyPv[] = [];
  const environment = { systemDir: env.vars.ULVM_SYSTEM_DIR!, runDir: run, devDir };
  const lab: RaidLab = {
    env,
    image(name, size) {
      const path = env.image(name, size);
      devices.push(path);
      backing.set(path, path);
      return path;
    },
    flaky(name, size, opts = {}) {
      const image = env.image(name, size);
      const pv = startFlakyPv(image, opts);
      flakies.push(pv);
      devices.push(pv.path);
      backing.set(pv.path, image);
      return pv;
    },
    ulvm: (...args) => env.ulvm([...args, "--devices", devices.join(",")], { env: { ULVM_ACTIVATION: "1" } }),
    ok(...args) {
      const r = lab.ulvm(...args);
      assert.equal(r.code, 0, `ulvm ${args.join(" ")}: ${r.stdout}${r.stderr}\n${lab.log()}`);
      return r;
    },
    uri: (vgLv) => `nbd+unix:///${vgLv}?socket=${join(run, "nbd.sock")}`,
    daemonPid: () => Number(readFileSync(join(run, "ulvmd.pid"), "utf8").trim()),
    async status(vgLv) {
      return (await activeLvs(environment)).find((s) => `${s.vg}/${s.lv}` === vgLv);
    },
    async raid(vgLv) {
      const s = await lab.status(vgLv);
      assert.ok(s?.raid, `${vgLv} is an active raid LV: ${JSON.stringify(s)}\n${lab.log()}`);
      return s.raid;
    },
    async waitRaid(vgLv, done, timeoutMs, what) {
      let last: RaidStatus | undefined;
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        last = await lab.raid(vgLv);
        if (done(last)) return last;
      }
      assert.fail(`${vgLv}: ${what} within ${timeoutMs} ms; last status ${JSON.stringify(last)}\n${lab.log()}`);
    },
    legs: (vgLv) => subLvAreas(vgLv, "rimage"),
    metas: (vgLv) => subLvAreas(vgLv, "rmeta"),
    lvs(vg) {
      const r = lab.ulvm("lvs", "-a", "--noheadings", "--separator", "|", "-o", "lv_name,lv_attr,copy_percent,lv_health_status,devices", vg);
      const rows = r.stdout.split("\n").filter((l) => l.trim()).map((l) => l.trim().split("|"));
      return { rows, stderr: r.stderr, code: r.code };
    },
    log() {
      const file = join(run, "ulvmd.log");
      if (!existsSync(file)) return "(no daemon log)";
      return `daemon log (end):\n${readFileSync(file, "utf8").split("\n").slice(-40).join("\n")}`;
    },
    cleanup() {
      const pidFile = join(run, "ulvmd.pid");
      if (existsSync(pidFile)) {
        lab.ulvm("vgchange", "-an");
        try {
          process.kill(lab.daemonPid(), "SIGTERM");
          for (let i = 0; i < 100 && existsSync(pidFile); i++) spawnSync("sleep", ["0.1"]);
        } catch {
          // already gone
        }
      }
      // A daemon that was killed leaves its device nodes: their loop devices and nbdfuse mounts are ours to undo.
      if (existsSync(devDir))
        for (const vg of readdirSync(devDir))
          for (const lv of readdirSync(join(devDir, vg))) {
            const link = join(devDir, vg, lv);
            if (spawnSync("test", ["-L", link]).status === 0) spawnSync("losetup", ["-d", readlinkSync(link)]);
          }
      const fuse = join(run, "fuse");
      if (existsSync(fuse))
        for (const vg of readdirSync(fuse))
          for (const entry of readdirSync(join(fuse, vg)).filter((e) => !e.endsWith(".pid"))) spawnSync("umount", ["-l", join(fuse, vg, entry)]);
      for (const pv of flakies.splice(0)) pv.stop();
      env.cleanup();
    },
  };

  /** Where a sub-LV ("vg/lv_rimage_0") lies on the images, from lvs. */
  function areas(vgSubLv: string): Area[] {
    const [vg, lv] = vgSubLv.split("/") as [string, string];
    const peStart = new Map(
      lab
        .ok("pvs", "--noheadings", "--units", "b", "--nosuffix", "--separator", "|", "-o", "pv_name,pe_start")
        .stdout.trim()
        .split("\n")
        .map((l) => l.trim().split("|") as [string, string])
        .map(([pv, start]) => [pv, Number(start)]),
    );
    const rows = lab
      .ok("lvs", "-a", "--segments", "--noheadings", "--units", "b", "--nosuffix", "--separator", "|", "-o", "lv_name,seg_start,seg_size,devices,vg_extent_size", vg)
      .stdout.trim()
      .split("\n")
      .map((l) => l.trim().split("|"))
      .filter((f) => f[0]!.replace(/^\[|\]$/g, "") === lv);
    assert.ok(rows.length, `lvs shows ${vgSubLv}`);
    return rows.map(([, start, size, device, extent]) => {
      const [, pv, pe] = /^(.*)\((\d+)\)$/.exec(device!)!;
      const image = backing.get(pv!);
      assert.ok(image !== undefined && peStart.has(pv!), `${vgSubLv} lies on a known PV: ${device}`);
      return { image, at: peStart.get(pv!)! + Number(pe) * Number(extent), lvOffset: Number(start), length: Number(size) };
    });
  }

  function subLvAreas(vgLv: string, kind: "rimage" | "rmeta"): Area[][] {
    const [vg, lv] = vgLv.split("/") as [string, string];
    const names = lab
      .ok("lvs", "-a", "--noheadings", "-o", "lv_name", vg)
      .stdout.split("\n")
      .map((l) => l.trim().replace(/^\[|\]$/g, ""))
      .filter((name) => new RegExp(`^${lv}_${kind}_\\d+$`).test(name))
      .sort((x, y) => Number(x.split("_").pop()) - Number(y.split("_").pop()));
    return names.map((name) => areas(`${vg}/${name}`));
  }
  return lab;
}

/**
 * Regions set in the write-intent bitmaps of the given rmetas (their union),
 * read from the images: what a restart must resync, or a returning leg recover.
 */
export function dirtyRegions(metas: Area[][]): Set<number> {
  const dirty = new Set<number>();
  for (const areas of metas) {
    const { bitmap, bits } = decodeRmeta(readAreas(areas, 0, areas.reduce((n, a) => n + a.length, 0)));
    const regions = bitmapRegions(bitmap.syncSize, bitmap.chunksize);
    for (let r = 0; r < regions; r++) if (getRegionBit(bits, r)) dirty.add(r);
  }
  return dirty;
}

/** Reads `length` bytes of a sub-LV from `offset`, across its areas. */
export function readAreas(areas: Area[], offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (const a of areas) {
    const from = Math.max(offset, a.lvOffset);
    const to = Math.min(offset + length, a.lvOffset + a.length);
    if (from < to) readBytes(a.image, a.at + (from - a.lvOffset), to - from).copy(out, from - offset);
  }
  return out;
}

const CHUNK = 8 * MiB;

/**
 * The 512-byte sectors (LV offsets) where a leg differs from the first one, up
 * to `limit` of them, over the first `size` bytes; empty when all legs match.
 */
export function legDifferences(legs: Area[][], size: number, limit = 8): { leg: number; offset: number }[] {
  const diffs: { leg: number; offset: number }[] = [];
  for (let offset = 0; offset < size && diffs.length < limit; offset += CHUNK) {
    const length = Math.min(CHUNK, size - offset);
    const first = readAreas(legs[0]!, offset, length);
    for (let leg = 1; leg < legs.length; leg++) {
      const other = readAreas(legs[leg]!, offset, length);
      if (first.equals(other)) continue;
      for (let s = 0; s < length && diffs.length < limit; s += 512)
        if (!first.subarray(s, s + 512).equals(other.subarray(s, s + 512))) diffs.push({ leg, offset: offset + s });
    }
  }
  return diffs;
}

/** Waits until the bitmaps have no region set: md clears bits lazily, seconds after the last write. */
export async function waitBitmapsClean(metas: Area[][], timeoutMs: number): Promise<void> {
  let dirty = dirtyRegions(metas);
  for (const deadline = Date.now() + timeoutMs; dirty.size && Date.now() < deadline; dirty = dirtyRegions(metas))
    await new Promise((r) => setTimeout(r, 250));
  assert.equal(dirty.size, 0, `bitmap regions still set after ${timeoutMs} ms: ${[...dirty].join(",")}`);
}

export interface FioJob {
  error: number;
  read: { io_bytes: number };
  write: { io_bytes: number };
}

export interface FioRun {
  code: number | null;
  jobs: FioJob[];
  log: string;
}

/** fio with JSON output, asynchronously so that several runs and the test's own polling overlap. */
export function fio(args: string[], timeoutMs = 120_000): Promise<FioRun> {
  const all = [...args, "--output-format=json"];
  return new Promise((resolve) => {
    const child = execFile("fio", all, { encoding: "utf8", maxBuffer: 64 * MiB, timeout: timeoutMs }, (_err, stdout, stderr) => {
      const at = stdout.indexOf("{");
      let jobs: FioJob[] = [];
      try {
        jobs = at >= 0 ? (JSON.parse(stdout.slice(at)).jobs as FioJob[]) : [];
      } catch {
        // fio cut short prints no whole report; the log says why
      }
      resolve({ code: child.exitCode, jobs, log: `fio ${all.join(" ")}\n${stderr}${stdout.slice(0, 1500)}` });
    });
  });
}

/** A fio run that saw no I/O error and no verify failure, in every job. */
export function assertFioClean(r: FioRun, jobs: number): void {
  assert.equal(r.code, 0, r.log);
  assert.doesNotMatch(r.log, /verify: bad|verify failed|fio: pid=\d+, err=|Input\/output error/, r.log);
  assert.equal(r.jobs.length, jobs, r.log);
  for (const job of r.jobs) assert.equal(job.error, 0, r.log);
}

/** fio's nbd engine on an LV, checking every block it writes against its crc32c. */
export function fioNbd(uri: string, extra: string[]): string[] {
  // fio would drop a verify state file into the working directory (the repository) when a job ends early.
  return ["--name=load", "--ioengine=nbd", `--uri=${uri}`, "--verify=crc32c", "--verify_fatal=1", "--verify_state_save=0", ...extra];
}
