/**
 * Transmission-phase rules as pure functions: whether a request may run and
 * which error it gets if not, and how an export's extents become a valid
 * BLOCK_STATUS answer.
 */
import type { BlockSizes, Extent } from "./export.ts";
import { CMD, CMD_FLAG, ERR, MAX_EXTENTS, TX, encodeErrorPayload, type Request } from "./protocol.ts";

/** What a connection negotiated for its export. */
export interface TransmissionContext {
  size: number;
  /** The transmission flags sent to the client. */
  flags: number;
  blockSizes: BlockSizes;
  structuredReplies: boolean;
  /** 0 when no meta context was selected for this export. */
  metaContextId: number;
}

/**
 * A refusal with its NBD error and the message of a structured error chunk, encoded
 * once: refusals are constants, so refusing a request allocates nothing.
 */
export class Rejection {
  readonly payload: Buffer;
  constructor(
    readonly errno: number,
    readonly message: string,
  ) {
    this.payload = encodeErrorPayload(errno, message);
  }
}

export const REJECT = {
  unknownCommand: new Rejection(ERR.EINVAL, "unknown command"),
  badFlags: new Rejection(ERR.EINVAL, "command flags not valid for this command"),
  readOnly: new Rejection(ERR.EPERM, "export is read-only"),
  notAdvertised: new Rejection(ERR.EINVAL, "command not supported by this export"),
  noMetaContext: new Rejection(ERR.EINVAL, "no meta context selected for this export"),
  emptyRange: new Rejection(ERR.EINVAL, "zero-length request"),
  readPastEnd: new Rejection(ERR.EINVAL, "request goes past the end of the export"),
  writePastEnd: new Rejection(ERR.ENOSPC, "write goes past the end of the export"),
  unaligned: new Rejection(ERR.EINVAL, "request not aligned to the minimum block size"),
  payloadTooBig: new Rejection(ERR.EINVAL, "request longer than the maximum payload"),
  readTooBig: new Rejection(ERR.EOVERFLOW, "read longer than the maximum payload"),
  shutdown: new Rejection(ERR.ESHUTDOWN, "server is shutting down"),
  badExtents: new Rejection(ERR.EIO, "export returned no usable extents"),
} as const;

const WRITES = new Set<number>([CMD.WRITE, CMD.TRIM, CMD.WRITE_ZEROES]);

function allowedFlags(type: number, txFlags: number): number {
  // FUA is valid on every command once SEND_FUA is advertised, which it always is.
  switch (type) {
    case CMD.READ:
      return CMD_FLAG.FUA | (txFlags & TX.SEND_DF ? CMD_FLAG.DF : 0);
    case CMD.WRITE_ZEROES:
      return CMD_FLAG.FUA | CMD_FLAG.NO_HOLE | (txFlags & TX.SEND_FAST_ZERO ? CMD_FLAG.FAST_ZERO : 0);
    case CMD.BLOCK_STATUS:
      return CMD_FLAG.FUA | CMD_FLAG.REQ_ONE;
    default:
      return CMD_FLAG.FUA;
  }
}

const REQUIRED_FLAG: Partial<Record<number, number>> = {
  [CMD.TRIM]: TX.SEND_TRIM,
  [CMD.WRITE_ZEROES]: TX.SEND_WRITE_ZEROES,
};

/** The rejection for a request other than DISC, or undefined if it may run. */
export function checkRequest(req: Request, ctx: TransmissionContext): Rejection | undefined {
  const { type, offset, length } = req;
  if (type > CMD.BLOCK_STATUS || type === CMD.DISC) return REJECT.unknownCommand;
  if (req.flags & ~allowedFlags(type, ctx.flags)) return REJECT.badFlags;
  if (ctx.flags & TX.READ_ONLY && WRITES.has(type)) return REJECT.readOnly;
  const required = REQUIRED_FLAG[type];
  if (required !== undefined && !(ctx.flags & required)) return REJECT.notAdvertised;
  if (type === CMD.BLOCK_STATUS && !ctx.metaContextId) return REJECT.noMetaContext;
  // FLUSH has no range; clients must send zeroes there, and nothing depends on it.
  if (type === CMD.FLUSH) return undefined;
  if (length === 0) return REJECT.emptyRange;
  // Subtracting keeps the test exact even for offsets near 2^64.
  if (offset > ctx.size || length > ctx.size - offset)
    return type === CMD.WRITE || type === CMD.WRITE_ZEROES ? REJECT.writePastEnd : REJECT.readPastEnd;
  const min = ctx.blockSizes.min;
  if (offset % min !== 0 || length % min !== 0) return REJECT.unaligned;
  if (length > ctx.blockSizes.max) {
    if (type === CMD.WRITE) return REJECT.payloadTooBig;
    // The spec keeps EOVERFLOW for payload-less requests over the limit; with simple
    // replies a too-long read is just invalid.
    if (type === CMD.READ) return ctx.structuredReplies ? REJECT.readTooBig : REJECT.payloadTooBig;
  }
  return undefined;
}

/**
 * The descriptors to send for a BLOCK_STATUS request: starting at the request
 * offset, each longer than 0, never past the request's end (so never past the
 * export's), at most MAX_EXTENTS, exactly one with REQ_ONE. Undefined if the
 * export's answer has nothing usable.
 */
export function clampExtents(extents: readonly Extent[], length: number, reqOne: boolean): Extent[] | undefined {
  const out: Extent[] = [];
  const limit = reqOne ? 1 : MAX_EXTENTS;
  let covered = 0;
  for (const e of extents) {
    if (covered >= length || out.length >= limit) break;
    if (!(Number.isSafeInteger(e.length) && e.length > 0)) break;
    out.push({ length: Math.min(e.length, length - covered), flags: e.flags >>> 0 });
    covered += e.length;
  }
  return out.length ? out : undefined;
}
