/**
 * An image split off a raid1 with --trackchanges, served as an LV of its own.
 * LVM tracks only the writes to the origin, so a journal replay or any write on
 * the split image is silently kept after the merge in regions the origin did
 * not rewrite. ulvm also records the image's writes, in the image's own rmeta
 * bitmap (which the array does not use while the image is split): the merge,
 * which assembles the array with every leg's bitmap, then copies the union.
 * Bits here are never cleared: only the merge consumes them.
 */
import { BITMAP_SUPERBLOCK_SIZE } from "../core/format/md-bitmap.ts";
import { RMETA_BITMAP_OFFSET } from "../core/format/dmraid.ts";
import {
  META_BLOCK,
  bitmapSuperblockFor,
  bitsBytes,
  putBitmapSuperblock,
  readLegMeta,
  regionCount,
  rmetaReadBytes,
  type ArrayGeometry,
} from "./assemble.ts";
import type { Placement } from "./raid1.ts";
import { WriteIntentLog } from "./write-intent.ts";

export class ImageTracker {
  private constructor(
    private readonly regionSize: number,
    private readonly log: WriteIntentLog,
  ) {}

  /**
   * Reads the image's rmeta. Its dm-raid superblock is left as the split found
   * it (the merge must see the image lag behind the origin); only bitmap bits are
   * written.
   */
  static async open(g: ArrayGeometry, meta: Placement): Promise<ImageTracker> {
    const regions = regionCount(g);
    const head = new Uint8Array(rmetaReadBytes(g));
    await meta.dev.read(head, meta.base);
    const found = readLegMeta(head);
    const span = new Uint8Array(BITMAP_SUPERBLOCK_SIZE + bitsBytes(regions));
    if (found.kind === "rmeta" && found.rmeta.bitmap.chunksize === g.regionSize) {
      span.set(head.subarray(RMETA_BITMAP_OFFSET, RMETA_BITMAP_OFFSET + span.length));
      return new ImageTracker(g.regionSize, new WriteIntentLog(regions, span, (snap, disk) => writeSpan(meta, snap, disk)));
    }
    // No usable bitmap (an image never assembled): start one; the merge then recovers it in full anyway.
    span.fill(0xff, BITMAP_SUPERBLOCK_SIZE);
    putBitmapSuperblock(span, bitmapSuperblockFor(g, 0n, 0n));
    return new ImageTracker(g.regionSize, new WriteIntentLog(regions, span, (snap, disk) => writeSpan(meta, snap, disk), new Uint8Array(span.length)));
  }

  /** Runs a write to [offset, offset + length) once its regions are marked on disk. */
  async track<T>(offset: number, length: number, io: () => Promise<T>): Promise<T> {
    if (length === 0) return io();
    const r0 = Math.floor(offset / this.regionSize);
    const r1 = Math.floor((offset + length - 1) / this.regionSize);
    const durable = this.log.startWrite(r0, r1);
    try {
      if (durable) await durable;
      return await io();
    } finally {
      this.log.endWrite(r0, r1);
    }
  }

  /** Regions written on the image since the split. */
  count(): number {
    return this.log.count();
  }
}

async function writeSpan(meta: Placement, snap: Uint8Array, disk: Uint8Array): Promise<void> {
  for (let b = 0; b < snap.length; b += META_BLOCK) {
    let same = true;
    for (let i = b; i < b + META_BLOCK && same; i++) same = snap[i] === disk[i];
    if (!same) await meta.dev.write(snap.subarray(b, b + META_BLOCK), meta.base + RMETA_BITMAP_OFFSET + b);
  }
}
