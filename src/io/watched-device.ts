/**
 * A PV image file can be truncated, or replaced, under a running daemon. Reads
 * past the new end then fail, but reads of holes a later write left inside it
 * would return zeroes as data, and writes would quietly grow a sparse file. So
 * the file is watched: once it is shorter than when it was opened, or no longer
 * the same file, every I/O fails as a vanished disk's does, and the raid engine
 * fails the leg instead of trusting it. Block devices keep their size; only
 * regular files are watched.
 */
import { stat } from "node:fs/promises";
import type { BlockDevice } from "./block-device.ts";

const WATCH_MS = 500;

function vanished(path: string, why: string): Error {
  return Object.assign(new Error(`ENODEV: ${path} ${why}`), { code: "ENODEV" });
}

class WatchedFile implements BlockDevice {
  private failure?: Error;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly inner: BlockDevice,
    private readonly ino: bigint,
  ) {
    this.timer = setInterval(() => void this.check(), WATCH_MS);
    this.timer.unref();
  }

  get path(): string {
    return this.inner.path;
  }

  get size(): number {
    return this.inner.size;
  }

  /** Checks the file now; also run every WATCH_MS. */
  async check(): Promise<void> {
    if (this.failure) return;
    const st = await stat(this.path, { bigint: true }).catch(() => undefined);
    if (!st) this.failure = vanished(this.path, "is gone");
    else if (st.ino !== this.ino) this.failure = vanished(this.path, "was replaced by another file");
    else if (st.size < BigInt(this.inner.size)) this.failure = vanished(this.path, `shrank to ${st.size} bytes of ${this.inner.size}`);
  }

  read(buf: Uint8Array, offset: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return this.inner.read(buf, offset);
  }

  write(buf: Uint8Array, offset: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return this.inner.write(buf, offset);
  }

  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return this.inner.flush();
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return this.inner.close();
  }
}

/** `dev` as opened from `path`, watched when `path` is a regular file. */
export async function watchBacking(dev: BlockDevice): Promise<BlockDevice> {
  const st = await stat(dev.path, { bigint: true });
  return st.isFile() ? new WatchedFile(dev, st.ino) : dev;
}
