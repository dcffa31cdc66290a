/**
 * The one interface every storage backend implements: files, block devices,
 * memory and (for tests) a fault-injecting wrapper. Offsets and lengths are bytes.
 * A short read or write is an error, never a partial success.
 */

/**
 * What a device returns for a request it finished before returning (a page-cache
 * hit done synchronously). Callers that test for it answer at once: no promise,
 * no reaction and no microtask per request on the path that costs only a few
 * microseconds. Any other promise is waited for as usual.
 */
export const DONE: Promise<void> = Promise.resolve();

export interface BlockDevice {
  readonly path: string;
  /** Bytes. */
  readonly size: number;
  /** DONE when already complete. */
  read(buf: Uint8Array, offset: number): Promise<void>;
  /** DONE when already complete. */
  write(buf: Uint8Array, offset: number): Promise<void>;
  /** Make every completed write durable (fdatasync). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
