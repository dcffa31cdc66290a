/**
 * Test environments: a private ULVM_SYSTEM_DIR/ULVM_RUN_DIR, image files or loop
 * devices over them, and runners for ./bin/ulvm and for the real lvm2 (isolated
 * from the host's /etc/lvm, with activation off because this machine has no
 * device-mapper).
 */
import { spawnSync, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, statSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ulvmBin = join(repoRoot, "bin", "ulvm");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Rebuild the bundle when a source file is newer, so tests always run the code
 * under test. Test files run in parallel processes: one builds under a lock while
 * the others wait for it.
 */
export function ensureBuilt(): void {
  const bundle = join(repoRoot, "dist", "ulvm.mjs");
  const fresh = () => existsSync(bundle) && statSync(bundle).mtimeMs >= newestMtime(join(repoRoot, "src"));
  if (fresh()) return;
  const lock = join(repoRoot, ".build-lock");
  for (let waited = 0; ; waited += 100) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 120_000) rmSync(lock, { recursive: true, force: true });
      sleep(100);
    }
  }
  try {
    if (!fresh()) execFileSync("node", [join(repoRoot, "scripts", "build.mjs")], { stdio: "inherit" });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface TestEnv {
  dir: string;
  vars: Record<string, string>;
  /** Image files created so far. */
  images: string[];
  /** Loop devices attached so far. */
  loops: string[];
  image(name: string, size: string): string;
  loop(image: string): string;
  ulvm(args: string[], opts?: { input?: string; env?: Record<string, string> }): RunResult;
  /** Real lvm2, restricted to the given devices. */
  lvm(args: string[], devices: string[], opts?: { input?: string }): RunResult;
  cleanup(): void;
}

const LVM_CONF = `global { activation = 0 }
devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
`;

export function makeEnv(): TestEnv {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), "ulvm-test-"));
  const lvmDir = join(dir, "lvm");
  mkdirSync(lvmDir);
  writeFileSync(
    join(lvmDir, "lvm.conf"),
    LVM_CONF + `backup { backup_dir = "${lvmDir}/backup" archive_dir = "${lvmDir}/archive" }\n`,
  );
  // An existing devices file, even empty, limits ulvm to the devices listed in it;
  // without one ulvm (like lvm) would scan every device of the machine.
  mkdirSync(join(dir, "etc", "devices"), { recursive: true });
  writeFileSync(join(dir, "etc", "devices", "system.devices"), "");
  const vars = {
    ULVM_SYSTEM_DIR: join(dir, "etc"),
    ULVM_RUN_DIR: join(dir, "run"),
    ULVM_DEV_DIR: join(dir, "dev"),
    // Like the real lvm2's `activation = 0` below: commands change metadata only, so
    // tests start no daemons; the activation tests turn it back on for themselves.
    ULVM_ACTIVATION: "0",
  };
  const env: TestEnv = {
    dir,
    vars,
    images: [],
    loops: [],
    image(name, size) {
      const p = join(dir, name);
      execFileSync("truncate", ["-s", size, p]);
      env.images.push(p);
      return p;
    },
    loop(image) {
      const dev = execFileSync("losetup", ["-f", "--show", image], { encoding: "utf8" }).trim();
      env.loops.push(dev);
      return dev;
    },
    ulvm(args, opts = {}) {
      const r = spawnSync(ulvmBin, args, {
        encoding: "utf8",
        input: opts.input ?? "",
        env: { ...process.env, ...vars, ...opts.env },
      });
      return { stdout: r.stdout, stderr: r.stderr, code: r.status ?? -1 };
    },
    lvm(args, devices, opts = {}) {
      // Never let the real lvm2 scan the machine: other tests' VGs live on other loop devices.
      if (!devices.length) throw new Error("env.lvm needs the devices it may use");
      const r = spawnSync("lvm", [...args, "--devices", devices.join(",")], {
        encoding: "utf8",
        input: opts.input ?? "",
        env: { ...process.env, LVM_SYSTEM_DIR: lvmDir, LVM_SUPPRESS_FD_WARNINGS: "1" },
      });
      return { stdout: r.stdout, stderr: r.stderr, code: r.status ?? -1 };
    },
    cleanup() {
      // A daemon a test started (with activation on) goes first: it holds mounts and loop devices.
      const pidFile = join(vars.ULVM_RUN_DIR, "ulvmd.pid");
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, "utf8").trim());
        if (pid > 0) spawnSync(ulvmBin, ["vgchange", "-an"], { env: { ...process.env, ...vars, ULVM_ACTIVATION: "1" } });
        if (pid > 0) {
          try {
            process.kill(pid, "SIGTERM");
          } catch {
            // already gone
          }
          // The daemon takes its device nodes down on the way out: wait, or their mounts outlive the files.
          for (let i = 0; i < 100 && existsSync(pidFile); i++) spawnSync("sleep", ["0.1"]);
        }
      }
      for (const dev of env.loops.splice(0)) spawnSync("losetup", ["-d", dev]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

/** Real lvm2's stderr without the noise of a host that has no device-mapper. */
export function lvmNoise(stderr: string): string {
  return stderr
    .split("\n")
    .filter(
      (l) =>
        l &&
        !/Activation disabled|device-mapper|\/dev\/mapper\/control|Failure to communicate with kernel|Check that device-mapper|Incompatible libdevmapper|Failed to check for active volumes/.test(l),
    )
    .join("\n");
}
