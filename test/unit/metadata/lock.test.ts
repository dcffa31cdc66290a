import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LockSet, lockFileName } from "../../../src/metadata/lock.ts";
import { LvmError } from "../../../src/core/errors.ts";

function runDir(): string {
  return mkdtempSync(join(tmpdir(), "ulvm-lock-"));
}

test("VG locks are V_<vg>, orphan and global locks share P_global", () => {
  assert.equal(lockFileName("vg0"), "V_vg0");
  assert.equal(lockFileName("#orphans"), "P_global");
  assert.equal(lockFileName("#global"), "P_global");
});

test("a lock is exclusive until released, then the waiter gets it", async () => {
  const dir = runDir();
  try {
    const a = new LockSet(dir);
    const b = new LockSet(dir, { timeoutMs: 5000, retryMs: 5 });
    await a.acquire("vg0");
    await a.acquire("vg0");
    assert.ok(existsSync(join(dir, "lock", "V_vg0")));
    let got = false;
    const waiting = b.acquire("vg0").then(() => (got = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got, false);
    await a.releaseAll();
    await waiting;
    assert.equal(got, true);
    await b.acquire("vg1");
    await b.releaseAll();
    assert.equal(existsSync(join(dir, "lock", "V_vg0")), false);
    assert.equal(existsSync(join(dir, "lock", "V_vg1")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("waiting ends with LVM's message after the timeout", async () => {
  const dir = runDir();
  try {
    const a = new LockSet(dir);
    await a.acquire("#orphans");
    const b = new LockSet(dir, { timeoutMs: 60, retryMs: 5 });
    await assert.rejects(b.acquire("#orphans"), (e: unknown) => {
      assert.ok(e instanceof LvmError);
      assert.deepEqual(e.lines, ["Giving up waiting for lock.", "Can't get lock for global."]);
      assert.equal(e.exitCode, 5);
      return true;
    });
    await assert.rejects(b.acquire("vgX").then(() => b.acquire("#global")), /Giving up/);
    await a.releaseAll();
    await b.releaseAll();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lock left by a dead process, or by a recycled pid, is broken", async () => {
  const dir = runDir();
  try {
    mkdirSync(join(dir, "lock"));
    const dead = spawnSync("true").pid!;
    writeFileSync(join(dir, "lock", "V_vg0"), `${dead} 12345 x\n`);
    // Our own pid, but with another start time: the process that wrote it is gone.
    writeFileSync(join(dir, "lock", "V_vg1"), `${process.pid} 1 x\n`);
    // A holder killed before it wrote anything.
    writeFileSync(join(dir, "lock", "V_vg2"), "");
    const s = new LockSet(dir, { timeoutMs: 2000 });
    await s.acquire("vg0");
    await s.acquire("vg1");
    await s.acquire("vg2");
    assert.match(readFileSync(join(dir, "lock", "V_vg0"), "utf8"), new RegExp(`^${process.pid} `));
    await s.releaseAll();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lock held by another process blocks until that process is killed", async () => {
  const dir = runDir();
  const lockModule = new URL("../../../src/metadata/lock.ts", import.meta.url).href;
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const { LockSet } = await import(${JSON.stringify(lockModule)});
       await new LockSet(${JSON.stringify(dir)}).acquire("vg0");
       process.stdout.write("held\\n");
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => d.toString().includes("held") && resolve());
      child.on("exit", () => reject(new Error("child exited early")));
    });
    const s = new LockSet(dir, { timeoutMs: 100, retryMs: 5 });
    await assert.rejects(s.acquire("vg0"), /Giving up waiting for lock/);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const after = new LockSet(dir, { timeoutMs: 2000, retryMs: 5 });
    await after.acquire("vg0");
    await after.releaseAll();
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
