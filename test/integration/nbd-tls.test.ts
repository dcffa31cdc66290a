/**
 * NBD over TLS with libnbd's own clients: x509 certificates made here with
 * openssl (nbdkit's directory layout, client certificates checked), PSK keys in
 * psktool's format over the unix socket, both modes, and `ulvm daemon`'s options.
 */
import { runAsync } from "../helpers/runs.ts";
import type { RunResult } from "../helpers/env.ts";
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTls, type TlsConfig } from "../../src/nbd/tls.ts";
import { SparseMemoryExport, randomBytes, startServer, type TestServer } from "../unit/nbd/helpers.ts";
import { makeEnv, repoRoot } from "../helpers/env.ts";

const MiB = 1024 * 1024;
const NAME = "vg0/lv0";
const absent = ["nbdinfo", "nbdcopy", "openssl"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
const skip = absent.length ? `not installed: ${absent.join(", ")}` : false;

const dir = mkdtempSync(join(tmpdir(), "ulvm-nbd-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));


async function ok(cmd: string, args: string[]): Promise<string> {
  const r = await runAsync(cmd, args, process.env, 120_000);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A CA, a server certificate for localhost signed by it, and a client certificate: nbdkit's and libnbd's file names. */
function makeCertificates(): { server: string; client: string; anonymous: string } {
  const pki = join(dir, "pki");
  const server = join(dir, "server");
  const client = join(dir, "client");
  const anonymous = join(dir, "anonymous");
  for (const d of [pki, server, client, anonymous]) mkdirSync(d);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: pki, stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem", "-days", "2", "-subj", "/CN=ulvm test CA");
  const sign = (name: string, subject: string, ext: string) => {
    writeFileSync(join(pki, `${name}.ext`), ext);
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", subject);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", `${name}-cert.pem`, "-days", "2", "-extfile", `${name}.ext`);
  };
  sign("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  sign("client", "/CN=alice", "extendedKeyUsage=clientAuth\n");
  for (const f of ["ca-cert.pem", "server-cert.pem", "server-key.pem"]) copyFileSync(join(pki, f), join(server, f));
  for (const f of ["ca-cert.pem", "client-cert.pem", "client-key.pem"]) copyFileSync(join(pki, f), join(client, f));
  copyFileSync(join(pki, "ca-cert.pem"), join(anonymous, "ca-cert.pem"));
  return { server, client, anonymous };
}

function pskFile(name: string, user: string, seed: number): string {
  const path = join(dir, name);
  writeFileSync(path, `${user}:${randomBytes(32, seed).toString("hex")}\n`);
  return path;
}

async function tlsServer(config: TlsConfig, tcp = false): Promise<{ t: TestServer; exp: SparseMemoryExport }> {
  const exp = new SparseMemoryExport(NAME, 8 * MiB);
  return { t: await startServer([exp], { tls: await loadTls(config), ...(tcp ? { tcp: { port: 0 } } : {}) }), exp };
}

const unixUri = (t: TestServer, scheme: "nbd" | "nbds", query = "") => `${scheme}+unix://alice@/${NAME}?socket=${t.socket}${query}`;

/** nbdcopy writes a random image to the export and reads it back: a full round trip through TLS. */
async function copyRoundTrip(uri: string, exp: SparseMemoryExport): Promise<void> {
  const data = randomBytes(exp.size, 5);
  data.fill(0, MiB, 3 * MiB);
  const src = join(dir, "src.img");
  const back = join(dir, "back.img");
  writeFileSync(src, data);
  await ok("nbdcopy", [src, uri]);
  assert.ok(exp.snapshot().equals(data), "the export holds what was copied in");
  await ok("nbdcopy", [uri, back]);
  assert.ok(readFileSync(back).equals(data), "what comes back is what went in");
}

test("PSK over the unix socket: nbdcopy and nbdinfo with nbds+unix://; a wrong key or plain NBD gets nowhere", { skip }, async () => {
  const psk = pskFile("server.psk", "alice", 1);
  const { t, exp } = await tlsServer({ psk });
  try {
    const info = JSON.parse(await ok("nbdinfo", ["--json", unixUri(t, "nbds", `&tls-psk-file=${psk}`)]));
    assert.equal(info.TLS, true);
    assert.equal(info.exports[0]["export-size"], exp.size);
    await copyRoundTrip(unixUri(t, "nbds", `&tls-psk-file=${psk}`), exp);
    const opens = () => t.events.filter((e) => e.type === "open").length;
    const opened = opens();

    const wrong = await runAsync("nbdinfo", [unixUri(t, "nbds", `&tls-psk-file=${pskFile("wrong.psk", "alice", 2)}`)]);
    assert.notEqual(wrong.code, 0);
    const stranger = await runAsync("nbdinfo", [unixUri(t, "nbds", `&tls-psk-file=${pskFile("bob.psk", "bob", 1)}`).replace("alice@", "bob@")]);
    assert.notEqual(stranger.code, 0, "an identity the server does not know");
    // libnbd reports ERR_TLS_REQD as ENOTSUP; its debug log shows the server's reason.
    const plain = await runAsync("nbdinfo", [unixUri(t, "nbd")], { ...process.env, LIBNBD_DEBUG: "1" });
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /nbd_opt_go: handshake: server error message: TLS is required/);
    assert.equal(opens(), opened, "none of them reached transmission");
  } finally {
    await t.stop();
  }
});

test("x509 over TCP with client certificates: nbds:// with the CA's certificates works, without a client certificate it does not", { skip }, async () => {
  const certs = makeCertificates();
  const { t, exp } = await tlsServer({ mode: "require", certificates: certs.server, verifyPeer: true }, true);
  try {
    const port = t.server.tcpAddress!.port;
    const uri = (certDir: string) => `nbds://localhost:${port}/${NAME}?tls-certificates=${certDir}`;
    await copyRoundTrip(uri(certs.client), exp);
    const info = JSON.parse(await ok("nbdinfo", ["--json", uri(certs.client)]));
    assert.equal(info.TLS, true);
    const anonymous = await runAsync("nbdinfo", [uri(certs.anonymous)]);
    assert.notEqual(anonymous.code, 0, "the server demands a client certificate");
    assert.ok(t.events.some((e) => e.type === "violation" && e.reason.startsWith("TLS handshake failed")));
  } finally {
    await t.stop();
  }
});

test("on mode: plain and TLS clients side by side", { skip }, async () => {
  const psk = pskFile("on.psk", "alice", 3);
  const { t, exp } = await tlsServer({ mode: "on", psk });
  try {
    const plain = JSON.parse(await ok("nbdinfo", ["--json", unixUri(t, "nbd")]));
    const secure = JSON.parse(await ok("nbdinfo", ["--json", unixUri(t, "nbds", `&tls-psk-file=${psk}`)]));
    assert.deepEqual([plain.TLS, secure.TLS], [false, true]);
    await copyRoundTrip(unixUri(t, "nbd"), exp);
  } finally {
    await t.stop();
  }
});

test("ulvm daemon --tls-psk serves its NBD socket with TLS required; bad TLS options are refused", { skip }, async () => {
  const env = makeEnv();
  try {
    const psk = pskFile("daemon.psk", "alice", 4);
    const bad = env.ulvm(["daemon", "--tls", "maybe"]);
    assert.deepEqual([bad.code, bad.stderr.split("\n")[0]], [3, "  Invalid argument for --tls: maybe"]);
    const none = env.ulvm(["daemon", "--tls=require"]);
    assert.deepEqual([none.code, none.stderr], [5, "  TLS needs exactly one of --tls-certificates and --tls-psk.\n"]);

    const daemon = spawn(join(repoRoot, "bin", "ulvm"), ["daemon", "--tls-psk", psk], { env: { ...process.env, ...env.vars }, stdio: ["ignore", "ignore", "pipe"] });
    const log: string[] = [];
    daemon.stderr.on("data", (d) => log.push(String(d)));
    const exited = new Promise<number | null>((r) => daemon.once("exit", (code) => r(code)));
    try {
      for (let i = 0; i < 200 && !log.join("").includes("ulvm daemon ready"); i++) await new Promise((r) => setTimeout(r, 50));
      const ready = log.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.msg === "ulvm daemon ready");
      assert.equal(ready?.tls, "require");
      const socket = join(env.vars.ULVM_RUN_DIR!, "nbd.sock");
      const list = JSON.parse(await ok("nbdinfo", ["--list", "--json", `nbds+unix://alice@/?socket=${socket}&tls-psk-file=${psk}`]));
      assert.equal(list.TLS, true);
      const plain = await runAsync("nbdinfo", ["--list", `nbd+unix:///?socket=${socket}`]);
      assert.notEqual(plain.code, 0);
    } finally {
      daemon.kill("SIGINT");
    }
    assert.equal(await exited, 0);
  } finally {
    env.cleanup();
  }
});
