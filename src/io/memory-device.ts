/** A device held in memory, for tests and for staging images. */
import { DONE, type BlockDevice } from "./block-device.ts";
import { assertInRange } from "./range.ts";
import type { DeviceAccess } from "./device-access.ts";

export class MemoryDevice implements BlockDevice {
  readonly data: Uint8Array;

  constructor(
    readonly path: string,
    sizeOrData: number | Uint8Array,
  ) {
    this.data = typeof sizeOrData === "number" ? new Uint8Array(sizeOrData) : sizeOrData;
  }

  get size(): number {
    return this.data.length;
  }

  /** Always finished at once: DONE, as a file device's page-cache hits. */
  read(buf: Uint8Array, offset: number): Promise<void> {
    try {
      assertInRange(this.path, this.size, offset, buf.length);
    } catch (e) {
      return Promise.reject(e);
    }
    buf.set(this.data.subarray(offset, offset + buf.length));
    return DONE;
  }

  write(buf: Uint8Array, offset: number): Promise<void> {
    try {
      assertInRange(this.path, this.size, offset, buf.length);
    } catch (e) {
      return Promise.reject(e);
    }
    this.data.set(buf, offset);
    return DONE;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}

/** A machine whose only devices are the given ones, all recorded by name. */
export function memoryDeviceAccess(devices: BlockDevice[]): DeviceAccess {
  const byPath = new Map(devices.map((d) => [d.path, d]));
  return {
    async open(path) {
      const dev = byPath.get(path);
      if (!dev) throw Object.assign(new Error(`ENOENT: no such device ${path}`), { code: "ENOENT" });
      return dev;
    },
    canonical: (path) => (byPath.has(path) ? path : undefined),
    deviceId: async (path) => ({ idType: "devname", idName: path }),
    loopForBackingFile: async () => undefined,
    listDevices: async () => [...byPath.keys()],
  };
}
