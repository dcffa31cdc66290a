/**
 * Regular files and block devices behind the BlockDevice interface, with
 * positional I/O so that concurrent requests never share a file position.
 *
 * The data path uses the callback fs API on a raw fd: the promise API
 * (FileHandle) allocates a result object and runs extra async machinery per
 * call, which cost 10-28% of NBD throughput. Each request here allocates one
 * promise and one completion closure, whatever number of short transfers it
 * takes. As FileHandle did, close waits for requests in flight, so the fd
 * number can never be reused under a pending read or write.
 *
 * Small requests run synchronously while the page cache serves them
 * (SyncGuard), and allocate nothing.
 */
import { close, constants, fdatasync, fstat, open, read, readSync, write, writeSync, type Stats, type BigIntStats } from "node:fs";
import { performance } from "node:perf_hooks";
import { readFile } from "node:fs/promises";
import { DONE, type BlockDevice } from "./block-device.ts";
import { assertInRange } from "./range.ts";

/** Linux's dev_t encoding (glibc gnu_dev_major/minor), which Node hands over undecoded. */
export function splitDevT(rdev: bigint): { major: number; minor: number } {
  // glibc truncates the shifted halves to 32 bits; without that a high major leaks into the minor.
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** Node cannot issue BLKGETSIZE64, but sysfs reports the same size in 512-byte sectors. */
export async function blockDeviceSize(rdev: bigint): Promise<number> {
  const { major, minor } = splitDevT(rdev);
  const sectors = (await readFile(`/sys/dev/block/${major}:${minor}/size`, "utf8")).trim();
  return Number(sectors) * 512;
}

type Done = (err: NodeJS.ErrnoException | null, bytes: number) => void;

/** What FileHandle rejects with once closed. */
function fileClosed(syscall: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error("file closed");
  err.code = "EBADF";
  err.syscall = syscall;
  return err;
}

/** Requests up to this size may run synchronously. */
export const SYNC_MAX = 16 * 1024;

export const SYNC_GUARD = {
  /**
   * A synchronous read slower than this did not come from the page cache
   * (which takes 1-15 µs): the disk is serving it.
   */
  slowReadMs: 0.05,
  /**
   * A synchronous write slower than this costs the event loop more than the
   * thread pool's round trip (some 4 µs of the loop's time) would: a disk, or
   * a write the page cache makes expensive (into large folios: 10-20 µs, where
   * small ones take 2). In the pool, such writes to different files (the legs
   * of a raid1) run in parallel: raid1 random 4 KiB writes +13% here. Reads
   * keep the higher mark: with this one, reads right after a page-cache
   * refill turned slow and stayed in the pool at half the IOPS.
   */
  slowWriteMs: 0.012,
  /**
   * Requests turn slow when this many of the last 32 were. A busy machine
   * preempts the thread in one request in a few hundred, and writeback stalls a
   * few in a row: neither is a disk serving every request.
   */
  slowOf32: 8,
  pauseMinMs: 100,
  pauseMaxMs: 1000,
  /** Fast requests in a row after which the next pause is halved. */
  fastRun: 1000,
} as const;

/**
 * Whether a small request may run synchronously on the calling thread. From
 * the page cache, a 4 KiB pread takes a microsecond or two, much less than the
 * thread-pool round trip, whose two thread wakeups are most of the cost of a
 * small NBD request (fio's random 4 KiB reads from the page cache: twice the IOPS).
 * But a request the disk has to serve blocks the event loop for the disk's
 * latency, so once requests turn slow, they go to the thread pool for a pause
 * that doubles each time it ends in a slow request; long fast runs shorten it
 * again. A cold disk thus costs a few blocking requests, then one per pause: at
 * most one a second once the pause has grown. Reads and writes have a guard
 * each: writes slow down for reasons of their own (writeback) that say nothing
 * about reads.
 */
export class SyncGuard {
  /** performance.now() until which requests go to the thread pool; 0 when they need not. */
  private until = 0;
  private pause: number = SYNC_GUARD.pauseMinMs;
  /** One bit per recent synchronous request (32 of them), set when it was slow; newest in bit 0. */
  private history = 0;
  private fastRun = 0;

  constructor(
    /** Milliseconds above which a request counts as slow. */
    private readonly slowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  allowed(): boolean {
    if (this.until === 0) return true;
    if (this.now() < this.until) return false;
    this.until = 0;
    return true;
  }

  /** Records how long a synchronous request took. */
  took(ms: number): void {
    const slow = ms > this.slowMs;
    this.history = (this.history << 1) | (slow ? 1 : 0);
    if (!slow) {
      if (++this.fastRun === SYNC_GUARD.fastRun) {
        this.fastRun = 0;
        this.pause = Math.max(SYNC_GUARD.pauseMinMs, this.pause / 2);
      }
      return;
    }
    this.fastRun = 0;
    let n = 0;
    for (let h = this.history; h !== 0; h &= h - 1) n++;
    if (n < SYNC_GUARD.slowOf32) return;
    this.until = this.now() + this.pause;
    this.pause = Math.min(SYNC_GUARD.pauseMaxMs, this.pause * 2);
  }
}

class FileDevice implements BlockDevice {
  /** Requests started and not yet settled; close waits for them. */
  private inFlight = 0;
  private closing: Promise<void> | undefined;
  private closeWhenIdle: (() => void) | undefined;

  private readonly readGuard = new SyncGuard(SYNC_GUARD.slowReadMs);
  private readonly writeGuard = new SyncGuard(SYNC_GUARD.slowWriteMs);

  constructor(
    readonly path: string,
    readonly size: number,
    private readonly fd: number,
    /** O_DSYNC: every write waits for the disk, so none may run synchronously. */
    private readonly durable: boolean,
  ) {}

  read(buf: Uint8Array, offset: number): Promise<void> {
    return this.transfer(buf, offset, false);
  }

  write(buf: Uint8Array, offset: number): Promise<void> {
    return this.transfer(buf, offset, true);
  }

  /**
   * One read or write of all of `buf` at `offset`, looping over short
   * transfers. A read that makes no progress hit the end of the device; a
   * write that makes none would loop forever. Errors thrown before the first
   * transfer (range, closed) or by a synchronous one reject, as they did from
   * the async methods.
   */
  private transfer(buf: Uint8Array, offset: number, writing: boolean): Promise<void> {
    const length = buf.length;
    let done: number;
    try {
      assertInRange(this.path, this.size, offset, length);
      if (this.closing !== undefined) throw fileClosed(writing ? "write" : "read");
      done = length === 0 ? 0 : this.transferSync(buf, offset, writing);
    } catch (e) {
      return Promise.reject(e);
    }
    if (done === length) return DONE;
    return new Promise<void>((resolve, reject) => {
      const fd = this.fd;
      const step: Done = (err, bytes) => {
        if (err === null) {
          if (bytes === 0) err = this.stalled(writing, offset + done);
          else if ((done += bytes) < length) {
            try {
              if (writing) write(fd, buf, done, length - done, offset + done, step);
              else read(fd, buf, done, length - done, offset + done, step);
              return;
            } catch (e) {
              err = e as NodeJS.ErrnoException;
            }
          }
        }
        this.settled();
        if (err === null) resolve();
        else reject(err);
      };
      // Synchronous argument errors from the first call reject through the executor.
      if (writing) write(fd, buf, done, length - done, offset + done, step);
      else read(fd, buf, done, length - done, offset + done, step);
      this.inFlight++;
    });
  }

  /** What a synchronous transfer did: 0 when the request goes to the thread pool instead. */
  private transferSync(buf: Uint8Array, offset: number, writing: boolean): number {
    const guard = writing ? this.writeGuard : this.readGuard;
    if (buf.length > SYNC_MAX || (writing && this.durable) || !guard.allowed()) return 0;
    const start = performance.now();
    let done: number;
    try {
      done = writing ? writeSync(this.fd, buf, 0, buf.length, offset) : readSync(this.fd, buf, 0, buf.length, offset);
    } finally {
      guard.took(performance.now() - start);
    }
    if (done === 0) throw this.stalled(writing, offset);
    return done;
  }

  private stalled(writing: boolean, at: number): Error {
    return new Error(writing ? `${this.path}: no progress writing at ${at}` : `${this.path}: unexpected end of device at ${at}`);
  }

  flush(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closing !== undefined) throw fileClosed("fdatasync");
      fdatasync(this.fd, (err) => {
        this.settled();
        if (err === null) resolve();
        else reject(err);
      });
      this.inFlight++;
    });
  }

  private settled(): void {
    if (--this.inFlight === 0 && this.closeWhenIdle !== undefined) this.closeWhenIdle();
  }

  /** Later requests fail with EBADF; the fd closes once those in flight have settled. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve, reject) => {
      const closeFd = (): void => close(this.fd, (err) => (err ? reject(err) : resolve()));
      if (this.inFlight === 0) closeFd();
      else this.closeWhenIdle = closeFd;
    });
    return this.closing;
  }
}

function openFd(path: string, flags: string | number): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function fstatBig(fd: number): Promise<BigIntStats> {
  return new Promise((resolve, reject) =>
    fstat(fd, { bigint: true }, (err: NodeJS.ErrnoException | null, st: Stats | BigIntStats) =>
      err ? reject(err) : resolve(st as BigIntStats),
    ),
  );
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));
}

export interface OpenOptions {
  writable: boolean;
  /**
   * Every write is durable when it completes (O_DSYNC): for small metadata writes that must reach the
   * disk before data moves on, without an fdatasync of everything else written to the same file.
   */
  durable?: boolean;
}

export async function openBlockDevice(path: string, opts: OpenOptions): Promise<BlockDevice> {
  const fd = await openFd(path, opts.writable ? (opts.durable ? constants.O_RDWR | constants.O_DSYNC : "r+") : "r");
  try {
    const st = await fstatBig(fd);
    let size: number;
    if (st.isBlockDevice()) size = await blockDeviceSize(st.rdev);
    else if (st.isFile()) size = Number(st.size);
    else throw new Error(`${path}: not a block device or regular file`);
    return new FileDevice(path, size, fd, opts.durable === true);
  } catch (e) {
    await closeFd(fd);
    throw e;
  }
}
