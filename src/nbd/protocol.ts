/**
 * The NBD wire format (fixed newstyle handshake, compact requests, simple and
 * structured replies): constants and pure encoders/decoders, no I/O. Both
 * directions are here so that the server and the test clients share one codec.
 * All integers are big-endian.
 */
import { FormatError } from "../core/errors.ts";

export const NBD_MAGIC = 0x4e42444d41474943n; // "NBDMAGIC"
export const IHAVEOPT = 0x49484156454f5054n; // "IHAVEOPT"
export const OPTION_REPLY_MAGIC = 0x0003e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

export const HANDSHAKE_FLAG = { FIXED_NEWSTYLE: 0x1, NO_ZEROES: 0x2 } as const;
export const CLIENT_FLAG = { FIXED_NEWSTYLE: 0x1, NO_ZEROES: 0x2 } as const;

export const OPT = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  PEEK_EXPORT: 4,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
  EXTENDED_HEADERS: 11,
} as const;

export const REP = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: 0x80000001,
  ERR_POLICY: 0x80000002,
  ERR_INVALID: 0x80000003,
  ERR_PLATFORM: 0x80000004,
  ERR_TLS_REQD: 0x80000005,
  ERR_UNKNOWN: 0x80000006,
  ERR_SHUTDOWN: 0x80000007,
  ERR_BLOCK_SIZE_REQD: 0x80000008,
  ERR_TOO_BIG: 0x80000009,
  ERR_EXT_HEADER_REQD: 0x8000000a,
} as const;

export const INFO = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Transmission flags, sent with the export size. */
export const TX = {
  HAS_FLAGS: 0x0001,
  READ_ONLY: 0x0002,
  SEND_FLUSH: 0x0004,
  SEND_FUA: 0x0008,
  ROTATIONAL: 0x0010,
  SEND_TRIM: 0x0020,
  SEND_WRITE_ZEROES: 0x0040,
  SEND_DF: 0x0080,
  CAN_MULTI_CONN: 0x0100,
  SEND_RESIZE: 0x0200,
  SEND_CACHE: 0x0400,
  SEND_FAST_ZERO: 0x0800,
  BLOCK_STATUS_PAYLOAD: 0x1000,
} as const;

export const CMD = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
  RESIZE: 8,
} as const;

export const CMD_FLAG = { FUA: 0x01, NO_HOLE: 0x02, DF: 0x04, REQ_ONE: 0x08, FAST_ZERO: 0x10, PAYLOAD_LEN: 0x20 } as const;

export const REPLY_FLAG_DONE = 0x1;

export const REPLY_TYPE = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  BLOCK_STATUS_EXT: 6,
  ERROR: 0x8001,
  ERROR_OFFSET: 0x8002,
} as const;

/** The only error values the protocol allows on the wire. */
export const ERR = {
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;

/** base:allocation status bits. */
export const STATE = { HOLE: 0x1, ZERO: 0x2 } as const;
export const BASE_ALLOCATION = "base:allocation";

/** Strings (names, messages, context names) MUST NOT be longer. */
export const MAX_STRING = 4096;
/** What every server should accept and every portable client stays under. */
export const DEFAULT_MAX_PAYLOAD = 2 ** 25;
/** A BLOCK_STATUS chunk should not carry more descriptors. */
export const MAX_EXTENTS = 2 ** 20;

export const GREETING_LENGTH = 18;
export const OPTION_HEADER_LENGTH = 16;
export const OPTION_REPLY_HEADER_LENGTH = 20;
export const REQUEST_LENGTH = 28;
export const SIMPLE_REPLY_LENGTH = 16;
export const CHUNK_HEADER_LENGTH = 20;
/** Chunk header plus the u64 offset that starts an OFFSET_DATA payload. */
export const DATA_CHUNK_HEADER_LENGTH = CHUNK_HEADER_LENGTH + 8;
/** Size, flags and the reserved zeroes that EXPORT_NAME answers with. */
export const EXPORT_NAME_REPLY_LENGTH = 134;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A protocol string: valid UTF-8, no NUL, at most MAX_STRING bytes. */
export function decodeString(b: Uint8Array, what: string): string {
  if (b.length > MAX_STRING) throw new FormatError(`${what} is longer than ${MAX_STRING} bytes`);
  let s: string;
  try {
    s = utf8.decode(b);
  } catch {
    throw new FormatError(`${what} is not valid UTF-8`);
  }
  if (s.includes("\0")) throw new FormatError(`${what} contains a NUL character`);
  return s;
}

// ---------------------------------------------------------------- handshake

export function encodeGreeting(handshakeFlags: number): Buffer {
  const b = Buffer.alloc(GREETING_LENGTH);
  b.writeBigUInt64BE(NBD_MAGIC, 0);
  b.writeBigUInt64BE(IHAVEOPT, 8);
  b.writeUInt16BE(handshakeFlags, 16);
  return b;
}

export function decodeGreeting(b: Uint8Array): { handshakeFlags: number } {
  const v = view(b);
  if (v.readBigUInt64BE(0) !== NBD_MAGIC || v.readBigUInt64BE(8) !== IHAVEOPT)
    throw new FormatError("not a fixed newstyle NBD greeting");
  return { handshakeFlags: v.readUInt16BE(16) };
}

export interface OptionHeader {
  magic: bigint;
  option: number;
  length: number;
}

export function encodeOption(option: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(OPTION_HEADER_LENGTH + data.length);
  b.writeBigUInt64BE(IHAVEOPT, 0);
  b.writeUInt32BE(option, 8);
  b.writeUInt32BE(data.length, 12);
  b.set(data, OPTION_HEADER_LENGTH);
  return b;
}

export function decodeOptionHeader(b: Uint8Array): OptionHeader {
  const v = view(b);
  return { magic: v.readBigUInt64BE(0), option: v.readUInt32BE(8), length: v.readUInt32BE(12) };
}

export interface OptionReplyHeader {
  option: number;
  type: number;
  length: number;
}

export function encodeOptionReply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(OPTION_REPLY_HEADER_LENGTH + data.length);
  b.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  b.writeUInt32BE(option, 8);
  b.writeUInt32BE(type >>> 0, 12);
  b.writeUInt32BE(data.length, 16);
  b.set(data, OPTION_REPLY_HEADER_LENGTH);
  return b;
}

export function decodeOptionReplyHeader(b: Uint8Array): OptionReplyHeader {
  const v = view(b);
  if (v.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw new FormatError("bad option reply magic");
  return { option: v.readUInt32BE(8), type: v.readUInt32BE(12), length: v.readUInt32BE(16) };
}

export function isOptionError(type: number): boolean {
  return (type & 0x80000000) !== 0;
}

/** NBD_OPT_INFO / NBD_OPT_GO data. */
export interface InfoRequest {
  name: string;
  infos: number[];
}

export function encodeInfoRequest(req: InfoRequest): Buffer {
  const name = Buffer.from(req.name, "utf8");
  const b = Buffer.alloc(4 + name.length + 2 + 2 * req.infos.length);
  b.writeUInt32BE(name.length, 0);
  name.copy(b, 4);
  b.writeUInt16BE(req.infos.length, 4 + name.length);
  req.infos.forEach((t, i) => b.writeUInt16BE(t, 6 + name.length + 2 * i));
  return b;
}

export function decodeInfoRequest(data: Uint8Array): InfoRequest {
  const v = view(data);
  if (data.length < 6) throw new FormatError("option data too short for a name and an info count");
  const nameLength = v.readUInt32BE(0);
  if (nameLength > data.length - 6) throw new FormatError("export name runs past the option data");
  const name = decodeString(data.subarray(4, 4 + nameLength), "export name");
  const count = v.readUInt16BE(4 + nameLength);
  if (data.length !== 6 + nameLength + 2 * count)
    throw new FormatError(`option data length does not match ${count} info requests`);
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(v.readUInt16BE(6 + nameLength + 2 * i));
  return { name, infos };
}

/** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data. */
export interface MetaContextRequest {
  name: string;
  queries: string[];
}

export function encodeMetaContextRequest(req: MetaContextRequest): Buffer {
  const parts = [req.name, ...req.queries].map((s) => Buffer.from(s, "utf8"));
  // Each string is length-prefixed; the query count sits between the name and the queries.
  const b = Buffer.alloc(4 + parts.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  const put = (p: Buffer) => {
    b.writeUInt32BE(p.length, at);
    p.copy(b, at + 4);
    at += 4 + p.length;
  };
  put(parts[0]!);
  b.writeUInt32BE(req.queries.length, at);
  at += 4;
  parts.slice(1).forEach(put);
  return b;
}

export function decodeMetaContextRequest(data: Uint8Array): MetaContextRequest {
  const v = view(data);
  let at = 0;
  const take = (what: string): string => {
    if (at + 4 > data.length) throw new FormatError(`${what} length runs past the option data`);
    const len = v.readUInt32BE(at);
    if (len > data.length - at - 4) throw new FormatError(`${what} runs past the option data`);
    const s = decodeString(data.subarray(at + 4, at + 4 + len), what);
    at += 4 + len;
    return s;
  };
  const name = take("export name");
  if (at + 4 > data.length) throw new FormatError("query count runs past the option data");
  const count = v.readUInt32BE(at);
  at += 4;
  const queries: string[] = [];
  for (let i = 0; i < count; i++) queries.push(take("query"));
  if (at !== data.length) throw new FormatError("trailing bytes after the last query");
  return { name, queries };
}

export function encodeServerReply(name: string, description = ""): Buffer {
  const n = Buffer.from(name, "utf8");
  const d = Buffer.from(description, "utf8");
  const b = Buffer.alloc(4 + n.length + d.length);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  d.copy(b, 4 + n.length);
  return b;
}

export function decodeServerReply(data: Uint8Array): { name: string; description: string } {
  const v = view(data);
  const len = v.readUInt32BE(0);
  if (len > data.length - 4) throw new FormatError("export name runs past the reply");
  return {
    name: decodeString(data.subarray(4, 4 + len), "export name"),
    description: decodeString(data.subarray(4 + len), "description"),
  };
}

export interface BlockSizes {
  min: number;
  preferred: number;
  max: number;
}

export type Info =
  | { type: typeof INFO.EXPORT; size: number; flags: number }
  | { type: typeof INFO.NAME; name: string }
  | { type: typeof INFO.DESCRIPTION; description: string }
  | ({ type: typeof INFO.BLOCK_SIZE } & BlockSizes);

export function encodeInfo(info: Info): Buffer {
  switch (info.type) {
    case INFO.EXPORT: {
      const b = Buffer.alloc(12);
      b.writeUInt16BE(info.type, 0);
      b.writeBigUInt64BE(BigInt(info.size), 2);
      b.writeUInt16BE(info.flags, 10);
      return b;
    }
    case INFO.NAME:
    case INFO.DESCRIPTION: {
      const s = Buffer.from(info.type === INFO.NAME ? info.name : info.description, "utf8");
      const b = Buffer.alloc(2 + s.length);
      b.writeUInt16BE(info.type, 0);
      s.copy(b, 2);
      return b;
    }
    case INFO.BLOCK_SIZE: {
      const b = Buffer.alloc(14);
      b.writeUInt16BE(info.type, 0);
      b.writeUInt32BE(info.min, 2);
      b.writeUInt32BE(info.preferred, 6);
      b.writeUInt32BE(info.max, 10);
      return b;
    }
  }
}

/** Undefined for an info type this codec does not know (clients must ignore those). */
export function decodeInfo(data: Uint8Array): Info | undefined {
  const v = view(data);
  if (data.length < 2) throw new FormatError("info reply shorter than its type");
  const type = v.readUInt16BE(0);
  const expect = (len: number) => {
    if (data.length !== len) throw new FormatError(`info type ${type} has length ${data.length}, not ${len}`);
  };
  switch (type) {
    case INFO.EXPORT:
      expect(12);
      return { type, size: Number(v.readBigUInt64BE(2)), flags: v.readUInt16BE(10) };
    case INFO.NAME:
      return { type, name: decodeString(data.subarray(2), "name") };
    case INFO.DESCRIPTION:
      return { type, description: decodeString(data.subarray(2), "description") };
    case INFO.BLOCK_SIZE:
      expect(14);
      return { type, min: v.readUInt32BE(2), preferred: v.readUInt32BE(6), max: v.readUInt32BE(10) };
    default:
      return undefined;
  }
}

export function encodeMetaContextReply(id: number, name: string): Buffer {
  const n = Buffer.from(name, "utf8");
  const b = Buffer.alloc(4 + n.length);
  b.writeUInt32BE(id, 0);
  n.copy(b, 4);
  return b;
}

export function decodeMetaContextReply(data: Uint8Array): { id: number; name: string } {
  if (data.length < 4) throw new FormatError("meta context reply shorter than its id");
  return { id: view(data).readUInt32BE(0), name: decodeString(data.subarray(4), "context name") };
}

/** The answer to NBD_OPT_EXPORT_NAME: no option reply header, just size and flags. */
export function encodeExportNameReply(size: number, flags: number, noZeroes: boolean): Buffer {
  const b = Buffer.alloc(noZeroes ? 10 : EXPORT_NAME_REPLY_LENGTH);
  b.writeBigUInt64BE(BigInt(size), 0);
  b.writeUInt16BE(flags, 8);
  return b;
}

// ------------------------------------------------------------- transmission

/**
 * A compact request header. The offset is a Number: exact below 2^53, and any
 * larger value is still larger than every export size, which is all a server
 * compares it with.
 */
export interface Request {
  flags: number;
  type: number;
  cookie: bigint;
  offset: number;
  length: number;
}

export function encodeRequest(req: Request): Buffer {
  const b = Buffer.alloc(REQUEST_LENGTH);
  b.writeUInt32BE(REQUEST_MAGIC, 0);
  b.writeUInt16BE(req.flags, 4);
  b.writeUInt16BE(req.type, 6);
  b.writeBigUInt64BE(req.cookie, 8);
  b.writeBigUInt64BE(BigInt(req.offset), 16);
  b.writeUInt32BE(req.length, 24);
  return b;
}

/** Reads a request header at `at` into `into` (so a server can reuse one object); false on bad magic. */
export function decodeRequest(b: Buffer, at: number, into: Request): boolean {
  if (b.readUInt32BE(at) !== REQUEST_MAGIC) return false;
  into.flags = b.readUInt16BE(at + 4);
  into.type = b.readUInt16BE(at + 6);
  into.cookie = b.readBigUInt64BE(at + 8);
  into.offset = b.readUInt32BE(at + 16) * 2 ** 32 + b.readUInt32BE(at + 20);
  into.length = b.readUInt32BE(at + 24);
  return true;
}

export function writeSimpleReply(b: Buffer, error: number, cookie: bigint): void {
  b.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  b.writeUInt32BE(error, 4);
  b.writeBigUInt64BE(cookie, 8);
}

export function writeChunkHeader(b: Buffer, flags: number, type: number, cookie: bigint, length: number): void {
  b.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  b.writeUInt16BE(flags, 4);
  b.writeUInt16BE(type, 6);
  b.writeBigUInt64BE(cookie, 8);
  b.writeUInt32BE(length, 16);
}

/** An OFFSET_DATA chunk header for `dataLength` bytes at `offset`, up to where the data starts. */
export function writeDataChunkHeader(b: Buffer, flags: number, cookie: bigint, offset: number, dataLength: number): void {
  writeChunkHeader(b, flags, REPLY_TYPE.OFFSET_DATA, cookie, 8 + dataLength);
  b.writeUInt32BE(Math.floor(offset / 2 ** 32), CHUNK_HEADER_LENGTH);
  b.writeUInt32BE(offset >>> 0, CHUNK_HEADER_LENGTH + 4);
}

export type ReplyHeader =
  | { kind: "simple"; error: number; cookie: bigint }
  | { kind: "structured"; flags: number; type: number; cookie: bigint; length: number };

/** Length of the header that starts with this magic, or undefined if the magic is neither. */
export function replyHeaderLength(magic: number): number | undefined {
  if (magic === SIMPLE_REPLY_MAGIC) return SIMPLE_REPLY_LENGTH;
  if (magic === STRUCTURED_REPLY_MAGIC) return CHUNK_HEADER_LENGTH;
  return undefined;
}

export function decodeReplyHeader(b: Uint8Array): ReplyHeader {
  const v = view(b);
  const magic = v.readUInt32BE(0);
  if (magic === SIMPLE_REPLY_MAGIC) return { kind: "simple", error: v.readUInt32BE(4), cookie: v.readBigUInt64BE(8) };
  if (magic === STRUCTURED_REPLY_MAGIC)
    return {
      kind: "structured",
      flags: v.readUInt16BE(4),
      type: v.readUInt16BE(6),
      cookie: v.readBigUInt64BE(8),
      length: v.readUInt32BE(16),
    };
  throw new FormatError(`bad reply magic 0x${magic.toString(16)}`);
}

/** NBD_REPLY_TYPE_ERROR payload; the message is cut to the protocol's string limit. */
export function encodeErrorPayload(error: number, message: string): Buffer {
  const m = Buffer.from(message, "utf8").subarray(0, MAX_STRING);
  const b = Buffer.alloc(6 + m.length);
  b.writeUInt32BE(error, 0);
  b.writeUInt16BE(m.length, 4);
  m.copy(b, 6);
  return b;
}

export function decodeErrorPayload(data: Uint8Array): { error: number; message: string } {
  const v = view(data);
  if (data.length < 6) throw new FormatError("error chunk shorter than 6 bytes");
  const len = v.readUInt16BE(4);
  if (len > data.length - 6) throw new FormatError("error message runs past the chunk");
  return { error: v.readUInt32BE(0), message: decodeString(data.subarray(6, 6 + len), "error message") };
}

export interface Extent {
  length: number;
  flags: number;
}

export function encodeBlockStatusPayload(contextId: number, extents: readonly Extent[]): Buffer {
  const b = Buffer.alloc(4 + 8 * extents.length);
  b.writeUInt32BE(contextId, 0);
  extents.forEach((e, i) => {
    b.writeUInt32BE(e.length, 4 + 8 * i);
    b.writeUInt32BE(e.flags >>> 0, 8 + 8 * i);
  });
  return b;
}

export function decodeBlockStatusPayload(data: Uint8Array): { contextId: number; extents: Extent[] } {
  const v = view(data);
  if (data.length < 12 || (data.length - 4) % 8 !== 0) throw new FormatError("block status chunk has a bad length");
  const extents: Extent[] = [];
  for (let at = 4; at < data.length; at += 8) extents.push({ length: v.readUInt32BE(at), flags: v.readUInt32BE(at + 4) });
  return { contextId: v.readUInt32BE(0), extents };
}

function view(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
