/**
 * In-memory machines for the metadata layer: devices, a session over them with
 * fixed time, host and randomness, and VG models built the way commands build them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryDevice, memoryDeviceAccess } from "../../../src/io/memory-device.ts";
import type { BlockDevice } from "../../../src/io/block-device.ts";
import { openSessionWith, type SessionDeps } from "../../../src/metadata/open-session.ts";
import type { Session, ScannedPv, SessionOptions } from "../../../src/metadata/session.ts";
import type { LogicalVolume, PhysicalVolume, VolumeGroup } from "../../../src/core/model/types.ts";
import { fromScanned, pvEntry } from "../../../src/cli/commands/pvcreate.ts";
import { linearSegment, makeLv, makeVg } from "../../helpers/model-builders.ts";

export const MiB = 1024 * 1024;

/** A counter-based byte source: ids differ between calls and runs are reproducible. */
export function counterBytes(seed = 1): (n: number) => Uint8Array {
  let next = seed;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (next = (Math.imul(next, 1103515245) + 12345) >>> 0) >>> 16;
    return out;
  };
}

export interface Machine {
  dir: string;
  devices: BlockDevice[];
  warnings: string[];
  open(opts?: Partial<SessionOptions>, devices?: BlockDevice[]): Promise<Session>;
  cleanup(): void;
}

export function memoryDevices(count: number, size = 16 * MiB, prefix = "/dev/mem"): MemoryDevice[] {
  return Array.from({ length: count }, (_, i) => new MemoryDevice(`${prefix}${i}`, size));
}

export function machine(devices: BlockDevice[], opts: { seed?: number; lockTimeoutMs?: number } = {}): Machine {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-meta-"));
  const warnings: string[] = [];
  let counter = 1000;
  const randomBytes = counterBytes(opts.seed ?? 1);
  const deps = (devs: BlockDevice[]): SessionDeps => ({
    access: memoryDeviceAccess(devs),
    randomBytes,
    randomInt: () => counter++,
    lockTimeoutMs: opts.lockTimeoutMs ?? 10_000,
  });
  return {
    dir,
    devices,
    warnings,
    open(options = {}, devs = devices) {
      return openSessionWith(
        {
          systemDir: join(dir, "etc"),
          runDir: join(dir, "run"),
          devices: devs.map((d) => d.path),
          commandLine: "test",
          warn: (line) => warnings.push(line),
          now: () => 1796071451,
          hostname: "testhost",
          ...options,
        },
        deps(devs),
      );
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The PV entry vgcreate/vgextend put in the metadata for a scanned orphan. */
export function pvFor(pv: ScannedPv, extentSize = 2048): PhysicalVolume {
  return pvEntry(fromScanned(pv.device, pv), extentSize);
}

export function newVg(name: string, id: string, pvs: PhysicalVolume[], extentSize = 2048): VolumeGroup {
  return makeVg({ name, id, seqno: 0, extentSize, pvs });
}

export function linearLv(name: string, id: string, pvId: string, pe: number, extents: number): LogicalVolume {
  return makeLv(name, [linearSegment(0, extents, pvId, pe)], { id, creationTime: 1796071451, creationHost: "testhost" });
}

/** pvcreate on every device, then vgcreate of one VG over all of them; returns the VG as written. */
export async function createVg(m: Machine, name = "vg0", devices = m.devices, extentSize = 2048): Promise<VolumeGroup> {
  const s = await m.open();
  try {
    for (const d of devices) await s.createPv(d.path, {});
    const pvs = devices.map((d) => pvFor(s.findPv(d.path)!, extentSize));
    const vg = newVg(name, "VGidVGidVGidVGidVGidVGidVGid" + name.padEnd(4, "x").slice(0, 4), pvs, extentSize);
    await s.writeVg(undefined, vg);
    return vg;
  } finally {
    await s.close();
  }
}
