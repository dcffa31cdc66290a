import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryDevice, memoryDeviceAccess } from "../../../src/io/memory-device.ts";
import { FaultPlan, FaultyDevice } from "../../../src/io/faulty-device.ts";
import { openBlockDevice, splitDevT } from "../../../src/io/file-device.ts";
import { systemDeviceAccess } from "../../../src/io/device-access.ts";

function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-io-"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test("a memory device reads back what was written, at any offset", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(700), async (data, at) => {
      const dev = new MemoryDevice("/m", 1024);
      const offset = Math.min(at, 1024 - data.length);
      await dev.write(data, offset);
      const back = new Uint8Array(data.length);
      await dev.read(back, offset);
      assert.deepEqual(back, data);
      assert.equal(dev.data.subarray(0, offset).some((b) => b !== 0), false);
    }),
  );
});

test("I/O past the end of a device is refused, not shortened", async () => {
  const dev = new MemoryDevice("/m", 1024);
  await assert.rejects(dev.read(new Uint8Array(2), 1023), RangeError);
  await assert.rejects(dev.write(new Uint8Array(1), -1), RangeError);
  await assert.rejects(dev.write(new Uint8Array(1), 1024), RangeError);
});

test("a file device does positional I/O, reports the file size and refuses writes when read-only", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "img");
    writeFileSync(path, new Uint8Array(64 * 1024));
    const dev = await openBlockDevice(path, { writable: true });
    assert.equal(dev.size, 64 * 1024);
    const data = new Uint8Array(5000).map((_, i) => (i * 7) % 251);
    // Concurrent requests must not interfere: each carries its own position.
    await Promise.all([dev.write(data, 100), dev.write(data, 30000)]);
    await dev.flush();
    const back = new Uint8Array(5000);
    await dev.read(back, 30000);
    assert.deepEqual(back, data);
    await assert.rejects(dev.write(new Uint8Array(10), 64 * 1024 - 5), RangeError);
    await dev.close();
    const onDisk = readFileSync(path);
    assert.deepEqual(new Uint8Array(onDisk.subarray(100, 5100)), data);
    assert.equal(onDisk.length, 64 * 1024);

    const ro = await openBlockDevice(path, { writable: false });
    await assert.rejects(ro.write(new Uint8Array(1), 0));
    await ro.close();
    mkdirSync(join(dir, "d"));
    await assert.rejects(openBlockDevice(join(dir, "d"), { writable: false }), /not a block device or regular file/);
  });
});

test("a file device reports a file shrunk under it as a short read, and close waits for I/O in flight", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "img");
    writeFileSync(path, new Uint8Array(64 * 1024).fill(7));
    const dev = await openBlockDevice(path, { writable: true });
    truncateSync(path, 1000);
    const buf = new Uint8Array(4096);
    // The first read returns 1000 bytes, the next none: an error, never a partial success.
    await assert.rejects(dev.read(buf, 0), /unexpected end of device at 1000/);
    assert.equal(buf[999], 7);
    await dev.read(buf.subarray(0, 1000), 0);
    await dev.read(new Uint8Array(0), 0);

    const data = new Uint8Array(16 * 1024).fill(3);
    const writes = [dev.write(data, 0), dev.write(data, 48 * 1024)];
    const flushed = dev.flush();
    const closed = dev.close();
    await assert.rejects(dev.read(new Uint8Array(1), 0), (e: NodeJS.ErrnoException) => e.code === "EBADF");
    await assert.rejects(dev.flush(), (e: NodeJS.ErrnoException) => e.code === "EBADF");
    await Promise.all([...writes, flushed, closed]);
    await dev.close();
    const onDisk = readFileSync(path);
    assert.equal(onDisk.length, 64 * 1024);
    assert.equal(onDisk[64 * 1024 - 1], 3);
  });
});

test("dev_t numbers split as glibc does", () => {
  assert.deepEqual(splitDevT(0x0701n), { major: 7, minor: 1 });
  // glibc's makedev: 12 low bits of the major at bit 8, the rest at bit 32; minor bytes around them.
  const makedev = (major: bigint, minor: bigint): bigint =>
    ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
  fc.assert(
    fc.property(fc.nat(0xffffffff), fc.nat(0xffffffff), (major, minor) => {
      assert.deepEqual(splitDevT(makedev(BigInt(major), BigInt(minor))), { major, minor });
    }),
  );
});

test("a block device's size comes from sysfs", async (t) => {
  let dev;
  try {
    dev = await openBlockDevice("/dev/loop0", { writable: false });
  } catch {
    return t.skip("no readable /dev/loop0");
  }
  const sectors = Number(readFileSync("/sys/class/block/loop0/size", "utf8"));
  assert.equal(dev.size, sectors * 512);
  await dev.close();
});

test("a faulty device fails exactly the chosen write, counted across the devices sharing a plan", async () => {
  const plan = new FaultPlan();
  plan.failWriteAt = 3;
  const a = new FaultyDevice(new MemoryDevice("/a", 1024), plan);
  const b = new FaultyDevice(new MemoryDevice("/b", 1024), plan);
  await a.write(Uint8Array.of(1), 0);
  await b.write(Uint8Array.of(2), 0);
  await assert.rejects(a.write(Uint8Array.of(3), 1), (e: NodeJS.ErrnoException) => e.code === "EIO");
  await b.write(Uint8Array.of(4), 1);
  assert.equal(plan.writes, 4);
  assert.deepEqual(plan.log.map((w) => w.path), ["/a", "/b", "/b"]);
  assert.equal((a.inner as MemoryDevice).data[1], 0);
  assert.equal((b.inner as MemoryDevice).data[1], 4);
});

test("a torn write leaves only its prefix, and a crash fails every later write", async () => {
  const plan = new FaultPlan();
  plan.failWriteAt = 1;
  plan.tearBytes = 3;
  plan.crash = true;
  const inner = new MemoryDevice("/a", 64);
  const dev = new FaultyDevice(inner, plan);
  await assert.rejects(dev.write(new Uint8Array(8).fill(9), 4));
  assert.deepEqual([...inner.data.subarray(0, 12)], [0, 0, 0, 0, 9, 9, 9, 0, 0, 0, 0, 0]);
  await assert.rejects(dev.write(Uint8Array.of(1), 0));
  assert.equal(inner.data[0], 0);
  // Reads still work after a crash of the writer: the next process sees the device.
  const back = new Uint8Array(3);
  await dev.read(back, 4);
  assert.deepEqual([...back], [9, 9, 9]);
});

test("failing reads, delays and a vanished device", async () => {
  const plan = new FaultPlan();
  const dev = new FaultyDevice(new MemoryDevice("/a", 64), plan);
  plan.failReads = true;
  await assert.rejects(dev.read(new Uint8Array(1), 0), (e: NodeJS.ErrnoException) => e.code === "EIO");
  plan.failReads = false;
  plan.delayMs = 30;
  const started = Date.now();
  await dev.read(new Uint8Array(1), 0);
  assert.ok(Date.now() - started >= 25);
  plan.delayMs = 0;
  dev.vanish();
  await assert.rejects(dev.read(new Uint8Array(1), 0), (e: NodeJS.ErrnoException) => e.code === "ENODEV");
  await assert.rejects(dev.flush(), (e: NodeJS.ErrnoException) => e.code === "ENODEV");
});

test("memory device access opens only its own devices, by name", async () => {
  const a = new MemoryDevice("/dev/a", 16);
  const access = memoryDeviceAccess([a]);
  assert.equal(await access.open("/dev/a", true), a);
  await assert.rejects(access.open("/dev/b", false), (e: NodeJS.ErrnoException) => e.code === "ENOENT");
  assert.equal(access.canonical("/dev/b"), undefined);
  assert.deepEqual(await access.deviceId("/dev/a"), { idType: "devname", idName: "/dev/a" });
  assert.deepEqual(await access.listDevices(), ["/dev/a"]);
});

test("a regular file is identified by its path, as ulvm records files in the devices file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "img");
    writeFileSync(path, new Uint8Array(16));
    assert.deepEqual(await systemDeviceAccess.deviceId(path), { idType: "devname", idName: path });
    assert.equal(systemDeviceAccess.canonical(join(dir, ".", "img")), path);
    assert.equal(systemDeviceAccess.canonical(join(dir, "nothing")), undefined);
  });
});
