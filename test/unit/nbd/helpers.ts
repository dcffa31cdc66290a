/**
 * Test exports and a server under a private temp dir. SparseMemoryExport keeps
 * 64 KiB pages only where data was written, so base:allocation has real holes
 * to report; hooks let tests delay or observe operations.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExportMap, FastZeroUnsupportedError, type Extent, type NbdExport, type WriteZeroesOptions } from "../../../src/nbd/export.ts";
import { STATE } from "../../../src/nbd/protocol.ts";
import { NbdServer, type NbdEvent, type NbdServerOptions } from "../../../src/nbd/server.ts";

export const PAGE = 64 * 1024;

export type Op = "read" | "write" | "flush" | "trim" | "zero" | "status" | "cache";

export class SparseMemoryExport implements NbdExport {
  readonly pages = new Map<number, Buffer>();
  readonly calls: { op: Op; offset: number; length: number; fua?: boolean; opts?: WriteZeroesOptions }[] = [];
  /** Awaited before every operation: tests delay, block or fail operations here. */
  gate: (op: Op, offset: number, length: number) => Promise<void> = async () => {};
  /** When false, FAST_ZERO requests are refused. */
  fastZero = true;
  active = 0;
  maxActive = 0;

  constructor(
    readonly name: string,
    readonly size: number,
    readonly opts: Partial<Pick<NbdExport, "readOnly" | "description" | "blockSizes" | "canMultiConn">> = {},
  ) {}

  get readOnly(): boolean {
    return this.opts.readOnly ?? false;
  }
  get description(): string | undefined {
    return this.opts.description;
  }
  get blockSizes() {
    return this.opts.blockSizes;
  }
  get canMultiConn(): boolean {
    return this.opts.canMultiConn ?? true;
  }

  private async enter(op: Op, offset: number, length: number, extra: { fua?: boolean; opts?: WriteZeroesOptions } = {}) {
    this.calls.push({ op, offset, length, ...extra });
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.gate(op, offset, length);
    } finally {
      this.active--;
    }
  }

  /** Calls `fn(page, start, end)` for each page piece of [offset, offset+length). */
  private eachPage(offset: number, length: number, fn: (page: number, from: number, to: number, done: number) => void) {
    for (let done = 0; done < length; ) {
      const at = offset + done;
      const page = Math.floor(at / PAGE);
      const from = at - page * PAGE;
      const to = Math.min(PAGE, from + length - done);
      fn(page, from, to, done);
      done += to - from;
    }
  }

  async read(buf: Uint8Array, offset: number): Promise<void> {
    await this.enter("read", offset, buf.length);
    this.eachPage(offset, buf.length, (p, from, to, done) => {
      const page = this.pages.get(p);
      if (page) buf.set(page.subarray(from, to), done);
      else buf.fill(0, done, done + to - from);
    });
  }

  async write(buf: Uint8Array, offset: number, fua: boolean): Promise<void> {
    await this.enter("write", offset, buf.length, { fua });
    this.eachPage(offset, buf.length, (p, from, to, done) => {
      this.page(p).set(buf.subarray(done, done + to - from), from);
    });
  }

  private page(p: number): Buffer {
    let page = this.pages.get(p);
    if (!page) this.pages.set(p, (page = Buffer.alloc(PAGE)));
    return page;
  }

  async flush(): Promise<void> {
    await this.enter("flush", 0, 0);
  }

  private zero(offset: number, length: number, punch: boolean): void {
    this.eachPage(offset, length, (p, from, to) => {
      if (punch && from === 0 && to === PAGE) this.pages.delete(p);
      else if (punch) this.pages.get(p)?.fill(0, from, to);
      else this.page(p).fill(0, from, to);
    });
  }

  async trim(offset: number, length: number, fua: boolean): Promise<void> {
    await this.enter("trim", offset, length, { fua });
    this.zero(offset, length, true);
  }

  async writeZeroes(offset: number, length: number, opts: WriteZeroesOptions): Promise<void> {
    await this.enter("zero", offset, length, { opts });
    if (opts.fast && !this.fastZero) throw new FastZeroUnsupportedError();
    this.zero(offset, length, opts.mayTrim);
  }

  async blockStatus(offset: number, length: number): Promise<Extent[]> {
    await this.enter("status", offset, length);
    const out: Extent[] = [];
    this.eachPage(offset, length, (p, from, to) => {
      const flags = this.pages.has(p) ? 0 : STATE.HOLE | STATE.ZERO;
      const last = out[out.length - 1];
      if (last && last.flags === flags) last.length += to - from;
      else out.push({ length: to - from, flags });
    });
    return out;
  }

  async cache(offset: number, length: number): Promise<void> {
    await this.enter("cache", offset, length);
  }

  /** The bytes as a client would read them. */
  snapshot(offset = 0, length = this.size): Buffer {
    const b = Buffer.alloc(length);
    this.eachPage(offset, length, (p, from, to, done) => this.pages.get(p)?.copy(b, done, from, to));
    return b;
  }
}

export interface TestServer {
  server: NbdServer;
  registry: ExportMap;
  dir: string;
  socket: string;
  events: NbdEvent[];
  uri(name: string): string;
  stop(): Promise<void>;
}

export async function startServer(
  exports: NbdExport[],
  opts: Partial<Omit<NbdServerOptions, "registry" | "socketPath">> = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-nbd-"));
  const socket = join(dir, "nbd.sock");
  const registry = new ExportMap();
  for (const e of exports) registry.add(e);
  const events: NbdEvent[] = [];
  const server = new NbdServer({ ...opts, registry, socketPath: socket, onEvent: (e) => events.push(e) });
  await server.listen();
  return {
    server,
    registry,
    dir,
    socket,
    events,
    uri: (name) => `nbd+unix:///${encodeURIComponent(name).replace(/%2F/g, "/")}?socket=${socket}`,
    async stop() {
      await server.close(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function randomBytes(length: number, seed: number): Buffer {
  // A fixed-seed generator: failures reproduce, and no test depends on crypto speed.
  const b = Buffer.allocUnsafe(Math.ceil(length / 4) * 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b.subarray(0, length);
}

/** Waits until `cond` holds, for machines too loaded for fixed sleeps. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 5)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}
