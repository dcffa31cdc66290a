/**
 * How fast the data path splits requests: random 4 KiB requests on a striped LV
 * (4 stripes of 64 KiB over 4 PVs, 16 segments so the run search has work),
 * first through the bare mapping (pieces per second), then through LvDevice on
 * devices that do nothing (the per-request cost the NBD server pays on top of
 * the PV I/O).
 */
import { compileLv, forEachPiece, type Dest } from "../src/datapath/mapping.ts";
import { LvDevice } from "../src/datapath/lv-device.ts";
import type { BlockDevice } from "../src/io/block-device.ts";
import { makeLv, makePv, makeVg } from "../test/helpers/model-builders.ts";

const STRIPES = 4;
const SEGMENTS = 16;
const EXTENTS_PER_AREA = 256;
const EXTENT = 8192; // sectors: 4 MiB
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000_000);

const pvIds = Array.from({ length: STRIPES }, (_, i) => `pv${i}`.padEnd(32, "x"));
const vg = makeVg({
  name: "vgbench",
  extentSize: EXTENT,
  pvs: pvIds.map((id) => makePv(id, SEGMENTS * EXTENTS_PER_AREA)),
  lvs: [
    makeLv(
      "bench",
      Array.from({ length: SEGMENTS }, (_, s) => ({
        startExtent: s * STRIPES * EXTENTS_PER_AREA,
        extentCount: STRIPES * EXTENTS_PER_AREA,
        type: "striped",
        typeFlags: [],
        tags: [],
        stripeSize: 128,
        areas: pvIds.map((pvId, i) => ({ kind: "pv" as const, pvId, pe: ((s + i) % SEGMENTS) * EXTENTS_PER_AREA })),
        metaAreas: [],
        extra: [],
      })),
      { id: "L".repeat(32) },
    ),
  ],
});
const map = compileLv(vg, "bench");

// Offsets drawn before timing, so the loop measures the mapping, not the RNG.
function offsets(aligned: boolean): Float64Array {
  const out = new Float64Array(REQUESTS);
  for (let i = 0; i < REQUESTS; i++) {
    const x = Math.floor(Math.random() * (map.size - 4096));
    out[i] = aligned ? x - (x % 4096) : x;
  }
  return out;
}

/** `bytes` only keeps the visitor's work observable, so the JIT cannot drop it. */
const sink = { pieces: 0, bytes: 0 };
function count(s: typeof sink, _dest: Dest, destOffset: number, _bufOffset: number, length: number): void {
  s.pieces++;
  s.bytes += destOffset + length;
}

function mapRate(label: string, aligned: boolean): void {
  const offs = offsets(aligned);
  for (let i = 0; i < 100_000; i++) forEachPiece(map, offs[i]!, 4096, count, sink);
  sink.pieces = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < REQUESTS; i++) forEachPiece(map, offs[i]!, 4096, count, sink);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = (n: number) => (n / s / 1e6).toFixed(1);
  console.log(`${label}: ${rate(sink.pieces)} M pieces/s, ${rate(REQUESTS)} M requests/s (${(sink.pieces / REQUESTS).toFixed(3)} pieces/request)`);
}

async function deviceRate(): Promise<void> {
  const nothing = (path: string): BlockDevice => ({
    path,
    size: Number.MAX_SAFE_INTEGER,
    read: async () => {},
    write: async () => {},
    flush: async () => {},
    close: async () => {},
  });
  const dev = new LvDevice("vgbench/bench", map, new Map(pvIds.map((id) => [id, nothing(id)])));
  const n = Math.min(REQUESTS, 500_000);
  const offs = offsets(true);
  const depth = 32;
  let next = 0;
  const worker = async () => {
    const buf = new Uint8Array(4096);
    while (next < n) await dev.read(buf, offs[next++]!);
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: depth }, worker));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`LvDevice.read, 4 KiB aligned, iodepth ${depth}, no-op PVs: ${(n / s / 1e6).toFixed(2)} M requests/s`);
}

console.log(`striped map: ${STRIPES} stripes x 64 KiB, ${SEGMENTS} segments, ${(map.size / 2 ** 30).toFixed(0)} GiB, ${REQUESTS} requests`);
mapRate("forEachPiece, 4 KiB aligned", true);
mapRate("forEachPiece, 4 KiB unaligned", false);
await deviceRate();
