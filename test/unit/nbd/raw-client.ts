/**
 * A hand-written NBD client over a raw socket, for tests that must send what
 * real clients never would: broken options, bad magic, out-of-range requests,
 * requests cut off mid-way. It decodes with the same codec the server encodes
 * with, so every test also checks the codec against itself; the real-client
 * tests check it against libnbd and qemu.
 */
import { createConnection, type Socket } from "node:net";
import {
  CLIENT_FLAG,
  CMD,
  INFO,
  OPT,
  REP,
  decodeGreeting,
  decodeInfo,
  decodeOptionReplyHeader,
  decodeReplyHeader,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeOption,
  encodeRequest,
  isOptionError,
  replyHeaderLength,
  type Request,
} from "../../../src/nbd/protocol.ts";

/** A unix socket path or a TCP address. */
export type Target = string | { host: string; port: number };

export interface OptionReply {
  type: number;
  data: Buffer;
}

export type Reply =
  | { kind: "simple"; cookie: bigint; error: number; data?: Buffer }
  | { kind: "structured"; cookie: bigint; flags: number; type: number; payload: Buffer };

export class RawClient {
  private readonly chunks: Buffer[] = [];
  private have = 0;
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private ended = false;
  private nextCookie = 1n;
  /** Reads in flight with simple replies carry data the reply header does not announce. */
  private readonly pendingReads = new Map<bigint, number>();
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on("data", (b: Buffer) => {
      this.chunks.push(b);
      this.have += b.length;
      this.wake();
    });
    socket.on("error", () => {});
    this.closed = new Promise((r) =>
      socket.on("close", () => {
        this.ended = true;
        this.wake();
        r();
      }),
    );
  }

  static connect(target: Target): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(typeof target === "string" ? { path: target } : target);
      s.once("connect", () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  /** Connects, reads the greeting and sends the client flags. */
  static async handshake(target: Target, clientFlags = CLIENT_FLAG.FIXED_NEWSTYLE | CLIENT_FLAG.NO_ZEROES) {
    const c = await RawClient.connect(target);
    const greeting = decodeGreeting(await c.read(18));
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(clientFlags);
    c.write(flags);
    return Object.assign(c, { handshakeFlags: greeting.handshakeFlags });
  }

  /** Connects and negotiates up to transmission on `name`. */
  static async open(target: Target, name: string, opts: { structured?: boolean; meta?: string[] } = {}) {
    const c = await RawClient.handshake(target);
    if (opts.structured ?? true) expectAck(await c.option(OPT.STRUCTURED_REPLY));
    if (opts.meta) expectAck(await c.option(OPT.SET_META_CONTEXT, encodeMetaContextRequest({ name, queries: opts.meta })));
    const replies = await c.option(OPT.GO, encodeInfoRequest({ name, infos: [INFO.BLOCK_SIZE] }));
    expectAck(replies);
    const info = replies
      .filter((r) => r.type === REP.INFO)
      .map((r) => decodeInfo(r.data))
      .find((i) => i?.type === INFO.EXPORT);
    if (info?.type !== INFO.EXPORT) throw new Error("GO succeeded without NBD_INFO_EXPORT");
    return Object.assign(c, { size: info.size, flags: info.flags });
  }

  write(b: Uint8Array): void {
    this.socket.write(b);
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.have >= w.n) {
      this.waiter = undefined;
      w.resolve(this.take(w.n));
    } else if (this.ended) {
      this.waiter = undefined;
      w.reject(new Error(`connection closed with ${this.have} of ${w.n} bytes`));
    }
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks.length = 0;
    if (all.length > n) this.chunks.push(all.subarray(n));
    this.have -= n;
    return all.subarray(0, n);
  }

  read(n: number): Promise<Buffer> {
    if (this.waiter) throw new Error("one read at a time");
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
      this.wake();
    });
  }

  /** True if the server closed the connection within `ms`, with nothing more sent. */
  async closedBy(ms = 2000): Promise<boolean> {
    const t = new Promise<false>((r) => setTimeout(() => r(false), ms).unref());
    return (await Promise.race([this.closed.then(() => true), t])) && this.have === 0;
  }

  /** Sends an option and collects replies up to the final one (ACK or an error). */
  async option(option: number, data?: Uint8Array): Promise<OptionReply[]> {
    this.write(encodeOption(option, data));
    return this.optionReplies(option);
  }

  async optionReplies(option: number): Promise<OptionReply[]> {
    const out: OptionReply[] = [];
    for (;;) {
      const h = decodeOptionReplyHeader(await this.read(20));
      if (h.option !== option) throw new Error(`reply for option ${h.option}, expected ${option}`);
      out.push({ type: h.type, data: h.length ? await this.read(h.length) : Buffer.alloc(0) });
      if (h.type === REP.ACK || isOptionError(h.type)) return out;
    }
  }

  /** The bytes of a request and its payload, remembered as in flight; cookies are numbered unless given. */
  encode(req: Partial<Request> & { type: number }, payload?: Uint8Array): { cookie: bigint; bytes: Buffer } {
    const cookie = req.cookie ?? this.nextCookie++;
    const full = { flags: 0, offset: 0, length: payload?.length ?? 0, ...req, cookie };
    if (full.type === CMD.READ) this.pendingReads.set(cookie, full.length);
    return { cookie, bytes: payload ? Buffer.concat([encodeRequest(full), payload]) : encodeRequest(full) };
  }

  send(req: Partial<Request> & { type: number }, payload?: Uint8Array): bigint {
    const { cookie, bytes } = this.encode(req, payload);
    this.write(bytes);
    return cookie;
  }

  /** Reads one reply: a simple reply (with its data for a successful read) or one chunk. */
  async reply(): Promise<Reply> {
    const magic = await this.read(4);
    const length = replyHeaderLength(magic.readUInt32BE(0));
    if (length === undefined) throw new Error(`bad reply magic ${magic.toString("hex")}`);
    const h = decodeReplyHeader(Buffer.concat([magic, await this.read(length - 4)]));
    if (h.kind === "simple") {
      const readLength = this.pendingReads.get(h.cookie);
      this.pendingReads.delete(h.cookie);
      if (readLength !== undefined && h.error === 0 && readLength > 0)
        return { ...h, data: await this.read(readLength) };
      return h;
    }
    if (h.flags & 1) this.pendingReads.delete(h.cookie);
    return { kind: "structured", cookie: h.cookie, flags: h.flags, type: h.type, payload: h.length ? await this.read(h.length) : Buffer.alloc(0) };
  }

  /** Sends one request and returns its (single-message) reply. */
  async roundTrip(req: Partial<Request> & { type: number }, payload?: Uint8Array): Promise<Reply> {
    const cookie = this.send(req, payload);
    const r = await this.reply();
    if (r.cookie !== cookie) throw new Error(`reply for cookie ${r.cookie}, expected ${cookie}`);
    return r;
  }

  close(): void {
    this.socket.destroy();
  }
}

export function expectAck(replies: OptionReply[]): void {
  const last = replies[replies.length - 1];
  if (last?.type !== REP.ACK)
    throw new Error(`option failed: 0x${last?.type.toString(16)} ${last?.data.toString("utf8") ?? ""}`);
}
