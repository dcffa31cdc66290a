/**
 * The NBD server: listens on a unix socket and optionally on TCP, hands each
 * client to its own Connection, and shuts down by answering what is in flight,
 * flushing every export in use and closing. A TCP listener defaults to loopback;
 * with `tls`, STARTTLS is offered (or required) on every listener.
 */
import { nodeNet } from "../io/lazy-builtins.ts";
import type { AddressInfo, Server, Socket } from "node:net";
import { chmod, lstat, unlink } from "node:fs/promises";
import { BufferPool } from "./buffer-pool.ts";
import { Connection, type ConnectionLimits, type NbdEvent } from "./connection.ts";
import type { ExportRegistry, NbdExport } from "./export.ts";
import type { NbdTls } from "./tls.ts";

export type { NbdEvent };

export interface NbdServerOptions {
  registry: ExportRegistry;
  socketPath?: string;
  /** Access control for the unix socket is its file mode. */
  socketMode?: number;
  tcp?: { host?: string; port: number };
  tls?: NbdTls;
  limits?: Partial<ConnectionLimits>;
  /** Idle payload buffers kept for reuse, shared by all connections. */
  pooledBytes?: number;
  /** Structured events for the daemon's log. */
  onEvent?: (event: NbdEvent) => void;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  // nbdcopy keeps 64 requests in flight, qemu 16, fio its iodepth.
  maxInFlight: 64,
  // Read data waits here for the socket, which is slower than the page cache: with 64 MiB
  // it went cold in between, and fio's 1 MiB reads at iodepth 32 ran 1.5x slower than with
  // 16 MiB (more CPU per byte sent). 16 MiB still holds all of nbdcopy's 64 x 256 KiB.
  maxInFlightBytes: 16 * 1024 * 1024,
  handshakeTimeoutMs: 30_000,
  lingerMs: 10_000,
};

export class NbdServer {
  private readonly listeners: Server[] = [];
  private readonly connections = new Set<Connection>();
  private readonly limits: ConnectionLimits;
  private readonly pool: BufferPool;
  private nextId = 1;
  private shuttingDown = false;

  constructor(private readonly opts: NbdServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.pool = new BufferPool(opts.pooledBytes ?? 64 * 1024 * 1024);
  }

  async listen(): Promise<void> {
    const { socketPath, tcp } = this.opts;
    if (socketPath === undefined && tcp === undefined) throw new Error("NBD server: nothing to listen on");
    if (socketPath !== undefined) {
      await removeStaleSocket(socketPath);
      await this.start({ path: socketPath });
      await chmod(socketPath, this.opts.socketMode ?? 0o600);
    }
    if (tcp) await this.start({ host: tcp.host ?? "127.0.0.1", port: tcp.port });
  }

  /** Where the TCP listener ended up (useful with port 0). */
  get tcpAddress(): AddressInfo | undefined {
    return this.listeners.map((l) => l.address()).find((x): x is AddressInfo => typeof x === "object" && x !== null);
  }

  /** Connections in transmission on the named export: what makes an LV "open". */
  openCount(name: string): number {
    let n = 0;
    for (const c of this.connections) if (c.export?.name === name) n++;
    return n;
  }

  /**
   * Stops accepting clients, answers every request already read (new ones get
   * ESHUTDOWN, options ERR_SHUTDOWN), flushes the exports in use and closes every
   * connection. After graceMs, stuck clients are cut off.
   */
  async close(graceMs = 5000): Promise<void> {
    this.shuttingDown = true;
    const listenersClosed = Promise.all(this.listeners.map((l) => new Promise((r) => l.close(r))));
    const conns = [...this.connections];
    await withDeadline(Promise.all(conns.map((c) => c.idle())), graceMs);
    const inUse = new Set(conns.map((c) => c.export).filter((e): e is NbdExport => e !== undefined));
    await Promise.allSettled([...inUse].map((e) => e.flush()));
    for (const c of conns) c.end();
    if (!(await withDeadline(Promise.all(conns.map((c) => c.closed)), graceMs))) for (const c of conns) c.destroy();
    await listenersClosed;
    if (this.opts.socketPath !== undefined) await unlink(this.opts.socketPath).catch(() => {});
  }

  private start(where: { path: string } | { host: string; port: number }): Promise<void> {
    // allowHalfOpen: a client that shuts its side down still gets the replies it is owed.
    const server = nodeNet().createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.listeners.push(server);
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(where, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    if (this.shuttingDown) return void socket.destroy();
    socket.setNoDelay(true);
    const conn = new Connection(socket, this.nextId++, {
      registry: this.opts.registry,
      limits: this.limits,
      pool: this.pool,
      tls: this.opts.tls,
      shuttingDown: () => this.shuttingDown,
      log: (e) => this.opts.onEvent?.(e),
    });
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
  }
}

/** True if `p` settled in time. */
async function withDeadline(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A socket file left by a dead server is removed; a live server's is not stolen. */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = nodeNet().createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) throw new Error(`${path}: another server is listening there`);
  await unlink(path);
}
