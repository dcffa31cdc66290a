import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { REJECT, checkRequest, clampExtents, type TransmissionContext } from "../../../src/nbd/command.ts";
import { CMD, CMD_FLAG, ERR, MAX_EXTENTS, TX, type Request } from "../../../src/nbd/protocol.ts";

const ALL_TX = TX.HAS_FLAGS | TX.SEND_FLUSH | TX.SEND_FUA | TX.SEND_TRIM | TX.SEND_WRITE_ZEROES | TX.SEND_FAST_ZERO | TX.SEND_CACHE;

const ctxArb = fc.record({
  size: fc.integer({ min: 0, max: 2 ** 50 }),
  readOnly: fc.boolean(),
  structured: fc.boolean(),
  meta: fc.boolean(),
  minShift: fc.integer({ min: 0, max: 16 }),
  max: fc.integer({ min: 4096, max: 2 ** 26 }),
});

interface Ctx {
  size: number;
  readOnly: boolean;
  structured: boolean;
  meta: boolean;
  minShift: number;
  max: number;
}

/** The request rules restated with BigInt arithmetic, independently of the implementation. */
function oracle(req: Request, c: Ctx, offset: bigint): number | undefined {
  const writes = [CMD.WRITE, CMD.TRIM, CMD.WRITE_ZEROES] as number[];
  if (![CMD.READ, CMD.WRITE, CMD.FLUSH, CMD.TRIM, CMD.CACHE, CMD.WRITE_ZEROES, CMD.BLOCK_STATUS].includes(req.type as 0)) return ERR.EINVAL;
  let allowed = CMD_FLAG.FUA;
  if (req.type === CMD.READ && c.structured) allowed |= CMD_FLAG.DF;
  if (req.type === CMD.WRITE_ZEROES && !c.readOnly) allowed |= CMD_FLAG.NO_HOLE | CMD_FLAG.FAST_ZERO;
  if (req.type === CMD.WRITE_ZEROES && c.readOnly) allowed |= CMD_FLAG.NO_HOLE;
  if (req.type === CMD.BLOCK_STATUS) allowed |= CMD_FLAG.REQ_ONE;
  if (req.flags & ~allowed) return ERR.EINVAL;
  if (c.readOnly && writes.includes(req.type)) return ERR.EPERM;
  if (req.type === CMD.BLOCK_STATUS && !(c.structured && c.meta)) return ERR.EINVAL;
  if (req.type === CMD.FLUSH) return undefined;
  if (req.length === 0) return ERR.EINVAL;
  if (offset + BigInt(req.length) > BigInt(c.size)) return req.type === CMD.WRITE || req.type === CMD.WRITE_ZEROES ? ERR.ENOSPC : ERR.EINVAL;
  const min = 2n ** BigInt(c.minShift);
  if (offset % min !== 0n || BigInt(req.length) % min !== 0n) return ERR.EINVAL;
  if (req.length > c.max && req.type === CMD.WRITE) return ERR.EINVAL;
  if (req.length > c.max && req.type === CMD.READ) return c.structured ? ERR.EOVERFLOW : ERR.EINVAL;
  return undefined;
}

test("checkRequest agrees with a BigInt restatement of the spec's rules, offsets up to 2^64 included", () => {
  const offsetArb = fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 20n }).map((x) => x * 512n),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.bigInt({ min: 2n ** 64n - 2n ** 33n, max: 2n ** 64n - 1n }),
  );
  fc.assert(
    fc.property(
      ctxArb,
      fc.integer({ min: 0, max: 12 }).filter((t) => t !== CMD.DISC),
      fc.oneof(fc.constant(0), fc.constantFrom(CMD_FLAG.FUA, CMD_FLAG.DF, CMD_FLAG.NO_HOLE, CMD_FLAG.REQ_ONE, CMD_FLAG.FAST_ZERO, CMD_FLAG.PAYLOAD_LEN, 0x8000)),
      offsetArb,
      fc.oneof(fc.integer({ min: 0, max: 2 ** 16 }).map((x) => x * 512), fc.integer({ min: 0, max: 0xffffffff })),
      (c, type, flags, offset, length) => {
        const req: Request = { type, flags, cookie: 1n, offset: Number(offset), length };
        const ctx: TransmissionContext = {
          size: c.size - (c.size % 2 ** c.minShift),
          flags: (c.readOnly ? (ALL_TX & ~(TX.SEND_TRIM | TX.SEND_WRITE_ZEROES | TX.SEND_FAST_ZERO)) | TX.READ_ONLY : ALL_TX) | (c.structured ? TX.SEND_DF : 0),
          blockSizes: { min: 2 ** c.minShift, preferred: Math.max(4096, 2 ** c.minShift), max: c.max },
          structuredReplies: c.structured,
          // Negotiation hands out a context only after structured replies.
          metaContextId: c.structured && c.meta ? 1 : 0,
        };
        // Decoding rounds offsets past 2^53 up or down, never below 2^53: all of them are out of range.
        const exact = offset > 2n ** 53n ? 2n ** 64n : offset;
        const expected = oracle(req, { ...c, size: ctx.size }, exact);
        assert.equal(checkRequest(req, ctx)?.errno, expected);
      },
    ),
    { numRuns: 3000 },
  );
});

test("every rejection carries a structured error payload with its errno and a message", () => {
  for (const r of Object.values(REJECT)) {
    assert.equal(r.payload.readUInt32BE(0), r.errno);
    assert.equal(r.payload.readUInt16BE(4), Buffer.byteLength(r.message));
    assert.ok(r.message.length > 0);
  }
});

test("clampExtents answers from the request offset, never past its end, within the descriptor limits", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ length: fc.oneof(fc.integer({ min: 1, max: 1 << 20 }), fc.constant(0), fc.constant(-5), fc.constant(1.5)), flags: fc.nat(3) }), { maxLength: 30 }),
      fc.integer({ min: 1, max: 0xffffffff }),
      fc.boolean(),
      (extents, length, reqOne) => {
        const out = clampExtents(extents, length, reqOne);
        const usable = extents.findIndex((e) => !(Number.isSafeInteger(e.length) && e.length > 0));
        const valid = usable === -1 ? extents : extents.slice(0, usable);
        if (valid.length === 0) return assert.equal(out, undefined);
        assert.ok(out && out.length >= 1);
        if (reqOne) assert.equal(out.length, 1);
        assert.ok(out.length <= MAX_EXTENTS);
        const total = out.reduce((n, e) => n + e.length, 0);
        assert.ok(total <= length);
        assert.ok(out.every((e, i) => e.length > 0 && e.flags === valid[i]!.flags));
        // Everything the export described, up to the request's end, is passed on.
        const described = valid.reduce((n, e) => n + e.length, 0);
        if (!reqOne) assert.equal(total, Math.min(length, described));
      },
    ),
  );
});
