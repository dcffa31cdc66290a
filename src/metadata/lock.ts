/**
 * Exclusive locks between ulvm processes, one file per resource under
 * <runDir>/lock/ named as LVM names its flock files: V_<vg> for a VG, P_global for
 * the global lock that orphan PVs are changed under. Node has no flock, so a lock is
 * a file created with O_EXCL that records its holder's pid and process start time;
 * a lock whose holder is gone (crashed, killed) is stale and is broken, and the
 * start time keeps a recycled pid from keeping a dead holder's lock alive.
 */
import { link, open, readFile, unlink, mkdir, stat } from "node:fs/promises";
import { readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { EXIT, LvmError } from "../core/errors.ts";

export interface LockOptions {
  /** Give up after this long (LVM's "Giving up waiting for lock."). */
  timeoutMs?: number;
  /** Polling interval while another process holds the lock. */
  retryMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_RETRY_MS = 20;
/** A breaker that died between claiming and finishing a break leaves this; it is short-lived otherwise. */
const STALE_BREAKER_MS = 10_000;

/** LVM's resource-to-file mapping: names starting with '#' (#orphans, #global) are the global lock. */
export function lockFileName(resource: string): string {
  return resource.startsWith("#") ? "P_global" : `V_${resource}`;
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; undefined when not running. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses, so count from its closing ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function isAlive(pid: number, startTime: string | undefined): boolean {
  if (pid <= 0) return false;
  const current = processStartTime(pid);
  if (current !== undefined) return startTime === undefined || current === startTime;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function ownerRecord(): string {
  return `${process.pid} ${processStartTime(process.pid) ?? "-"}\n`;
}

/**
 * Creates `path` holding `content`, or returns false if it exists. The content is
 * written to a private file first and linked into place, so a lock file is never
 * seen empty or half written.
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const handle = await open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function readOwner(path: string): Promise<{ pid: number; startTime?: string; raw: string } | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const [pid, start] = raw.trim().split(" ");
  // Lock files are linked in complete, so one without a pid was not made by a live holder.
  return { pid: Number(pid) || 0, startTime: start && start !== "-" ? start : undefined, raw };
}

/**
 * Removes a stale lock without racing another breaker: only the holder of the
 * ".break" file may unlink, and it re-reads the lock first, so a lock that was
 * broken and re-acquired in between is left alone.
 */
async function breakStale(path: string, staleRaw: string): Promise<void> {
  const breaker = `${path}.break`;
  if (!(await createExclusive(breaker, ownerRecord()))) {
    const st = await stat(breaker).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > STALE_BREAKER_MS) await unlink(breaker).catch(() => {});
    return;
  }
  try {
    const again = await readOwner(path);
    if (again && again.raw === staleRaw) await unlink(path).catch(() => {});
  } finally {
    await unlink(breaker).catch(() => {});
  }
}

/** Lock files this process holds, removed at exit if close() was never reached. */
const heldPaths = new Set<string>();
let exitHookInstalled = false;
function trackHeld(path: string): void {
  heldPaths.add(path);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const p of heldPaths) {
      try {
        unlinkSync(p);
      } catch {
        // Already gone; nothing else can be done while exiting.
      }
    }
  });
}

export class LockSet {
  private readonly held = new Map<string, { path: string; record: string }>();

  constructor(
    private readonly runDir: string,
    private readonly options: LockOptions = {},
  ) {}

  get dir(): string {
    return join(this.runDir, "lock");
  }

  holds(resource: string): boolean {
    return this.held.has(lockFileName(resource));
  }

  /** Takes the resource's lock, waiting for a live holder; a no-op when this set holds it already. */
  acquire(resource: string): Promise<void> {
    return this.acquireFile(lockFileName(resource), resource.startsWith("#") ? "global" : resource);
  }

  /** `what` names the resource in the timeout message. */
  async acquireFile(name: string, what: string): Promise<void> {
    if (this.held.has(name)) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, name);
    const record = `${ownerRecord().trimEnd()} ${Math.random().toString(36).slice(2)}\n`;
    const deadline = Date.now() + (this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    for (;;) {
      if (await createExclusive(path, record)) {
        this.held.set(name, { path, record });
        trackHeld(path);
        return;
      }
      const owner = await readOwner(path);
      if (owner && !isAlive(owner.pid, owner.startTime)) {
        await breakStale(path, owner.raw);
        continue;
      }
      if (Date.now() >= deadline)
        throw new LvmError(
          ["Giving up waiting for lock.", `Can't get lock for ${what}.`],
          EXIT.FAILED,
        );
      await new Promise((r) => setTimeout(r, this.options.retryMs ?? DEFAULT_RETRY_MS));
    }
  }

  /**
   * Releases every lock. A live holder's lock is never broken, so a file that no
   * longer carries our record can only be someone else's and is left alone.
   */
  async releaseAll(): Promise<void> {
    for (const [name, { path, record }] of this.held) {
      this.held.delete(name);
      heldPaths.delete(path);
      const owner = await readOwner(path);
      if (owner?.raw === record) await unlink(path).catch(() => {});
    }
  }
}
