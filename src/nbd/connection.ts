/**
 * One client connection: a state machine over the socket's byte stream that
 * runs the handshake (answers decided by negotiate.ts) and then serves requests
 * concurrently, replying in completion order.
 *
 * Hot path: the socket reads into one reused input buffer where request
 * headers are parsed in place or, for the rest of a large WRITE payload,
 * straight into the payload's pooled buffer (socket-input.ts); smaller payloads
 * are copied out of the input buffer once. Reply headers live in per-slot
 * buffers that are reused once the socket is done with them. Replies leave
 * corked, in one writev: those to requests a socket read let finish at once
 * (from the page cache) right after that read's promise jobs, the others at
 * the end of the event loop iteration, with every reply the thread pool
 * finished in it.
 */
import type { Socket } from "node:net";
import type { BufferPool } from "./buffer-pool.ts";
import { DEFAULT_BLOCK_SIZES, DONE, nbdErrno, type ExportRegistry, type NbdExport } from "./export.ts";
import { REJECT, checkRequest, clampExtents, type Rejection, type TransmissionContext } from "./command.ts";
import { MAX_OPTION_DATA, negotiateOption, newNegotiation, type NegotiationState, type OptionOutcome } from "./negotiate.ts";
import { startTls, type NbdTls } from "./tls.ts";
import { readIntoBuffers } from "./socket-input.ts";
import {
  CHUNK_HEADER_LENGTH,
  CLIENT_FLAG,
  CMD,
  CMD_FLAG,
  DATA_CHUNK_HEADER_LENGTH,
  DEFAULT_MAX_PAYLOAD,
  HANDSHAKE_FLAG,
  IHAVEOPT,
  OPTION_HEADER_LENGTH,
  REPLY_FLAG_DONE,
  REPLY_TYPE,
  REQUEST_LENGTH,
  SIMPLE_REPLY_LENGTH,
  decodeOptionHeader,
  decodeRequest,
  encodeBlockStatusPayload,
  encodeErrorPayload,
  encodeGreeting,
  writeChunkHeader,
  writeDataChunkHeader,
  writeSimpleReply,
  type Extent,
  type Request,
} from "./protocol.ts";

export interface ConnectionLimits {
  /** Requests read but not yet answered (and their replies not yet handed to the kernel). */
  maxInFlight: number;
  /** READ and WRITE payload bytes held by those requests; reading pauses above it. */
  maxInFlightBytes: number;
  /** The whole handshake must end within this, a guard against idle or slow clients. */
  handshakeTimeoutMs: number;
  /** How long a socket we ended may stay half-open before it is destroyed. */
  lingerMs: number;
}

export type NbdEvent =
  | { type: "connect"; conn: number }
  | { type: "open"; conn: number; export: string; flags: number; structuredReplies: boolean }
  | { type: "violation"; conn: number; reason: string }
  | { type: "close"; conn: number; reason: string };

export interface ConnectionHooks {
  registry: ExportRegistry;
  limits: ConnectionLimits;
  pool: BufferPool;
  /** Offered through STARTTLS when present. */
  tls?: NbdTls;
  shuttingDown(): boolean;
  log(event: NbdEvent): void;
}

const CLIENT_FLAGS = 0;
const OPTION_HEADER = 1;
const OPTION_DATA = 2;
const OPTION_SKIP = 3;
const REQUEST = 4;
const PAYLOAD = 5;
const PAYLOAD_SKIP = 6;
const ENDED = 7;

const EMPTY = Buffer.alloc(0);

/** The reused input buffer: the most one read takes, outside payloads read in place. */
const INPUT_SIZE = 64 * 1024;
/**
 * The rest of a WRITE payload at least this long is read into the payload's own
 * buffer. Below it, reading into the input buffer brings more requests per read
 * and the copy is cheap.
 */
const DIRECT_MIN = 64 * 1024;

/** One request's state, reused: a connection has maxInFlight of them. */
class Slot {
  readonly req: Request = { flags: 0, type: 0, cookie: 0n, offset: 0, length: 0 };
  readonly header = Buffer.allocUnsafe(DATA_CHUNK_HEADER_LENGTH);
  readonly simpleHeader = this.header.subarray(0, SIMPLE_REPLY_LENGTH);
  readonly chunkHeader = this.header.subarray(0, CHUNK_HEADER_LENGTH);
  /** A WRITE's payload, or the buffer a READ reads into. */
  payload: Buffer | undefined;
  /** The pooled buffer behind `payload`, returned once the reply is out. */
  backing: Buffer | undefined;
  /** Payload bytes counted against maxInFlightBytes. */
  bytes = 0;
  rejection: Rejection | undefined;
  /** The export's operation settled: bound once, so that a request allocates no callbacks. */
  readonly done: (value: unknown) => void;
  readonly failed: (e: unknown) => void;
  /** Runs when the socket no longer needs the header and payload. */
  readonly written: () => void;

  constructor(conn: Connection) {
    this.done = (value) => conn.completed(this, value);
    this.failed = (e) => conn.failed(this, e);
    this.written = () => conn.release(this);
  }
}

export class Connection {
  private phase = CLIENT_FLAGS;
  /** After STARTTLS: a TLSSocket over the accepted socket. */
  private socket: Socket;
  private secure = false;
  private negotiation: NegotiationState = newNegotiation(false);
  private option = 0;
  /** Where `collect` copies straddling bytes: a header, option data or a payload. */
  private target: Buffer = EMPTY;
  private fill = 0;
  private skip = 0;
  private readonly scratch = Buffer.allocUnsafe(REQUEST_LENGTH);
  /** The socket chunk being parsed, kept while parsing is blocked. */
  private chunk: Buffer | null = null;
  /** Where the socket reads while it reads into our buffers (until STARTTLS); chunks are views of it. */
  private input: Buffer | undefined;
  /** The socket's next read goes into the current payload's buffer, not into `input`. */
  private direct = false;
  /** After a payload read in place, the next read takes just a header, so that the next payload can be too. */
  private streaming = false;
  private pos = 0;
  private pumping = false;
  private paused = false;
  private corked = false;
  private exp: NbdExport | undefined;
  private ctx: TransmissionContext | undefined;
  /** Writes longer than this are a denial of service, not a mistake: disconnect. */
  private skipLimit = DEFAULT_MAX_PAYLOAD;
  private readonly slots: Slot[];
  private readonly free: Slot[];
  /** The slot whose WRITE payload is being received or skipped. */
  private current: Slot | undefined;
  private inFlightBytes = 0;
  private ending = false;
  private socketEnded = false;
  private socketClosed = false;
  private closeReason = "";
  private idleWaiters: (() => void)[] = [];
  private timer: NodeJS.Timeout;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    socket: Socket,
    readonly id: number,
    private readonly hooks: ConnectionHooks,
  ) {
    this.socket = socket;
    this.slots = Array.from({ length: hooks.limits.maxInFlight }, () => new Slot(this));
    this.free = [...this.slots];
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.timer = setTimeout(() => this.abort("handshake timed out"), hooks.limits.handshakeTimeoutMs).unref();
    this.input = Buffer.allocUnsafeSlow(INPUT_SIZE);
    if (!readIntoBuffers(socket, this.nextBuffer, this.onRead)) {
      this.input = undefined;
      socket.on("data", this.onData);
    }
    this.listen(socket);
    hooks.log({ type: "connect", conn: id });
    socket.write(encodeGreeting(HANDSHAKE_FLAG.FIXED_NEWSTYLE | HANDSHAKE_FLAG.NO_ZEROES));
  }

  private listen(socket: Socket): void {
    socket.on("end", this.onEnd);
    // EPIPE, ECONNRESET and the like: the socket closes next, nothing else to do.
    socket.on("error", () => {});
    socket.on("close", this.onClose);
  }

  private readonly onData = (chunk: Buffer) => {
    this.chunk = chunk;
    this.pos = 0;
    this.pump();
    this.flushSoon();
  };

  private readonly nextBuffer = (): Buffer => {
    if (this.phase === PAYLOAD && this.target.length - this.fill >= DIRECT_MIN) {
      this.direct = true;
      return this.target.subarray(this.fill);
    }
    this.direct = false;
    // The input buffer is free again: parsing has consumed it, or the socket is paused until it has.
    return this.streaming ? this.input!.subarray(0, REQUEST_LENGTH) : this.input!;
  };

  private readonly onRead = (n: number, buf: Buffer): void => {
    if (!this.direct) return this.onData(n === buf.length ? buf : buf.subarray(0, n));
    // The request was dropped meanwhile (the connection is ending): so are its bytes.
    if (this.phase !== PAYLOAD) return;
    this.fill += n;
    if (this.fill < this.target.length) return;
    this.fill = 0;
    this.streaming = true;
    try {
      this.payloadDone();
    } catch (e) {
      this.internalError(e);
    }
    this.flushSoon();
  };

  private readonly onEnd = () => this.finish("client closed the connection");

  /** The export this connection transmits on, once the handshake is over. */
  get export(): NbdExport | undefined {
    return this.exp;
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.free.length === this.slots.length) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Reads nothing more, answers what is in flight, then closes. */
  end(): void {
    this.finish("server shut down");
  }

  destroy(): void {
    this.socket.destroy();
  }

  // ------------------------------------------------------------- parsing

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.chunk !== null) {
        if (this.pos === this.chunk.length) this.chunk = null;
        else if (this.blocked()) break;
        else this.step(this.chunk);
      }
    } catch (e) {
      this.internalError(e);
    } finally {
      this.pumping = false;
    }
    // After the last request, reading goes on only to notice the client closing.
    if (this.phase === ENDED) this.chunk = null;
    if (this.chunk !== null && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (this.chunk === null && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private blocked(): boolean {
    if (this.phase === ENDED) return true;
    if (this.phase !== REQUEST) return false;
    return this.free.length === 0 || this.inFlightBytes >= this.hooks.limits.maxInFlightBytes;
  }

  /** Copies into `target` from `chunk`; true once `target` is full. */
  private collect(chunk: Buffer, target: Buffer): boolean {
    const n = Math.min(target.length - this.fill, chunk.length - this.pos);
    chunk.copy(target, this.fill, this.pos, this.pos + n);
    this.pos += n;
    this.fill += n;
    if (this.fill < target.length) return false;
    this.fill = 0;
    return true;
  }

  private step(chunk: Buffer): void {
    switch (this.phase) {
      case CLIENT_FLAGS:
        if (this.collect(chunk, this.scratch.subarray(0, 4))) this.clientFlags(this.scratch.readUInt32BE(0));
        return;
      case OPTION_HEADER:
        if (this.collect(chunk, this.scratch.subarray(0, OPTION_HEADER_LENGTH))) this.optionHeader();
        return;
      case OPTION_DATA:
        if (this.collect(chunk, this.target)) this.runOption(this.target);
        return;
      case OPTION_SKIP:
      case PAYLOAD_SKIP: {
        const n = Math.min(this.skip, chunk.length - this.pos);
        this.pos += n;
        this.skip -= n;
        if (this.skip === 0) this.skipped();
        return;
      }
      case REQUEST:
        if (this.fill === 0 && chunk.length - this.pos >= REQUEST_LENGTH) {
          this.pos += REQUEST_LENGTH;
          this.request(chunk, this.pos - REQUEST_LENGTH);
        } else if (this.collect(chunk, this.scratch)) this.request(this.scratch, 0);
        return;
      case PAYLOAD:
        if (this.collect(chunk, this.target)) this.payloadDone();
        return;
    }
  }

  private skipped(): void {
    if (this.phase === OPTION_SKIP) this.runOption(null);
    else this.payloadDone();
  }

  private payloadDone(): void {
    const slot = this.current!;
    this.current = undefined;
    this.target = EMPTY;
    this.phase = REQUEST;
    this.dispatch(slot);
  }

  // ------------------------------------------------------------ handshake

  private clientFlags(flags: number): void {
    if (flags & ~(CLIENT_FLAG.FIXED_NEWSTYLE | CLIENT_FLAG.NO_ZEROES))
      return this.abort(`unknown client flags 0x${flags.toString(16)}`);
    // Clients without FIXED_NEWSTYLE get fixed newstyle anyway, which the spec allows.
    this.negotiation = newNegotiation((flags & CLIENT_FLAG.NO_ZEROES) !== 0);
    this.phase = OPTION_HEADER;
  }

  private optionHeader(): void {
    const h = decodeOptionHeader(this.scratch);
    if (h.magic !== IHAVEOPT) return this.abort("bad option magic");
    this.option = h.option;
    if (h.length > MAX_OPTION_DATA) {
      this.skip = h.length;
      this.phase = OPTION_SKIP;
    } else if (h.length === 0) this.runOption(EMPTY);
    else {
      this.target = Buffer.allocUnsafe(h.length);
      this.phase = OPTION_DATA;
    }
  }

  private runOption(data: Buffer | null): void {
    this.target = EMPTY;
    const out = negotiateOption(this.negotiation, this.option, data, {
      registry: this.hooks.registry,
      shuttingDown: this.hooks.shuttingDown(),
      tls: this.hooks.tls?.mode,
      secure: this.secure,
    });
    this.socket.cork();
    for (const r of out.replies) this.socket.write(r);
    this.socket.uncork();
    if (out.next === "haggle") this.phase = OPTION_HEADER;
    else if (out.next === "starttls") this.startTls();
    else if (out.next === "close") this.finish(out.reason);
    else this.transmit(out);
  }

  /** The ACK is handed to the socket already; the TLSSocket takes over the same handle after it. */
  private startTls(): void {
    // A client must wait for the ACK, so bytes already here are not a TLS handshake.
    if (this.pos < this.chunk!.length) return this.abort("data sent after NBD_OPT_STARTTLS before its reply");
    const raw = this.socket;
    raw.off("data", this.onData).off("end", this.onEnd).off("close", this.onClose);
    // The TLSSocket reads the handle through a listener of its own, on top of ours, and emits 'data'.
    this.input = undefined;
    const tls = startTls(raw, this.hooks.tls!);
    const failed = (e: Error) => this.abort(`TLS handshake failed: ${e.message}`);
    tls.once("error", failed).once("secure", () => tls.off("error", failed));
    tls.on("data", this.onData);
    this.listen(tls);
    this.socket = tls;
    // Only TLS records reach the parser from here on, and option state starts over.
    this.secure = true;
    this.negotiation = newNegotiation(this.negotiation.noZeroes);
    this.phase = OPTION_HEADER;
  }

  private transmit(out: Extract<OptionOutcome, { next: "transmit" }>): void {
    clearTimeout(this.timer);
    const exp = out.export;
    const blockSizes = exp.blockSizes ?? DEFAULT_BLOCK_SIZES;
    this.exp = exp;
    this.ctx = {
      size: exp.size,
      flags: out.flags,
      blockSizes,
      structuredReplies: this.negotiation.structuredReplies,
      metaContextId: out.metaContextId,
    };
    // The spec asks servers not to treat payloads up to 32 MiB as an attack.
    this.skipLimit = Math.max(blockSizes.max, DEFAULT_MAX_PAYLOAD);
    this.phase = REQUEST;
    this.hooks.log({
      type: "open",
      conn: this.id,
      export: exp.name,
      flags: out.flags,
      structuredReplies: this.negotiation.structuredReplies,
    });
  }

  // ---------------------------------------------------------- transmission

  private request(b: Buffer, at: number): void {
    const slot = this.free.pop()!;
    if (!decodeRequest(b, at, slot.req)) {
      this.free.push(slot);
      return this.abort("bad request magic");
    }
    const req = slot.req;
    this.streaming = false;
    if (req.type === CMD.DISC) {
      this.free.push(slot);
      return this.finish("client sent NBD_CMD_DISC");
    }
    slot.rejection = this.hooks.shuttingDown() ? REJECT.shutdown : checkRequest(req, this.ctx!);
    if (req.type !== CMD.WRITE) {
      if (req.type === CMD.READ && !slot.rejection) this.hold(slot, req.length);
      return this.dispatch(slot);
    }
    if (slot.rejection) {
      // The payload is on the wire whatever we answer; past the limit, reading it is the attack.
      if (req.length > this.skipLimit) {
        this.free.push(slot);
        return this.abort(`write payload of ${req.length} bytes`);
      }
      this.current = slot;
      this.skip = req.length;
      this.phase = PAYLOAD_SKIP;
      if (req.length === 0) this.skipped();
      return;
    }
    this.hold(slot, req.length);
    const chunk = this.chunk!;
    // A chunk of the input buffer is overwritten by the next read; 'data' chunks are the payload's to keep.
    if (!this.input && chunk.length - this.pos >= req.length) {
      slot.payload = chunk.subarray(this.pos, this.pos + req.length);
      this.pos += req.length;
      return this.dispatch(slot);
    }
    slot.payload = this.target = this.buffer(slot, req.length);
    this.current = slot;
    this.phase = PAYLOAD;
  }

  private buffer(slot: Slot, length: number): Buffer {
    const { view, backing } = this.hooks.pool.get(length);
    slot.backing = backing;
    return view;
  }

  private hold(slot: Slot, bytes: number): void {
    slot.bytes = bytes;
    this.inFlightBytes += bytes;
  }

  private dispatch(slot: Slot): void {
    if (slot.rejection) return this.replyError(slot, slot.rejection.errno, slot.rejection.payload);
    let op: Promise<unknown> | undefined;
    try {
      op = this.start(slot);
    } catch (e) {
      return this.failed(slot, e);
    }
    if (op === undefined || op === DONE) this.completed(slot, undefined);
    else op.then(slot.done, slot.failed);
  }

  /** A bug costs this client its connection, never the server its life. */
  private internalError(e: unknown): void {
    this.abort(`internal error: ${e instanceof Error ? e.message : String(e)}`);
  }

  /**
   * Hands the request to the export; undefined when the export has nothing to
   * do. A promise and pre-bound callbacks, not an async function: on the page
   * cache a request costs a few microseconds, and each async frame and promise
   * the request allocates shows.
   */
  private start(slot: Slot): Promise<unknown> | undefined {
    const { req } = slot;
    const exp = this.exp!;
    const fua = (req.flags & CMD_FLAG.FUA) !== 0;
    switch (req.type) {
      case CMD.READ:
        slot.payload = this.buffer(slot, req.length);
        return exp.read(slot.payload, req.offset);
      case CMD.WRITE:
        return exp.write(slot.payload!, req.offset, fua);
      case CMD.FLUSH:
        return exp.flush();
      case CMD.TRIM:
        return exp.trim!(req.offset, req.length, fua);
      case CMD.CACHE:
        return exp.cache?.(req.offset, req.length);
      case CMD.WRITE_ZEROES:
        return exp.writeZeroes!(req.offset, req.length, {
          fua,
          mayTrim: (req.flags & CMD_FLAG.NO_HOLE) === 0,
          fast: (req.flags & CMD_FLAG.FAST_ZERO) !== 0,
        });
      case CMD.BLOCK_STATUS:
        return exp.blockStatus?.(req.offset, req.length);
    }
    return undefined;
  }

  /** The export did its part; `value` is what BLOCK_STATUS returned. */
  completed(slot: Slot, value: unknown): void {
    try {
      const { req } = slot;
      if (req.type === CMD.READ) return this.replyData(slot, slot.payload!);
      if (req.type !== CMD.BLOCK_STATUS) return this.replyOk(slot);
      // Without a map of its own, an export is fully allocated as far as anyone knows.
      const raw = (value as Extent[] | undefined) ?? [{ length: req.length, flags: 0 }];
      const extents = clampExtents(raw, req.length, (req.flags & CMD_FLAG.REQ_ONE) !== 0);
      if (!extents) return this.replyError(slot, REJECT.badExtents.errno, REJECT.badExtents.payload);
      this.replyBlockStatus(slot, extents);
    } catch (e) {
      this.internalError(e);
    }
  }

  failed(slot: Slot, e: unknown): void {
    try {
      const errno = nbdErrno(e);
      this.replyError(slot, errno, encodeErrorPayload(errno, e instanceof Error ? e.message : String(e)));
    } catch (bug) {
      this.internalError(bug);
    }
  }

  // --------------------------------------------------------------- replies

  private replyOk(slot: Slot): void {
    // Allowed even with structured replies: a reply without payload may be simple.
    writeSimpleReply(slot.simpleHeader, 0, slot.req.cookie);
    this.send(slot, slot.simpleHeader);
  }

  private replyData(slot: Slot, data: Buffer): void {
    const { req } = slot;
    if (this.ctx!.structuredReplies) {
      writeDataChunkHeader(slot.header, REPLY_FLAG_DONE, req.cookie, req.offset, data.length);
      this.send(slot, slot.header, data);
    } else {
      writeSimpleReply(slot.simpleHeader, 0, req.cookie);
      this.send(slot, slot.simpleHeader, data);
    }
  }

  private replyError(slot: Slot, errno: number, payload: Buffer): void {
    if (this.ctx?.structuredReplies) {
      writeChunkHeader(slot.chunkHeader, REPLY_FLAG_DONE, REPLY_TYPE.ERROR, slot.req.cookie, payload.length);
      this.send(slot, slot.chunkHeader, payload);
    } else {
      writeSimpleReply(slot.simpleHeader, errno, slot.req.cookie);
      this.send(slot, slot.simpleHeader);
    }
  }

  private replyBlockStatus(slot: Slot, extents: Extent[]): void {
    const payload = encodeBlockStatusPayload(this.ctx!.metaContextId, extents);
    writeChunkHeader(slot.chunkHeader, REPLY_FLAG_DONE, REPLY_TYPE.BLOCK_STATUS, slot.req.cookie, payload.length);
    this.send(slot, slot.chunkHeader, payload);
  }

  /** Header and data leave together: nothing can be written between them. */
  private send(slot: Slot, header: Buffer, data?: Buffer): void {
    const s = this.socket;
    if (s.destroyed) {
      // The client is gone; the slot is still freed asynchronously, as after a write.
      process.nextTick(slot.written);
      return;
    }
    if (!this.corked) {
      this.corked = true;
      s.cork();
      setImmediate(this.uncork);
    }
    if (data) {
      s.write(header);
      s.write(data, slot.written);
    } else s.write(header, slot.written);
  }

  private readonly uncork = () => {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  };

  /**
   * Uncorks once the promise jobs the current socket read started have run
   * (a tick queued from a promise job runs after all of them): the client gets
   * those replies while this side reads on, instead of after every read of the
   * iteration. Waiting for setImmediate made 4 KiB writes lockstep: fio and the
   * server each idle half the time, 25% fewer IOPS. Thread-pool completions
   * arrive one callback each and keep setImmediate, which batches them.
   */
  private flushSoon(): void {
    queueMicrotask(this.flushQueued);
  }

  private readonly flushQueued = () => process.nextTick(this.uncork);

  /** A slot's reply is out (or will never be): free it, and read on if that unblocks parsing. */
  release(slot: Slot): void {
    this.inFlightBytes -= slot.bytes;
    slot.bytes = 0;
    slot.payload = undefined;
    slot.rejection = undefined;
    if (slot.backing) {
      this.hooks.pool.put(slot.backing);
      slot.backing = undefined;
    }
    this.free.push(slot);
    if (this.chunk !== null) this.pump();
    if (this.free.length === this.slots.length) this.onIdle();
  }

  // --------------------------------------------------------------- closing

  private onIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
    if (this.ending) this.endSocket();
  }

  /** Soft close: no more requests; in-flight ones are answered first. */
  private finish(reason: string): void {
    if (this.ending) return;
    this.ending = true;
    this.stopParsing(reason);
    if (this.free.length === this.slots.length) this.endSocket();
  }

  /** Hard disconnect: the stream is lost or the client is abusive. */
  private abort(reason: string): void {
    this.hooks.log({ type: "violation", conn: this.id, reason });
    this.stopParsing(reason);
    this.socket.destroy();
  }

  private stopParsing(reason: string): void {
    if (this.phase === ENDED) return;
    this.phase = ENDED;
    this.closeReason = reason;
    clearTimeout(this.timer);
    this.chunk = null;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    // A request whose payload never arrived in full is dropped, never applied.
    if (this.current) {
      const slot = this.current;
      this.current = undefined;
      // The socket may still read into that payload's buffer, which must not go back to the pool.
      if (this.direct) slot.backing = undefined;
      this.release(slot);
    }
  }

  private endSocket(): void {
    if (this.socketEnded) return;
    this.socketEnded = true;
    this.socket.end();
    // A client that never closes its side must not keep the socket forever.
    setTimeout(() => this.socket.destroy(), this.hooks.limits.lingerMs).unref();
  }

  private readonly onClose = (): void => {
    if (this.socketClosed) return;
    this.socketClosed = true;
    this.stopParsing("connection lost");
    this.hooks.log({ type: "close", conn: this.id, reason: this.closeReason });
    this.resolveClosed();
  };
}
