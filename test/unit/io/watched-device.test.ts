import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, truncateSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBlockDevice } from "../../../src/io/file-device.ts";
import { watchBacking } from "../../../src/io/watched-device.ts";

async function watched(path: string) {
  const dev = await watchBacking(await openBlockDevice(path, { writable: true }));
  return dev as typeof dev & { check(): Promise<void> };
}

test("a watched image file fails every I/O once it shrinks or is replaced, and works until then", async () => {
  const dir = mkdtempSync(join(tmpdir(), "watched-"));
  try {
    const path = join(dir, "pv.img");
    writeFileSync(path, new Uint8Array(1 << 20));
    const dev = await watched(path);
    const buf = new Uint8Array(4096).fill(7);
    await dev.write(buf, 8192);
    await dev.check();
    await dev.read(buf, 8192);
    truncateSync(path, 4096);
    await dev.check();
    await assert.rejects(dev.read(buf, 0), /ENODEV: .* shrank to 4096 bytes/);
    await assert.rejects(dev.write(buf, 0), /ENODEV/);
    await dev.close();

    truncateSync(path, 1 << 20);
    const again = await watched(path);
    writeFileSync(join(dir, "other.img"), new Uint8Array(1 << 20));
    renameSync(join(dir, "other.img"), path);
    await again.check();
    await assert.rejects(again.flush(), /ENODEV: .* was replaced by another file/);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true });
  }
});
