/**
 * The connection's stream parser must not care how the client's bytes are cut
 * into socket reads: headers and payloads straddling reads, many requests in one
 * read, or one byte at a time must all give the same replies and the same data.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CMD, ERR, REPLY_TYPE, decodeErrorPayload } from "../../../src/nbd/protocol.ts";
import { RawClient, type Reply } from "./raw-client.ts";
import { PAGE, SparseMemoryExport, randomBytes, startServer } from "./helpers.ts";

const SIZE = 32 * PAGE;
/** Writes go below HALF and reads above it, so no outcome depends on the order the server runs them in. */
const HALF = SIZE / 2;

type Op =
  | { kind: "write"; at: number; length: number; seed: number }
  | { kind: "read"; at: number; length: number }
  | { kind: "bad-write"; length: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("write" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 3 * PAGE }), seed: fc.nat() }),
  fc.record({ kind: fc.constant("read" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 2 * PAGE }) }),
  fc.record({ kind: fc.constant("bad-write" as const), length: fc.integer({ min: 1, max: 5000 }) }),
);

function errorOf(r: Reply): number {
  if (r.kind === "simple") return r.error;
  return r.type === REPLY_TYPE.ERROR ? decodeErrorPayload(r.payload).error : 0;
}

function dataOf(r: Reply): Buffer | undefined {
  if (r.kind === "simple") return r.data;
  return r.type === REPLY_TYPE.OFFSET_DATA ? r.payload.subarray(8) : undefined;
}

// A server that loses its place in the stream waits for bytes that never come: fail, do not hang.
test("any cutting of a pipelined byte stream gives the same replies and data as the model", { timeout: 60_000 }, async () => {
  const base = randomBytes(SIZE, 1);
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArb, { minLength: 1, maxLength: 12 }),
      // Large cuts let the server read the rest of a large payload straight into its buffer in one go.
      fc.array(fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 60_000, max: 250_000 })), { minLength: 1, maxLength: 40 }),
      fc.boolean(),
      async (ops, cuts, structured) => {
        const lv = new SparseMemoryExport("lv", SIZE);
        await lv.write(base, 0, false);
        const t = await startServer([lv]);
        try {
          const c = await RawClient.open(t.socket, "lv", { structured });
          const model = Buffer.from(base);
          const expected = new Map<bigint, { error: number; data?: Buffer }>();
          const stream: Buffer[] = [];
          // How many writes cover each byte: where two do, either may land last.
          const cover = new Uint8Array(SIZE);
          for (const op of ops) {
            if (op.kind === "bad-write") {
              // Past the end: the payload must be skipped exactly, however it arrives.
              const { cookie, bytes } = c.encode({ type: CMD.WRITE, offset: SIZE }, randomBytes(op.length, 3));
              expected.set(cookie, { error: ERR.ENOSPC });
              stream.push(bytes);
            } else if (op.kind === "write") {
              const offset = op.at % (HALF - op.length + 1);
              const data = randomBytes(op.length, op.seed);
              const { cookie, bytes } = c.encode({ type: CMD.WRITE, offset }, data);
              expected.set(cookie, { error: 0 });
              stream.push(bytes);
              model.set(data, offset);
              for (let i = offset; i < offset + op.length; i++) cover[i]!++;
            } else {
              const offset = HALF + (op.at % (HALF - op.length + 1));
              const { cookie, bytes } = c.encode({ type: CMD.READ, offset, length: op.length });
              expected.set(cookie, { error: 0, data: base.subarray(offset, offset + op.length) });
              stream.push(bytes);
            }
          }
          const all = Buffer.concat(stream);
          let at = 0;
          for (let i = 0; at < all.length; i++) {
            const n = cuts[i % cuts.length]!;
            c.write(all.subarray(at, at + n));
            at += n;
            await new Promise((r) => setImmediate(r));
          }
          for (let i = 0; i < expected.size; i++) {
            const r = await c.reply();
            const want = expected.get(r.cookie);
            assert.ok(want, `unexpected cookie ${r.cookie}`);
            assert.equal(errorOf(r), want.error);
            if (want.data) assert.ok(dataOf(r)?.equals(want.data), "read data");
          }
          const snapshot = lv.snapshot();
          for (let i = 0; i < SIZE; i++)
            if (cover[i]! <= 1 && snapshot[i] !== model[i]) assert.fail(`byte ${i}: ${snapshot[i]} instead of ${model[i]}`);
        } finally {
          await t.stop();
        }
      },
    ),
    { numRuns: 40 },
  );
});
