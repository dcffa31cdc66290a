/**
 * One client connection: a state machine over the socket's byte stream that
 * runs the handshake (answers decided by negotiate.ts) and then serves requests
 * concurrently, replying in completion order.
 *
 * Hot path: request headers are parsed in place from the socket's chunks; a
 * WRITE payload that arrived whole is passed on as a view of its chunk, else it
 * is copied once into its own buffer; reply headers live in per-slot buffers that
 * are reused once the socket is done with them; replies finished in the same tick
 * leave in one writev (cork until the next tick).
 */
import type { Socket } from "node:net";
import type { BufferPool } from "./buffer-pool.ts";
import { DEFAULT_BLOCK_SIZES, nbdErrno, type ExportRegistry, type NbdExport } from "./export.ts";
import { REJECT, checkRequest, clampExtents, type Rejection, type TransmissionContext } from "./command.ts";
import { MAX_OPTION_DATA, negotiateOption, newNegotiation, type NegotiationState, type OptionOutcome } from "./negotiate.ts";
import { startTls, type NbdTls } from "./tls.ts";
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
const DONE = 7;

const EMPTY = Buffer.alloc(0);

/** One request's state, reused: a connection has maxInFlight of them. */
class Slot {
  readonly req: Request = { flags: 0, type: 0, cookie: 0n, offset: 0, length: 0 };
  readonly header = Buffer.allocUnsafe(DATA_CHUNK_HEADER_LENGTH);
  readonly simpleHeader = this.header.subarray(0, SIMPLE_REPLY_LENGTH);
  readonly chunkHeader = this.header.subarray(0, CHUNK_HEADER_LENGTH);
  payload: Buffer | undefined;
  /** The pooled buffer behind `payload` or the read data, returned once the reply is out. */
  backing: Buffer | undefined;
  /** Payload bytes counted against maxInFlightBytes. */
  bytes = 0;
  rejection: Rejection | undefined;
  /** Runs when the socket no longer needs the header and payload. */
  readonly written: () => void;

  constructor(conn: Connection) {
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
    this.listen(socket);
    hooks.log({ type: "connect", conn: id });
    socket.write(encodeGreeting(HANDSHAKE_FLAG.FIXED_NEWSTYLE | HANDSHAKE_FLAG.NO_ZEROES));
  }

  private listen(socket: Socket): void {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    // EPIPE, ECONNRESET and the like: the socket closes next, nothing else to do.
    socket.on("error", () => {});
    socket.on("close", this.onClose);
  }

  private readonly onData = (chunk: Buffer) => {
    this.chunk = chunk;
    this.pos = 0;
    this.pump();
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
    if (this.phase === DONE) this.chunk = null;
    if (this.chunk !== null && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (this.chunk === null && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private blocked(): boolean {
    if (this.phase === DONE) return true;
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
    const tls = startTls(raw, this.hooks.tls!);
    const failed = (e: Error) => this.abort(`TLS handshake failed: ${e.message}`);
    tls.once("error", failed).once("secure", () => tls.off("error", failed));
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
    if (chunk.length - this.pos >= req.length) {
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
    if (slot.rejection) this.replyError(slot, slot.rejection.errno, slot.rejection.payload);
    else this.serve(slot).catch((e: unknown) => this.internalError(e));
  }

  /** A bug costs this client its connection, never the server its life. */
  private internalError(e: unknown): void {
    this.abort(`internal error: ${e instanceof Error ? e.message : String(e)}`);
  }

  private async serve(slot: Slot): Promise<void> {
    const { req } = slot;
    const exp = this.exp!;
    const fua = (req.flags & CMD_FLAG.FUA) !== 0;
    try {
      switch (req.type) {
        case CMD.READ: {
          const data = this.buffer(slot, req.length);
          await exp.read(data, req.offset);
          return this.replyData(slot, data);
        }
        case CMD.WRITE:
          await exp.write(slot.payload!, req.offset, fua);
          break;
        case CMD.FLUSH:
          await exp.flush();
          break;
        case CMD.TRIM:
          await exp.trim!(req.offset, req.length, fua);
          break;
        case CMD.CACHE:
          await exp.cache?.(req.offset, req.length);
          break;
        case CMD.WRITE_ZEROES:
          await exp.writeZeroes!(req.offset, req.length, {
            fua,
            mayTrim: (req.flags & CMD_FLAG.NO_HOLE) === 0,
            fast: (req.flags & CMD_FLAG.FAST_ZERO) !== 0,
          });
          break;
        case CMD.BLOCK_STATUS: {
          // Without a map of its own, an export is fully allocated as far as anyone knows.
          const raw: Extent[] = exp.blockStatus
            ? await exp.blockStatus(req.offset, req.length)
            : [{ length: req.length, flags: 0 }];
          const extents = clampExtents(raw, req.length, (req.flags & CMD_FLAG.REQ_ONE) !== 0);
          if (!extents) return this.replyError(slot, REJECT.badExtents.errno, REJECT.badExtents.payload);
          return this.replyBlockStatus(slot, extents);
        }
      }
      this.replyOk(slot);
    } catch (e) {
      const errno = nbdErrno(e);
      this.replyError(slot, errno, encodeErrorPayload(errno, e instanceof Error ? e.message : String(e)));
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
    this.corked = false;
    this.socket.uncork();
  };

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
    if (this.phase === DONE) return;
    this.phase = DONE;
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
