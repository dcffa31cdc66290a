import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BufferPool } from "../../../src/nbd/buffer-pool.ts";
import { ExportMap } from "../../../src/nbd/export.ts";
import { CMD } from "../../../src/nbd/protocol.ts";
import { NbdServer } from "../../../src/nbd/server.ts";
import { RawClient } from "./raw-client.ts";
import { SparseMemoryExport } from "./helpers.ts";

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-nbd-srv-"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function registry(...names: string[]): ExportMap {
  const r = new ExportMap();
  for (const n of names) r.add(new SparseMemoryExport(n, 1 << 20));
  return r;
}

test("the unix socket is private to its owner, replaces a stale socket file, and never steals a live one", () =>
  withDir(async (dir) => {
    const path = join(dir, "nbd.sock");
    // A socket file left by a process that died without cleaning up.
    spawnSync(process.execPath, ["-e", "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", path]);
    assert.ok(statSync(path).isSocket());

    const a = new NbdServer({ registry: registry("x"), socketPath: path });
    await a.listen();
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const b = new NbdServer({ registry: registry("x"), socketPath: path });
      await assert.rejects(b.listen(), /another server is listening/);
      const c = await RawClient.open(path, "x");
      assert.equal((await c.roundTrip({ type: CMD.READ, offset: 0, length: 8 })).kind, "structured");
    } finally {
      await a.close();
    }

    writeFileSync(path, "not a socket");
    await assert.rejects(new NbdServer({ registry: registry("x"), socketPath: path }).listen(), /not a socket/);
  }));

test("TCP listens on loopback by default and serves like the unix socket; openCount follows the clients", () =>
  withDir(async (dir) => {
    const reg = registry("vg0/lv0", "vg0/lv1");
    const server = new NbdServer({ registry: reg, socketPath: join(dir, "nbd.sock"), tcp: { port: 0 } });
    await server.listen();
    try {
      const addr = server.tcpAddress!;
      assert.equal(addr.address, "127.0.0.1");
      const c = await RawClient.open({ host: "127.0.0.1", port: addr.port }, "vg0/lv0");
      const d = await RawClient.open(join(dir, "nbd.sock"), "vg0/lv0");
      assert.deepEqual([server.openCount("vg0/lv0"), server.openCount("vg0/lv1")], [2, 0]);
      assert.equal((await c.roundTrip({ type: CMD.WRITE, offset: 0 }, Buffer.from("hello"))).kind, "simple");
      const r = await d.roundTrip({ type: CMD.READ, offset: 0, length: 5 });
      assert.equal(r.kind === "structured" && r.payload.subarray(8).toString(), "hello");
      c.send({ type: CMD.DISC });
      await c.closed;
      // The client may see the close before the server has counted it.
      for (let i = 0; i < 100 && server.openCount("vg0/lv0") !== 1; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(server.openCount("vg0/lv0"), 1);
      reg.remove("vg0/lv0");
      const again = await d.roundTrip({ type: CMD.READ, offset: 0, length: 5 });
      assert.equal(again.kind, "structured", "removing an export keeps its clients");
    } finally {
      await server.close();
    }
  }));

test("the buffer pool reuses power-of-two buffers up to its limit and leaves small ones to Node", () => {
  const pool = new BufferPool(3 * 65536);
  const a = pool.get(65536);
  const b = pool.get(40000);
  assert.equal(a.view.length, 65536);
  assert.equal(b.view.length, 40000);
  assert.equal(b.backing!.length, 65536);
  pool.put(a.backing!);
  pool.put(b.backing!);
  const c = pool.get(50000);
  assert.ok(c.backing === a.backing || c.backing === b.backing, "a freed buffer of the class is reused");
  assert.equal(pool.get(100).backing, undefined);
  const big = [pool.get(65536), pool.get(65536), pool.get(65536), pool.get(65536)];
  for (const x of big) pool.put(x.backing!);
  const again = Array.from({ length: 5 }, () => pool.get(65536).backing);
  assert.equal(again.filter((x) => big.some((y) => y.backing === x)).length, 3, "no more than the limit was kept");
});

test("a pooled buffer is the smallest power of two that holds the request", () => {
  const pool = new BufferPool(0);
  fc.assert(
    fc.property(fc.integer({ min: 4096, max: 2 ** 21 }), (length) => {
      const size = pool.get(length).backing!.length;
      assert.ok(size >= length && size / 2 < length, `${length} got ${size}`);
      assert.equal(size & (size - 1), 0);
    }),
  );
});
