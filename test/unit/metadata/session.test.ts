import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { MemoryDevice } from "../../../src/io/memory-device.ts";
import type { BlockDevice } from "../../../src/io/block-device.ts";
import { decodeMdaHeader, metadataSpans, type MdaHeader } from "../../../src/core/format/mda.ts";
import { encodeLabelSector, scanLabel, PV_EXT_USED } from "../../../src/core/format/label.ts";
import { formatId } from "../../../src/core/format/id.ts";
import { lvmCrc } from "../../../src/core/crc.ts";
import { LvmError } from "../../../src/core/errors.ts";
import { parseVgText } from "../../../src/core/model/text.ts";
import { createVg, linearLv, machine, memoryDevices, MiB, newVg, pvFor, type Machine } from "./helpers.ts";

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/real/${name}`, import.meta.url)));

function header(dev: MemoryDevice, start = 4096): MdaHeader {
  return decodeMdaHeader(dev.data.subarray(start, start + 512), start, dev.path);
}

/** The committed text of an mda, NUL stripped. */
function committedText(dev: MemoryDevice, start = 4096): string {
  const h = header(dev, start);
  const parts = metadataSpans(h, h.committed).map((s) => dev.data.subarray(s.offset, s.offset + s.length));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  return new TextDecoder().decode(bytes.subarray(0, bytes.length - 1));
}

function labelOf(dev: MemoryDevice) {
  return scanLabel(dev.data.subarray(0, 2048), dev.path).label;
}

async function withMachine(devices: BlockDevice[], fn: (m: Machine) => Promise<void>, lockTimeoutMs?: number): Promise<void> {
  const m = machine(devices, { lockTimeoutMs });
  try {
    await fn(m);
  } finally {
    m.cleanup();
  }
}

async function addLv(m: Machine, name: string, pe: number, commandLine = "lvcreate"): Promise<void> {
  const s = await m.open({ commandLine });
  const loaded = s.readVg("vg0")!;
  loaded.vg.lvs.push(linearLv(name, `LV${name}`.padEnd(32, "x"), loaded.vg.pvs[0]!.id, pe, 1));
  await s.writeVg(loaded, loaded.vg);
  await s.close();
}

test("a written VG reads back, with LVM's descriptions, an archive before and a backup after each command", async () => {
  const devs = memoryDevices(2);
  await withMachine(devs, async (m) => {
    const written = await createVg(m);
    const s = await m.open({ commandLine: "lvcreate -n lv0 vg0" });
    assert.deepEqual(s.vgNames(), ["vg0"]);
    const loaded = s.readVg("vg0")!;
    assert.equal(loaded.vg.seqno, 1);
    assert.deepEqual(loaded.vg.pvs.map((p) => p.id), written.pvs.map((p) => p.id));
    assert.deepEqual([...loaded.devices.values()].map((d) => [d.device, d.used, d.vgName]), [
      ["/dev/mem0", true, "vg0"],
      ["/dev/mem1", true, "vg0"],
    ]);
    assert.deepEqual(s.orphans(), []);
    loaded.vg.lvs.push(linearLv("lv0", "LVidLVidLVidLVidLVidLVidLVidLVid", loaded.vg.pvs[0]!.id, 0, 2));
    await s.writeVg(loaded, loaded.vg);
    assert.equal(loaded.vg.seqno, 2, "the caller's model carries the written seqno");
    loaded.vg.lvs.push(linearLv("lv1", "LVidLVidLVidLVidLVidLVidLVidLVi2", loaded.vg.pvs[1]!.id, 0, 1));
    await s.writeVg(loaded, loaded.vg);
    await s.close();

    for (const dev of devs) {
      const text = committedText(dev as MemoryDevice);
      assert.match(text, /\ndescription = "Write\[2\] from lvcreate -n lv0 vg0\."\n/);
      assert.match(text, /^vg0 \{\nid = "VGidVG-/);
      assert.equal(parseVgText(text).vg.seqno, 3);
    }
    const archives = readdirSync(join(m.dir, "etc", "archive"));
    assert.deepEqual(archives, ["vg0_00000-1000.vg"], "one archive per command, of the version before it");
    const archived = readFileSync(join(m.dir, "etc", "archive", archives[0]!), "utf8");
    assert.match(archived, /description = "Created \*before\* executing 'lvcreate -n lv0 vg0'"/);
    assert.equal(parseVgText(archived).vg.seqno, 1);
    const backup = readFileSync(join(m.dir, "etc", "backup", "vg0"), "utf8");
    assert.match(backup, /description = "Created \*after\* executing 'lvcreate -n lv0 vg0'"/);
    assert.equal(parseVgText(backup).vg.seqno, 3);

    const again = await m.open();
    const read = again.readVg("vg0")!;
    assert.equal(read.vg.seqno, 3);
    assert.deepEqual(read.vg.lvs.map((l) => l.name), ["lv0", "lv1"]);
    // Every read hands out its own model: changing one must not change the next.
    read.vg.lvs.pop();
    assert.equal(again.readVg("vg0")!.vg.lvs.length, 2);
    await again.close();
    assert.deepEqual(m.warnings, []);
  });
});

test("the header and label bytes of a new VG are those LVM writes", async () => {
  const devs = memoryDevices(2);
  await withMachine(devs, async (m) => {
    await createVg(m);
    for (const dev of devs as MemoryDevice[]) {
      const h = header(dev);
      assert.deepEqual({ start: h.start, size: h.size }, { start: 4096, size: 0xff000 });
      assert.equal(h.committed.offset, 512, "the first copy goes right after the header");
      assert.deepEqual(h.precommitted, { offset: 0, size: 0, checksum: 0, flags: 0 });
      const text = dev.data.subarray(4096 + 512, 4096 + 512 + h.committed.size);
      assert.equal(h.committed.checksum, lvmCrc(text));
      assert.equal(text[text.length - 1], 0);
      assert.equal(labelOf(dev)!.extFlags, PV_EXT_USED);
      assert.equal(labelOf(dev)!.extVersion, 2);
    }
  });
});

test("vgrename writes the new name and moves the backup file", async () => {
  await withMachine(memoryDevices(1), async (m) => {
    await createVg(m);
    const s = await m.open({ commandLine: "vgrename vg0 vg1" });
    const loaded = s.readVg("vg0")!;
    await s.writeVg(loaded, { ...loaded.vg, name: "vg1" });
    assert.deepEqual(s.vgNames(), ["vg1"]);
    assert.equal(s.readVg("vg0"), undefined);
    await s.close();
    assert.deepEqual(readdirSync(join(m.dir, "etc", "backup")), ["vg1"]);
    assert.match(readdirSync(join(m.dir, "etc", "archive")).join(), /^vg0_00000-/);
  });
});

test("a real lvm2 PV head and its metadata text read as LVM reads them, its partner PV reported missing", async () => {
  const dev = new MemoryDevice("/dev/loop0", 4 * MiB);
  dev.data.set(fixture("pv0-head.bin"));
  const raw = fixture("vg0-raw.txt");
  dev.data.set(raw, 0x1000 + 0x1200);
  const orphan = new MemoryDevice("/dev/loop9", 4 * MiB);
  orphan.data.set(fixture("orphan-head.bin"));
  await withMachine([dev, orphan], async (m) => {
    const s = await m.open();
    assert.deepEqual(s.vgNames(), ["vg0"]);
    const loaded = s.readVg("vg0")!;
    assert.equal(loaded.vg.seqno, 4);
    assert.deepEqual(loaded.vg.lvs.map((l) => l.name), ["lin", "str", "r1", "r1_rimage_0", "r1_rmeta_0", "r1_rimage_1", "r1_rmeta_1"]);
    assert.deepEqual(m.warnings, [
      "WARNING: Couldn't find device with uuid 1gyKjF-71UU-zUBY-HMyG-HaCF-zPdx-AsyYMS.",
      "WARNING: VG vg0 is missing PV 1gyKjF-71UU-zUBY-HMyG-HaCF-zPdx-AsyYMS (last written to /dev/loop1).",
    ]);
    assert.deepEqual(loaded.vg.pvs.map((p) => p.flags), [[], ["MISSING"]]);
    const pv0 = loaded.devices.get("NhSdzcb7cdlCFbuhH6XzfIldVA4IM1tU")!;
    assert.deepEqual(
      { peStart: pv0.peStart, size: pv0.labelDeviceSize, used: pv0.used, mdas: pv0.mdas },
      { peStart: 1048576, size: 268435456, used: true, mdas: [{ start: 4096, size: 0xff000, ignored: false, free: 521472 - 2902 - ((521472 - 2902) % 512) }] },
    );
    assert.equal(loaded.devices.size, 1);
    assert.deepEqual(s.orphans().map((o) => [o.device, o.pvId, o.used, o.vgName]), [["/dev/loop9", "3RahaoYYPKojdPRlw0gNK3511x2bqAcI", false, undefined]]);
    assert.equal(s.findPv("/dev/loop0")?.vgName, "vg0");
    await s.close();
  });
});

test("pvcreate writes exactly what real pvcreate wrote, and touches nothing else", async () => {
  // The orphan fixture is a 256 MiB loop device; only its first 8 KiB were kept.
  const dev = new MemoryDevice("/dev/loop9", 256 * MiB);
  dev.data.fill(0xaa);
  await withMachine([dev], async (m) => {
    const s = await m.open();
    const id = await s.createPv("/dev/loop9", { pvId: "3RahaoYYPKojdPRlw0gNK3511x2bqAcI" });
    assert.equal(id, "3RahaoYYPKojdPRlw0gNK3511x2bqAcI");
    const real = fixture("orphan-head.bin");
    assert.deepEqual(dev.data.subarray(0, 0x800), real.subarray(0, 0x800));
    assert.deepEqual(dev.data.subarray(0x1000, 0x2000), real.subarray(0x1000, 0x2000));
    assert.ok(dev.data.subarray(0x800, 0x1000).every((b) => b === 0xaa));
    assert.ok(dev.data.subarray(0x2000, 0x3000).every((b) => b === 0xaa));
    assert.equal(s.findPv("/dev/loop9")?.pvId, id);
    assert.deepEqual(s.orphans().map((o) => o.device), ["/dev/loop9"]);

    await s.wipePv("/dev/loop9");
    assert.ok(dev.data.subarray(0x200, 0x400).every((b) => b === 0));
    assert.deepEqual(dev.data.subarray(0x1000, 0x2000), real.subarray(0x1000, 0x2000), "pvremove leaves the mda");
    assert.equal(s.findPv("/dev/loop9"), undefined);
    await assert.rejects(s.wipePv("/dev/loop9"), (e: unknown) => e instanceof LvmError && e.message === "No PV found on device /dev/loop9.");
    await s.close();
  });
});

test("pvcreate options: no zeroing, two mdas, label sector, bootloader area", async () => {
  const dev = new MemoryDevice("/dev/big", 64 * MiB);
  dev.data.fill(0xaa);
  await withMachine([dev], async (m) => {
    const s = await m.open();
    await s.createPv("/dev/big", { zero: false, pvMetadataCopies: 2, labelSector: 3, bootloaderAreaSize: MiB });
    assert.ok(dev.data.subarray(0, 0x600).every((b) => b === 0xaa), "sectors 0-2 untouched without zeroing");
    const pv = s.findPv("/dev/big")!;
    assert.deepEqual(pv.mdas.map((x) => x.start), [4096, 0x3f00000]);
    assert.deepEqual(pv.bootloaderArea, { offset: MiB, size: MiB });
    assert.equal(pv.peStart, 2 * MiB);
    assert.equal(labelOf(dev)!.sector, 3);
    await s.close();
  });
});

test("a VG with a missing PV is written with MISSING and [unknown], and the flag stays when the PV returns", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m);
    await addLv(m, "on1", 0);
    // lv "on1" sits on pv0; put one on pv1 too so that pv1 holds extents.
    const s0 = await m.open();
    const l0 = s0.readVg("vg0")!;
    l0.vg.lvs.push(linearLv("on2", "LVon2".padEnd(32, "y"), l0.vg.pvs[1]!.id, 0, 1));
    await s0.writeVg(l0, l0.vg);
    await s0.close();
    const pv1Id = l0.vg.pvs[1]!.id;
    const saved = devs[1]!.data.slice(0, 1024);
    devs[1]!.data.fill(0, 512, 1024);

    const s = await m.open({ commandLine: "vgreduce --removemissing vg0" });
    const loaded = s.readVg("vg0")!;
    assert.deepEqual(m.warnings.splice(0), [
      `WARNING: Couldn't find device with uuid ${formatId(pv1Id)}.`,
      `WARNING: VG vg0 is missing PV ${formatId(pv1Id)} (last written to /dev/mem1).`,
    ]);
    assert.deepEqual(loaded.vg.pvs[1]!.flags, ["MISSING"]);
    assert.equal(loaded.devices.has(pv1Id), false);
    await s.writeVg(loaded, loaded.vg);
    await s.close();
    assert.match(committedText(devs[0]!), /id = "[^"]+"\ndevice = "\[unknown\]"\n\nstatus = \["ALLOCATABLE"\]\nflags = \["MISSING"\]/);

    devs[1]!.data.set(saved);
    const back = await m.open();
    const read = back.readVg("vg0")!;
    assert.deepEqual(m.warnings.splice(0), [
      "WARNING: ignoring metadata seqno 3 on /dev/mem1 for seqno 4 on /dev/mem0 for VG vg0.",
      "WARNING: Inconsistent metadata found for VG vg0.",
      "See vgck --updatemetadata to correct inconsistency.",
      "WARNING: VG vg0 was previously updated while PV /dev/mem1 was missing.",
      `WARNING: VG vg0 was missing PV /dev/mem1 ${formatId(pv1Id)}.`,
    ]);
    assert.deepEqual(read.vg.pvs[1]!.flags, ["MISSING"], "a returning PV with extents stays MISSING");
    await back.close();
  });
});

test("a returning PV that holds no extents is taken back silently but for LVM's note", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const vg = await createVg(m);
    const saved = devs[1]!.data.slice(0, 1024);
    devs[1]!.data.fill(0, 512, 1024);
    const s = await m.open();
    const loaded = s.readVg("vg0")!;
    await s.writeVg(loaded, loaded.vg);
    await s.close();
    devs[1]!.data.set(saved);
    m.warnings.splice(0);
    const back = await m.open();
    const read = back.readVg("vg0")!;
    assert.ok(m.warnings.includes(`WARNING: VG vg0 has unused reappeared PV /dev/mem1 ${formatId(vg.pvs[1]!.id)}.`));
    assert.deepEqual(read.vg.pvs[1]!.flags, []);
    await back.close();
  });
});

test("a PV with an older seqno: LVM's warnings, and the next write brings it up to date", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m);
    const stale = devs[1]!.data.slice(0, MiB);
    await addLv(m, "lv0", 0);
    devs[1]!.data.set(stale);

    const s = await m.open();
    assert.deepEqual(m.warnings, [], "nothing is said before the VG is read");
    const loaded = s.readVg("vg0")!;
    assert.equal(loaded.vg.seqno, 2);
    assert.deepEqual(m.warnings.splice(0), [
      "WARNING: ignoring metadata seqno 1 on /dev/mem1 for seqno 2 on /dev/mem0 for VG vg0.",
      "WARNING: Inconsistent metadata found for VG vg0.",
      "See vgck --updatemetadata to correct inconsistency.",
    ]);
    s.readVg("vg0");
    assert.deepEqual(m.warnings, [], "warned once per command");
    await s.writeVg(loaded, loaded.vg);
    assert.deepEqual(m.warnings.splice(0), ["WARNING: updating old metadata to 3 on /dev/mem1 for VG vg0."]);
    await s.close();

    const fresh = await m.open();
    assert.equal(fresh.readVg("vg0")!.vg.seqno, 3);
    await fresh.close();
    assert.deepEqual(m.warnings, []);
    assert.equal(committedText(devs[0]!).replace(/\ndescription.*\n/, ""), committedText(devs[1]!).replace(/\ndescription.*\n/, ""));
  });
});

test("the newest copy wins whichever device holds it", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m);
    const stale = devs[0]!.data.slice(0, MiB);
    await addLv(m, "lv0", 0);
    devs[0]!.data.set(stale);
    const s = await m.open();
    assert.deepEqual(s.readVg("vg0")!.vg.lvs.map((l) => l.name), ["lv0"]);
    assert.equal(m.warnings[0], "WARNING: ignoring metadata seqno 1 on /dev/mem0 for seqno 2 on /dev/mem1 for VG vg0.");
    await s.close();
  });
});

test("a flipped byte in one mda's text: LVM's read warnings, the good copy used, repaired by the next write", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m);
    const h = header(devs[1]!);
    devs[1]!.data[4096 + h.committed.offset + 20]! ^= 0x01;
    const s = await m.open();
    assert.deepEqual(m.warnings, []);
    const loaded = s.readVg("vg0")!;
    const at = 4096 + h.committed.offset;
    assert.deepEqual(m.warnings.splice(0), [
      `WARNING: Checksum error on /dev/mem1 at offset ${at}.`,
      "WARNING: couldn't read volume group metadata from /dev/mem1.",
      `WARNING: Failed to read metadata text at ${at} off ${h.committed.offset} size ${h.committed.size} VG vg0 on /dev/mem1`,
      "WARNING: reading /dev/mem1 mda1 failed to read metadata.",
      "WARNING: repair VG metadata on /dev/mem1 with vgck --updatemetadata.",
      "WARNING: Reading VG vg0 on /dev/mem1 failed.",
    ]);
    assert.equal(loaded.devices.size, 2, "the PV itself is still there");
    await s.writeVg(loaded, loaded.vg);
    await s.close();
    const fresh = await m.open();
    assert.equal(fresh.readVg("vg0")!.vg.seqno, 2);
    await fresh.close();
    assert.deepEqual(m.warnings, []);
  });
});

test("a damaged copy on the first device scanned gets LVM's scan warnings instead", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const vg = await createVg(m);
    const h = header(devs[0]!);
    devs[0]!.data[4096 + h.committed.offset + 20]! ^= 0x01;
    const s = await m.open();
    const at = 4096 + h.committed.offset;
    assert.deepEqual(m.warnings.splice(0), [
      `WARNING: Checksum error on /dev/mem0 at offset ${at}.`,
      `WARNING: invalid metadata text from /dev/mem0 at ${at}.`,
      `WARNING: metadata on /dev/mem0 at ${at} has invalid summary for VG.`,
      "WARNING: bad metadata text on /dev/mem0 in mda1",
      "WARNING: scanning /dev/mem0 mda1 failed to read metadata summary.",
      "WARNING: repair VG metadata on /dev/mem0 with vgck --updatemetadata.",
      `WARNING: scan failed to get metadata summary from /dev/mem0 PVID ${vg.pvs[0]!.id}`,
    ]);
    const loaded = s.readVg("vg0")!;
    assert.deepEqual(m.warnings, []);
    assert.equal(loaded.devices.get(vg.pvs[0]!.id)?.vgName, "vg0");
    await s.writeVg(loaded, loaded.vg);
    await s.close();
    const fresh = await m.open();
    fresh.readVg("vg0");
    await fresh.close();
    assert.deepEqual(m.warnings, []);
  });
});

test("a bad mda header checksum: LVM's warnings, the mda unused, rewritten by the next write", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const vg = await createVg(m);
    devs[1]!.data[4096 + 0x100] = 0x5a;
    const stored = new DataView(devs[1]!.data.buffer).getUint32(4096, true);
    const s = await m.open();
    assert.deepEqual(m.warnings.splice(0), [
      `WARNING: wrong checksum ${stored.toString(16)} in mda header on /dev/mem1 at 4096`,
      "WARNING: bad metadata header on /dev/mem1 at 4096.",
      "WARNING: scanning /dev/mem1 mda1 failed to read metadata summary.",
      "WARNING: repair VG metadata on /dev/mem1 with vgck --updatemetadata.",
      `WARNING: scan failed to get metadata summary from /dev/mem1 PVID ${vg.pvs[1]!.id}`,
    ]);
    const loaded = s.readVg("vg0")!;
    assert.equal(loaded.vg.seqno, 1);
    assert.deepEqual(s.findPv("/dev/mem1")?.mdas.map((x) => x.free), [0]);
    await s.writeVg(loaded, loaded.vg);
    await s.close();
    assert.equal(header(devs[1]!).committed.offset, 512, "a fresh header: the new copy starts the ring");
    const fresh = await m.open();
    assert.equal(fresh.readVg("vg0")!.vg.seqno, 2);
    await fresh.close();
    assert.deepEqual(m.warnings, []);
  });
});

test("an outdated PV (removed from the VG while it was away) is hidden, then wiped by the next write", async () => {
  const devs = memoryDevices(3) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const vg = await createVg(m, "vg0", devs.slice(0, 2));
    const old = devs[1]!.data.slice(0, MiB);
    const s = await m.open({ commandLine: "vgreduce vg0 /dev/mem1" });
    const loaded = s.readVg("vg0")!;
    await s.writeVg(loaded, { ...loaded.vg, pvs: loaded.vg.pvs.slice(0, 1) });
    assert.deepEqual(s.orphans().map((o) => [o.device, o.used]), [["/dev/mem1", false]]);
    await s.close();
    const h = header(devs[1]!);
    assert.deepEqual([h.committed.offset, h.precommitted.offset], [0, 0]);
    assert.equal(new DataView(devs[1]!.data.buffer).getUint32(4096, true), 0xdb8ed616, "an orphan's header, as vgreduce leaves it");
    assert.equal(labelOf(devs[1]!)!.extFlags, 0);

    devs[1]!.data.set(old);
    const again = await m.open({ commandLine: "lvcreate" });
    assert.deepEqual(again.orphans().map((o) => o.device), [], "an outdated PV is neither an orphan nor listed");
    assert.deepEqual(again.scannedPvs().map((p) => p.device), ["/dev/mem0"]);
    assert.equal(again.findPv("/dev/mem1")?.vgName, "vg0");
    const read = again.readVg("vg0")!;
    assert.deepEqual(m.warnings.splice(0), [
      "WARNING: ignoring metadata seqno 1 on /dev/mem1 for seqno 2 on /dev/mem0 for VG vg0.",
      "WARNING: Inconsistent metadata found for VG vg0.",
      "See vgck --updatemetadata to correct inconsistency.",
      "WARNING: outdated PV /dev/mem1 seqno 1 has been removed in current VG vg0 seqno 2.",
      "See vgck --updatemetadata to clear outdated metadata.",
    ]);
    await again.writeVg(read, read.vg);
    assert.deepEqual(m.warnings.splice(0), ["WARNING: wiping mda on outdated PV /dev/mem1", "WARNING: wiping header on outdated PV /dev/mem1"]);
    assert.deepEqual(again.orphans().map((o) => o.pvId), [vg.pvs[1]!.id]);
    await again.close();
    assert.equal(labelOf(devs[1]!)!.extFlags, 0);
    assert.equal(header(devs[1]!).committed.offset, 0);
  });
});

test("duplicate PVs: LVM's preference and warnings, and no write", async () => {
  const devs = memoryDevices(3) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const vg = await createVg(m, "vg0", devs.slice(0, 2));
    devs[2]!.data.set(devs[0]!.data);
    const s = await m.open();
    const id = formatId(vg.pvs[0]!.id);
    assert.deepEqual(m.warnings.splice(0), [
      `WARNING: Not using device /dev/mem2 for PV ${id}.`,
      `WARNING: PV ${id} prefers device /dev/mem0 because device name matches previous.`,
    ]);
    assert.deepEqual(s.scannedPvs().map((p) => p.device), ["/dev/mem0", "/dev/mem1"]);
    const loaded = s.readVg("vg0")!;
    assert.equal(loaded.devices.get(vg.pvs[0]!.id)?.device, "/dev/mem0");
    await assert.rejects(s.writeVg(loaded, loaded.vg), /Cannot update volume group vg0 with duplicate PV devices\./);
    await s.close();
  });
});

test("of two duplicates, the one whose size matches the metadata is preferred", async () => {
  const small = new MemoryDevice("/dev/a", 16 * MiB);
  const big = new MemoryDevice("/dev/b", 32 * MiB);
  await withMachine([big, small], async (m) => {
    await createVg(m, "vg0", [small]);
    big.data.set(small.data);
    m.warnings.splice(0);
    const s = await m.open();
    assert.match(m.warnings.join("\n"), /Not using device \/dev\/b .*\n.*prefers device \/dev\/a because device size is correct\./);
    await s.close();
  });
});

test("vgremove clears the slots and the USED flag, archives the VG and drops its backup", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m);
    const s = await m.open({ commandLine: "vgremove vg0" });
    await s.lockVg("vg0");
    await s.removeVg(s.readVg("vg0")!);
    assert.deepEqual(s.vgNames(), []);
    assert.deepEqual(s.orphans().map((o) => [o.device, o.used]), [["/dev/mem0", false], ["/dev/mem1", false]]);
    await s.close();
    for (const dev of devs) {
      assert.equal(new DataView(dev.data.buffer).getUint32(4096, true), 0xdb8ed616);
      assert.equal(labelOf(dev)!.extFlags, 0);
    }
    assert.equal(existsSync(join(m.dir, "etc", "backup", "vg0")), false);
    assert.match(readFileSync(join(m.dir, "etc", "archive", readdirSync(join(m.dir, "etc", "archive"))[0]!), "utf8"), /Created \*before\* executing 'vgremove vg0'/);
  });
});

test("vgextend with a new PV sets its USED flag; a PV that lacked it is fixed with LVM's warning", async () => {
  const devs = memoryDevices(3) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m, "vg0", devs.slice(0, 2));
    // Clear USED on pv1 behind LVM's back.
    const s0 = await m.open();
    const label = labelOf(devs[1]!)!;
    devs[1]!.data.set(encodeLabelSector({ ...label, extFlags: 0 }), 512);
    await s0.close();

    const s = await m.open({ commandLine: "vgextend vg0 /dev/mem2" });
    await s.createPv("/dev/mem2", {});
    const loaded = s.readVg("vg0")!;
    assert.deepEqual(m.warnings.splice(0), ["WARNING: PV /dev/mem1 in VG vg0 is missing the used flag in PV header."]);
    loaded.vg.pvs.push(pvFor(s.findPv("/dev/mem2")!));
    await s.writeVg(loaded, loaded.vg);
    assert.deepEqual(m.warnings.splice(0), ["WARNING: updating PV header on /dev/mem1 for VG vg0."]);
    assert.deepEqual(s.scannedPvs().map((p) => [p.device, p.used, p.vgName]), [
      ["/dev/mem0", true, "vg0"],
      ["/dev/mem1", true, "vg0"],
      ["/dev/mem2", true, "vg0"],
    ]);
    await s.close();
  });
});

test("metadata larger than an mda can hold fails with LVM's message before any byte is written", async () => {
  const devs = memoryDevices(1) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const s = await m.open();
    await s.createPv("/dev/mem0", { metadataSize: 32 * 1024, dataAlignment: 4096 });
    const vg = newVg("vg0", "V".repeat(32), [pvFor(s.findPv("/dev/mem0")!)]);
    await s.writeVg(undefined, vg);
    const before = devs[0]!.data.slice();
    const loaded = s.readVg("vg0")!;
    for (let i = 0; i < 300; i++) loaded.vg.tags.push(`a_rather_long_tag_to_fill_the_small_metadata_area_${i}`);
    await assert.rejects(s.writeVg(loaded, loaded.vg), (e: unknown) => {
      assert.ok(e instanceof LvmError);
      assert.match(e.message, /^VG vg0 2 metadata on \/dev\/mem0 \(\d+ bytes\) exceeds maximum metadata size \(15616 bytes\)$/);
      return true;
    });
    assert.deepEqual(devs[0]!.data, before);
    await s.close();
  });
});

test("the devices file decides what is scanned; pvcreate creates it when no VG exists; entries come and go", async () => {
  const devs = memoryDevices(3) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const noDevices = { devices: undefined };
    const s = await m.open(noDevices);
    assert.deepEqual(s.allowedDevices(), ["/dev/mem0", "/dev/mem1", "/dev/mem2"], "no devices file: every device");
    await s.createPv("/dev/mem0", {});
    await s.addToDevicesFile("/dev/mem0");
    assert.deepEqual(m.warnings.splice(0), [`Creating devices file ${join(m.dir, "etc", "devices", "system.devices")}`]);
    await s.close();
    const file = readFileSync(join(m.dir, "etc", "devices", "system.devices"), "utf8");
    const pvId = labelOf(devs[0]!)!.pvId;
    assert.match(file, new RegExp(`^VERSION=1\\.1\\.1\\nIDTYPE=devname IDNAME=/dev/mem0 DEVNAME=/dev/mem0 PVID=${pvId}\\n$`, "m"));
    assert.match(file, /^# Created by LVM command test pid \d+ at \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/m);

    const t = await m.open(noDevices);
    assert.deepEqual(t.allowedDevices(), ["/dev/mem0"]);
    await t.addToDevicesFile("/dev/mem1");
    assert.deepEqual(t.allowedDevices(), ["/dev/mem0", "/dev/mem1"]);
    await t.removeFromDevicesFile("/dev/mem0");
    await t.close();
    const after = readFileSync(join(m.dir, "etc", "devices", "system.devices"), "utf8");
    assert.match(after, /^VERSION=1\.1\.3\nIDTYPE=devname IDNAME=\/dev\/mem1 DEVNAME=\/dev\/mem1 PVID=\.\n$/m);

    const u = await m.open({ devices: ["/dev/mem2"] });
    assert.deepEqual(u.allowedDevices(), ["/dev/mem2"], "--devices overrides the file");
    await u.addToDevicesFile("/dev/mem2");
    await u.close();
    assert.equal(readFileSync(join(m.dir, "etc", "devices", "system.devices"), "utf8"), after, "and leaves it alone");
    const v = await m.open({ devices: undefined, devicesFile: "" });
    assert.deepEqual(v.allowedDevices(), ["/dev/mem0", "/dev/mem1", "/dev/mem2"]);
    await v.close();
  });
});

test("without a devices file, pvcreate does not create one when VGs exist", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m, "vg0", devs.slice(0, 1));
    const s = await m.open({ devices: undefined });
    await s.createPv("/dev/mem1", {});
    await s.addToDevicesFile("/dev/mem1");
    assert.deepEqual(m.warnings.splice(0), ["Not creating system devices file due to existing VGs."]);
    assert.equal(existsSync(join(m.dir, "etc", "devices", "system.devices")), false);
    await s.close();
  });
});

test("devices file entries: a missing device and a devname entry whose PVID moved are warned about and not used", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m);
    const [a, b] = devs.map((d) => labelOf(d)!.pvId);
    mkdirSync(join(m.dir, "etc", "devices"), { recursive: true });
    writeFileSync(
      join(m.dir, "etc", "devices", "system.devices"),
      `VERSION=1.1.4\nIDTYPE=devname IDNAME=/dev/mem0 DEVNAME=/dev/mem0 PVID=${b}\nIDTYPE=devname IDNAME=/dev/mem1 DEVNAME=/dev/mem1 PVID=${b}\nIDTYPE=devname IDNAME=/dev/gone DEVNAME=/dev/gone PVID=${a}\n`,
    );
    const s = await m.open({ devices: undefined });
    assert.deepEqual(m.warnings.splice(0), [
      `Devices file PVID ${b} not found on device /dev/mem0 (device PVID ${a}).`,
      `Devices file PVID ${a} last seen on /dev/gone not found.`,
    ]);
    assert.deepEqual(s.allowedDevices(), ["/dev/mem1"]);
    s.readVg("vg0");
    assert.match(m.warnings.join("\n"), /Couldn't find device with uuid/);
    await s.close();
  });
});

test("VG locks exclude a second session until the first closes", async () => {
  const devs = memoryDevices(1) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const a = await m.open();
    await a.lockVg("vg0");
    await a.lockVg("#orphans");
    assert.ok(existsSync(join(m.dir, "run", "lock", "V_vg0")));
    assert.ok(existsSync(join(m.dir, "run", "lock", "P_global")));
    const b = await m.open();
    await assert.rejects(b.lockVg("vg0"), /Giving up waiting for lock/);
    await b.lockVg("vg1");
    await a.close();
    await b.lockVg("vg0");
    await b.close();
    assert.deepEqual(readdirSync(join(m.dir, "run", "lock")), []);
  }, 100);
});

test("a 1,000-LV VG over 4 PVs loads whole, and taking its lock reads no text twice", async () => {
  const devs = memoryDevices(4, 24 * MiB) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const extentSize = 8;
    const vg = await createVg(m, "big", devs, extentSize);
    const s = await m.open();
    const loaded = s.readVg("big")!;
    for (let i = 0; i < 1000; i++) {
      const pv = loaded.vg.pvs[i % 4]!;
      loaded.vg.lvs.push(linearLv(`lv${i}`, `L${String(i).padStart(31, "0")}`, pv.id, Math.floor(i / 4), 1));
    }
    await s.writeVg(loaded, loaded.vg);
    await s.close();
    assert.ok(header(devs[0]!).committed.size > 250_000, "a realistically large text");

    // Speed is measured by bench/report-1000-lvs.ts, not asserted here.
    const t0 = await m.open();
    const read = t0.readVg("big")!;
    assert.equal(read.vg.lvs.length, 1000);
    assert.equal(read.devices.size, 4);
    await t0.close();

    // Taking the VG lock rescans, but texts whose slots did not change are not read again.
    let bytesRead = 0;
    const counting = devs.map((d) => Object.assign(Object.create(d) as MemoryDevice, {
      read: (buf: Uint8Array, offset: number) => ((bytesRead += buf.length), d.read(buf, offset)),
    }));
    const t = await m.open({}, counting);
    await t.lockVg("big");
    assert.equal(t.readVg("big")!.vg.lvs.length, 1000);
    await t.close();
    const textSize = header(devs[0]!).committed.size;
    assert.ok(bytesRead >= 4 * textSize && bytesRead < 5 * textSize, `read ${bytesRead} bytes for 4 copies of ${textSize}`);
    assert.equal(vg.pvs.length, 4);
  });
});

/** Records every write and flush, in order, across devices. */
class Recorder implements BlockDevice {
  constructor(
    readonly inner: MemoryDevice,
    readonly log: { path: string; op: "write" | "flush"; offset?: number; data?: Uint8Array }[],
  ) {}
  get path() {
    return this.inner.path;
  }
  get size() {
    return this.inner.size;
  }
  read(buf: Uint8Array, offset: number) {
    return this.inner.read(buf, offset);
  }
  async write(buf: Uint8Array, offset: number) {
    this.log.push({ path: this.path, op: "write", offset, data: buf.slice() });
    await this.inner.write(buf, offset);
  }
  async flush() {
    this.log.push({ path: this.path, op: "flush" });
  }
  async close() {}
}

test("a commit writes every text, flushes, precommits every header, flushes, then commits, as LVM orders it", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m);
    const log: ConstructorParameters<typeof Recorder>[1] = [];
    const s = await m.open({}, devs.map((d) => new Recorder(d, log)));
    const loaded = s.readVg("vg0")!;
    const oldLocn = header(devs[0]!).committed;
    loaded.vg.lvs.push(linearLv("lv0", "L".repeat(32), loaded.vg.pvs[0]!.id, 0, 1));
    await s.writeVg(loaded, loaded.vg);
    await s.close();

    const steps = log.map((e) => {
      if (e.op === "flush") return "flush";
      if (e.offset !== 4096) return `text ${e.path}`;
      const h = decodeMdaHeader(e.data!, 4096, e.path);
      if (h.precommitted.offset) {
        assert.deepEqual(h.committed, oldLocn, "precommit keeps the committed slot");
        return `precommit ${e.path}`;
      }
      assert.notDeepEqual(h.committed, oldLocn);
      return `commit ${e.path}`;
    });
    const phases = steps.filter((x, i) => x !== "flush" || steps[i - 1] !== "flush");
    assert.deepEqual(phases, [
      "text /dev/mem0",
      "text /dev/mem1",
      "flush",
      "precommit /dev/mem0",
      "precommit /dev/mem1",
      "flush",
      "commit /dev/mem0",
      "flush",
      "commit /dev/mem1",
      "flush",
    ]);
    const newLocn = header(devs[1]!).committed;
    assert.equal(newLocn.offset, 1024 + 512 * Math.floor((oldLocn.size - 1) / 512), "the next copy follows the old one, 512-aligned");
  });
});

test("a command that waited for the VG lock sees what the holder committed", async () => {
  const devs = memoryDevices(1) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    await createVg(m);
    const first = await m.open();
    const second = await m.open();
    await first.lockVg("vg0");
    const waiting = second.lockVg("vg0");
    const loaded = first.readVg("vg0")!;
    loaded.vg.lvs.push(linearLv("lv0", "L".repeat(32), loaded.vg.pvs[0]!.id, 0, 1));
    await first.writeVg(loaded, loaded.vg);
    await first.close();
    await waiting;
    const seen = second.readVg("vg0")!;
    assert.equal(seen.vg.seqno, 2);
    assert.deepEqual(seen.vg.lvs.map((l) => l.name), ["lv0"]);
    await second.close();
  });
});

test("vgsplit's two writes: the PV moved to the new VG keeps the new VG's metadata", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const vg = await createVg(m);
    const s = await m.open({ commandLine: "vgsplit vg0 vg1 /dev/mem1" });
    const loaded = s.readVg("vg0")!;
    const moved = loaded.vg.pvs[1]!;
    await s.writeVg(undefined, newVg("vg1", "W".repeat(32), [moved]));
    assert.equal(s.findPv("/dev/mem1")?.vgName, "vg1", "a PV both VGs list belongs to the one it carries");
    await s.writeVg(loaded, { ...loaded.vg, pvs: [loaded.vg.pvs[0]!] });
    assert.deepEqual(s.vgNames(), ["vg0", "vg1"]);
    await s.close();
    const t = await m.open();
    assert.deepEqual(t.readVg("vg1")!.vg.pvs.map((p) => p.id), [vg.pvs[1]!.id]);
    assert.deepEqual(t.readVg("vg0")!.vg.pvs.map((p) => p.id), [vg.pvs[0]!.id]);
    assert.deepEqual(t.scannedPvs().map((p) => [p.device, p.vgName, p.used]), [
      ["/dev/mem0", "vg0", true],
      ["/dev/mem1", "vg1", true],
    ]);
    await t.close();
    assert.deepEqual(m.warnings, []);
  });
});

test("two VGs with one name are reported as LVM reports them", async () => {
  const devs = memoryDevices(2) as MemoryDevice[];
  await withMachine(devs, async (m) => {
    const s = await m.open();
    for (const d of devs) await s.createPv(d.path, {});
    await s.writeVg(undefined, newVg("vg0", "A".repeat(32), [pvFor(s.findPv("/dev/mem0")!)]));
    await s.writeVg(undefined, newVg("vg0", "B".repeat(32), [pvFor(s.findPv("/dev/mem1")!)]));
    await s.close();
    const t = await m.open();
    assert.deepEqual(m.warnings, [
      `WARNING: VG name vg0 is used by VGs ${formatId("B".repeat(32))} and ${formatId("A".repeat(32))}.`,
      "Fix duplicate VG names with vgrename uuid, a device filter, or system IDs.",
    ]);
    assert.deepEqual(t.vgNames(), ["vg0"]);
    assert.deepEqual(t.scannedPvs().map((p) => p.vgId), ["A".repeat(32), "B".repeat(32)]);
    await t.close();
  });
});
