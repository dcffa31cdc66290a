import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryDevice } from "../../../src/io/memory-device.ts";
import { ExportMap, FastZeroUnsupportedError, NbdError, blockDeviceExport, nbdErrno } from "../../../src/nbd/export.ts";
import { ERR } from "../../../src/nbd/protocol.ts";
import { SparseMemoryExport } from "./helpers.ts";

test("the registry refuses exports the server could not advertise truthfully, and duplicate names", () => {
  const reg = new ExportMap();
  const bad: [string, ConstructorParameters<typeof SparseMemoryExport>][] = [
    ["minimum not a power of 2", ["a", 4096, { blockSizes: { min: 3, preferred: 4096, max: 65536 } }]],
    ["minimum over 64 KiB", ["a", 2 ** 20, { blockSizes: { min: 2 ** 17, preferred: 2 ** 17, max: 2 ** 20 } }]],
    ["preferred below 512", ["a", 4096, { blockSizes: { min: 1, preferred: 256, max: 65536 } }]],
    ["maximum below preferred", ["a", 4096, { blockSizes: { min: 1, preferred: 4096, max: 1024 } }]],
    ["size not a multiple of the minimum", ["a", 1000, { blockSizes: { min: 512, preferred: 4096, max: 65536 } }]],
    ["name with NUL", ["a\0b", 4096, {}]],
    ["name over 4096 bytes", ["x".repeat(4097), 4096, {}]],
    ["fractional size", ["a", 10.5, {}]],
  ];
  for (const [why, args] of bad) assert.throws(() => reg.add(new SparseMemoryExport(...args)), Error, why);
  reg.add(new SparseMemoryExport("vg0/lv0", 4096, { blockSizes: { min: 512, preferred: 4096, max: 65536 } }));
  assert.throws(() => reg.add(new SparseMemoryExport("vg0/lv0", 4096)), /already exists/);
  assert.deepEqual([...reg.list()].map((e) => e.name), ["vg0/lv0"]);
  assert.equal(reg.remove("vg0/lv0"), true);
  assert.equal(reg.get("vg0/lv0"), undefined);
});

test("export errors map to the NBD error values the spec allows, nothing else reaches the wire", () => {
  const coded = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(nbdErrno(new NbdError(ERR.ESHUTDOWN, "x")), ERR.ESHUTDOWN);
  assert.equal(nbdErrno(new FastZeroUnsupportedError()), ERR.ENOTSUP);
  assert.deepEqual(
    ["EROFS", "EACCES", "EPERM", "ENOSPC", "EDQUOT", "EFBIG", "EINVAL", "EIO", "ENOMEM", "EOVERFLOW", "ENOTSUP", "EBADF"].map((c) => nbdErrno(coded(c))),
    [ERR.EPERM, ERR.EPERM, ERR.EPERM, ERR.ENOSPC, ERR.ENOSPC, ERR.ENOSPC, ERR.EINVAL, ERR.EIO, ERR.EIO, ERR.EIO, ERR.EIO, ERR.EIO],
  );
  assert.equal(nbdErrno("a string"), ERR.EIO);
  assert.equal(nbdErrno(null), ERR.EIO);
});

test("a BlockDevice export writes through, and makes FUA writes durable before they complete", async () => {
  const dev = new MemoryDevice("/m", 8192);
  const log: string[] = [];
  const flush = dev.flush.bind(dev);
  dev.flush = async () => {
    log.push("flush");
    await flush();
  };
  assert.equal(blockDeviceExport(dev, { name: "ro", readOnly: true }).readOnly, true);
  const e = blockDeviceExport(dev, { name: "m", description: "d" });
  assert.deepEqual([e.name, e.size, e.readOnly, e.description, e.canMultiConn], ["m", 8192, false, "d", true]);
  await e.write(Buffer.from("abc"), 10, false);
  assert.deepEqual(log, []);
  await e.write(Buffer.from("def"), 13, true);
  assert.deepEqual(log, ["flush"]);
  const back = Buffer.alloc(6);
  await e.read(back, 10);
  assert.equal(back.toString(), "abcdef");
  await e.flush();
  assert.deepEqual(log, ["flush", "flush"]);
});
