import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FormatError } from "../../../src/core/errors.ts";
import {
  HANDSHAKE_FLAG,
  INFO,
  OPT,
  REP,
  REPLY_FLAG_DONE,
  REPLY_TYPE,
  decodeBlockStatusPayload,
  decodeErrorPayload,
  decodeGreeting,
  decodeInfo,
  decodeInfoRequest,
  decodeMetaContextReply,
  decodeMetaContextRequest,
  decodeOptionHeader,
  decodeOptionReplyHeader,
  decodeReplyHeader,
  decodeRequest,
  decodeServerReply,
  decodeString,
  encodeBlockStatusPayload,
  encodeErrorPayload,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfo,
  encodeInfoRequest,
  encodeMetaContextReply,
  encodeMetaContextRequest,
  encodeOption,
  encodeOptionReply,
  encodeRequest,
  encodeServerReply,
  writeDataChunkHeader,
  writeSimpleReply,
  type Info,
  type Request,
} from "../../../src/nbd/protocol.ts";

// NBD strings: no NUL, at most 4096 bytes of UTF-8.
const nbdString = fc.string({ unit: "grapheme", maxLength: 200 }).filter((s) => !s.includes("\0"));
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
// Decoders build ordinary objects; deepEqual compares prototypes too.
const plain = { noNullPrototype: true };

test("the greeting and a request have the exact bytes of the spec", () => {
  const g = encodeGreeting(HANDSHAKE_FLAG.FIXED_NEWSTYLE | HANDSHAKE_FLAG.NO_ZEROES);
  assert.equal(g.toString("latin1", 0, 16), "NBDMAGICIHAVEOPT");
  assert.equal(g.toString("hex", 16), "0003");
  assert.deepEqual(decodeGreeting(g), { handshakeFlags: 3 });
  const r = encodeRequest({ flags: 0x1, type: 1, cookie: 0x0102030405060708n, offset: 2 ** 40 + 5, length: 4096 });
  assert.equal(r.toString("hex"), "25609513" + "0001" + "0001" + "0102030405060708" + "0000010000000005" + "00001000");
  assert.equal(encodeOptionReply(OPT.GO, REP.ERR_UNKNOWN).toString("hex"), "0003e889045565a9" + "00000007" + "80000006" + "00000000");
});

test("requests decode to what was encoded, at any position in a buffer", () => {
  fc.assert(
    fc.property(
      u16,
      u16,
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      u32,
      fc.nat(100),
      (flags, type, cookie, offset, length, at) => {
        const req: Request = { flags, type, cookie, offset, length };
        const b = Buffer.concat([Buffer.alloc(at, 0xaa), encodeRequest(req)]);
        const into: Request = { flags: -1, type: -1, cookie: -1n, offset: -1, length: -1 };
        assert.equal(decodeRequest(b, at, into), true);
        assert.deepEqual(into, req);
        b[at] ^= 1;
        assert.equal(decodeRequest(b, at, into), false);
      },
    ),
  );
});

test("a request offset beyond 2^53 decodes to a number at least as large, so range checks stay sound", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }), (offset) => {
      const b = encodeRequest({ flags: 0, type: 0, cookie: 0n, offset: 0, length: 0 });
      b.writeBigUInt64BE(offset, 16);
      const into: Request = { flags: 0, type: 0, cookie: 0n, offset: 0, length: 0 };
      decodeRequest(b, 0, into);
      assert.ok(into.offset >= 2 ** 53);
    }),
  );
});

test("reply headers: simple, chunk and data chunk headers decode as written", () => {
  fc.assert(
    fc.property(u32, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.nat(2 ** 31), (error, cookie, offset, len) => {
      const s = Buffer.alloc(16);
      writeSimpleReply(s, error, cookie);
      assert.deepEqual(decodeReplyHeader(s), { kind: "simple", error, cookie });
      const d = Buffer.alloc(28);
      writeDataChunkHeader(d, REPLY_FLAG_DONE, cookie, offset, len);
      assert.deepEqual(decodeReplyHeader(d), { kind: "structured", flags: 1, type: REPLY_TYPE.OFFSET_DATA, cookie, length: 8 + len });
      assert.equal(d.readBigUInt64BE(20), BigInt(offset));
    }),
  );
  assert.throws(() => decodeReplyHeader(Buffer.alloc(20)), FormatError);
});

test("option messages and their payloads round-trip", () => {
  fc.assert(
    fc.property(u32, fc.uint8Array({ maxLength: 64 }), (option, data) => {
      const o = encodeOption(option, data);
      assert.deepEqual(decodeOptionHeader(o), { magic: 0x49484156454f5054n, option, length: data.length });
      const r = encodeOptionReply(option, REP.INFO, data);
      assert.deepEqual(decodeOptionReplyHeader(r), { option, type: REP.INFO, length: data.length });
      assert.deepEqual(new Uint8Array(r.subarray(20)), data);
    }),
  );
  fc.assert(
    fc.property(nbdString, fc.array(u16, { maxLength: 8 }), (name, infos) => {
      assert.deepEqual(decodeInfoRequest(encodeInfoRequest({ name, infos })), { name, infos });
    }),
  );
  fc.assert(
    fc.property(nbdString, fc.array(nbdString, { maxLength: 5 }), (name, queries) => {
      assert.deepEqual(decodeMetaContextRequest(encodeMetaContextRequest({ name, queries })), { name, queries });
    }),
  );
  fc.assert(
    fc.property(nbdString, nbdString, u32, (name, description, id) => {
      assert.deepEqual(decodeServerReply(encodeServerReply(name, description)), { name, description });
      assert.deepEqual(decodeMetaContextReply(encodeMetaContextReply(id, name)), { id, name });
    }),
  );
  const info: fc.Arbitrary<Info> = fc.oneof(
    fc.record({ type: fc.constant(INFO.EXPORT), size: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), flags: u16 }, plain),
    fc.record({ type: fc.constant(INFO.NAME), name: nbdString }, plain),
    fc.record({ type: fc.constant(INFO.DESCRIPTION), description: nbdString }, plain),
    fc.record({ type: fc.constant(INFO.BLOCK_SIZE), min: u32, preferred: u32, max: u32 }, plain),
  );
  fc.assert(fc.property(info, (i) => assert.deepEqual(decodeInfo(encodeInfo(i)), i)));
  assert.equal(decodeInfo(Buffer.from([0, 99, 1, 2])), undefined, "unknown info types are ignored");
});

test("every truncation of option data is refused with a FormatError, never misread", () => {
  fc.assert(
    fc.property(nbdString, fc.array(nbdString, { minLength: 1, maxLength: 4 }), fc.array(u16, { minLength: 1, maxLength: 4 }), (name, queries, infos) => {
      const meta = encodeMetaContextRequest({ name, queries });
      const info = encodeInfoRequest({ name, infos });
      for (let n = 0; n < meta.length; n++) assert.throws(() => decodeMetaContextRequest(meta.subarray(0, n)), FormatError);
      for (let n = 0; n < info.length; n++) assert.throws(() => decodeInfoRequest(info.subarray(0, n)), FormatError);
      assert.throws(() => decodeInfoRequest(Buffer.concat([info, Buffer.alloc(1)])), FormatError);
      assert.throws(() => decodeMetaContextRequest(Buffer.concat([meta, Buffer.alloc(1)])), FormatError);
    }),
  );
});

test("strings with NUL, bad UTF-8 or over 4096 bytes are refused", () => {
  assert.equal(decodeString(Buffer.from("vg0/lv0"), "name"), "vg0/lv0");
  assert.throws(() => decodeString(Buffer.from("a\0b"), "name"), /NUL/);
  assert.throws(() => decodeString(Buffer.from([0xc3, 0x28]), "name"), /UTF-8/);
  assert.throws(() => decodeString(Buffer.alloc(4097, 0x61), "name"), /4096/);
  assert.equal(decodeString(Buffer.alloc(4096, 0x61), "name").length, 4096);
});

test("structured payloads: error messages are cut to 4096 bytes, block status lists round-trip", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0xffffffff }), nbdString, (error, message) => {
      assert.deepEqual(decodeErrorPayload(encodeErrorPayload(error, message)), { error, message });
    }),
  );
  assert.equal(decodeErrorPayload(encodeErrorPayload(22, "x".repeat(5000))).message.length, 4096);
  fc.assert(
    fc.property(u32, fc.array(fc.record({ length: fc.integer({ min: 1, max: 0xffffffff }), flags: u32 }, plain), { minLength: 1, maxLength: 20 }), (id, extents) => {
      assert.deepEqual(decodeBlockStatusPayload(encodeBlockStatusPayload(id, extents)), { contextId: id, extents });
    }),
  );
});

test("the EXPORT_NAME reply is size and flags, then 124 zero bytes unless no-zeroes was negotiated", () => {
  const padded = encodeExportNameReply(2 ** 40, 0x1234, false);
  assert.equal(padded.length, 134);
  assert.equal(padded.toString("hex", 0, 10), "00000100000000001234");
  assert.ok(padded.subarray(10).every((b) => b === 0));
  assert.deepEqual(encodeExportNameReply(2 ** 40, 0x1234, true), padded.subarray(0, 10));
});
