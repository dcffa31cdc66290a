/**
 * Option haggling as a pure function: given the connection's negotiation state
 * and one option from the client, the replies to send and what happens next.
 * The connection does the I/O; this module decides every answer.
 */
import { FormatError } from "../core/errors.ts";
import { DEFAULT_BLOCK_SIZES, type ExportRegistry, type NbdExport } from "./export.ts";
import {
  BASE_ALLOCATION,
  INFO,
  OPT,
  REP,
  TX,
  decodeInfoRequest,
  decodeMetaContextRequest,
  decodeString,
  encodeExportNameReply,
  encodeInfo,
  encodeMetaContextReply,
  encodeOptionReply,
  encodeServerReply,
} from "./protocol.ts";

/**
 * The largest option data kept in memory. Legitimate options are a few strings of at
 * most 4 KiB; longer data is skipped unread and answered with ERR_TOO_BIG.
 */
export const MAX_OPTION_DATA = 64 * 1024;

/** The context id handed out for base:allocation, the only context there is. */
export const BASE_ALLOCATION_ID = 1;

/** What earlier options established. A successful STARTTLS starts a fresh one. */
export interface NegotiationState {
  /** NBD_FLAG_C_NO_ZEROES from the client flags. */
  noZeroes: boolean;
  structuredReplies: boolean;
  /** The export named by the last SET_META_CONTEXT that selected base:allocation. */
  metaContextExport?: string;
}

export function newNegotiation(noZeroes: boolean): NegotiationState {
  return { noZeroes, structuredReplies: false };
}

/** Where the connection goes after sending `replies`. */
export type OptionOutcome =
  | { next: "haggle"; replies: Buffer[] }
  | {
      next: "transmit";
      replies: Buffer[];
      export: NbdExport;
      flags: number;
      /** 0 when BLOCK_STATUS may not be used on this export. */
      metaContextId: number;
    }
  /** The replies go out in plain text, then the connection becomes TLS and haggling restarts. */
  | { next: "starttls"; replies: Buffer[] }
  | { next: "close"; replies: Buffer[]; reason: string };

/** nbdkit's --tls: "on" is the spec's SELECTIVETLS with no TLS-only export, "require" its FORCEDTLS. */
export type TlsMode = "off" | "on" | "require";

export interface NegotiationContext {
  registry: ExportRegistry;
  shuttingDown: boolean;
  /** Off when absent. */
  tls?: TlsMode;
  /** TLS is up on this connection. */
  secure?: boolean;
}

/** The flags a client sees for an export; the same for INFO and GO, as the spec requires. */
export function transmissionFlags(e: NbdExport, structuredReplies: boolean): number {
  let f = TX.HAS_FLAGS | TX.SEND_FLUSH | TX.SEND_FUA;
  if (e.readOnly) f |= TX.READ_ONLY;
  else {
    // On a read-only export these could only ever fail with EPERM.
    if (e.trim) f |= TX.SEND_TRIM;
    if (e.writeZeroes) f |= TX.SEND_WRITE_ZEROES | TX.SEND_FAST_ZERO;
  }
  if (e.canMultiConn) f |= TX.CAN_MULTI_CONN;
  if (e.cache) f |= TX.SEND_CACHE;
  // Reads are always answered with one data chunk, so "don't fragment" costs nothing.
  if (structuredReplies) f |= TX.SEND_DF;
  return f;
}

/**
 * Answers one option. `data` is null when the client sent more than MAX_OPTION_DATA
 * bytes, which the connection skipped without keeping.
 */
export function negotiateOption(
  state: NegotiationState,
  option: number,
  data: Buffer | null,
  ctx: NegotiationContext,
): OptionOutcome {
  const fail = (type: number, message: string) => haggle(errorReply(option, type, message));

  const tlsRequired = ctx.tls === "require" && !ctx.secure;

  if (option === OPT.ABORT) return { next: "close", replies: [encodeOptionReply(option, REP.ACK)], reason: "client aborted" };
  if (option === OPT.EXPORT_NAME)
    return tlsRequired ? { next: "close", replies: [], reason: "TLS is required" } : exportName(state, data, ctx);
  if (ctx.shuttingDown) return fail(REP.ERR_SHUTDOWN, "server is shutting down");
  // Before TLS, FORCEDTLS says nothing but this, so no export name or capability leaks.
  if (tlsRequired && option !== OPT.STARTTLS) return fail(REP.ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS first");
  if (data === null) return fail(REP.ERR_TOO_BIG, `option data is longer than ${MAX_OPTION_DATA} bytes`);

  switch (option) {
    case OPT.LIST: {
      if (data.length) return fail(REP.ERR_INVALID, "NBD_OPT_LIST takes no data");
      const replies = [...ctx.registry.list()].map((e) =>
        encodeOptionReply(option, REP.SERVER, encodeServerReply(e.name, e.description)),
      );
      return haggle(...replies, encodeOptionReply(option, REP.ACK));
    }
    case OPT.STARTTLS:
      if (data.length) return fail(REP.ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
      if (ctx.secure) return fail(REP.ERR_INVALID, "TLS is already negotiated");
      if ((ctx.tls ?? "off") === "off") return fail(REP.ERR_POLICY, "TLS is not configured on this server");
      return { next: "starttls", replies: [encodeOptionReply(option, REP.ACK)] };
    case OPT.INFO:
    case OPT.GO:
      return infoOrGo(state, option, data, ctx);
    case OPT.STRUCTURED_REPLY:
      if (data.length) return fail(REP.ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
      if (state.structuredReplies) return fail(REP.ERR_INVALID, "structured replies are already negotiated");
      state.structuredReplies = true;
      return haggle(encodeOptionReply(option, REP.ACK));
    case OPT.LIST_META_CONTEXT:
    case OPT.SET_META_CONTEXT:
      return metaContext(state, option, data, ctx);
    default:
      return fail(REP.ERR_UNSUP, `option ${option} is not supported`);
  }
}

function exportName(state: NegotiationState, data: Buffer | null, ctx: NegotiationContext): OptionOutcome {
  // EXPORT_NAME has no error reply: anything but success ends the session.
  const close = (reason: string): OptionOutcome => ({ next: "close", replies: [], reason });
  if (ctx.shuttingDown) return close("server is shutting down");
  if (data === null) return close("export name too long");
  let name: string;
  try {
    name = decodeString(data, "export name");
  } catch (e) {
    return close((e as Error).message);
  }
  const exp = ctx.registry.get(name);
  if (!exp) return close(`no export named "${name}"`);
  const flags = transmissionFlags(exp, state.structuredReplies);
  return {
    next: "transmit",
    replies: [encodeExportNameReply(exp.size, flags, state.noZeroes)],
    export: exp,
    flags,
    metaContextId: metaContextFor(state, name),
  };
}

function metaContextFor(state: NegotiationState, name: string): number {
  return state.structuredReplies && state.metaContextExport === name ? BASE_ALLOCATION_ID : 0;
}

function infoOrGo(state: NegotiationState, option: number, data: Buffer, ctx: NegotiationContext): OptionOutcome {
  let req;
  try {
    req = decodeInfoRequest(data);
  } catch (e) {
    return invalid(option, e);
  }
  const exp = ctx.registry.get(req.name);
  if (!exp) return haggle(errorReply(option, REP.ERR_UNKNOWN, `no export named "${req.name}"`));
  const flags = transmissionFlags(exp, state.structuredReplies);
  const infos = [
    encodeInfo({ type: INFO.EXPORT, size: exp.size, flags }),
    // Sent whether asked or not: clients that did not ask may ignore it, and the
    // limits are enforced either way.
    encodeInfo({ type: INFO.BLOCK_SIZE, ...(exp.blockSizes ?? DEFAULT_BLOCK_SIZES) }),
  ];
  if (req.infos.includes(INFO.NAME)) infos.push(encodeInfo({ type: INFO.NAME, name: exp.name }));
  if (req.infos.includes(INFO.DESCRIPTION) && exp.description !== undefined)
    infos.push(encodeInfo({ type: INFO.DESCRIPTION, description: exp.description }));
  const replies = [...infos.map((i) => encodeOptionReply(option, REP.INFO, i)), encodeOptionReply(option, REP.ACK)];
  if (option === OPT.INFO) return haggle(...replies);
  return { next: "transmit", replies, export: exp, flags, metaContextId: metaContextFor(state, req.name) };
}

function metaContext(state: NegotiationState, option: number, data: Buffer, ctx: NegotiationContext): OptionOutcome {
  const set = option === OPT.SET_META_CONTEXT;
  // A SET replaces the selection even when it fails.
  if (set) state.metaContextExport = undefined;
  if (!state.structuredReplies) return haggle(errorReply(option, REP.ERR_INVALID, "negotiate structured replies first"));
  let req;
  try {
    req = decodeMetaContextRequest(data);
  } catch (e) {
    return invalid(option, e);
  }
  if (!ctx.registry.get(req.name)) return haggle(errorReply(option, REP.ERR_UNKNOWN, `no export named "${req.name}"`));
  let selected = !set && req.queries.length === 0;
  for (const q of req.queries) {
    const colon = q.indexOf(":");
    if (colon <= 0) return haggle(errorReply(option, REP.ERR_INVALID, `query "${q}" has no namespace`));
    // Other namespaces are ignored, as the spec demands; "base:" is a wildcard only when listing.
    if (q === BASE_ALLOCATION || (!set && q === "base:")) selected = true;
  }
  const replies: Buffer[] = [];
  if (selected) {
    replies.push(encodeOptionReply(option, REP.META_CONTEXT, encodeMetaContextReply(set ? BASE_ALLOCATION_ID : 0, BASE_ALLOCATION)));
    if (set) state.metaContextExport = req.name;
  }
  return haggle(...replies, encodeOptionReply(option, REP.ACK));
}

function haggle(...replies: Buffer[]): OptionOutcome {
  return { next: "haggle", replies };
}

function errorReply(option: number, type: number, message: string): Buffer {
  return encodeOptionReply(option, type, Buffer.from(message, "utf8"));
}

function invalid(option: number, e: unknown): OptionOutcome {
  if (!(e instanceof FormatError)) throw e;
  return haggle(errorReply(option, REP.ERR_INVALID, e.message));
}
