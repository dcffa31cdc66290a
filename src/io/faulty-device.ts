/**
 * A wrapper that injects the failures a commit protocol must survive: a failing
 * write, a torn write, failing reads, slow I/O, a device that disappears. One
 * FaultPlan can be shared by several devices so that "the k-th write of the whole
 * operation" can be failed for every k.
 */
import type { BlockDevice } from "./block-device.ts";

export interface WriteRecord {
  path: string;
  offset: number;
  length: number;
}

export class FaultPlan {
  /** Writes attempted through every device sharing this plan, numbered from 1. */
  writes = 0;
  /** Writes that reached the inner device, in order (a torn one with its written prefix). */
  readonly log: WriteRecord[] = [];
  /** This write fails with EIO. */
  failWriteAt?: number;
  /** The failing write first writes this many bytes: a torn write. */
  tearBytes?: number;
  /** After the first failure every write fails, as when the machine stops mid-operation. */
  crash = false;
  failReads = false;
  delayMs = 0;
  failed = false;
}

function ioError(code: "EIO" | "ENODEV", what: string, path: string): Error {
  return Object.assign(new Error(`${code}: injected ${what} failure on ${path}`), { code });
}

export class FaultyDevice implements BlockDevice {
  private vanished = false;

  constructor(
    readonly inner: BlockDevice,
    readonly plan: FaultPlan = new FaultPlan(),
  ) {}

  get path(): string {
    return this.inner.path;
  }

  get size(): number {
    return this.inner.size;
  }

  /** Every later I/O fails with ENODEV, as when a disk is pulled. */
  vanish(): void {
    this.vanished = true;
  }

  private async enter(what: string): Promise<void> {
    if (this.plan.delayMs > 0) await new Promise((r) => setTimeout(r, this.plan.delayMs));
    if (this.vanished) throw ioError("ENODEV", what, this.path);
  }

  async read(buf: Uint8Array, offset: number): Promise<void> {
    await this.enter("read");
    if (this.plan.failReads) throw ioError("EIO", "read", this.path);
    await this.inner.read(buf, offset);
  }

  async write(buf: Uint8Array, offset: number): Promise<void> {
    await this.enter("write");
    const plan = this.plan;
    const n = ++plan.writes;
    if (plan.failed && plan.crash) throw ioError("EIO", "write", this.path);
    if (n === plan.failWriteAt) {
      plan.failed = true;
      const torn = Math.min(plan.tearBytes ?? 0, buf.length);
      if (torn > 0) {
        await this.inner.write(buf.subarray(0, torn), offset);
        plan.log.push({ path: this.path, offset, length: torn });
      }
      throw ioError("EIO", "write", this.path);
    }
    await this.inner.write(buf, offset);
    plan.log.push({ path: this.path, offset, length: buf.length });
  }

  async flush(): Promise<void> {
    await this.enter("flush");
    await this.inner.flush();
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}
