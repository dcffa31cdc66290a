import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { compileLv, type MirrorTarget } from "../../../src/datapath/mapping.ts";
import { LvDevice, type MirrorDeviceFactory } from "../../../src/datapath/lv-device.ts";
import type { ExtendedDevice } from "../../../src/io/discard.ts";
import { DONE, type BlockDevice } from "../../../src/io/block-device.ts";
import { MemoryDevice } from "../../../src/io/memory-device.ts";
import type { VolumeGroup } from "../../../src/core/model/types.ts";
import {
  PatternDevice,
  ProbeDevice,
  SparseDevice,
  arbLayout,
  arbRequest,
  boundaries,
  fixtureVg,
  locate,
  lvBytes,
  patternByte,
  pvBytes,
  randomBytes,
} from "./helpers.ts";

const isEio = (e: unknown) => (e as { code?: string }).code === "EIO";

function pvAt(vg: VolumeGroup, lv: string, x: number): { pv: string; byte: number } {
  const at = locate(vg, lv, x);
  assert.ok(at.kind === "pv", `${lv} byte ${x} is on a PV`);
  return at;
}

function devicesOf<D extends BlockDevice>(vg: VolumeGroup, make: (id: string, size: number, i: number) => D): Map<string, D> {
  return new Map(vg.pvs.map((pv, i) => [pv.id, make(pv.id, pvBytes(vg, pv.id), i)]));
}

const FIXTURE_LVS: [string, string[]][] = [
  ["alloc-striped.txt", ["s2", "s8", "b"]],
  ["alloc-extend.txt", ["l1", "s"]],
  ["alloc-extend-policies.txt", ["l"]],
  ["vg0-raw.txt", ["lin", "str"]],
];

test("bytes written through linear, multi-segment and striped LVs land at pe_start + pe * extent_size + offset on the right PV", async () => {
  for (const [file, lvs] of FIXTURE_LVS) {
    const vg = fixtureVg(file);
    for (const lv of lvs) {
      const pvs = devicesOf(vg, (id, size) => new SparseDevice(id, size));
      const dev = new LvDevice(`${vg.name}/${lv}`, compileLv(vg, lv), pvs);
      let seed = 1;
      await fc.assert(
        fc.asyncProperty(arbRequest(dev.size, boundaries(vg, lv), 192 << 10), async ({ offset, length }) => {
          const data = randomBytes(length, seed++);
          await dev.write(data, offset);
          for (let i = 0; i < length; i++) {
            const at = locate(vg, lv, offset + i);
            assert.ok(at.kind === "pv");
            if (pvs.get(at.pv)!.byteAt(at.byte) !== data[i]) assert.fail(`${lv} byte ${offset + i} is not at ${at.pv}:${at.byte}`);
          }
          const back = new Uint8Array(length);
          await dev.read(back, offset);
          assert.deepEqual(back, data);
        }),
        { numRuns: 25 },
      );
    }
  }
});

test("reads through an LV return each byte from where the metadata puts it, for requests of any size", async () => {
  for (const [file, lvs] of FIXTURE_LVS) {
    const vg = fixtureVg(file);
    const tags = new Map(vg.pvs.map((pv, i) => [pv.id, i]));
    for (const lv of lvs) {
      const dev = new LvDevice(lv, compileLv(vg, lv), devicesOf(vg, (id, size, i) => new PatternDevice(id, size, i)));
      await fc.assert(
        fc.asyncProperty(arbRequest(dev.size, boundaries(vg, lv), 1 << 20), async ({ offset, length }) => {
          const buf = new Uint8Array(length);
          await dev.read(buf, offset);
          for (let i = 0; i < length; i++) {
            const at = locate(vg, lv, offset + i);
            assert.ok(at.kind === "pv");
            if (buf[i] !== patternByte(tags.get(at.pv)!, at.byte)) assert.fail(`${lv} byte ${offset + i} was not read from ${at.pv}:${at.byte}`);
          }
        }),
        { numRuns: 10 },
      );
    }
  }
});

test("on generated layouts a write lands exactly on its PV bytes and nowhere else; zero segments drop it and error segments fail it", async () => {
  await fc.assert(
    fc.asyncProperty(
      arbLayout({ fills: true }).chain((l) => {
        const size = lvBytes(l.vg, l.lv);
        return fc.tuple(fc.constant(l), arbRequest(size, boundaries(l.vg, l.lv), 256 << 10), fc.integer({ min: 1, max: 8 }));
      }),
      async ([{ vg, lv }, { offset, length }, maxInFlight]) => {
        const pvs = devicesOf(vg, (id, size) => new MemoryDevice(id, size));
        const dev = new LvDevice(lv, compileLv(vg, lv), pvs, { maxInFlight });
        const data = randomBytes(length, offset + 1);
        const where = Array.from({ length }, (_, i) => locate(vg, lv, offset + i));
        if (where.some((w) => w.kind === "error")) {
          await assert.rejects(dev.write(data, offset), isEio);
          await assert.rejects(dev.read(new Uint8Array(length), offset), isEio);
          return;
        }
        await dev.write(data, offset);
        const expected = new Map([...pvs.keys()].map((id) => [id, new Uint8Array(pvs.get(id)!.size)]));
        where.forEach((w, i) => {
          if (w.kind === "pv") expected.get(w.pv)![w.byte] = data[i]!;
        });
        for (const [id, pv] of pvs) assert.ok(Buffer.from(pv.data).equals(expected.get(id)!), `PV ${id} holds exactly the bytes mapped to it`);
        const back = new Uint8Array(length).fill(0xa5);
        await dev.read(back, offset);
        assert.deepEqual(
          back,
          data.map((b, i) => (where[i]!.kind === "zero" ? 0 : b)),
        );
      },
    ),
    { numRuns: 200 },
  );
});

test("pieces in flight on the PVs never exceed the bound, over all concurrent requests", async () => {
  const vg = fixtureVg("alloc-striped.txt");
  for (const bound of [3, 64]) {
    const gauge = { now: 0, max: 0 };
    const pvs = devicesOf(vg, (id, size) => new ProbeDevice(id, size, gauge));
    const dev = new LvDevice("s2", compileLv(vg, "s2"), pvs, { maxInFlight: bound });
    // s2 stripes over 3 PVs in 16 KiB chunks: each 1 MiB request is 64 pieces.
    const requests = Array.from({ length: 4 }, (_, i) => dev.write(randomBytes(1 << 20, i + 1), i << 20));
    await Promise.all(requests);
    assert.equal(gauge.max, bound);
    assert.equal(gauge.now, 0);
    const writes = [...pvs.values()].reduce((n, pv) => n + pv.ops.length, 0);
    assert.equal(writes, 4 * 64);
  }
});

test("a request ends only after all its pieces, even when one fails early", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const pvs = devicesOf(vg, (id, size) => new ProbeDevice(id, size));
  const [pv0, pv1] = [...pvs.values()];
  pvs.delete(pv1!.path);
  const dev = new LvDevice("str", compileLv(vg, "str"), pvs, { maxInFlight: 2 });
  pv0!.hold();
  let settled = false;
  const write = dev.write(randomBytes(256 << 10, 3), 0).finally(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false);
  pv0!.release();
  await assert.rejects(write, isEio);
  // The first piece failed (pv1 missing) while the second was held; nothing after them was started.
  assert.equal(pv0!.ops.length, 1);
});

test("a missing PV fails the pieces on it with EIO and leaves the rest of the LV usable", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const pvs = devicesOf(vg, (id, size) => new SparseDevice(id, size));
  const missing = vg.pvs[1]!.id;
  pvs.delete(missing);
  const str = new LvDevice("str", compileLv(vg, "str"), pvs);
  const chunk = vg.lvs.find((l) => l.name === "str")!.segments[0]!.stripeSize! * 512;
  await str.write(randomBytes(chunk, 1), 0);
  await assert.rejects(str.write(randomBytes(chunk, 1), chunk), isEio);
  await assert.rejects(str.read(new Uint8Array(2), chunk - 1), (e: unknown) => isEio(e) && (e as Error).message.includes(missing));
  const lin = new LvDevice("lin", compileLv(vg, "lin"), pvs);
  await lin.write(randomBytes(4096, 2), 4096);
});

test("an error segment fails reads, writes, zeroing and discards with EIO", async () => {
  const vg = fixtureVg("text-error.vg");
  const dev = new LvDevice("r1_rimage_1", compileLv(vg, "r1_rimage_1"), devicesOf(vg, (id, size) => new SparseDevice(id, size)));
  await assert.rejects(dev.read(new Uint8Array(512), 0), isEio);
  await assert.rejects(dev.write(new Uint8Array(512), dev.size - 512), isEio);
  await assert.rejects(dev.writeZeroes(0, 4096), isEio);
  await assert.rejects(dev.discard(0, 4096), isEio);
});

/** Issue 4's engine in miniature: reads from image 0, writes to every image. */
const toyEngine: MirrorDeviceFactory = (node: MirrorTarget, pvs) => {
  const images = node.images.map((img) => ({ offset: img.offset, dev: new LvDevice(img.name, img.map, pvs) }));
  return {
    path: `engine`,
    size: node.length,
    read: (buf, offset) => images[0]!.dev.read(buf, images[0]!.offset + offset),
    write: async (buf, offset) => void (await Promise.all(images.map((i) => i.dev.write(buf, i.offset + offset)))),
    flush: async () => void (await Promise.all(images.map((i) => i.dev.flush()))),
    close: async () => {},
  };
};

test("raid1 segments go to the engine the device is given, and fail with EIO without one", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const pvs = devicesOf(vg, (id, size) => new SparseDevice(id, size));
  const map = compileLv(vg, "r1");
  await assert.rejects(new LvDevice("r1", map, pvs).read(new Uint8Array(1), 0), (e: unknown) => isEio(e) && /no raid engine/.test((e as Error).message));
  const dev = new LvDevice("r1", map, pvs, { mirrorDevice: toyEngine });
  const offset = 3 << 20;
  const data = randomBytes(2 << 20, 9);
  await dev.write(data, offset);
  for (const image of ["r1_rimage_0", "r1_rimage_1"])
    for (const i of [0, 4095, 1 << 20, data.length - 1]) {
      const at = pvAt(vg, image, offset + i);
      assert.equal(pvs.get(at.pv)!.byteAt(at.byte), data[i], `${image} byte ${offset + i}`);
    }
  const back = new Uint8Array(data.length);
  await dev.read(back, offset);
  assert.deepEqual(back, data);
});

/** vg0's "lin" (pv0, PE 0-9) moved to pv1 and grown by 2 extents, as a pvmove then lvextend would leave it. */
function movedAndGrown(): VolumeGroup {
  const vg = fixtureVg("vg0-raw.txt");
  const seg = vg.lvs.find((l) => l.name === "lin")!.segments[0]!;
  seg.areas = [{ kind: "pv", pvId: vg.pvs[1]!.id, pe: 10 }];
  seg.extentCount = 12;
  return vg;
}

test("swapMap: requests in flight finish on the old map, new ones use the new map, and the swap resolves once the old ones are done", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const next = movedAndGrown();
  const pvs = devicesOf(vg, (id, size) => new ProbeDevice(id, size));
  const [pv0, pv1] = [...pvs.values()];
  const dev = new LvDevice("lin", compileLv(vg, "lin"), pvs);
  const oldSize = dev.size;
  const before = randomBytes(8192, 1);
  const after = randomBytes(8192, 2);
  pv0!.hold();
  const events: string[] = [];
  const inFlight = dev.write(before, 4096).then(() => events.push("old write done"));
  await new Promise((r) => setImmediate(r));
  const swapped = dev.swapMap(compileLv(next, "lin")).then(() => events.push("swapped"));
  assert.equal(dev.size, oldSize + 2 * vg.extentSize * 512);
  await dev.write(after, oldSize);
  await dev.write(after, 4096);
  events.push("new writes done");
  pv0!.release();
  await Promise.all([inFlight, swapped]);
  assert.deepEqual(events, ["new writes done", "old write done", "swapped"]);
  const where = (v: VolumeGroup, x: number) => {
    const at = pvAt(v, "lin", x);
    return pvs.get(at.pv)!.data.subarray(at.byte, at.byte + 8192);
  };
  assert.equal(pvAt(vg, "lin", 4096).pv, pv0!.path);
  assert.deepEqual(where(vg, 4096), before);
  assert.deepEqual(where(next, 4096), after);
  assert.deepEqual(where(next, oldSize), after);
  const back = new Uint8Array(8192);
  await dev.read(back, 4096);
  assert.deepEqual(back, after);
  assert.ok(pv1!.ops.length >= 3);
});

test("pieces of an in-flight request that start after a swap still go where the old map put them", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const next = fixtureVg("vg0-raw.txt");
  // Reversed areas also renumber the PV slots, so a piece resolved against the new map's devices would go astray.
  next.lvs.find((l) => l.name === "str")!.segments[0]!.areas = next.pvs.map((pv) => ({ kind: "pv" as const, pvId: pv.id, pe: 40 })).reverse();
  const pvs = devicesOf(vg, (id, size) => new ProbeDevice(id, size));
  const dev = new LvDevice("str", compileLv(vg, "str"), pvs, { maxInFlight: 1 });
  const chunk = vg.lvs.find((l) => l.name === "str")!.segments[0]!.stripeSize! * 512;
  const data = randomBytes(2 * chunk, 5);
  const first = pvs.get(pvAt(vg, "str", 0).pv)!;
  first.hold();
  const write = dev.write(data, 0);
  await new Promise((r) => setImmediate(r));
  const swapped = dev.swapMap(compileLv(next, "str"));
  first.release();
  await Promise.all([write, swapped]);
  for (const [v, expected] of [
    [vg, data],
    [next, new Uint8Array(data.length)],
  ] as const)
    for (const x of [0, chunk]) {
      const at = pvAt(v, "str", x);
      assert.deepEqual(pvs.get(at.pv)!.data.subarray(at.byte, at.byte + chunk), expected.subarray(x, x + chunk));
    }
});

test("flush reaches exactly the devices written since the last flush, including ones a swap dropped, and retries failures", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const pvs = devicesOf(vg, (id, size) => new ProbeDevice(id, size));
  const [pv0, pv1] = [...pvs.values()];
  const dev = new LvDevice("lin", compileLv(vg, "lin"), pvs);
  await dev.read(new Uint8Array(10), 0);
  await dev.flush();
  assert.deepEqual([pv0!.flushes, pv1!.flushes], [0, 0]);
  await dev.write(new Uint8Array(10), 0);
  await dev.swapMap(compileLv(movedAndGrown(), "lin"));
  await dev.flush();
  assert.deepEqual([pv0!.flushes, pv1!.flushes], [1, 0]);
  await dev.write(new Uint8Array(10), 0);
  pv1!.failFlush = true;
  await assert.rejects(dev.flush(), isEio);
  pv1!.failFlush = false;
  await dev.flush();
  assert.deepEqual([pv0!.flushes, pv1!.flushes], [1, 2]);
  await dev.flush();
  assert.equal(pv1!.flushes, 2);
});

/** A memory device that can discard and zero by itself, recording each call. */
class TrimmableDevice extends MemoryDevice implements ExtendedDevice {
  readonly calls: string[] = [];
  async discard(offset: number, length: number): Promise<void> {
    this.calls.push(`discard ${offset}+${length}`);
    this.data.fill(0, offset, offset + length);
  }
  async writeZeroes(offset: number, length: number): Promise<void> {
    this.calls.push(`zero ${offset}+${length}`);
    this.data.fill(0, offset, offset + length);
  }
}

test("discard and writeZeroes use the PVs' own methods piece by piece, else zeroing writes zeroes and discard does nothing", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const chunk = vg.lvs.find((l) => l.name === "str")!.segments[0]!.stripeSize! * 512;

  const trimmable = devicesOf(vg, (id, size) => new TrimmableDevice(id, size));
  const smart = new LvDevice("str", compileLv(vg, "str"), trimmable);
  assert.equal(smart.canDiscard && smart.canZeroFast, true);
  await smart.writeZeroes(chunk - 512, 1024);
  await smart.discard(2 * chunk, 512);
  const [a, b, c] = [pvAt(vg, "str", chunk - 512), pvAt(vg, "str", chunk), pvAt(vg, "str", 2 * chunk)];
  assert.deepEqual(trimmable.get(a.pv)!.calls, [`zero ${a.byte}+512`, `discard ${c.byte}+512`]);
  assert.deepEqual(trimmable.get(b.pv)!.calls, [`zero ${b.byte}+512`]);

  const plain = devicesOf(vg, (id, size) => new MemoryDevice(id, new Uint8Array(size).fill(7)));
  const dumb = new LvDevice("lin", compileLv(vg, "lin"), plain);
  assert.equal(dumb.canDiscard || dumb.canZeroFast, false);
  const span = (3 << 20) + 5;
  await dumb.writeZeroes(1000, span);
  const lin = pvAt(vg, "lin", 1000);
  const pv = plain.get(lin.pv)!;
  assert.deepEqual([pv.data[lin.byte - 1], pv.data.subarray(lin.byte, lin.byte + span).every((x) => x === 0), pv.data[lin.byte + span]], [7, true, 7]);
  await dumb.discard(0, 4096);
  assert.equal(pv.data[lin.byte - 1], 7);
});

test("close waits for requests in flight, then refuses new ones", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const pvs = devicesOf(vg, (id, size) => new ProbeDevice(id, size));
  const dev = new LvDevice("lin", compileLv(vg, "lin"), pvs);
  const pv0 = pvs.get(vg.pvs[0]!.id)!;
  pv0.hold();
  let written = false;
  const write = dev.write(randomBytes(100, 1), 0).then(() => (written = true));
  let closed = false;
  const close = dev.close().then(() => (closed = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(closed, false);
  pv0.release();
  await Promise.all([write, close]);
  assert.equal(written, true);
  await assert.rejects(dev.read(new Uint8Array(1), 0), (e: unknown) => (e as { code?: string }).code === "ENODEV");
});

test("I/O outside the LV is a RangeError", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const dev = new LvDevice("lin", compileLv(vg, "lin"), devicesOf(vg, (id, size) => new SparseDevice(id, size)));
  await assert.rejects(dev.read(new Uint8Array(2), dev.size - 1), RangeError);
  await assert.rejects(dev.writeZeroes(-1, 1), RangeError);
});

test("a one-piece request its device finished at once is DONE, and leaves no slot, in-flight count or unflushed write behind", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  let flushes = 0;
  const pvs = devicesOf(vg, (id, size) => Object.assign(new MemoryDevice(id, size), { flush: async () => void flushes++ }));
  const dev = new LvDevice("lin", compileLv(vg, "lin"), pvs, { maxInFlight: 1 });
  const data = randomBytes(4096, 5);
  assert.equal(dev.write(data, 8192), DONE);
  const back = new Uint8Array(4096);
  assert.equal(dev.read(back, 8192), DONE);
  assert.deepEqual(back, data);
  const at = pvAt(vg, "lin", 8192);
  assert.deepEqual(pvs.get(at.pv)!.data.subarray(at.byte, at.byte + 4096), data);
  await dev.flush();
  assert.equal(flushes, 1, "the write made its PV dirty");
  // One slot: had a request kept it, this one would wait forever; the swap resolves only with nothing in flight.
  await dev.write(randomBytes(4096, 6), 0);
  await dev.swapMap(compileLv(vg, "lin"));
  await dev.close();
});

test("a one-piece request that fails gives its slot back, and an out-of-range one still rejects", async () => {
  const vg = fixtureVg("vg0-raw.txt");
  const pvs = devicesOf(vg, (id, size) => new MemoryDevice(id, size));
  const dev = new LvDevice("lin", compileLv(vg, "lin"), pvs, { maxInFlight: 1 });
  const pv = pvs.get(pvAt(vg, "lin", 0).pv)!;
  const write = pv.write.bind(pv);
  pv.write = () => Promise.reject(Object.assign(new Error("EIO: bad sector"), { code: "EIO" }));
  await assert.rejects(dev.write(randomBytes(512, 1), 0), isEio);
  pv.write = write;
  assert.equal(dev.write(randomBytes(512, 2), 0), DONE);
  await assert.rejects(dev.read(new Uint8Array(2), dev.size - 1), RangeError);
});
