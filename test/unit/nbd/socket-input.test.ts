/**
 * Reading an accepted socket into buffers of our choosing: every byte arrives,
 * in order, in the buffer handed out for that read; pause() holds reads back;
 * 'end' still comes; and a socket that cannot take it is left as it was.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readIntoBuffers } from "../../../src/nbd/socket-input.ts";
import { randomBytes } from "./helpers.ts";

/** A unix-socket server; `onSocket` gets each accepted socket, the test gets the client side. */
async function pair(onSocket: (s: Socket) => void): Promise<{ client: Socket; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-sock-"));
  const path = join(dir, "s");
  const server = createServer({ allowHalfOpen: true }, onSocket);
  await new Promise<void>((r) => server.listen(path, r));
  const client = createConnection(path);
  await new Promise<void>((r) => client.once("connect", r));
  return {
    client,
    close() {
      client.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("bytes arrive in order in the buffers handed out, of the sizes asked for; pause holds reads back; end still comes", async () => {
  const sent = randomBytes(300_000, 7);
  const got: Buffer[] = [];
  const sizes = [1, 28, 4096, 65536, 100_000, 7];
  let turn = 0;
  let lent: Buffer | undefined;
  let readsWhilePaused = 0;
  let paused = false;
  let ended!: () => void;
  const end = new Promise<void>((r) => (ended = r));
  const p = await pair((s) => {
    const ok = readIntoBuffers(
      s,
      () => (lent = Buffer.alloc(sizes[turn++ % sizes.length]!)),
      (n, buf) => {
        assert.equal(buf, lent, "the buffer handed out for this read");
        assert.ok(n > 0 && n <= buf.length);
        if (paused) readsWhilePaused++;
        got.push(Buffer.from(buf.subarray(0, n)));
        if (got.length === 3) {
          paused = true;
          s.pause();
          setTimeout(() => {
            paused = false;
            s.resume();
          }, 50);
        }
      },
    );
    assert.equal(ok, true);
    assert.equal(readIntoBuffers(s, () => Buffer.alloc(1), () => {}), false, "a socket already reading into buffers is left alone");
    s.on("data", () => assert.fail("no 'data' events"));
    s.on("end", ended);
  });
  try {
    for (let at = 0; at < sent.length; at += 30_000) p.client.write(sent.subarray(at, at + 30_000));
    p.client.end();
    await end;
    assert.equal(readsWhilePaused, 0);
    assert.ok(Buffer.concat(got).equals(sent));
  } finally {
    p.close();
  }
});

test("a socket with bytes already buffered for 'data' is left as it was", async () => {
  let result: boolean | undefined;
  let data = "";
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const p = await pair((s) => {
    s.pause();
    s.once("readable", () => {
      result = readIntoBuffers(s, () => Buffer.alloc(8), () => assert.fail("no reads into buffers"));
      s.on("data", (b: Buffer) => (data += b.toString()));
      s.on("end", done);
      s.resume();
    });
  });
  try {
    p.client.end("hello");
    await finished;
    assert.equal(result, false);
    assert.equal(data, "hello");
  } finally {
    p.close();
  }
});
