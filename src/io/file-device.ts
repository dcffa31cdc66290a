/**
 * Regular files and block devices behind the BlockDevice interface, with
 * positional I/O so that concurrent requests never share a file position.
 */
import { open, readFile, type FileHandle } from "node:fs/promises";
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

class FileDevice implements BlockDevice {
  constructor(
    readonly path: string,
    readonly size: number,
    private readonly handle: FileHandle,
  ) {}

  async read(buf: Uint8Array, offset: number): Promise<void> {
    assertInRange(this.path, this.size, offset, buf.length);
    for (let done = 0; done < buf.length; ) {
      const { bytesRead } = await this.handle.read(buf, done, buf.length - done, offset + done);
      if (bytesRead === 0) throw new Error(`${this.path}: unexpected end of device at ${offset + done}`);
      done += bytesRead;
    }
  }

  async write(buf: Uint8Array, offset: number): Promise<void> {
    assertInRange(this.path, this.size, offset, buf.length);
    for (let done = 0; done < buf.length; ) {
      const { bytesWritten } = await this.handle.write(buf, done, buf.length - done, offset + done);
      if (bytesWritten === 0) throw new Error(`${this.path}: no progress writing at ${offset + done}`);
      done += bytesWritten;
    }
  }

  flush(): Promise<void> {
    return this.handle.datasync();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

export async function openBlockDevice(path: string, opts: { writable: boolean }): Promise<BlockDevice> {
  const handle = await open(path, opts.writable ? "r+" : "r");
  try {
    const st = await handle.stat({ bigint: true });
    let size: number;
    if (st.isBlockDevice()) size = await blockDeviceSize(st.rdev);
    else if (st.isFile()) size = Number(st.size);
    else throw new Error(`${path}: not a block device or regular file`);
    return new FileDevice(path, size, handle);
  } catch (e) {
    await handle.close();
    throw e;
  }
}
