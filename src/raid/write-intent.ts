/**
 * md's write-intent bitmap, kept in memory as the image of its on-disk span
 * (bitmap superblock, one bit per region, padding) and persisted in rounds:
 * a write may touch a region only once that region's bit is durable, writes
 * that need new bits at the same time share one round, and bits are cleared
 * lazily, by a sweep that spares every region written since the sweep before
 * (md's two-pass clearing), so a hot region costs no bitmap writes at all.
 */
import { BITMAP_SUPERBLOCK_SIZE } from "../core/format/md-bitmap.ts";

/** Writes `snapshot` (the whole span image) where it differs from `onDisk`; rejects when no copy of it could be made durable. */
export type PersistSpan = (snapshot: Uint8Array, onDisk: Uint8Array) => Promise<void>;

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A round nobody waits for (a sweep's) must not crash the process when it fails.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

const has = (span: Uint8Array, r: number) => (span[BITMAP_SUPERBLOCK_SIZE + (r >> 3)]! & (1 << (r & 7))) !== 0;

export class WriteIntentLog {
  /** The span as it will next be written. */
  readonly span: Uint8Array;
  /** The span as last made durable. */
  private disk: Uint8Array;
  /** What the round in flight writes, while one is. */
  private writing?: Uint8Array;
  private current?: Deferred;
  private next?: Deferred;
  /** Writes in flight per region. */
  private readonly pending: Uint32Array;
  /** Written since the last sweep. */
  private readonly touched: Uint8Array;
  private readonly idleWaiters = new Map<number, (() => void)[]>();

  constructor(
    readonly regions: number,
    span: Uint8Array,
    private readonly persist: PersistSpan,
    /** The span already on disk; defaults to `span` (nothing to write). */
    onDisk: Uint8Array = span,
  ) {
    this.span = span.slice();
    this.disk = onDisk.slice();
    this.pending = new Uint32Array(regions);
    this.touched = new Uint8Array(regions);
  }

  isSet(r: number): boolean {
    return has(this.span, r);
  }

  /** Bits set among the regions. */
  count(): number {
    let n = 0;
    for (let r = 0; r < this.regions; r++) if (has(this.span, r)) n++;
    return n;
  }

  set(r: number): void {
    this.span[BITMAP_SUPERBLOCK_SIZE + (r >> 3)]! |= 1 << (r & 7);
  }

  private clear(r: number): void {
    this.span[BITMAP_SUPERBLOCK_SIZE + (r >> 3)]! &= ~(1 << (r & 7));
  }

  /** True when the bit is on disk and no round in flight clears it. */
  private durable(r: number): boolean {
    return has(this.disk, r) && (this.writing === undefined || has(this.writing, r));
  }

  /**
   * Registers a write to regions r0..r1. Resolves once all their bits are
   * durable; undefined when they already are (the common case costs no promise).
   */
  startWrite(r0: number, r1: number): Promise<void> | undefined {
    let needs = false;
    for (let r = r0; r <= r1; r++) {
      this.pending[r]!++;
      this.touched[r] = 1;
      if (!has(this.span, r)) {
        this.set(r);
        needs = true;
      } else if (!needs && !this.durable(r)) needs = true;
    }
    return needs ? this.commit() : undefined;
  }

  endWrite(r0: number, r1: number): void {
    for (let r = r0; r <= r1; r++) {
      if (--this.pending[r]! === 0) {
        const waiters = this.idleWaiters.get(r);
        if (waiters) {
          this.idleWaiters.delete(r);
          for (const w of waiters) w();
        }
      }
    }
  }

  /** Resolves when no write is in flight in region r. */
  idle(r: number): Promise<void> | undefined {
    if (this.pending[r] === 0) return undefined;
    return new Promise((resolve) => {
      const list = this.idleWaiters.get(r);
      if (list) list.push(resolve);
      else this.idleWaiters.set(r, [resolve]);
    });
  }

  /**
   * Clears the bits of regions not written since the last sweep, with no write
   * in flight, that `clearable` allows. Returns the regions cleared (the
   * caller then commits, or sets them again if it cannot).
   */
  sweep(clearable: (r: number) => boolean): number[] {
    const cleared: number[] = [];
    for (let r = 0; r < this.regions; r++) {
      if (this.touched[r]) {
        this.touched[r] = 0;
        continue;
      }
      if (this.pending[r] === 0 && has(this.span, r) && clearable(r)) {
        this.clear(r);
        cleared.push(r);
      }
    }
    return cleared;
  }

  /** Clears bits now, whatever was written lately: for a clean stop, when every leg holds every write. */
  clearAll(clearable: (r: number) => boolean): void {
    for (let r = 0; r < this.regions; r++) if (this.pending[r] === 0 && clearable(r)) this.clear(r);
  }

  /** Makes the span as it is now durable; rounds are serial and a round covers every change made before it started. */
  commit(): Promise<void> {
    const round = (this.next ??= deferred());
    if (!this.current) this.startRound();
    return round.promise;
  }

  private startRound(): void {
    const round = this.next!;
    this.next = undefined;
    this.current = round;
    const snapshot = this.span.slice();
    this.writing = snapshot;
    this.persist(snapshot, this.disk).then(
      () => {
        this.disk = snapshot;
        this.finishRound();
        round.resolve();
      },
      (e) => {
        this.finishRound();
        round.reject(e);
      },
    );
  }

  private finishRound(): void {
    this.writing = undefined;
    this.current = undefined;
    if (this.next) this.startRound();
  }
}
