import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { MemoryDevice } from "../../../src/io/memory-device.ts";
import { FaultyDevice, FaultPlan } from "../../../src/io/faulty-device.ts";
import { Raid1Array, type LegDevices } from "../../../src/raid/raid1.ts";
import { MAX_SECTOR, decodeRmeta } from "../../../src/core/format/dmraid.ts";
import { countSetBits } from "../../../src/core/format/md-bitmap.ts";
import { DONE, type BlockDevice } from "../../../src/io/block-device.ts";

const MiB = 1 << 20;
const REGION = 256 * 1024;

interface Lab {
  data: MemoryDevice[];
  meta: MemoryDevice[];
  plans: FaultPlan[];
  /** Power cut: every device any array of this lab opened fails from now on, so nothing more reaches the media. */
  cut(): void;
  open(opts?: { nosync?: boolean; split?: number[]; rate?: number; events?: { msg: string; e: Record<string, unknown> }[] }): Promise<Raid1Array>;
}

function lab(legs: number, size = 8 * MiB): Lab {
  const data = Array.from({ length: legs }, (_, i) => new MemoryDevice(`d${i}`, size + MiB));
  const meta = Array.from({ length: legs }, (_, i) => new MemoryDevice(`m${i}`, 64 * 1024));
  const plans = data.map(() => new FaultPlan());
  const opened: FaultyDevice[] = [];
  const wrap = (dev: BlockDevice, plan?: FaultPlan) => {
    const f = new FaultyDevice(dev, plan);
    opened.push(f);
    return f;
  };
  return {
    data,
    meta,
    plans,
    cut: () => opened.splice(0).forEach((f) => f.vanish()),
    open: (opts = {}) =>
      Raid1Array.open(
        {
          name: "vg/lv",
          size,
          regionSize: REGION,
          nosync: opts.nosync,
          maxRecoveryRate: opts.rate,
          sweepMs: 50,
          onEvent: (e, msg) => opts.events?.push({ msg, e }),
        },
        data.map(
          (d, i): LegDevices => ({
            name: `lv_rimage_${i}`,
            // Legs start 1 MiB in, as a rimage after its rmeta would.
            data: { dev: wrap(d, plans[i]), base: MiB },
            meta: { dev: wrap(meta[i]!), base: 0 },
            split: opts.split?.includes(i),
          }),
        ),
      ),
  };
}

const legBytes = (l: Lab, i: number, size = 8 * MiB) => l.data[i]!.data.subarray(MiB, MiB + size);
const rmetaOf = (l: Lab, i: number) => decodeRmeta(l.meta[i]!.data);

async function waitIdle(a: Raid1Array): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const s = a.status();
    if (s.syncAction === "idle" && !/a/.test(s.health)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`still syncing: ${JSON.stringify(a.status())}`);
}

test("a fresh array syncs in full, then writes reach every leg and reads return them", async () => {
  const l = lab(3);
  l.data[0]!.data.set(randomBytes(8 * MiB), MiB);
  const a = await l.open();
  assert.equal(a.status().syncAction, "resync");
  assert.equal(a.status().health, "aaa");
  await waitIdle(a);
  assert.equal(a.status().resyncedBytes, 2 * 8 * MiB);
  const buf = randomBytes(3 * REGION + 512);
  await a.write(buf, REGION - 512);
  for (let i = 0; i < 3; i++) assert.deepEqual(legBytes(l, i), legBytes(l, 0), `leg ${i}`);
  const back = new Uint8Array(buf.length);
  for (let n = 0; n < 3; n++) {
    await a.read(back, REGION - 512);
    assert.deepEqual(back, new Uint8Array(buf));
  }
  await a.close();
});

test("--nosync starts in sync; a clean stop leaves every leg's rmeta as the kernel's clean stop does", async () => {
  const l = lab(2);
  const a = await l.open({ nosync: true });
  assert.deepEqual(a.status(), { health: "AA", syncBytes: 8 * MiB, size: 8 * MiB, syncAction: "idle", mismatchCount: 0, resyncedBytes: 0 });
  await a.write(randomBytes(64 * 1024), 5 * REGION);
  const dirty = rmetaOf(l, 0);
  assert.equal(dirty.superblock.arrayResyncOffset, 0n, "in use: resync offset lowered, so a crash resyncs dirty bits");
  assert.equal(countSetBits(dirty.bits, 32), 1, "the written region's bit is on disk");
  await a.close();
  for (let i = 0; i < 2; i++) {
    const r = rmetaOf(l, i);
    assert.equal(r.superblock.arrayPosition, i);
    assert.equal(r.superblock.arrayResyncOffset, MAX_SECTOR);
    assert.equal(r.superblock.failedDevices, 0n);
    assert.equal(r.bitmap.events, r.superblock.events);
    assert.equal(countSetBits(r.bits, 32), 0);
  }
  const again = await l.open();
  assert.equal(again.status().syncAction, "idle");
  await again.close();
  assert.equal(again.status().resyncedBytes, 0);
});

test("a region's bit is on disk before its data is written, and cleared by a later sweep", async () => {
  const l = lab(2);
  const a = await l.open({ nosync: true });
  const order: string[] = [];
  const spy = (dev: BlockDevice, tag: string) => {
    const write = dev.write.bind(dev);
    dev.write = async (buf, off) => {
      order.push(tag);
      return write(buf, off);
    };
  };
  spy(l.meta[0]!, "meta");
  spy(l.data[0]!, "data");
  await a.write(randomBytes(4096), 7 * REGION);
  assert.deepEqual(order, ["meta", "data"]);
  order.length = 0;
  await a.write(randomBytes(4096), 7 * REGION + 4096);
  assert.deepEqual(order, ["data"], "a region already marked costs no bitmap write");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(countSetBits(rmetaOf(l, 0).bits, 32), 0, "swept clean once idle");
  await a.close();
});

test("after a crash only the regions marked dirty are resynced, and the legs end equal", async () => {
  const l = lab(2);
  const a = await l.open({ nosync: true });
  const written = [2, 9, 30];
  for (const r of written) await a.write(randomBytes(8192), r * REGION + 4096);
  // The crash: leg 1 never got the last write (torn mirror), and nothing was closed.
  l.data[1]!.data.fill(0x77, MiB + 30 * REGION, MiB + 30 * REGION + 8192);
  const b = await l.open();
  assert.equal(b.status().syncAction, "resync");
  await waitIdle(b);
  assert.equal(b.status().resyncedBytes, written.length * REGION);
  assert.deepEqual(legBytes(l, 1), legBytes(l, 0));
  await b.close();
});

test("a leg failing mid-load: no client error, health D, the failure recorded, bits kept for its return", async () => {
  const l = lab(2);
  const a = await l.open({ nosync: true });
  const data = randomBytes(2 * MiB);
  await a.write(data.subarray(0, MiB), 0);
  await new Promise((r) => setTimeout(r, 200)); // swept: the first MiB is clean on every leg
  l.plans[1]!.failWriteAt = l.plans[1]!.writes + 1;
  l.plans[1]!.crash = true;
  await a.write(data.subarray(MiB), MiB);
  assert.equal(a.status().health, "AD");
  const sb = rmetaOf(l, 0).superblock;
  assert.equal(sb.failedDevices, 2n);
  l.plans[1]!.failReads = true;
  const back = new Uint8Array(2 * MiB);
  await a.read(back, 0);
  assert.deepEqual(back, new Uint8Array(data));
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(countSetBits(rmetaOf(l, 0).bits, 32) >= 4, "degraded: bits are not cleared");
  await a.close();
  // The leg comes back: it catches up by delta, only the regions written while it was gone.
  l.plans[1] = new FaultPlan();
  const lab2 = { ...l };
  const b = await lab2.open();
  assert.equal(b.status().health, "Aa");
  await waitIdle(b);
  assert.equal(b.status().resyncedBytes, MiB, "the 4 regions written while it was gone");
  assert.deepEqual(legBytes(l, 1), legBytes(l, 0));
  assert.equal(rmetaOf(l, 1).superblock.failedDevices, 0n);
  await b.close();
});

test("a read error is served from another leg and the bad copy rewritten", async () => {
  const l = lab(2);
  const a = await l.open({ nosync: true });
  const data = randomBytes(64 * 1024);
  await a.write(data, 3 * REGION);
  l.data[0]!.data.fill(0, MiB + 3 * REGION, MiB + 3 * REGION + data.length);
  const read = l.data[0]!.read.bind(l.data[0]!);
  let failNext = 2;
  l.data[0]!.read = async (buf, off) => {
    if (failNext-- > 0) throw Object.assign(new Error("EIO: medium error"), { code: "EIO" });
    return read(buf, off);
  };
  const back = new Uint8Array(data.length);
  await a.read(back, 3 * REGION);
  await a.read(back, 3 * REGION);
  assert.deepEqual(back, new Uint8Array(data));
  assert.deepEqual(legBytes(l, 0), legBytes(l, 1), "rewritten");
  assert.equal(a.status().health, "AA");
  await a.close();
});

test("scrubbing counts differing sectors, and repair makes the legs equal", async () => {
  const l = lab(2);
  const a = await l.open({ nosync: true });
  l.data[1]!.data.set(randomBytes(MiB), MiB + 2 * MiB);
  a.requestScrub("check");
  await new Promise((r) => setTimeout(r, 20));
  await waitIdle(a);
  assert.equal(a.status().mismatchCount, 2048);
  assert.notDeepEqual(legBytes(l, 1), legBytes(l, 0));
  a.requestScrub("repair");
  await new Promise((r) => setTimeout(r, 20));
  await waitIdle(a);
  assert.deepEqual(legBytes(l, 1), legBytes(l, 0));
  a.requestScrub("check");
  await new Promise((r) => setTimeout(r, 20));
  await waitIdle(a);
  assert.equal(a.status().mismatchCount, 0);
  await a.close();
});

test("a blank leg (new or replaced) is recovered in full; rebuild does it again", async () => {
  const l = lab(2);
  const a = await l.open({ nosync: true });
  await a.write(randomBytes(8 * MiB), 0);
  await a.close();
  l.meta[1]!.data.fill(0);
  l.data[1]!.data.fill(0);
  const b = await l.open();
  assert.equal(b.status().health, "Aa");
  assert.equal(b.status().syncAction, "recover");
  await waitIdle(b);
  assert.equal(b.status().resyncedBytes, 8 * MiB);
  assert.deepEqual(legBytes(l, 1), legBytes(l, 0));
  l.data[1]!.data.fill(1, MiB, 2 * MiB);
  await b.rebuild([1]);
  await waitIdle(b);
  assert.deepEqual(legBytes(l, 1), legBytes(l, 0));
  await b.close();
});

test("concurrent writes during a resync never leave the legs different", async () => {
  const l = lab(2);
  l.data[0]!.data.set(randomBytes(8 * MiB), MiB);
  const a = await l.open();
  const writes = Array.from({ length: 200 }, (_, i) => a.write(randomBytes(4096 * (1 + (i % 8))), (i * 37 * 4096) % (7 * MiB)));
  await Promise.all(writes);
  await waitIdle(a);
  assert.deepEqual(legBytes(l, 1), legBytes(l, 0));
  await a.close();
});

test("split with tracking, writes on both sides, merge: exactly the union of the changed regions is copied", async () => {
  const { ImageTracker } = await import("../../../src/raid/tracked-image.ts");
  const l = lab(2);
  const whole = await l.open({ nosync: true });
  await whole.write(randomBytes(8 * MiB), 0);
  await whole.close();
  const origin = await l.open({ split: [1] });
  assert.equal(origin.status().health, "A-");
  const originRegions = [1, 5, 6];
  for (const r of originRegions) await origin.write(randomBytes(4096), r * REGION + 8192);
  const tracker = await ImageTracker.open({ size: 8 * MiB, regionSize: REGION, legs: 2 }, { dev: l.meta[1]!, base: 0 });
  const imageRegions = [5, 20];
  for (const r of imageRegions)
    await tracker.track(r * REGION, 4096, () => l.data[1]!.write(randomBytes(4096), MiB + r * REGION));
  assert.equal(tracker.count(), 2);
  await new Promise((r) => setTimeout(r, 200));
  await origin.close();
  const merged = await l.open();
  assert.equal(merged.status().health, "Aa");
  await waitIdle(merged);
  assert.equal(merged.status().resyncedBytes, 4 * REGION, "regions 1, 5, 6, 20");
  assert.deepEqual(legBytes(l, 1), legBytes(l, 0));
  await merged.close();
  assert.equal(countSetBits(rmetaOf(l, 1).bits, 32), 0);
});

test("a merge interrupted by a crash finishes after restart", async () => {
  const l = lab(2);
  const whole = await l.open({ nosync: true });
  await whole.close();
  const origin = await l.open({ split: [1] });
  for (let r = 0; r < 32; r += 2) await origin.write(randomBytes(REGION), r * REGION);
  await origin.close();
  const merging = await l.open({ rate: 4 * MiB });
  assert.equal(merging.status().health, "Aa");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(merging.status().syncAction, "recover");
  assert.ok(merging.status().syncBytes > 0, "the merge got somewhere before the crash");
  l.cut();
  const again = await l.open();
  assert.equal(again.status().health, "Aa");
  await waitIdle(again);
  assert.deepEqual(legBytes(l, 1), legBytes(l, 0));
  await again.close();
  await assert.rejects(merging.close(), /EIO/, "its devices are gone");
});

test("I/O every leg finished at once comes back DONE; a leg failing beside one that finished at once is failed and the write still completes", async () => {
  const size = 4 * MiB;
  const data = [new MemoryDevice("d0", size), new MemoryDevice("d1", size)];
  const meta = [new MemoryDevice("m0", 64 * 1024), new MemoryDevice("m1", 64 * 1024)];
  const a = await Raid1Array.open(
    { name: "vg/lv", size, regionSize: REGION, nosync: true, sweepMs: 50 },
    data.map((d, i): LegDevices => ({ name: `lv_rimage_${i}`, data: { dev: d, base: 0 }, meta: { dev: meta[i]!, base: 0 } })),
  );
  const bytes = randomBytes(8192);
  // The first write to a region waits for its bit; the next one in it has nothing to wait for.
  await a.write(bytes, REGION);
  assert.equal(a.write(bytes, REGION + 8192), DONE);
  assert.ok(countSetBits(decodeRmeta(meta[0]!.data).bits, 16) >= 1, "the region's bit is on disk");
  const back = new Uint8Array(8192);
  assert.equal(a.read(back, REGION + 8192), DONE);
  assert.deepEqual(back, new Uint8Array(bytes));

  data[1]!.write = () => Promise.reject(Object.assign(new Error("EIO: gone"), { code: "EIO" }));
  const write = a.write(bytes, 2 * REGION + 8192);
  assert.notEqual(write, DONE);
  await write;
  assert.equal(a.status().health, "AD");
  assert.equal(decodeRmeta(meta[0]!.data).superblock.failedDevices, 2n);
  assert.deepEqual(data[0]!.data.subarray(2 * REGION + 8192, 2 * REGION + 16384), new Uint8Array(bytes));
  await a.close();
});
