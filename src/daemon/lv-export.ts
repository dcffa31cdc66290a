/**
 * An active LV as an NBD export. The size is read live so that after lvextend
 * new connections see the new size, while connected clients keep the size they
 * negotiated (NBD has no resize notification). Permission is live as well, as
 * a dm table reload makes a device read-only: new connections get the
 * read-only flag, and writes on connections negotiated before fail with EPERM.
 */
import { LvmError } from "../core/errors.ts";
import type { LogicalVolume, VolumeGroup } from "../core/model/types.ts";
import type { LvDevice } from "../datapath/lv-device.ts";
import { compileLv, type LvMap } from "../datapath/mapping.ts";
import type { ImageTracker } from "../raid/tracked-image.ts";
import { FastZeroUnsupportedError, NbdError, type NbdExport, type WriteZeroesOptions } from "../nbd/export.ts";
import { ERR } from "../nbd/protocol.ts";

/** Whether an active LV takes writes; the daemon follows its metadata on activation and on each refresh. */
export class LvAccess {
  readOnly = false;

  /** `tracked`: an image split off with --trackchanges, which ulvm lets take writes though lvm leaves it read-only (they are merged back). */
  constructor(private readonly tracked = false) {}

  follow(lv: LogicalVolume): void {
    this.readOnly = !lv.status.includes("WRITE") && !this.tracked;
  }
}

const readOnlyError = () => new NbdError(ERR.EPERM, "logical volume is read-only");

/** `tracker`: the LV is an image split off with --trackchanges, whose writes are recorded for the merge. */
export function lvExport(name: string, dev: LvDevice, access = new LvAccess(), tracker?: ImageTracker): NbdExport {
  const tracked = <T>(offset: number, length: number, io: () => Promise<T>): Promise<T> => {
    if (access.readOnly) return Promise.reject(readOnlyError());
    return tracker ? tracker.track(offset, length, io) : io();
  };
  const durable = async (fua: boolean) => {
    if (fua) await dev.flush();
  };
  return {
    name,
    get size() {
      return dev.size;
    },
    get readOnly() {
      return access.readOnly;
    },
    // One LvDevice serves every connection, so a flush on any of them covers all writes.
    canMultiConn: true,
    read: (buf, offset) => dev.read(buf, offset),
    write(buf, offset, fua) {
      // The common case adds nothing of its own, so a write the device finished at once stays DONE.
      if (!tracker && !fua && !access.readOnly) return dev.write(buf, offset);
      return tracked(offset, buf.length, () => dev.write(buf, offset)).then(() => durable(fua));
    },
    flush: () => dev.flush(),
    async trim(offset, length, fua) {
      await tracked(offset, length, () => dev.discard(offset, length));
      await durable(fua);
    },
    async writeZeroes(offset, length, opts: WriteZeroesOptions) {
      if (opts.fast && !dev.canZeroFast) throw new FastZeroUnsupportedError();
      await tracked(offset, length, () => dev.writeZeroes(offset, length));
      await durable(opts.fua);
    },
  };
}

/** The map of an LV the daemon can serve: raid1 by the raid engine; the old mirror target has none. */
export function servableMap(vg: VolumeGroup, lv: string): LvMap {
  const map = compileLv(vg, lv);
  const mirror = map.mirrors.find((m) => m.kind !== "raid1");
  if (mirror) throw new LvmError(`Can't process LV ${vg.name}/${lv}: ${mirror.kind} target support missing from kernel?`);
  return map;
}
