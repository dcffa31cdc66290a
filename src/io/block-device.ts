/**
 * The one interface every storage backend implements: files, block devices,
 * memory and (for tests) a fault-injecting wrapper. Offsets and lengths are bytes.
 * A short read or write is an error, never a partial success.
 */
export interface BlockDevice {
  readonly path: string;
  /** Bytes. */
  readonly size: number;
  read(buf: Uint8Array, offset: number): Promise<void>;
  write(buf: Uint8Array, offset: number): Promise<void>;
  /** Make every completed write durable (fdatasync). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
