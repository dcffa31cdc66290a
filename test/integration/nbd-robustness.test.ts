/**
 * The server against a misbehaving client: every malformed, oversized,
 * out-of-range or unknown option and request gets the answer the NBD spec asks
 * for, disconnects happen only where the spec allows them, and a second client
 * that behaves keeps being served throughout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BASE_ALLOCATION,
  CLIENT_FLAG,
  CMD,
  CMD_FLAG,
  ERR,
  HANDSHAKE_FLAG,
  INFO,
  OPT,
  REP,
  REPLY_FLAG_DONE,
  REPLY_TYPE,
  STATE,
  TX,
  decodeBlockStatusPayload,
  decodeErrorPayload,
  decodeInfo,
  decodeMetaContextReply,
  decodeServerReply,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeOption,
  encodeRequest,
} from "../../src/nbd/protocol.ts";
import { NbdError } from "../../src/nbd/export.ts";
import { RawClient, expectAck, type Reply } from "../unit/nbd/raw-client.ts";
import { SparseMemoryExport, randomBytes, startServer, until, type TestServer } from "../unit/nbd/helpers.ts";

const MiB = 1024 * 1024;

function errorOf(r: Reply): number {
  if (r.kind === "simple") return r.error;
  return r.type & 0x8000 ? decodeErrorPayload(r.payload).error : 0;
}

function dataOf(r: Reply, offset: number): Buffer {
  if (r.kind === "simple") return r.data ?? Buffer.alloc(0);
  assert.equal(r.type, REPLY_TYPE.OFFSET_DATA);
  assert.equal(r.flags & REPLY_FLAG_DONE, REPLY_FLAG_DONE);
  assert.equal(Number(r.payload.readBigUInt64BE(0)), offset);
  return r.payload.subarray(8);
}

interface Fixture {
  t: TestServer;
  lv: SparseMemoryExport;
  ro: SparseMemoryExport;
  small: SparseMemoryExport;
  /** A well-behaved client that must keep working whatever the others do. */
  check(): Promise<void>;
  done(): Promise<void>;
}

async function fixture(limits = {}): Promise<Fixture> {
  const lv = new SparseMemoryExport("vg0/lv0", 4 * MiB, { description: "the test LV" });
  const ro = new SparseMemoryExport("vg0/ro", MiB, { readOnly: true });
  const small = new SparseMemoryExport("vg0/small", 4 * MiB, { blockSizes: { min: 512, preferred: 4096, max: MiB } });
  const t = await startServer([lv, ro, small], { limits });
  const good = await RawClient.open(t.socket, "vg0/lv0");
  let n = 0;
  const check = async () => {
    n++;
    const offset = 3 * MiB + (n % 64) * 4096;
    const data = randomBytes(4096, n);
    assert.equal(errorOf(await good.roundTrip({ type: CMD.WRITE, offset }, data)), 0);
    assert.deepEqual(dataOf(await good.roundTrip({ type: CMD.READ, offset, length: 4096 }), offset), data);
  };
  return {
    t,
    lv,
    ro,
    small,
    check,
    async done() {
      try {
        await check();
      } finally {
        good.close();
        await t.stop();
      }
    },
  };
}

test("handshake: the greeting offers fixed newstyle and no-zeroes; unknown client flags and bad option magic end the session", async () => {
  const f = await fixture();
  try {
    const c = await RawClient.handshake(f.t.socket, CLIENT_FLAG.FIXED_NEWSTYLE | 0x4);
    assert.equal(c.handshakeFlags, HANDSHAKE_FLAG.FIXED_NEWSTYLE | HANDSHAKE_FLAG.NO_ZEROES);
    assert.equal(await c.closedBy(), true);
    await f.check();

    const d = await RawClient.handshake(f.t.socket);
    const bad = encodeOption(OPT.LIST);
    bad[0] ^= 0xff;
    d.write(bad);
    assert.equal(await d.closedBy(), true);
    assert.ok(f.t.events.some((e) => e.type === "violation" && e.reason === "bad option magic"));
    await f.check();
  } finally {
    await f.done();
  }
});

test("options: unknown ones are refused and skipped, haggling goes on", async () => {
  const f = await fixture();
  try {
    const c = await RawClient.handshake(f.t.socket);
    const expectOnly = async (opt: number, data: Uint8Array | undefined, type: number) => {
      const r = await c.option(opt, data);
      assert.equal(r.length, 1);
      assert.equal(r[0]!.type, type, `option ${opt}`);
    };
    await expectOnly(99, Buffer.from("some data the server must skip"), REP.ERR_UNSUP);
    await expectOnly(OPT.PEEK_EXPORT, undefined, REP.ERR_UNSUP);
    await expectOnly(OPT.EXTENDED_HEADERS, undefined, REP.ERR_UNSUP);
    await expectOnly(OPT.STARTTLS, undefined, REP.ERR_POLICY);
    await expectOnly(OPT.STARTTLS, Buffer.from("x"), REP.ERR_INVALID);
    await expectOnly(OPT.LIST, Buffer.from("x"), REP.ERR_INVALID);
    await expectOnly(OPT.STRUCTURED_REPLY, Buffer.from("x"), REP.ERR_INVALID);
    await expectOnly(OPT.SET_META_CONTEXT, encodeMetaContextRequest({ name: "vg0/lv0", queries: [BASE_ALLOCATION] }), REP.ERR_INVALID);
    await expectOnly(OPT.STRUCTURED_REPLY, undefined, REP.ACK);
    await expectOnly(OPT.STRUCTURED_REPLY, undefined, REP.ERR_INVALID);

    const list = await c.option(OPT.LIST);
    expectAck(list);
    const servers = list.filter((r) => r.type === REP.SERVER).map((r) => decodeServerReply(r.data));
    assert.deepEqual(
      servers.sort((a, b) => a.name.localeCompare(b.name)),
      [
        { name: "vg0/lv0", description: "the test LV" },
        { name: "vg0/ro", description: "" },
        { name: "vg0/small", description: "" },
      ],
    );
    await f.check();
  } finally {
    await f.done();
  }
});

test("options: malformed INFO/GO data is ERR_INVALID, unknown exports ERR_UNKNOWN, and GO still works afterwards", async () => {
  const f = await fixture();
  try {
    const c = await RawClient.handshake(f.t.socket);
    const good = encodeInfoRequest({ name: "vg0/lv0", infos: [INFO.NAME, INFO.DESCRIPTION, INFO.BLOCK_SIZE] });
    const longName = Buffer.from(good);
    longName.writeUInt32BE(good.length, 0);
    const badCount = Buffer.from(good);
    badCount.writeUInt16BE(7, 4 + "vg0/lv0".length);
    const badUtf8 = encodeInfoRequest({ name: "ab", infos: [] });
    badUtf8[4] = 0xff;
    for (const data of [longName, badCount, badUtf8, Buffer.alloc(3)]) {
      const r = await c.option(OPT.INFO, data);
      assert.deepEqual(r.map((x) => x.type), [REP.ERR_INVALID]);
      assert.ok(r[0]!.data.length > 0, "errors carry a message");
    }
    assert.deepEqual((await c.option(OPT.GO, encodeInfoRequest({ name: "vg0/nope", infos: [] }))).map((x) => x.type), [REP.ERR_UNKNOWN]);

    const info = await c.option(OPT.INFO, good);
    expectAck(info);
    const infos = info.filter((r) => r.type === REP.INFO).map((r) => decodeInfo(r.data));
    assert.deepEqual(infos.find((i) => i?.type === INFO.EXPORT), {
      type: INFO.EXPORT,
      size: 4 * MiB,
      flags: TX.HAS_FLAGS | TX.SEND_FLUSH | TX.SEND_FUA | TX.SEND_TRIM | TX.SEND_WRITE_ZEROES | TX.SEND_FAST_ZERO | TX.CAN_MULTI_CONN | TX.SEND_CACHE,
    });
    assert.deepEqual(infos.find((i) => i?.type === INFO.NAME), { type: INFO.NAME, name: "vg0/lv0" });
    assert.deepEqual(infos.find((i) => i?.type === INFO.DESCRIPTION), { type: INFO.DESCRIPTION, description: "the test LV" });
    assert.deepEqual(infos.find((i) => i?.type === INFO.BLOCK_SIZE), { type: INFO.BLOCK_SIZE, min: 1, preferred: 4096, max: 32 * MiB });

    const go = await c.option(OPT.GO, good);
    expectAck(go);
    assert.deepEqual(go.map((r) => r.data).sort(Buffer.compare), info.map((r) => r.data).sort(Buffer.compare), "GO answers as INFO did");
    assert.equal(f.t.server.openCount("vg0/lv0"), 2);
    const r = await c.roundTrip({ type: CMD.READ, offset: 0, length: 512 });
    assert.equal(errorOf(r), 0);
    assert.equal(r.kind, "simple", "no structured replies were negotiated");
    await f.check();
  } finally {
    await f.done();
  }
});

test("options: meta contexts follow the query rules, and BLOCK_STATUS needs one selected for the export in use", async () => {
  const f = await fixture();
  try {
    const c = await RawClient.handshake(f.t.socket);
    expectAck(await c.option(OPT.STRUCTURED_REPLY));
    const list = async (queries: string[], name = "vg0/lv0") =>
      c.option(OPT.LIST_META_CONTEXT, encodeMetaContextRequest({ name, queries }));
    const contexts = (r: { type: number; data: Buffer }[]) =>
      r.filter((x) => x.type === REP.META_CONTEXT).map((x) => decodeMetaContextReply(x.data));
    for (const q of [[], ["base:"], [BASE_ALLOCATION], ["qemu:dirty-bitmap:x", BASE_ALLOCATION]]) {
      const r = await list(q);
      expectAck(r);
      assert.deepEqual(contexts(r), [{ id: 0, name: BASE_ALLOCATION }], JSON.stringify(q));
    }
    for (const q of [["qemu:dirty-bitmap:x"], ["base:nonsense"]]) assert.deepEqual((await list(q)).map((x) => x.type), [REP.ACK]);
    assert.deepEqual((await list(["nocolon"])).map((x) => x.type), [REP.ERR_INVALID]);
    assert.deepEqual((await list([], "vg0/nope")).map((x) => x.type), [REP.ERR_UNKNOWN]);
    const truncated = encodeMetaContextRequest({ name: "vg0/lv0", queries: [BASE_ALLOCATION] }).subarray(0, -3);
    assert.deepEqual((await c.option(OPT.LIST_META_CONTEXT, truncated)).map((x) => x.type), [REP.ERR_INVALID]);

    // "base:" selects nothing in SET; selecting for one export does not carry over to another.
    const set = await c.option(OPT.SET_META_CONTEXT, encodeMetaContextRequest({ name: "vg0/ro", queries: [BASE_ALLOCATION] }));
    expectAck(set);
    assert.equal(contexts(set)[0]!.id > 0, true);
    const go = await c.option(OPT.GO, encodeInfoRequest({ name: "vg0/lv0", infos: [] }));
    expectAck(go);
    const r = await c.roundTrip({ type: CMD.BLOCK_STATUS, offset: 0, length: 4096 });
    assert.equal(r.kind, "structured");
    assert.equal(errorOf(r), ERR.EINVAL);

    const d = await RawClient.open(f.t.socket, "vg0/lv0", { meta: ["base:"] });
    assert.equal(errorOf(await d.roundTrip({ type: CMD.BLOCK_STATUS, offset: 0, length: 4096 })), ERR.EINVAL);

    await f.lv.write(Buffer.alloc(10), 128 * 1024, false);
    const e = await RawClient.open(f.t.socket, "vg0/lv0", { meta: [BASE_ALLOCATION] });
    const bs = await e.roundTrip({ type: CMD.BLOCK_STATUS, offset: 0, length: 4 * MiB });
    assert.equal(bs.kind === "structured" && bs.type, REPLY_TYPE.BLOCK_STATUS);
    const status = decodeBlockStatusPayload((bs as { payload: Buffer }).payload);
    assert.deepEqual(status.extents.slice(0, 2), [
      { length: 128 * 1024, flags: STATE.HOLE | STATE.ZERO },
      { length: 64 * 1024, flags: 0 },
    ]);
    assert.equal(status.extents.reduce((n, x) => n + x.length, 0), 4 * MiB);
    const one = await e.roundTrip({ type: CMD.BLOCK_STATUS, flags: CMD_FLAG.REQ_ONE, offset: 4096, length: 8192 });
    assert.deepEqual(decodeBlockStatusPayload((one as { payload: Buffer }).payload).extents, [
      { length: 8192, flags: STATE.HOLE | STATE.ZERO },
    ]);
    await f.check();
  } finally {
    await f.done();
  }
});

test("options: oversized option data is skipped and refused, haggling goes on; a client vanishing mid-option harms nobody", async () => {
  const f = await fixture();
  try {
    const c = await RawClient.handshake(f.t.socket);
    const r = await c.option(OPT.INFO, Buffer.alloc(MiB));
    assert.deepEqual(r.map((x) => x.type), [REP.ERR_TOO_BIG]);
    expectAck(await c.option(OPT.GO, encodeInfoRequest({ name: "vg0/lv0", infos: [] })));
    assert.equal(errorOf(await c.roundTrip({ type: CMD.READ, offset: 0, length: 1 })), 0);

    const d = await RawClient.handshake(f.t.socket);
    const h = encodeOption(99);
    h.writeUInt32BE(0xffffffff, 12);
    d.write(h);
    d.write(Buffer.alloc(100_000));
    await f.check();
    d.close();
    await f.check();

    const e = await RawClient.handshake(f.t.socket);
    e.write(encodeOption(OPT.GO, encodeInfoRequest({ name: "vg0/lv0", infos: [] })).subarray(0, 20));
    e.close();
    await f.check();
  } finally {
    await f.done();
  }
});

test("options: ABORT is acknowledged; EXPORT_NAME pads unless no-zeroes and closes on an unknown name", async () => {
  const f = await fixture();
  try {
    const a = await RawClient.handshake(f.t.socket);
    assert.deepEqual((await a.option(OPT.ABORT, Buffer.from("ignored"))).map((x) => x.type), [REP.ACK]);
    assert.equal(await a.closedBy(), true);

    const b = await RawClient.handshake(f.t.socket);
    b.write(encodeOption(OPT.EXPORT_NAME, Buffer.from("vg0/nope")));
    assert.equal(await b.closedBy(), true);

    for (const [flags, length] of [
      [CLIENT_FLAG.FIXED_NEWSTYLE | CLIENT_FLAG.NO_ZEROES, 10],
      [CLIENT_FLAG.FIXED_NEWSTYLE, 134],
      [0, 134],
    ] as const) {
      const c = await RawClient.handshake(f.t.socket, flags);
      c.write(encodeOption(OPT.EXPORT_NAME, Buffer.from("vg0/ro")));
      const reply = await c.read(length);
      assert.equal(Number(reply.readBigUInt64BE(0)), MiB);
      assert.equal(reply.readUInt16BE(8) & TX.READ_ONLY, TX.READ_ONLY);
      assert.ok(reply.subarray(10).every((x) => x === 0));
      // Transmission starts right after: the next bytes are a reply, not padding.
      const r = await c.roundTrip({ type: CMD.READ, offset: 0, length: 16 });
      assert.equal(errorOf(r), 0);
      assert.equal(r.kind === "simple" && r.data?.length, 16);
    }
    await f.check();
  } finally {
    await f.done();
  }
});

test("requests out of range, unaligned, unknown or with bad flags get the spec's errors and the connection stays usable", async () => {
  const f = await fixture();
  try {
    for (const structured of [false, true]) {
      const c = await RawClient.open(f.t.socket, "vg0/small", { structured });
      const size = 4 * MiB;
      const cases: [string, Parameters<RawClient["send"]>[0], Uint8Array | undefined, number][] = [
        ["read past the end", { type: CMD.READ, offset: size, length: 512 }, undefined, ERR.EINVAL],
        ["read straddling the end", { type: CMD.READ, offset: size - 512, length: 1024 }, undefined, ERR.EINVAL],
        ["read wrapping past 2^64", { type: CMD.READ, offset: 2 ** 64 - 4096, length: 8192 }, undefined, ERR.EINVAL],
        ["write past the end", { type: CMD.WRITE, offset: size - 512 }, Buffer.alloc(1024, 1), ERR.ENOSPC],
        ["write wrapping past 2^64", { type: CMD.WRITE, offset: 2 ** 64 - 4096 }, Buffer.alloc(8192, 1), ERR.ENOSPC],
        ["zero past the end", { type: CMD.WRITE_ZEROES, offset: size, length: 512 }, undefined, ERR.ENOSPC],
        ["trim past the end", { type: CMD.TRIM, offset: size - 512, length: 1024 }, undefined, ERR.EINVAL],
        ["cache past the end", { type: CMD.CACHE, offset: size, length: 512 }, undefined, ERR.EINVAL],
        ["unaligned read", { type: CMD.READ, offset: 100, length: 512 }, undefined, ERR.EINVAL],
        ["unaligned write", { type: CMD.WRITE, offset: 512 }, Buffer.alloc(100, 1), ERR.EINVAL],
        ["read of length 0", { type: CMD.READ, offset: 0, length: 0 }, undefined, ERR.EINVAL],
        ["unknown command", { type: 99, offset: 0, length: 512 }, undefined, ERR.EINVAL],
        ["RESIZE", { type: CMD.RESIZE, offset: 0, length: 512 }, undefined, ERR.EINVAL],
        ["unknown flag", { type: CMD.READ, flags: 0x8000, offset: 0, length: 512 }, undefined, ERR.EINVAL],
        ["NO_HOLE on a write", { type: CMD.WRITE, flags: CMD_FLAG.NO_HOLE, offset: 0 }, Buffer.alloc(512, 1), ERR.EINVAL],
        ["FAST_ZERO on a trim", { type: CMD.TRIM, flags: CMD_FLAG.FAST_ZERO, offset: 0, length: 512 }, undefined, ERR.EINVAL],
        ["REQ_ONE on a read", { type: CMD.READ, flags: CMD_FLAG.REQ_ONE, offset: 0, length: 512 }, undefined, ERR.EINVAL],
        ["block status without a context", { type: CMD.BLOCK_STATUS, offset: 0, length: 512 }, undefined, ERR.EINVAL],
        ["write over the max payload", { type: CMD.WRITE, offset: 0 }, Buffer.alloc(2 * MiB, 1), ERR.EINVAL],
        ["read over the max payload", { type: CMD.READ, offset: 0, length: 2 * MiB }, undefined, structured ? ERR.EOVERFLOW : ERR.EINVAL],
      ];
      if (!structured) cases.push(["DF without structured replies", { type: CMD.READ, flags: CMD_FLAG.DF, offset: 0, length: 512 }, undefined, ERR.EINVAL]);
      for (const [what, req, payload, errno] of cases) {
        const r = await c.roundTrip(req, payload);
        assert.equal(r.kind, structured ? "structured" : "simple", what);
        assert.equal(errorOf(r), errno, `${what} (structured: ${structured})`);
        if (r.kind === "structured") {
          assert.equal(r.flags & REPLY_FLAG_DONE, REPLY_FLAG_DONE);
          assert.ok(decodeErrorPayload(r.payload).message.length > 0);
        }
        // The stream is still in sync: the next request gets its own, correct reply.
        const ok = await c.roundTrip({ type: CMD.READ, flags: CMD_FLAG.FUA, offset: 512, length: 512 });
        assert.equal(errorOf(ok), 0, `after ${what}`);
      }
      assert.equal(errorOf(await c.roundTrip({ type: CMD.FLUSH, offset: 4096, length: 512 })), 0, "FLUSH ignores its range");
      const df = await c.roundTrip({ type: CMD.READ, flags: structured ? CMD_FLAG.DF : 0, offset: 0, length: 65536 });
      assert.equal(dataOf(df, 0).length, 65536);
      assert.equal(f.small.calls.some((x) => x.op === "write"), false, "no refused write reached the export");
    }
    await f.check();
  } finally {
    await f.done();
  }
});

test("read-only exports refuse every kind of write with EPERM, consuming write payloads", async () => {
  const f = await fixture();
  try {
    const c = await RawClient.open(f.t.socket, "vg0/ro");
    assert.equal(c.flags & TX.READ_ONLY, TX.READ_ONLY);
    assert.equal(c.flags & (TX.SEND_TRIM | TX.SEND_WRITE_ZEROES), 0);
    for (const [req, payload] of [
      [{ type: CMD.WRITE, offset: 0 }, Buffer.alloc(64 * 1024, 7)],
      [{ type: CMD.TRIM, offset: 0, length: 4096 }, undefined],
      [{ type: CMD.WRITE_ZEROES, offset: 0, length: 4096 }, undefined],
    ] as const) {
      assert.equal(errorOf(await c.roundTrip(req, payload)), ERR.EPERM);
      assert.equal(errorOf(await c.roundTrip({ type: CMD.READ, offset: 0, length: 16 })), 0);
    }
    assert.equal(f.ro.pages.size, 0);
    await f.check();
  } finally {
    await f.done();
  }
});

test("a write payload over 32 MiB, bad request magic and disconnects mid-header or mid-payload cut only that client off", async () => {
  const f = await fixture();
  try {
    const a = await RawClient.open(f.t.socket, "vg0/lv0");
    a.write(encodeRequest({ type: CMD.WRITE, flags: 0, cookie: 1n, offset: 0, length: 32 * MiB + 1 }));
    assert.equal(await a.closedBy(), true);
    await f.check();

    const b = await RawClient.open(f.t.socket, "vg0/lv0");
    const bad = encodeRequest({ type: CMD.READ, flags: 0, cookie: 1n, offset: 0, length: 512 });
    bad[0] = 0;
    b.write(bad);
    assert.equal(await b.closedBy(), true);
    await f.check();

    const c = await RawClient.open(f.t.socket, "vg0/lv0");
    c.write(encodeRequest({ type: CMD.READ, flags: 0, cookie: 1n, offset: 0, length: 512 }).subarray(0, 10));
    c.close();
    await f.check();

    const d = await RawClient.open(f.t.socket, "vg0/lv0");
    d.write(encodeRequest({ type: CMD.WRITE, flags: 0, cookie: 1n, offset: 2 * MiB, length: MiB }));
    d.write(Buffer.alloc(100_000, 0xee));
    await new Promise((r) => setTimeout(r, 50));
    d.close();
    await d.closed;
    await f.check();
    assert.equal(f.lv.calls.some((x) => x.op === "write" && x.offset === 2 * MiB), false, "a half-received write is never applied");
    const s = f.t.server;
    assert.equal(s.openCount("vg0/lv0"), 1, "only the well-behaved client is left");
  } finally {
    await f.done();
  }
});

test("requests are pipelined and answered in completion order, each with its own cookie, duplicates included", async () => {
  const f = await fixture();
  try {
    const c = await RawClient.open(f.t.socket, "vg0/lv0");
    const data = randomBytes(8192, 7);
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    f.lv.gate = async (op, offset) => {
      if (op === "read" && offset === 0) await slow;
    };
    const first = c.send({ type: CMD.READ, offset: 0, length: 4096 });
    const second = c.send({ type: CMD.WRITE, offset: 8192 }, data);
    const third = c.send({ type: CMD.READ, offset: 8192, length: 8192, cookie: 77n });
    const fourth = c.send({ type: CMD.READ, offset: 8192, length: 8192, cookie: 77n });
    const early = [await c.reply(), await c.reply(), await c.reply()];
    assert.deepEqual(
      early.map((r) => r.cookie).sort(),
      [second, third, fourth].sort(),
    );
    assert.equal(third, fourth);
    release();
    const last = await c.reply();
    assert.equal(last.cookie, first);
    assert.deepEqual(dataOf(last, 0), Buffer.alloc(4096));
    await f.check();
  } finally {
    await f.done();
  }
});

test("backpressure: no more than maxInFlight requests or maxInFlightBytes reach the export; the rest wait, unread", async () => {
  const f = await fixture({ maxInFlight: 4, maxInFlightBytes: MiB });
  try {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    f.lv.gate = async (op) => {
      if (op === "read") await gate;
    };
    const c = await RawClient.open(f.t.socket, "vg0/lv0");
    const cookies = Array.from({ length: 50 }, (_, i) => c.send({ type: CMD.READ, offset: i * 4096, length: 4096 }));
    await until(() => f.lv.active === 4, "four reads in flight");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(f.lv.active, 4, "and no more");
    open();
    const got = [];
    for (let i = 0; i < 50; i++) got.push((await c.reply()).cookie);
    assert.deepEqual(got.sort((a, b) => Number(a - b)), cookies);
    assert.equal(f.lv.maxActive, 4);

    f.lv.maxActive = 0;
    let open2!: () => void;
    const gate2 = new Promise<void>((r) => (open2 = r));
    f.lv.gate = async (op) => {
      if (op === "read") await gate2;
    };
    for (let i = 0; i < 6; i++) c.send({ type: CMD.READ, offset: 0, length: 512 * 1024 });
    await until(() => f.lv.active === 2, "two reads in flight");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(f.lv.active, 2, "two 512 KiB reads fill the 1 MiB budget");
    open2();
    for (let i = 0; i < 6; i++) assert.equal(errorOf(await c.reply()), 0);
    await f.check();
  } finally {
    await f.done();
  }
});

test("DISC: requests already sent are answered before the server closes", async () => {
  const f = await fixture();
  try {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    f.lv.gate = async (op) => {
      if (op === "write") await slow;
    };
    const c = await RawClient.open(f.t.socket, "vg0/lv0");
    const w = c.send({ type: CMD.WRITE, offset: 0 }, Buffer.alloc(4096, 3));
    c.send({ type: CMD.DISC });
    await until(() => f.lv.active === 1, "the write in flight");
    await new Promise((r) => setTimeout(r, 50));
    release();
    const r = await c.reply();
    assert.equal(r.cookie, w);
    assert.equal(errorOf(r), 0);
    assert.equal(await c.closedBy(), true);
    assert.equal(f.lv.snapshot(0, 1)[0], 3);
  } finally {
    await f.done();
  }
});

test("export errors become NBD errors on that request only; FAST_ZERO and NO_HOLE reach the export", async () => {
  const f = await fixture();
  try {
    const c = await RawClient.open(f.t.socket, "vg0/lv0");
    f.lv.gate = async (op, offset) => {
      if (offset === 4096 && op === "read") throw Object.assign(new Error("disk on fire"), { code: "EIO" });
      if (offset === 4096 && op === "write") throw Object.assign(new Error("quota"), { code: "EDQUOT" });
      if (offset === 4096 && op === "trim") throw new NbdError(ERR.ESHUTDOWN, "going away");
      if (offset === 4096 && op === "cache") throw new Error("no code at all");
    };
    const r = await c.roundTrip({ type: CMD.READ, offset: 4096, length: 512 });
    assert.equal(errorOf(r), ERR.EIO);
    assert.match(decodeErrorPayload((r as { payload: Buffer }).payload).message, /disk on fire/);
    assert.equal(errorOf(await c.roundTrip({ type: CMD.WRITE, offset: 4096 }, Buffer.alloc(512))), ERR.ENOSPC);
    assert.equal(errorOf(await c.roundTrip({ type: CMD.TRIM, offset: 4096, length: 512 })), ERR.ESHUTDOWN);
    assert.equal(errorOf(await c.roundTrip({ type: CMD.CACHE, offset: 4096, length: 512 })), ERR.EIO);

    f.lv.fastZero = false;
    assert.equal(errorOf(await c.roundTrip({ type: CMD.WRITE_ZEROES, flags: CMD_FLAG.FAST_ZERO, offset: 0, length: 4096 })), ERR.ENOTSUP);
    assert.equal(errorOf(await c.roundTrip({ type: CMD.WRITE_ZEROES, flags: CMD_FLAG.NO_HOLE | CMD_FLAG.FUA, offset: 0, length: 4096 })), 0);
    const zeroes = f.lv.calls.filter((x) => x.op === "zero").map((x) => x.opts);
    assert.deepEqual(zeroes, [
      { fua: false, mayTrim: true, fast: true },
      { fua: true, mayTrim: false, fast: false },
    ]);
    assert.ok(f.lv.pages.has(0), "NO_HOLE allocated the range");
    await f.check();
  } finally {
    await f.done();
  }
});

test("close() answers in-flight requests, refuses new ones with ESHUTDOWN, flushes, then disconnects", async () => {
  const f = await fixture();
  let release!: () => void;
  const slow = new Promise<void>((r) => (release = r));
  f.lv.gate = async (op) => {
    if (op === "write") await slow;
  };
  try {
    await closeWhileBusy(f, release);
  } finally {
    release();
    await f.t.stop();
  }
});

async function closeWhileBusy(f: Fixture, release: () => void): Promise<void> {
  const c = await RawClient.open(f.t.socket, "vg0/lv0");
  const w = c.send({ type: CMD.WRITE, offset: 0 }, Buffer.alloc(4096, 9));
  await until(() => f.lv.active === 1, "the write in flight");
  let closed = false;
  const closing = f.t.server.close(5000).then(() => (closed = true));
  const late = c.send({ type: CMD.READ, offset: 0, length: 512 });
  const refused = await c.reply();
  assert.equal(refused.cookie, late);
  assert.equal(errorOf(refused), ERR.ESHUTDOWN);
  assert.equal(closed, false, "close waits for the write in flight");
  release();
  const done = await c.reply();
  assert.equal(done.cookie, w);
  assert.equal(errorOf(done), 0);
  await closing;
  assert.equal(await c.closedBy(), true);
  const ops = f.lv.calls.map((x) => x.op);
  assert.equal(ops.lastIndexOf("flush") > ops.lastIndexOf("write"), true, "flushed after the last write");
  assert.deepEqual(await RawClient.connect(f.t.socket).then(() => "connected", (e: NodeJS.ErrnoException) => e.code), "ENOENT");
}

test("a client that never finishes the handshake is cut off; one in transmission is not", async () => {
  const f = await fixture({ handshakeTimeoutMs: 200 });
  try {
    const idle = await RawClient.connect(f.t.socket);
    await idle.read(18);
    const open = await RawClient.open(f.t.socket, "vg0/lv0");
    assert.equal(await idle.closedBy(1000), true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(errorOf(await open.roundTrip({ type: CMD.READ, offset: 0, length: 1 })), 0);
    assert.ok(f.t.events.some((e) => e.type === "violation" && e.reason === "handshake timed out"));
    await f.check();
  } finally {
    await f.done();
  }
});
