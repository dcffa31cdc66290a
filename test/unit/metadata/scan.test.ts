import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryDevice } from "../../../src/io/memory-device.ts";
import { scanDevices, TextCache } from "../../../src/metadata/scan.ts";
import { createVg, machine, memoryDevices, MiB } from "./helpers.ts";

test("equal copies on several PVs share one parse; a rescan reuses unchanged slots", async () => {
  const devs = memoryDevices(4) as MemoryDevice[];
  const m = machine(devs);
  try {
    await createVg(m);
    const texts = new TextCache(() => {});
    const state = await scanDevices(devs.map((dev) => ({ path: dev.path, dev })), texts, () => {});
    const copies = state.devices.flatMap((d) => d.mdas.map((x) => x.copy));
    assert.equal(copies.length, 4);
    assert.ok(copies.every((c) => c === copies[0]), "one model for four identical texts");
    assert.equal(state.vgs.size, 1);
    assert.equal([...state.vgs.values()][0]!.copies.length, 4);

    const again = await scanDevices(devs.map((dev) => ({ path: dev.path, dev })), new TextCache(() => {}), () => {}, state);
    assert.ok(again.devices.every((d) => d.mdas[0]!.copy === copies[0]), "the previous scan's copy is reused");
  } finally {
    m.cleanup();
  }
});

test("devices too small to be PVs and devices that cannot be read are passed over silently", async () => {
  const tiny = new MemoryDevice("/dev/tiny", MiB);
  const broken = new MemoryDevice("/dev/broken", 16 * MiB);
  broken.read = async () => {
    throw Object.assign(new Error("EIO"), { code: "EIO" });
  };
  const warnings: string[] = [];
  const state = await scanDevices(
    [tiny, broken].map((dev) => ({ path: dev.path, dev })),
    new TextCache(() => {}),
    (l) => warnings.push(l),
  );
  assert.deepEqual(state.devices, []);
  assert.deepEqual(warnings, []);
});

test("a text that cannot be read is reported like a bad one and its PV still counts", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  const m = machine(devs);
  try {
    const vg = await createVg(m);
    const dev = devs[0]!;
    const read = dev.read.bind(dev);
    dev.read = async (buf, offset) => {
      if (offset >= 4096 + 512 && offset < MiB) throw Object.assign(new Error("EIO"), { code: "EIO" });
      return read(buf, offset);
    };
    const warnings: string[] = [];
    const state = await scanDevices(devs.map((d) => ({ path: d.path, dev: d })), new TextCache(() => {}), (l) => warnings.push(l));
    assert.deepEqual(warnings, [
      "WARNING: invalid metadata text from /dev/mem0 at 4608.",
      "WARNING: metadata on /dev/mem0 at 4608 has invalid summary for VG.",
      "WARNING: bad metadata text on /dev/mem0 in mda1",
      "WARNING: scanning /dev/mem0 mda1 failed to read metadata summary.",
      "WARNING: repair VG metadata on /dev/mem0 with vgck --updatemetadata.",
      `WARNING: scan failed to get metadata summary from /dev/mem0 PVID ${vg.pvs[0]!.id}`,
    ]);
    assert.equal(state.memberOf.get(vg.pvs[0]!.id), vg.id);
  } finally {
    m.cleanup();
  }
});
