import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ExportMap, type NbdExport } from "../../../src/nbd/export.ts";
import {
  BASE_ALLOCATION_ID,
  MAX_OPTION_DATA,
  negotiateOption,
  newNegotiation,
  transmissionFlags,
  type NegotiationContext,
} from "../../../src/nbd/negotiate.ts";
import {
  BASE_ALLOCATION,
  INFO,
  OPT,
  REP,
  TX,
  decodeOptionReplyHeader,
  encodeInfoRequest,
  encodeMetaContextRequest,
} from "../../../src/nbd/protocol.ts";

const noop = async () => {};

function exportWith(name: string, features: { readOnly: boolean; trim: boolean; zero: boolean; cache: boolean; multi: boolean }): NbdExport {
  return {
    name,
    size: 1 << 20,
    readOnly: features.readOnly,
    canMultiConn: features.multi,
    read: noop,
    write: noop,
    flush: noop,
    ...(features.trim ? { trim: noop } : {}),
    ...(features.zero ? { writeZeroes: noop } : {}),
    ...(features.cache ? { cache: noop } : {}),
  };
}

const features = fc.record({ readOnly: fc.boolean(), trim: fc.boolean(), zero: fc.boolean(), cache: fc.boolean(), multi: fc.boolean() });

function ctxWith(...exports: NbdExport[]): NegotiationContext {
  const registry = new ExportMap();
  exports.forEach((e) => registry.add(e));
  return { registry, shuttingDown: false };
}

const types = (replies: Buffer[]) => replies.map((r) => decodeOptionReplyHeader(r).type);

test("transmission flags advertise exactly what the export can do, within the spec's rules", () => {
  fc.assert(
    fc.property(features, fc.boolean(), (f, structured) => {
      const flags = transmissionFlags(exportWith("x", f), structured);
      const has = (bit: number) => (flags & bit) !== 0;
      assert.ok(has(TX.HAS_FLAGS) && has(TX.SEND_FLUSH) && has(TX.SEND_FUA));
      assert.equal(has(TX.READ_ONLY), f.readOnly);
      assert.equal(has(TX.SEND_TRIM), f.trim && !f.readOnly);
      assert.equal(has(TX.SEND_WRITE_ZEROES), f.zero && !f.readOnly);
      assert.equal(has(TX.SEND_FAST_ZERO), has(TX.SEND_WRITE_ZEROES), "FAST_ZERO only with WRITE_ZEROES");
      assert.equal(has(TX.SEND_DF), structured, "DF only with structured replies");
      assert.equal(has(TX.CAN_MULTI_CONN), f.multi);
      assert.equal(has(TX.SEND_CACHE), f.cache);
      assert.equal(flags & (TX.ROTATIONAL | TX.SEND_RESIZE | TX.BLOCK_STATUS_PAYLOAD), 0);
    }),
  );
});

test("INFO then GO with the same request gives the same answers, and GO enters transmission", () => {
  fc.assert(
    fc.property(features, fc.boolean(), fc.subarray([INFO.NAME, INFO.DESCRIPTION, INFO.BLOCK_SIZE, 77]), (f, structured, infos) => {
      const e = exportWith("vg0/lv0", f);
      const ctx = ctxWith(e);
      const state = newNegotiation(true);
      if (structured) negotiateOption(state, OPT.STRUCTURED_REPLY, Buffer.alloc(0), ctx);
      const data = encodeInfoRequest({ name: "vg0/lv0", infos });
      const info = negotiateOption(state, OPT.INFO, data, ctx);
      const go = negotiateOption(state, OPT.GO, data, ctx);
      assert.equal(info.next, "haggle");
      assert.equal(go.next, "transmit");
      // Identical payloads; only the echoed option number differs.
      const body = (rs: Buffer[]) => rs.map((r) => r.subarray(12).toString("hex")).sort();
      assert.deepEqual(body(go.replies), body(info.replies));
      assert.equal(types(go.replies).at(-1), REP.ACK);
      if (go.next === "transmit") {
        assert.equal(go.export, e);
        assert.equal(go.flags, transmissionFlags(e, structured));
      }
    }),
  );
});

test("SET_META_CONTEXT selects base:allocation for one export, and a later SET replaces it even when it fails", () => {
  const a = exportWith("a", { readOnly: false, trim: true, zero: true, cache: true, multi: true });
  const b = exportWith("b", { readOnly: false, trim: true, zero: true, cache: true, multi: true });
  const ctx = ctxWith(a, b);
  const go = (state: ReturnType<typeof newNegotiation>, name: string) => {
    const out = negotiateOption(state, OPT.GO, encodeInfoRequest({ name, infos: [] }), ctx);
    assert.equal(out.next, "transmit");
    return out.next === "transmit" ? out.metaContextId : -1;
  };
  const set = (state: ReturnType<typeof newNegotiation>, data: Buffer) => types(negotiateOption(state, OPT.SET_META_CONTEXT, data, ctx).replies);

  const s1 = newNegotiation(false);
  negotiateOption(s1, OPT.STRUCTURED_REPLY, Buffer.alloc(0), ctx);
  assert.deepEqual(set(s1, encodeMetaContextRequest({ name: "a", queries: [BASE_ALLOCATION] })), [REP.META_CONTEXT, REP.ACK]);
  assert.equal(go(s1, "a"), BASE_ALLOCATION_ID);

  const s2 = newNegotiation(false);
  negotiateOption(s2, OPT.STRUCTURED_REPLY, Buffer.alloc(0), ctx);
  set(s2, encodeMetaContextRequest({ name: "a", queries: [BASE_ALLOCATION] }));
  assert.equal(go(s2, "b"), 0, "the selection was for another export");

  const s3 = newNegotiation(false);
  negotiateOption(s3, OPT.STRUCTURED_REPLY, Buffer.alloc(0), ctx);
  set(s3, encodeMetaContextRequest({ name: "a", queries: [BASE_ALLOCATION] }));
  assert.deepEqual(set(s3, encodeMetaContextRequest({ name: "a", queries: ["broken"] })), [REP.ERR_INVALID]);
  assert.equal(go(s3, "a"), 0, "a failed SET still cleared the selection");
});

test("while shutting down every option but ABORT is refused, and EXPORT_NAME ends the session", () => {
  const ctx = { ...ctxWith(exportWith("a", { readOnly: false, trim: false, zero: false, cache: false, multi: true })), shuttingDown: true };
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 20 }), fc.uint8Array({ maxLength: 40 }), (option, data) => {
      const out = negotiateOption(newNegotiation(false), option, Buffer.from(data), ctx);
      if (option === OPT.ABORT) assert.deepEqual([out.next, ...types(out.replies)], ["close", REP.ACK]);
      else if (option === OPT.EXPORT_NAME) assert.deepEqual([out.next, out.replies.length], ["close", 0]);
      else assert.deepEqual([out.next, ...types(out.replies)], ["haggle", REP.ERR_SHUTDOWN]);
    }),
  );
});

test("option data that was too long to keep: ERR_TOO_BIG, except ABORT (ACK) and EXPORT_NAME (end)", () => {
  const ctx = ctxWith(exportWith("a", { readOnly: false, trim: false, zero: false, cache: false, multi: true }));
  assert.ok(MAX_OPTION_DATA >= 3 * 4096 + 16, "room for a name and a couple of queries of the maximum length");
  for (const option of [OPT.LIST, OPT.INFO, OPT.GO, OPT.STRUCTURED_REPLY, OPT.SET_META_CONTEXT, 99]) {
    const out = negotiateOption(newNegotiation(false), option, null, ctx);
    assert.deepEqual([out.next, ...types(out.replies)], ["haggle", REP.ERR_TOO_BIG], `option ${option}`);
  }
  assert.equal(negotiateOption(newNegotiation(false), OPT.ABORT, null, ctx).next, "close");
  const named = negotiateOption(newNegotiation(false), OPT.EXPORT_NAME, null, ctx);
  assert.deepEqual([named.next, named.replies.length], ["close", 0]);
});
