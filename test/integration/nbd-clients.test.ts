/**
 * The server against the real NBD clients: libnbd's nbdinfo, nbdcopy and nbdsh,
 * qemu-img and qemu-io, and fio's nbd engine. Each client negotiates its own way
 * (structured replies, meta contexts, block sizes, multi-conn) and checks what
 * it gets; the tests then check the bytes on the export or its backing file.
 */
import { runAsync } from "../helpers/runs.ts";
import type { RunResult } from "../helpers/env.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { openBlockDevice } from "../../src/io/file-device.ts";
import { blockDeviceExport } from "../../src/nbd/export.ts";
import { STATE } from "../../src/nbd/protocol.ts";
import { PAGE, SparseMemoryExport, randomBytes, startServer, type TestServer } from "../unit/nbd/helpers.ts";
import { NBDSH_EXPECT } from "../helpers/nbdsh.ts";

const MiB = 1024 * 1024;

function missing(...tools: string[]): string | false {
  const absent = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  return absent.length ? `not installed: ${absent.join(", ")}` : false;
}


async function ok(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await runAsync(cmd, args, env);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function opens(t: TestServer, name: string): number {
  return t.events.filter((e) => e.type === "open" && e.export === name).length;
}

/** Random data with a zero run in the middle, so copies exercise the sparse paths. */
function sourceImage(dir: string, size: number): { path: string; data: Buffer } {
  const data = randomBytes(size, 42);
  data.fill(0, size / 4, size / 4 + 4 * MiB);
  const path = join(dir, "src.img");
  writeFileSync(path, data);
  return { path, data };
}

async function fileExport(dir: string, name: string, size: number) {
  const path = join(dir, `${name.replace("/", "-")}.img`);
  writeFileSync(path, "");
  truncateSync(path, size);
  const dev = await openBlockDevice(path, { writable: true });
  return { path, dev, exp: blockDeviceExport(dev, { name }) };
}

test("nbdinfo lists every export with its size, flags, block sizes and context, and maps allocation", { skip: missing("nbdinfo") }, async () => {
  const lv = new SparseMemoryExport("vg0/lv0", 16 * MiB, { description: "linear LV" });
  const ro = new SparseMemoryExport("vg0/ro", 3 * MiB, { readOnly: true, canMultiConn: false });
  const sized = new SparseMemoryExport("vg1/sized", 8 * MiB, { blockSizes: { min: 512, preferred: 65536, max: 4 * MiB } });
  const t = await startServer([lv, ro, sized]);
  try {
    const list = JSON.parse(await ok("nbdinfo", ["--list", "--json", t.uri("")]));
    assert.equal(list.protocol, "newstyle-fixed");
    assert.equal(list.structured, true);
    const byName = new Map<string, Record<string, unknown>>(list.exports.map((e: Record<string, unknown>) => [e["export-name"], e]));
    assert.deepEqual([...byName.keys()].sort(), ["vg0/lv0", "vg0/ro", "vg1/sized"]);
    const pick = (name: string, keys: string[]) => Object.fromEntries(keys.map((k) => [k, byName.get(name)![k]]));
    const keys = ["export-size", "is_read_only", "can_multi_conn", "can_flush", "can_fua", "can_trim", "can_zero", "can_fast_zero", "can_cache", "can_df"];
    assert.deepEqual(pick("vg0/lv0", keys), {
      "export-size": 16 * MiB,
      is_read_only: false,
      can_multi_conn: true,
      can_flush: true,
      can_fua: true,
      can_trim: true,
      can_zero: true,
      can_fast_zero: true,
      can_cache: true,
      can_df: true,
    });
    assert.deepEqual(pick("vg0/ro", ["export-size", "is_read_only", "can_multi_conn", "can_trim", "can_zero"]), {
      "export-size": 3 * MiB,
      is_read_only: true,
      can_multi_conn: false,
      can_trim: false,
      can_zero: false,
    });
    assert.equal(byName.get("vg0/lv0")!.description, "linear LV");
    assert.deepEqual(byName.get("vg0/lv0")!.contexts, ["base:allocation"]);
    assert.deepEqual(pick("vg0/lv0", ["block_size_minimum", "block_size_preferred", "block_size_maximum"]), {
      block_size_minimum: 1,
      block_size_preferred: 4096,
      block_size_maximum: 32 * MiB,
    });
    assert.deepEqual(pick("vg1/sized", ["block_size_minimum", "block_size_preferred", "block_size_maximum"]), {
      block_size_minimum: 512,
      block_size_preferred: 65536,
      block_size_maximum: 4 * MiB,
    });

    assert.equal((await ok("nbdinfo", ["--size", t.uri("vg1/sized")])).trim(), String(8 * MiB));
    assert.equal((await runAsync("nbdinfo", ["--size", t.uri("vg0/none")])).code !== 0, true, "an unknown export is refused");

    await lv.write(randomBytes(3 * PAGE, 1), 2 * MiB, false);
    await lv.write(randomBytes(10, 2), 15 * MiB + 5, false);
    const map = JSON.parse(await ok("nbdinfo", ["--map", "--json", t.uri("vg0/lv0")]));
    const hz = STATE.HOLE | STATE.ZERO;
    assert.deepEqual(
      map.map((e: { offset: number; length: number; type: number }) => [e.offset, e.length, e.type]),
      [
        [0, 2 * MiB, hz],
        [2 * MiB, 3 * PAGE, 0],
        [2 * MiB + 3 * PAGE, 13 * MiB - 3 * PAGE, hz],
        [15 * MiB, PAGE, 0],
        [15 * MiB + PAGE, MiB - PAGE, hz],
      ],
    );
  } finally {
    await t.stop();
  }
});

test("nbdcopy round-trips random data through a sparse export over several connections", { skip: missing("nbdcopy"), timeout: 300_000 }, async () => {
  const size = 48 * MiB;
  const lv = new SparseMemoryExport("vg0/copy", size);
  const t = await startServer([lv]);
  try {
    const src = sourceImage(t.dir, size);
    const uri = t.uri("vg0/copy");
    await ok("nbdcopy", ["--connections=4", "--threads=4", "--flush", src.path, uri]);
    assert.ok(opens(t, "vg0/copy") >= 4, `nbdcopy used ${opens(t, "vg0/copy")} connections`);
    assert.ok(lv.snapshot().equals(src.data), "the export holds the source");
    assert.ok(lv.calls.some((c) => c.op === "flush"));
    assert.ok(lv.calls.some((c) => c.op === "zero"), "the zero run was written as WRITE_ZEROES");
    assert.ok(!lv.pages.has(size / 4 / PAGE + 1), "and left as a hole");

    const back = join(t.dir, "back.img");
    await ok("nbdcopy", ["--connections=4", "--threads=4", uri, back]);
    assert.ok(readFileSync(back).equals(src.data), "copied back unchanged");
    assert.ok(lv.calls.some((c) => c.op === "status"), "nbdcopy asked for the allocation map");
  } finally {
    await t.stop();
  }
});

test("qemu-img converts onto and compares against a file-backed export, and the file holds the bytes", { skip: missing("qemu-img"), timeout: 300_000 }, async () => {
  const size = 40 * MiB;
  const t = await startServer([]);
  const target = await fileExport(t.dir, "vg0/file", size);
  t.registry.add(target.exp);
  try {
    const src = sourceImage(t.dir, size);
    const uri = t.uri("vg0/file");
    await ok("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", src.path, uri]);
    assert.match(await ok("qemu-img", ["compare", "-f", "raw", "-F", "raw", src.path, uri]), /Images are identical/);
    assert.ok(readFileSync(target.path).equals(src.data), "the backing file holds the source");

    const other = Buffer.from(src.data);
    other[size - 1] ^= 1;
    writeFileSync(src.path, other);
    const differ = await runAsync("qemu-img", ["compare", "-f", "raw", "-F", "raw", src.path, uri]);
    assert.equal(differ.code, 1, "compare notices a one-bit difference");

    const out = join(t.dir, "out.img");
    await ok("qemu-img", ["convert", "-f", "raw", "-O", "raw", uri, out]);
    assert.ok(readFileSync(out).equals(src.data));
  } finally {
    await t.stop();
    await target.dev.close();
  }
});

test("qemu-io: pipelined writes and reads, FUA, discard, write-zeroes with and without unmap; qemu-img maps the holes", { skip: missing("qemu-io", "qemu-img"), timeout: 120_000 }, async () => {
  const lv = new SparseMemoryExport("vg0/io", 8 * MiB);
  // A little latency on writes, so that qemu's asynchronous requests overlap in the server.
  lv.gate = (op) => (op === "write" ? new Promise((r) => setTimeout(r, 50)) : Promise.resolve());
  const t = await startServer([lv]);
  try {
    await lv.write(Buffer.alloc(2 * PAGE, 0x55), 2 * MiB, false);
    await lv.write(Buffer.alloc(2 * PAGE, 0x66), 4 * MiB, false);
    const commands = [
      "aio_write -P 0x11 0 256k",
      "aio_write -P 0x22 256k 256k",
      "aio_write -P 0x33 1M 4k",
      "aio_flush",
      "aio_read -P 0x11 0 256k",
      "aio_read -P 0x22 256k 256k",
      "aio_read -P 0x33 1M 4k",
      "aio_flush",
      "discard 2M 128k",
      "write -z 3M 64k",
      "write -z -u 4M 128k",
      "read -P 0 4M 128k",
      "write -f -P 0x44 5M 4k",
    ];
    // Writeback caching: FUA only where a command asks for it (write -f), not on every write.
    const out = await ok("qemu-io", ["-f", "raw", "-t", "writeback", t.uri("vg0/io"), ...commands.flatMap((c) => ["-c", c])]);
    assert.doesNotMatch(out, /fail|error/i, out);
    assert.ok(lv.maxActive >= 2, `requests never overlapped`);
    const snap = lv.snapshot();
    assert.ok(snap.subarray(0, 256 * 1024).every((b) => b === 0x11));
    assert.ok(snap.subarray(256 * 1024, 512 * 1024).every((b) => b === 0x22));
    assert.ok(snap.subarray(MiB, MiB + 4096).every((b) => b === 0x33));
    assert.ok(snap.subarray(5 * MiB, 5 * MiB + 4096).every((b) => b === 0x44));
    assert.ok(!lv.pages.has((2 * MiB) / PAGE) && !lv.pages.has((4 * MiB) / PAGE), "discard and unmapping zeroes punched holes");
    assert.ok(lv.pages.has((3 * MiB) / PAGE), "zeroes without unmap stay allocated");
    const op = (o: string, offset: number) => lv.calls.find((c) => c.op === o && c.offset === offset);
    assert.equal(op("trim", 2 * MiB)?.length, 128 * 1024);
    assert.equal(op("zero", 3 * MiB)?.opts?.mayTrim, false);
    assert.equal(op("zero", 4 * MiB)?.opts?.mayTrim, true);
    assert.equal(op("write", 5 * MiB)?.fua, true);
    assert.equal(op("write", 0)?.fua, false);

    const map = JSON.parse(await ok("qemu-img", ["map", "--output=json", "-f", "raw", t.uri("vg0/io")]));
    const at = (offset: number) => map.find((e: { start: number; length: number }) => e.start <= offset && offset < e.start + e.length);
    assert.deepEqual([at(0).data, at(0).zero], [true, false]);
    assert.deepEqual([at(2 * MiB).data, at(2 * MiB).zero], [false, true], "the discarded range is a hole");
    assert.deepEqual([at(7 * MiB).data, at(7 * MiB).zero], [false, true]);
    assert.ok(lv.calls.some((c) => c.op === "status"), "qemu-img map used BLOCK_STATUS");
  } finally {
    await t.stop();
  }
});

test("fio's nbd engine: random writes of 4 KiB to 1 MiB at iodepth 32 on three connections, verified", { skip: missing("fio"), timeout: 300_000 }, async () => {
  const jobs = 3;
  const perJob = 32 * MiB;
  const t = await startServer([]);
  const target = await fileExport(t.dir, "vg0/fio", jobs * perJob);
  t.registry.add(target.exp);
  try {
    const out = await ok("fio", [
      "--name=verify",
      "--ioengine=nbd",
      `--uri=${t.uri("vg0/fio")}`,
      "--rw=randwrite",
      "--bsrange=4k-1m",
      "--iodepth=32",
      `--numjobs=${jobs}`,
      `--size=${perJob}`,
      `--offset_increment=${perJob}`,
      "--verify=crc32c",
      "--do_verify=1",
      "--verify_fatal=1",
      "--group_reporting",
      "--output-format=json",
    ]);
    const job = JSON.parse(out.slice(out.indexOf("{"))).jobs[0];
    assert.equal(job.error, 0);
    assert.equal(job.write.io_bytes, jobs * perJob, "every byte was written once");
    assert.equal(job.read.io_bytes, jobs * perJob, "and read back for verification");
    assert.ok(opens(t, "vg0/fio") >= jobs, `fio opened ${opens(t, "vg0/fio")} connections`);
    assert.ok(readFileSync(target.path).some((b) => b !== 0), "the data reached the backing file");
  } finally {
    await t.stop();
    await target.dev.close();
  }
});

test("nbdsh (libnbd): FAST_ZERO refusal, CACHE, and server-side range errors with strict mode off", { skip: missing("nbdsh") }, async () => {
  const lv = new SparseMemoryExport("vg0/sh", 4 * MiB);
  lv.fastZero = false;
  const t = await startServer([lv]);
  try {
    const script = `${NBDSH_EXPECT}
assert h.can_fast_zero() and h.can_cache() and h.can_multi_conn() and h.can_meta_context("base:allocation")
h.pwrite(b"x" * 4096, 0)
expect("ENOTSUP", h.zero, 4096, 0, nbd.CMD_FLAG_FAST_ZERO)
assert h.pread(4096, 0) == b"x" * 4096
h.cache(4096, 8192)
h.set_strict_mode(0)
size = h.get_size()
expect("EINVAL", h.pread, 512, size)
expect("ENOSPC", h.pwrite, b"y" * 512, size - 256)
expect("EINVAL", h.trim, 512, size)
expect("EINVAL", h.pread, 0, 0)
assert h.pread(1, size - 1) == b"\\0"
print("all passed")
`;
    // nbdsh runs "python3", which must be the system one that has the nbd module.
    const env = { ...process.env, PATH: `/usr/bin:${process.env.PATH}` };
    assert.match(await ok("nbdsh", ["--base-allocation", "-u", t.uri("vg0/sh"), "-c", script], env), /all passed/);
    assert.deepEqual(lv.calls.find((c) => c.op === "zero")?.opts, { fua: false, mayTrim: true, fast: true });
    assert.deepEqual(lv.calls.find((c) => c.op === "cache"), { op: "cache", offset: 8192, length: 4096 });
  } finally {
    await t.stop();
  }
});
