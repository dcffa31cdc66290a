/**
 * Socket reads into buffers the reader picks for each read, through what
 * net.Socket's `onread` option does: no 64 KiB buffer allocated per read, and a
 * WRITE payload read straight into its own buffer, never copied.
 *
 * Node offers `onread` only to sockets it is asked to create, never to the ones
 * a server accepts, so this sets the same three fields the constructor would
 * and hands the handle its first buffer, as the constructor does. Where a Node
 * version lays a socket out differently, nothing is changed and the caller
 * reads 'data' events instead.
 */
import type { Socket } from "node:net";

/** Where the next read goes: a buffer the reader does not touch until that read is delivered. */
export type NextBuffer = () => Buffer;
/** `n` bytes arrived at the start of `buf`, the buffer the latest NextBuffer call returned. */
export type OnRead = (n: number, buf: Buffer) => void;

interface UserBufferFields {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

type Internals = Record<symbol, unknown> & { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } | null };

function fields(socket: Socket): UserBufferFields | undefined {
  const own = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => own.find((s) => s.description === name);
  const buffer = find("kBuffer");
  const callback = find("kBufferCb");
  const generator = find("kBufferGen");
  if (!buffer || !callback || !generator) return undefined;
  const s = socket as unknown as Internals;
  // null in all three: a plain socket whose reads still go to 'data'.
  if (s[buffer] !== null || s[callback] !== null || s[generator] !== null) return undefined;
  return { buffer, callback, generator };
}

/**
 * Reads from now on go to `next()`'s buffers and are delivered to `onRead`
 * instead of 'data' ('end', pause() and resume() work as before). False, and
 * no change, where this Node cannot do it or bytes already wait in the
 * socket's buffer, which 'data' would have to deliver first.
 */
export function readIntoBuffers(socket: Socket, next: NextBuffer, onRead: OnRead): boolean {
  const f = fields(socket);
  const s = socket as unknown as Internals;
  const handle = s._handle;
  if (!f || typeof handle?.useUserBuffer !== "function" || socket.readableLength > 0) return false;
  const first = next();
  s[f.buffer] = first;
  s[f.callback] = onRead;
  s[f.generator] = next;
  handle.useUserBuffer(first);
  return true;
}
