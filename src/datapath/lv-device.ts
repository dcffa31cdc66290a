/**
 * An active LV as a BlockDevice: each request is split over the compiled map and
 * its pieces go straight to the PV devices as views of the caller's buffer.
 * The map can be swapped while I/O is in flight (lvextend on an open LV):
 * requests keep the map they started on.
 */
import { DONE, type BlockDevice } from "../io/block-device.ts";
import { canDiscard, canZeroFast, discardOn, writeZeroesOn, type DiscardableDevice, type ExtendedDevice } from "../io/discard.ts";
import { Slots } from "../io/slots.ts";
import { forEachPiece, type Dest, type LvMap, type MirrorTarget } from "./mapping.ts";

/**
 * The raid engine's seam: a device serving one raid1/mirror segment, addressed
 * in bytes from the segment's start. Called for each such segment whenever a map
 * is installed; the engine owns what it returns. Without it, or when it returns
 * undefined, I/O to the segment fails with EIO.
 */
export type MirrorDeviceFactory = (target: MirrorTarget, pvs: ReadonlyMap<string, ExtendedDevice>) => ExtendedDevice | undefined;

export interface LvDeviceOptions {
  /** Most PV I/Os in flight at once over all requests of this device (default 64). */
  maxInFlight?: number;
  mirrorDevice?: MirrorDeviceFactory;
}

type Op = "read" | "write" | "zeroes" | "discard";

interface Piece {
  dest: Dest;
  offset: number;
  bufOffset: number;
  length: number;
}

interface Request {
  gen: Generation;
  op: Op;
  /** Empty for zeroes and discard. */
  buf: Uint8Array;
  offset: number;
  pieces: Piece[];
  next: number;
  failed: boolean;
  error: unknown;
}

const NO_DATA = new Uint8Array(0);

function collect(pieces: Piece[], dest: Dest, offset: number, bufOffset: number, length: number): void {
  pieces.push({ dest, offset, bufOffset, length });
}

/** The first piece of a request, reused by every request: most requests are one piece, and finding it allocates nothing. */
interface FirstPiece {
  dest: Dest | undefined;
  offset: number;
}

function keepFirst(first: FirstPiece, dest: Dest, offset: number, bufOffset: number): void {
  if (bufOffset !== 0) return;
  first.dest = dest;
  first.offset = offset;
}

function ioError(code: "EIO" | "ENODEV", message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** One installed map with the devices it resolves to, and the requests still using it. */
class Generation {
  readonly pvDevs: (ExtendedDevice | undefined)[];
  readonly mirrorDevs: (ExtendedDevice | undefined)[];
  readonly canDiscard: boolean;
  readonly canZeroFast: boolean;
  private inFlight = 0;
  private idleWaiter?: { promise: Promise<void>; resolve: () => void };

  constructor(
    readonly map: LvMap,
    readonly pvs: ReadonlyMap<string, ExtendedDevice>,
    mirrorDevice: MirrorDeviceFactory | undefined,
  ) {
    this.pvDevs = map.pvs.map((id) => pvs.get(id));
    this.mirrorDevs = map.mirrors.map((m) => mirrorDevice?.(m, pvs));
    const present = [...this.pvDevs, ...this.mirrorDevs].filter((d) => d !== undefined);
    this.canDiscard = present.every(canDiscard);
    this.canZeroFast = present.every(canZeroFast);
  }

  enter(): void {
    this.inFlight++;
  }

  leave(): void {
    if (--this.inFlight === 0 && this.idleWaiter) {
      this.idleWaiter.resolve();
      this.idleWaiter = undefined;
    }
  }

  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    if (!this.idleWaiter) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.idleWaiter = { promise, resolve };
    }
    return this.idleWaiter.promise;
  }
}

export class LvDevice implements BlockDevice, DiscardableDevice {
  private current: Generation;
  /** Older generations with requests still in flight. */
  private readonly retiring = new Set<Generation>();
  /** Devices written since their last flush: a flush must reach them even after a swap dropped them from the map. */
  private readonly dirty = new Set<ExtendedDevice>();
  private readonly slots: Slots;
  private readonly maxInFlight: number;
  private readonly mirrorDevice?: MirrorDeviceFactory;
  private closed = false;
  private readonly first: FirstPiece = { dest: undefined, offset: 0 };
  /** Set while quiesced: new requests wait for it. */
  private gate?: Promise<void>;

  constructor(
    readonly path: string,
    map: LvMap,
    pvs: ReadonlyMap<string, ExtendedDevice>,
    options: LvDeviceOptions = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? 64;
    if (!Number.isSafeInteger(this.maxInFlight) || this.maxInFlight < 1)
      throw new RangeError(`maxInFlight must be a positive integer, not ${this.maxInFlight}`);
    this.slots = new Slots(this.maxInFlight);
    this.mirrorDevice = options.mirrorDevice;
    this.current = new Generation(map, pvs, this.mirrorDevice);
  }

  get size(): number {
    return this.current.map.size;
  }

  get map(): LvMap {
    return this.current.map;
  }

  /** Every device under the current map discards; otherwise discard skips the ones that cannot. */
  get canDiscard(): boolean {
    return this.current.canDiscard;
  }

  /** writeZeroes never falls back to writing zeroes. */
  get canZeroFast(): boolean {
    return this.current.canZeroFast;
  }

  /**
   * Installs a new map (and PV devices, when the VG gained a PV) for every
   * request from now on. Resolves once the requests that started on the old map
   * have finished, after which the extents only the old map used may be reused.
   */
  swapMap(map: LvMap, pvs: ReadonlyMap<string, ExtendedDevice> = this.current.pvs): Promise<void> {
    const old = this.current;
    this.current = new Generation(map, pvs, this.mirrorDevice);
    this.retiring.add(old);
    return old.idle().then(() => {
      this.retiring.delete(old);
    });
  }

  /**
   * Holds new requests back, waits for those in flight, runs `fn` (which may
   * swap the map), then lets requests through again: for changes the engine
   * under a map cannot make while it is used, like re-assembling a raid1.
   */
  async quiesce<T>(fn: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise<void>((r) => (open = r));
    try {
      await Promise.all([this.current, ...this.retiring].map((g) => g.idle()));
      return await fn();
    } finally {
      this.gate = undefined;
      open();
    }
  }

  read(buf: Uint8Array, offset: number): Promise<void> {
    return this.direct(false, buf, offset) ?? this.submit("read", buf, offset, buf.length);
  }

  write(buf: Uint8Array, offset: number): Promise<void> {
    return this.direct(true, buf, offset) ?? this.submit("write", buf, offset, buf.length);
  }

  writeZeroes(offset: number, length: number): Promise<void> {
    return this.submit("zeroes", NO_DATA, offset, length);
  }

  discard(offset: number, length: number): Promise<void> {
    return this.submit("discard", NO_DATA, offset, length);
  }

  async flush(): Promise<void> {
    const devs = [...this.dirty];
    this.dirty.clear();
    const results = await Promise.allSettled(devs.map((d) => d.flush()));
    let failure: PromiseRejectedResult | undefined;
    results.forEach((r, i) => {
      if (r.status === "fulfilled") return;
      this.dirty.add(devs[i]!);
      failure ??= r;
    });
    if (failure) throw failure.reason;
  }

  /** Waits for in-flight requests and refuses new ones. The PV devices are shared by the VG's LVs and stay open. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.current, ...this.retiring].map((g) => g.idle()));
  }

  /**
   * A read or write that maps to one PV or raid1 extent run goes straight to its
   * device, with no request state: DONE passes through when the device finished
   * at once. Undefined for everything else (several pieces, fills, a missing
   * device, no free slot, quiesced, closed, out of range), which submit handles.
   */
  private direct(writing: boolean, buf: Uint8Array, offset: number): Promise<void> | undefined {
    if (this.gate || this.closed || buf.length === 0) return undefined;
    const gen = this.current;
    const first = this.first;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + buf.length > gen.map.size) return undefined;
    if (forEachPiece(gen.map, offset, buf.length, keepFirst, first) !== 1) return undefined;
    const dest = first.dest!;
    first.dest = undefined;
    const dev = dest.kind === "pv" ? gen.pvDevs[dest.slot] : dest.kind === "raid1" ? gen.mirrorDevs[dest.slot] : undefined;
    if (!dev || !this.slots.tryAcquire()) return undefined;
    gen.enter();
    const io = writing ? dev.write(buf, first.offset) : dev.read(buf, first.offset);
    if (io === DONE) {
      this.finished(gen, writing ? dev : undefined);
      return DONE;
    }
    return io.then(
      () => this.finished(gen, writing ? dev : undefined),
      (e: unknown) => {
        this.finished(gen, undefined);
        throw e;
      },
    );
  }

  private finished(gen: Generation, written: ExtendedDevice | undefined): void {
    this.slots.release();
    gen.leave();
    if (written) this.dirty.add(written);
  }

  private async submit(op: Op, buf: Uint8Array, offset: number, length: number): Promise<void> {
    while (this.gate) await this.gate;
    if (this.closed) throw ioError("ENODEV", `${this.path} is closed`);
    const gen = this.current;
    const pieces: Piece[] = [];
    forEachPiece(gen.map, offset, length, collect, pieces);
    if (pieces.length === 0) return;
    const req: Request = { gen, op, buf, offset, pieces, next: 0, failed: false, error: undefined };
    gen.enter();
    try {
      if (pieces.length === 1) return await this.runPiece(req, pieces[0]!);
      const workers: Promise<void>[] = [];
      for (let i = Math.min(pieces.length, this.maxInFlight); i > 0; i--) workers.push(this.worker(req));
      await Promise.all(workers);
      if (req.failed) throw req.error;
    } finally {
      gen.leave();
    }
  }

  /** Pieces not yet started are dropped once one fails: the request fails anyway. */
  private async worker(req: Request): Promise<void> {
    while (!req.failed && req.next < req.pieces.length) {
      try {
        await this.runPiece(req, req.pieces[req.next++]!);
      } catch (e) {
        if (!req.failed) {
          req.failed = true;
          req.error = e;
        }
      }
    }
  }

  private async runPiece(req: Request, p: Piece): Promise<void> {
    const { dest, bufOffset, length } = p;
    if (dest.kind === "error") throw ioError("EIO", `${this.path}: byte ${req.offset + bufOffset} is in an error segment`);
    if (dest.kind === "zero") {
      // dm-zero: reads see zeroes and everything else is dropped.
      if (req.op === "read") req.buf.fill(0, bufOffset, bufOffset + length);
      return;
    }
    const dev = dest.kind === "pv" ? req.gen.pvDevs[dest.slot] : req.gen.mirrorDevs[dest.slot];
    if (!dev) {
      const what = dest.kind === "pv" ? `PV ${dest.pv} is missing` : `no raid engine serves its ${dest.kind} segment`;
      throw ioError("EIO", `${this.path}: byte ${req.offset + bufOffset}: ${what}`);
    }
    const wait = this.slots.acquire();
    if (wait) await wait;
    try {
      switch (req.op) {
        case "read":
          return await dev.read(req.buf.subarray(bufOffset, bufOffset + length), p.offset);
        case "write":
          await dev.write(req.buf.subarray(bufOffset, bufOffset + length), p.offset);
          break;
        case "zeroes":
          await writeZeroesOn(dev, p.offset, length);
          break;
        case "discard":
          await discardOn(dev, p.offset, length);
          break;
      }
    } finally {
      this.slots.release();
    }
    this.dirty.add(dev);
  }
}
