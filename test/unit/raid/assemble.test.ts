import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { assemble, readLegMeta, type LegMeta } from "../../../src/raid/assemble.ts";
import { getRegionBit } from "../../../src/core/format/md-bitmap.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/kernel/", import.meta.url));
const states = JSON.parse(readFileSync(`${FIXTURES}rmeta-states.json`, "utf8")) as Record<
  string,
  { legs: number; lvSectors: number; regionSectors: number; rmetas: string[]; lvStatus: string[] }
>;

function kernelArray(vg: string) {
  const s = states[vg]!;
  const metas = s.rmetas.map((f) => readLegMeta(new Uint8Array(readFileSync(FIXTURES + f))));
  const geometry = { size: s.lvSectors * 512, regionSize: s.regionSectors * 512, legs: s.legs };
  return { geometry, metas, nosync: s.lvStatus.includes("NOTSYNCED"), regions: Math.ceil(s.lvSectors / s.regionSectors) };
}

const setRegions = (bits: Uint8Array, regions: number) => Array.from({ length: regions }, (_, r) => r).filter((r) => getRegionBit(bits, r));

test("arrays the kernel stopped cleanly assemble in sync with nothing to resync", () => {
  for (const vg of ["vgclean", "vgnosync"]) {
    const { geometry, metas, nosync, regions } = kernelArray(vg);
    const a = assemble(vg, geometry, metas, nosync);
    assert.equal(a.fresh, false);
    assert.deepEqual(a.legs.map((l) => l.state), metas.map(() => "in-sync"), vg);
    assert.deepEqual(setRegions(a.resync, regions), [], vg);
  }
});

test("a kernel array powered off while written: the bits are kept, but as in the kernel, its resync offset (MaxSector) owes no resync", () => {
  const { geometry, metas, regions } = kernelArray("vgdirty");
  const a = assemble("vgdirty", geometry, metas, false);
  assert.deepEqual(a.legs.map((l) => l.state), ["in-sync", "in-sync"]);
  assert.deepEqual(setRegions(a.bits, regions), [1, 2, 40, 127]);
  assert.deepEqual(setRegions(a.resync, regions), []);
});

test("a resync offset below the end (ulvm while active, or the kernel's checkpoint) resyncs the set bits past it", () => {
  const { geometry, metas, regions } = kernelArray("vgdirty");
  for (const m of metas) if (m.kind === "rmeta") m.rmeta.superblock.arrayResyncOffset = 40n * 512n;
  assert.deepEqual(setRegions(assemble("vgdirty", geometry, metas, false).resync, regions), [40, 127]);
});

test("a kernel array stopped mid initial sync resumes with the regions not yet synced", () => {
  const { geometry, metas, regions } = kernelArray("vgsyncing");
  const a = assemble("vgsyncing", geometry, metas, false);
  const owed = setRegions(a.resync, regions);
  // The checkpoint (40064 of 98304 sectors) lies in region 19 of 1 MiB regions: the kernel resumed exactly there.
  assert.equal(owed[0], 19);
  for (let r = 20; r < regions; r++) assert.ok(owed.includes(r), `region ${r}`);
});

test("blank legs make a fresh array: a full resync, or none with --nosync", () => {
  const geometry = { size: 64 << 20, regionSize: 2 << 20, legs: 2 };
  const blank: LegMeta[] = [{ kind: "blank" }, { kind: "blank" }];
  const full = assemble("vg/lv", geometry, blank, false);
  assert.equal(full.fresh, true);
  assert.equal(setRegions(full.resync, 32).length, 32);
  assert.equal(setRegions(assemble("vg/lv", geometry, blank, true).resync, 32).length, 0);
});

test("a leg the freshest superblock marks failed, or that lags behind it, recovers by delta; a blank leg in full", () => {
  const { geometry, metas } = kernelArray("vgclean");
  const [m0, m1] = metas as [Extract<LegMeta, { kind: "rmeta" }>, Extract<LegMeta, { kind: "rmeta" }>];
  const failed = structuredClone(m0);
  failed.rmeta.superblock.events += 1n;
  failed.rmeta.superblock.failedDevices = 2n;
  assert.deepEqual(assemble("x", geometry, [failed, m1], false).legs, [{ state: "in-sync" }, { state: "recovering" }]);
  const ahead = structuredClone(m1);
  ahead.rmeta.superblock.events += 5n;
  assert.deepEqual(assemble("x", geometry, [m0, ahead], false).legs, [{ state: "recovering" }, { state: "in-sync" }]);
  assert.deepEqual(assemble("x", geometry, [m0, { kind: "blank" }], false).legs, [{ state: "in-sync" }, { state: "recovering", fullFrom: 0 }]);
  assert.deepEqual(assemble("x", geometry, [{ kind: "absent" }, m1], false).legs, [{ state: "failed" }, { state: "in-sync" }]);
  assert.throws(() => assemble("x", geometry, [{ kind: "absent" }, { kind: "split" }], false), /none of its images/);
});

test("a grown array (lvextend) syncs the new regions only", () => {
  const { geometry, metas, regions } = kernelArray("vgclean");
  const grown = { ...geometry, size: geometry.size * 2 };
  const a = assemble("vgclean", grown, metas, false);
  assert.deepEqual(setRegions(a.resync, regions * 2), Array.from({ length: regions }, (_, i) => regions + i));
  assert.deepEqual(setRegions(assemble("vgclean", grown, metas, true).resync, regions * 2), []);
});

test("an image reloaded as an error segment counts as it was until I/O fails it, as under dm-error", () => {
  const { geometry, metas } = kernelArray("vgclean");
  const [m0] = metas as [Extract<LegMeta, { kind: "rmeta" }>];
  assert.deepEqual(assemble("x", geometry, [m0, { kind: "errored" }], false).legs, [{ state: "in-sync" }, { state: "in-sync" }]);
  const failed = structuredClone(m0);
  failed.rmeta.superblock.failedDevices = 2n;
  assert.deepEqual(assemble("x", geometry, [failed, { kind: "errored" }], false).legs, [{ state: "in-sync" }, { state: "failed" }]);
});
