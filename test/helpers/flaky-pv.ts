/**
 * A PV that fails on demand, with real tools rather than a mock: nbdkit's file
 * plugin over an image file, behind its error filter, exposed as a regular file
 * by nbdfuse. ulvm takes that file as a PV like any image; while injection is
 * on, every read, write, zero and trim reaching nbdkit fails with EIO, and the
 * process reading or writing the file sees EIO from the kernel.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface FlakyPv {
  /** The nbdfuse file: give this path to ulvm as the PV. */
  readonly path: string;
  /** The image file behind it, for offline checks of what reached the disk. */
  readonly image: string;
  /** Turns EIO injection on or off; from then on every request reaching nbdkit fails, reads of cached pages included. */
  inject(on: boolean): void;
  readonly injecting: boolean;
  /** Empties the file's page cache, so that the next reads reach nbdkit. */
  dropCache(): void;
  /** What nbdkit received so far, in order; empty unless started with `log`. */
  requests(): NbdRequest[];
  /**
   * Unmounts the file and waits until nbdfuse and nbdkit are gone. A mount still
   * held open (a daemon that was not stopped) is detached lazily and its nbdfuse
   * stopped, so a failed test never leaves a mount behind. Safe to call twice.
   */
  stop(): void;
}

/** One request as nbdkit's log filter records it. */
export interface NbdRequest {
  op: string;
  offset: number;
  count: number;
}

export interface FlakyOptions {
  /** Where the mount point and nbdkit's files go; default: beside the image. */
  dir?: string;
  /** Records every request nbdkit receives (nbdkit's log filter), for requests(). */
  log?: boolean;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Running, not a zombie: this process reaps its children only when its event
 * loop turns, which the sync waits here block; a killed daemon waits for init.
 */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const live = new Set<FlakyPv>();
// A test file that throws or exits early still unmounts: a leftover FUSE mount would outlive the run.
process.once("exit", () => {
  for (const pv of [...live])
    try {
      pv.stop();
    } catch (e) {
      console.error(`flaky PV ${pv.path} not cleaned up: ${(e as Error).message}`);
    }
});

/**
 * Serves `image` through a fault-injecting nbdfuse file under `dir` (default:
 * beside the image). Synchronous so tests can build their PVs at top level.
 */
export function startFlakyPv(image: string, opts: FlakyOptions = {}): FlakyPv {
  const mount = join(opts.dir ?? dirname(image), `flaky-${basename(image)}`);
  const trigger = `${mount}.inject`;
  const pidFile = `${mount}.pid`;
  const logFile = `${mount}.log`;
  const requestLog = `${mount}.requests`;
  mkdirSync(mount, { recursive: true });
  rmSync(trigger, { force: true });
  rmSync(pidFile, { force: true });
  rmSync(requestLog, { force: true });
  const log = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    // Socket activation: nbdfuse runs nbdkit as its child, and --exit-with-parent ends nbdkit with it.
    child = spawn(
      "nbdfuse",
      ["-P", pidFile, join(mount, "pv"), "[", "nbdkit", "--exit-with-parent", ...(opts.log ? ["--filter=log"] : []), "--filter=error",
        "file", image, ...(opts.log ? [`logfile=${requestLog}`] : []), "error=EIO", "error-rate=100%", `error-file=${trigger}`, "]"],
      { stdio: ["ignore", log, log] },
    );
  } finally {
    closeSync(log);
  }
  const path = join(mount, "pv");
  let stopped = false;
  const pv: FlakyPv = {
    path,
    image,
    inject(on) {
      if (!on) return rmSync(trigger, { force: true });
      writeFileSync(trigger, "");
      // Pages already cached would still read fine, where reads of a failed disk reach the disk.
      pv.dropCache();
    },
    dropCache() {
      // FUSE drops an inode's cache on each open (nbdfuse does not ask to keep it).
      closeSync(openSync(path, "r"));
    },
    requests() {
      if (!existsSync(requestLog)) return [];
      const out: NbdRequest[] = [];
      for (const m of readFileSync(requestLog, "utf8").matchAll(/ (\w+) id=\d+ offset=(0x[0-9a-f]+) count=(0x[0-9a-f]+) /g))
        out.push({ op: m[1]!, offset: Number(m[2]), count: Number(m[3]) });
      return out;
    },
    get injecting() {
      return existsSync(trigger);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      live.delete(pv);
      rmSync(trigger, { force: true });
      const pid = child.pid ?? 0;
      if (spawnSync("fusermount3", ["-u", mount]).status !== 0) spawnSync("umount", ["-l", mount]);
      for (let i = 0; i < 100 && pid > 0 && alive(pid); i++) sleep(50);
      // Lazily detached but still held: nbdfuse would wait for the last close.
      if (pid > 0 && alive(pid)) child.kill("SIGKILL");
      for (let i = 0; i < 100 && pid > 0 && alive(pid); i++) sleep(50);
      rmSync(pidFile, { force: true });
      rmdirSync(mount);
    },
  };
  live.add(pv);
  for (let waited = 0; !existsSync(pidFile) || readFileSync(pidFile, "utf8").trim() === ""; waited += 20) {
    if (!alive(child.pid ?? 0) || waited > 10_000) {
      pv.stop();
      throw new Error(`nbdfuse did not start for ${image}: ${readFileSync(logFile, "utf8")}`);
    }
    sleep(20);
  }
  return pv;
}
