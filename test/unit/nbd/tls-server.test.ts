/**
 * STARTTLS on a live server with a hand-written client: the raw client speaks
 * plain NBD up to the ACK, then Node's TLS client (PSK) takes over the same
 * socket, the way libnbd and qemu do it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { CMD, INFO, OPT, REP, encodeInfoRequest, encodeMetaContextRequest, encodeOption, BASE_ALLOCATION } from "../../../src/nbd/protocol.ts";
import { loadTls, type TlsMode } from "../../../src/nbd/tls.ts";
import { RawClient, expectAck } from "./raw-client.ts";
import { SparseMemoryExport, randomBytes, startServer, until, type TestServer } from "./helpers.ts";

const KEY = randomBytes(32, 7);
const NAME = "vg0/lv0";

async function tlsServer(mode: TlsMode): Promise<{ t: TestServer; exp: SparseMemoryExport }> {
  const exp = new SparseMemoryExport(NAME, 4 << 20);
  const dir = mkdtempSync(join(tmpdir(), "ulvm-tls-"));
  try {
    const psk = join(dir, "keys.psk");
    writeFileSync(psk, `alice:${KEY.toString("hex")}\n`);
    return { t: await startServer([exp], { tls: await loadTls({ mode, psk }) }), exp };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RawClient's constructor is private to keep tests on its handshake helpers; here the socket is a TLSSocket. */
const overSocket = RawClient as unknown as new (s: Socket) => RawClient;

/** Sends STARTTLS and runs the client side of the TLS handshake with `key`. */
async function startTls(c: RawClient, key: Buffer): Promise<RawClient> {
  expectAck(await c.option(OPT.STARTTLS));
  const secure = tlsConnect({
    socket: c.socket,
    pskCallback: () => ({ identity: "alice", psk: key }),
    // PSK authenticates the server; there is no certificate to check.
    checkServerIdentity: () => undefined,
  });
  await new Promise<void>((resolve, reject) => {
    secure.once("secureConnect", resolve);
    secure.once("error", reject);
  });
  return new overSocket(secure);
}

async function roundTrip(c: RawClient, exp: SparseMemoryExport): Promise<void> {
  const data = randomBytes(3 * 65536 + 17, 11);
  const w = await c.roundTrip({ type: CMD.WRITE, offset: 4096 }, data);
  assert.deepEqual([w.kind, w.kind === "simple" && w.error], ["simple", 0]);
  const r = await c.roundTrip({ type: CMD.READ, offset: 4096, length: data.length });
  // A data chunk starts with its 8-byte offset.
  const got = r.kind === "structured" ? r.payload.subarray(8) : r.data;
  assert.deepEqual(got, data);
  assert.deepEqual(exp.snapshot(4096, data.length), data);
}

test("require mode: GO, LIST and EXPORT_NAME before STARTTLS are refused; after it everything works over TLS", async () => {
  const { t, exp } = await tlsServer("require");
  try {
    const c = await RawClient.handshake(t.socket);
    for (const [opt, data] of [
      [OPT.GO, encodeInfoRequest({ name: NAME, infos: [INFO.BLOCK_SIZE] })],
      [OPT.INFO, encodeInfoRequest({ name: NAME, infos: [] })],
      [OPT.LIST, undefined],
      [OPT.STRUCTURED_REPLY, undefined],
      [99, Buffer.from("unknown")],
    ] as const) {
      const r = await c.option(opt, data);
      assert.deepEqual(r.map((x) => x.type), [REP.ERR_TLS_REQD], `option ${opt}`);
    }
    const s = await startTls(c, KEY);
    expectAck(await s.option(OPT.STRUCTURED_REPLY));
    const list = await s.option(OPT.LIST);
    expectAck(list);
    assert.equal(list.filter((r) => r.type === REP.SERVER).length, 1);
    expectAck(await s.option(OPT.GO, encodeInfoRequest({ name: NAME, infos: [] })));
    await roundTrip(s, exp);
    s.close();

    const byName = await RawClient.handshake(t.socket);
    byName.write(encodeOption(OPT.EXPORT_NAME, Buffer.from(NAME)));
    assert.equal(await byName.closedBy(), true, "EXPORT_NAME without TLS ends the session with nothing sent");
    assert.equal(t.server.openCount(NAME), 0);
  } finally {
    await t.stop();
  }
});

test("on mode: a plain client keeps working, and STARTTLS restarts haggling from scratch", async () => {
  const { t, exp } = await tlsServer("on");
  try {
    const plain = await RawClient.open(t.socket, NAME);
    await roundTrip(plain, exp);
    plain.close();

    const c = await RawClient.handshake(t.socket);
    expectAck(await c.option(OPT.STRUCTURED_REPLY));
    const s = await startTls(c, KEY);
    const meta = encodeMetaContextRequest({ name: NAME, queries: [BASE_ALLOCATION] });
    assert.deepEqual((await s.option(OPT.SET_META_CONTEXT, meta)).map((r) => r.type), [REP.ERR_INVALID], "structured replies were forgotten");
    assert.deepEqual((await s.option(OPT.STARTTLS)).map((r) => r.type), [REP.ERR_INVALID], "no second STARTTLS");
    expectAck(await s.option(OPT.STRUCTURED_REPLY));
    expectAck(await s.option(OPT.GO, encodeInfoRequest({ name: NAME, infos: [] })));
    await roundTrip(s, exp);
    s.close();
  } finally {
    await t.stop();
  }
});

test("a wrong key fails the handshake and closes that connection only; bytes sent before the ACK end the session", async () => {
  const { t, exp } = await tlsServer("require");
  try {
    const c = await RawClient.handshake(t.socket);
    await assert.rejects(startTls(c, randomBytes(32, 8)));
    await until(() => t.events.some((e) => e.type === "violation" && e.reason.startsWith("TLS handshake failed")), "the handshake failure logged");

    const eager = await RawClient.handshake(t.socket);
    eager.write(Buffer.concat([encodeOption(OPT.STARTTLS), Buffer.from("not a ClientHello")]));
    await eager.closed;
    assert.ok(t.events.some((e) => e.type === "violation" && e.reason === "data sent after NBD_OPT_STARTTLS before its reply"));

    const s = await startTls(await RawClient.handshake(t.socket), KEY);
    expectAck(await s.option(OPT.GO, encodeInfoRequest({ name: NAME, infos: [] })));
    await roundTrip(s, exp);
    s.close();
  } finally {
    await t.stop();
  }
});
