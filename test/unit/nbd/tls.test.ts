/**
 * TLS policy without sockets: the psktool key file, the configuration rules
 * (which mirror nbdkit's), and the spec's STARTTLS rules in option haggling.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { ExportMap, type NbdExport } from "../../../src/nbd/export.ts";
import { negotiateOption, newNegotiation, type NegotiationContext, type TlsMode } from "../../../src/nbd/negotiate.ts";
import { OPT, REP, decodeOptionReplyHeader, encodeInfoRequest } from "../../../src/nbd/protocol.ts";
import { loadTls, parsePskFile } from "../../../src/nbd/tls.ts";

const noop = async () => {};
const SECRET = "vg0/secret";
const exp: NbdExport = { name: SECRET, size: 1 << 20, readOnly: false, canMultiConn: true, read: noop, write: noop, flush: noop };

function ctx(tls: TlsMode, secure: boolean): NegotiationContext {
  const registry = new ExportMap();
  registry.add(exp);
  return { registry, shuttingDown: false, tls, secure };
}

const types = (replies: Buffer[]) => replies.map((r) => decodeOptionReplyHeader(r).type);

const user = fc.stringMatching(/^[A-Za-z0-9_.@-]{1,16}$/);
const key = fc.uint8Array({ minLength: 1, maxLength: 64 });

test("psktool key files round-trip through parsePskFile, whatever the hex case and line endings", () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(user, key), { minLength: 1, maxLength: 8, selector: ([u]) => u }), fc.boolean(), fc.boolean(), (entries, upper, crlf) => {
      const text = entries
        .map(([u, k]) => {
          const hex = Buffer.from(k).toString("hex");
          return `${u}:${upper ? hex.toUpperCase() : hex}${crlf ? "\r" : ""}`;
        })
        .join("\n");
      const parsed = parsePskFile(`${text}\n\n`);
      assert.deepEqual([...parsed.keys()], entries.map(([u]) => u));
      for (const [u, k] of entries) assert.deepEqual(parsed.get(u), Buffer.from(k));
    }),
  );
});

test("broken PSK files are refused with the line at fault", () => {
  const good = "alice:00ff";
  for (const [bad, why] of [
    ["alice", /line 2 is not "username:hexkey"/],
    [":00ff", /line 2/],
    ["bob:0g", /line 2/],
    ["bob:abc", /line 2/],
    ["bob:", /line 2/],
    [good, /user "alice" appears twice/],
  ] as const)
    assert.throws(() => parsePskFile(`${good}\n${bad}\n`, "keys.psk"), (e: Error) => e.message.startsWith("keys.psk: ") && why.test(e.message));
  assert.throws(() => parsePskFile("\n\n"), /no keys/);
});

test("TLS configuration: credentials imply require, off needs none, and contradictions are refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-tls-"));
  try {
    const psk = join(dir, "keys.psk");
    writeFileSync(psk, "alice:0123456789abcdef\n");
    assert.equal(await loadTls({}), undefined);
    assert.equal(await loadTls({ mode: "off", psk }), undefined, "--tls=off wins over credentials, as in nbdkit");
    assert.equal((await loadTls({ psk }))?.mode, "require");
    const on = await loadTls({ mode: "on", psk });
    assert.equal(on?.mode, "on");
    assert.deepEqual(on?.options.pskCallback?.(null as never, "alice"), Buffer.from("0123456789abcdef", "hex"));
    assert.equal(on?.options.pskCallback?.(null as never, "mallory"), null, "unknown identities fail the handshake");
    await assert.rejects(loadTls({ mode: "require" }), /exactly one of --tls-certificates and --tls-psk/);
    await assert.rejects(loadTls({ psk, certificates: dir }), /exactly one/);
    await assert.rejects(loadTls({ psk, verifyPeer: true }), /--tls-verify-peer needs --tls-certificates/);
    await assert.rejects(loadTls({ certificates: dir }), /server-cert\.pem/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const anyOption = fc.oneof(
  fc.constantFrom(OPT.LIST, OPT.INFO, OPT.GO, OPT.STRUCTURED_REPLY, OPT.LIST_META_CONTEXT, OPT.SET_META_CONTEXT),
  fc.integer({ min: 11, max: 0xffff }),
);
const optionData = fc.oneof(fc.constant(encodeInfoRequest({ name: SECRET, infos: [] })), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)));

test("require mode before TLS: every option but STARTTLS and ABORT gets only ERR_TLS_REQD, leaking nothing", () => {
  fc.assert(
    fc.property(anyOption, optionData, fc.boolean(), (option, data, oversized) => {
      const state = newNegotiation(true);
      const out = negotiateOption(state, option, oversized ? null : data, ctx("require", false));
      assert.equal(out.next, "haggle");
      assert.deepEqual(types(out.replies), [REP.ERR_TLS_REQD]);
      assert.ok(!Buffer.concat(out.replies).includes(SECRET), "no export name before TLS");
      assert.deepEqual(state, newNegotiation(true), "nothing negotiated");
    }),
  );
  const byName = negotiateOption(newNegotiation(true), OPT.EXPORT_NAME, Buffer.from(SECRET), ctx("require", false));
  assert.deepEqual([byName.next, byName.replies.length], ["close", 0], "EXPORT_NAME cannot fail, so the session ends");
  assert.equal(negotiateOption(newNegotiation(true), OPT.ABORT, Buffer.alloc(0), ctx("require", false)).next, "close");
});

test("no ERR_TLS_REQD once TLS is up, nor ever in on or off mode", () => {
  fc.assert(
    fc.property(anyOption, optionData, fc.constantFrom<[TlsMode, boolean]>(["require", true], ["on", true], ["on", false], ["off", false]), (option, data, [mode, secure]) => {
      const out = negotiateOption(newNegotiation(true), option, data, ctx(mode, secure));
      assert.ok(!types(out.replies).includes(REP.ERR_TLS_REQD));
    }),
  );
  const go = negotiateOption(newNegotiation(true), OPT.GO, encodeInfoRequest({ name: SECRET, infos: [] }), ctx("require", true));
  assert.equal(go.next, "transmit");
});

test("STARTTLS: ACK and upgrade when configured, ERR_POLICY when off, ERR_INVALID with data or twice", () => {
  const starttls = (mode: TlsMode, secure: boolean, data = Buffer.alloc(0)) => {
    const out = negotiateOption(newNegotiation(false), OPT.STARTTLS, data, ctx(mode, secure));
    return [out.next, types(out.replies)];
  };
  assert.deepEqual(starttls("on", false), ["starttls", [REP.ACK]]);
  assert.deepEqual(starttls("require", false), ["starttls", [REP.ACK]]);
  assert.deepEqual(starttls("off", false), ["haggle", [REP.ERR_POLICY]]);
  assert.deepEqual(starttls("require", true), ["haggle", [REP.ERR_INVALID]]);
  assert.deepEqual(starttls("on", true), ["haggle", [REP.ERR_INVALID]]);
  assert.deepEqual(starttls("require", false, Buffer.from("x")), ["haggle", [REP.ERR_INVALID]]);
});
