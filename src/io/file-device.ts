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
 */
import { close, constants, fdatasync, fstat, open, read, write, type Stats, type BigIntStats } from "node:fs";
import { readFile } from "node:fs/promises";
import type { BlockDevice } from "./block-device.ts";
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

class FileDevice implements BlockDevice {
  /** Requests started and not yet settled; close waits for them. */
  private inFlight = 0;
  private closing: Promise<void> | undefined;
  private closeWhenIdle: (() => void) | undefined;

  constructor(
    readonly path: string,
    readonly size: number,
    private readonly fd: number,
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
   * transfer (range, closed) reject, as they did from the async methods.
   */
  private transfer(buf: Uint8Array, offset: number, writing: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      assertInRange(this.path, this.size, offset, buf.length);
      if (this.closing !== undefined) throw fileClosed(writing ? "write" : "read");
      const length = buf.length;
      if (length === 0) return resolve();
      const fd = this.fd;
      let done = 0;
      const step: Done = (err, bytes) => {
        if (err === null) {
          if (bytes === 0) {
            err = new Error(
              writing
                ? `${this.path}: no progress writing at ${offset + done}`
                : `${this.path}: unexpected end of device at ${offset + done}`,
            );
          } else if ((done += bytes) < length) {
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
      if (writing) write(fd, buf, 0, length, offset, step);
      else read(fd, buf, 0, length, offset, step);
      this.inFlight++;
    });
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
    return new FileDevice(path, size, fd);
  } catch (e) {
    await closeFd(fd);
    throw e;
  }
}
