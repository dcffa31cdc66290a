/**
 * Crash safety of the commit protocol: every single write of a commit is made to
 * fail in turn (an I/O error the command survives, a machine stop after which
 * nothing more is written, a torn write), and a fresh session must then read the
 * VG at the old or the new seqno, with every committed copy on disk being exactly
 * the old or the new text, and the next write must leave everything consistent.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryDevice } from "../../../src/io/memory-device.ts";
import { FaultPlan, FaultyDevice } from "../../../src/io/faulty-device.ts";
import { decodeMdaHeader, metadataSpans } from "../../../src/core/format/mda.ts";
import { lvmCrc } from "../../../src/core/crc.ts";
import { scanLabel } from "../../../src/core/format/label.ts";
import type { LoadedVg, Session } from "../../../src/metadata/session.ts";
import type { VolumeGroup } from "../../../src/core/model/types.ts";
import { createVg, linearLv, machine, memoryDevices, MiB, pvFor, type Machine } from "./helpers.ts";

type Change = (s: Session, loaded: LoadedVg) => VolumeGroup;

/** Small devices and 4 KiB extents keep the hundreds of runs below fast. */
const DEVICE_SIZE = 4 * MiB;
const EXTENT = 8;

const changes: Record<string, Change> = {
  lvcreate: (_s, { vg }) => ({ ...vg, lvs: [...vg.lvs, linearLv("new", "N".repeat(32), vg.pvs[0]!.id, 5, 2)] }),
  vgextend: (s, { vg }) => ({ ...vg, pvs: [...vg.pvs, pvFor(s.findPv("/dev/mem9")!, EXTENT)] }),
  vgreduce: (_s, { vg }) => ({ ...vg, pvs: vg.pvs.slice(0, -1) }),
};

interface Mode {
  name: string;
  crash: boolean;
  tear?: number;
}
const modes: Mode[] = [
  { name: "EIO", crash: false },
  { name: "crash", crash: true },
  { name: "torn after 1 byte", crash: true, tear: 1 },
  { name: "torn after 300 bytes", crash: true, tear: 300 },
  { name: "torn after a sector", crash: true, tear: 512 },
];

/** Every committed copy whose header and checksum are intact, as text (NUL included). */
function committedCopies(devs: MemoryDevice[]): string[] {
  const copies: string[] = [];
  for (const dev of devs) {
    const label = scanLabel(dev.data.subarray(0, 2048), dev.path).label;
    for (const area of label?.metadataAreas ?? []) {
      let h;
      try {
        h = decodeMdaHeader(dev.data.subarray(area.offset, area.offset + 512), area.offset, dev.path);
      } catch {
        continue;
      }
      if (!h.committed.offset) continue;
      const parts = metadataSpans(h, h.committed).map((s) => dev.data.slice(s.offset, s.offset + s.length));
      const bytes = new Uint8Array(h.committed.size);
      parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
      if (lvmCrc(bytes) === h.committed.checksum) copies.push(new TextDecoder().decode(bytes));
    }
  }
  return copies;
}

function snapshot(devs: MemoryDevice[]): MemoryDevice[] {
  return devs.map((d) => new MemoryDevice(d.path, d.data.slice()));
}

async function setUp(pvCount: number): Promise<{ m: Machine; base: MemoryDevice[]; oldText: string; oldSeqno: number }> {
  const devs = memoryDevices(pvCount, DEVICE_SIZE) as MemoryDevice[];
  const spare = new MemoryDevice("/dev/mem9", DEVICE_SIZE);
  const m = machine([...devs, spare]);
  await createVg(m, "vg0", devs, EXTENT);
  const s = await m.open();
  await s.createPv("/dev/mem9", {});
  const loaded = s.readVg("vg0")!;
  loaded.vg.lvs.push(linearLv("old", "O".repeat(32), loaded.vg.pvs[0]!.id, 0, 2));
  await s.writeVg(loaded, loaded.vg);
  await s.close();
  const base = [...devs, spare];
  const copies = committedCopies(devs);
  assert.equal(new Set(copies).size, 1);
  return { m, base, oldText: copies[0]!, oldSeqno: loaded.vg.seqno };
}

/** Runs the change over faulty copies of `base`; returns the devices as left and the text a clean run commits. */
async function runChange(m: Machine, base: MemoryDevice[], change: Change, plan: FaultPlan): Promise<MemoryDevice[]> {
  const devs = snapshot(base);
  const s = await m.open({}, devs.map((d) => new FaultyDevice(d, plan)));
  const loaded = s.readVg("vg0")!;
  await s.writeVg(loaded, change(s, loaded)).catch(() => {});
  await s.close();
  return devs;
}

for (const pvCount of [2, 3]) {
  for (const [changeName, change] of Object.entries(changes)) {
    test(`${pvCount}-PV VG, ${changeName}: a failure at any write leaves the old or the new version, never neither`, async () => {
      const { m, base, oldText, oldSeqno } = await setUp(pvCount);
      try {
        const clean = new FaultPlan();
        const cleanDevs = await runChange(m, base, change, clean);
        const newText = committedCopies(cleanDevs.slice(0, pvCount + (changeName === "vgextend" ? 1 : 0)))[0]!;
        assert.notEqual(newText, oldText);
        assert.ok(clean.writes >= 3 * (pvCount - (changeName === "vgreduce" ? 1 : 0)), `a commit writes text, precommit and commit per mda (${clean.writes})`);

        for (let k = 1; k <= clean.writes; k++) {
          for (const mode of modes) {
            const plan = new FaultPlan();
            plan.failWriteAt = k;
            plan.crash = mode.crash;
            plan.tearBytes = mode.tear;
            const devs = await runChange(m, base, change, plan);
            const what = `write ${k}/${clean.writes}, ${mode.name}`;
            assert.ok(plan.failed, `${what}: the fault fired`);

            for (const copy of committedCopies(devs)) assert.ok(copy === oldText || copy === newText, `${what}: a committed copy is neither version`);

            const warnings: string[] = [];
            const s = await m.open({ warn: (l) => warnings.push(l) }, devs);
            const read = s.readVg("vg0");
            assert.ok(read, `${what}: the VG is gone`);
            assert.ok(read.vg.seqno === oldSeqno || read.vg.seqno === oldSeqno + 1, `${what}: seqno ${read.vg.seqno}`);
            const readSeqno = read.vg.seqno;
            const expected = readSeqno === oldSeqno ? oldText : newText;
            assert.ok(committedCopies(devs).includes(expected), `${what}: the winning version is intact byte for byte`);

            // The next write repairs whatever the failure left behind.
            await s.writeVg(read, read.vg);
            await s.close();
            const after: string[] = [];
            const t = await m.open({ warn: (l) => after.push(l) }, devs);
            const final = t.readVg("vg0")!;
            assert.equal(final.vg.seqno, readSeqno + 1, what);
            await t.close();
            // A header torn on a PV outside the VG (a vgextend that did not commit, a
            // vgreduce interrupted while orphaning) belongs to no VG any more; the VG's own PVs must be clean.
            const members = [...final.devices.values()].map((d) => d.device);
            const damage = after.filter((l) => /checksum|ignoring metadata|Inconsistent|outdated|bad metadata/i.test(l));
            assert.deepEqual(damage.filter((l) => members.some((d) => l.includes(`${d} `) || l.endsWith(d))), [], `${what}: left unrepaired`);
            assert.ok(!after.some((l) => /outdated|ignoring metadata/.test(l)), `${what}: ${after.join("; ")}`);
          }
        }
      } finally {
        m.cleanup();
      }
    });
  }
}
