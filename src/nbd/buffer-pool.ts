/**
 * Payload buffers reused across requests. Allocating a fresh megabyte per READ or
 * WRITE costs page faults and garbage collection that the data path cannot
 * afford; buffers come in power-of-two classes and at most `maxBytes` are kept.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private kept = 0;

  constructor(
    private readonly maxBytes: number,
    /** Smaller requests come from Node's own slab allocator. */
    private readonly minSize = 4096,
  ) {}

  /**
   * A buffer of `length` bytes (a view of a pooled buffer); give `backing` back
   * with put() once nothing refers to the view any more.
   */
  get(length: number): { view: Buffer; backing: Buffer | undefined } {
    if (length < this.minSize) return { view: Buffer.allocUnsafe(length), backing: undefined };
    const size = sizeClass(length);
    let backing = this.free.get(size)?.pop();
    if (backing) this.kept -= size;
    else backing = Buffer.allocUnsafeSlow(size);
    return { view: backing.subarray(0, length), backing };
  }

  put(backing: Buffer): void {
    if (this.kept + backing.length > this.maxBytes) return;
    const list = this.free.get(backing.length);
    if (list) list.push(backing);
    else this.free.set(backing.length, [backing]);
    this.kept += backing.length;
  }
}

/**
 * The smallest power of two >= length, in integer operations (2 ** Math.ceil(Math.log2())
 * calls libm twice per request). Payloads are at most MAX_PAYLOAD_LIMIT (2^30), so 1 << 30 is the most.
 */
function sizeClass(length: number): number {
  return 1 << (32 - Math.clz32(length - 1));
}
