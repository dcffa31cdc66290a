/**
 * What the NBD server serves: any object implementing NbdExport, found by name
 * in an ExportRegistry that the daemon can change while clients are connected.
 * Exports report failures by throwing; NbdError picks the NBD error value, any
 * other error is mapped from its Node errno code.
 */
import { DONE, type BlockDevice } from "../io/block-device.ts";
import { DEFAULT_MAX_PAYLOAD, ERR, MAX_STRING, type BlockSizes, type Extent } from "./protocol.ts";

export type { BlockSizes, Extent };
export { DONE };

export interface WriteZeroesOptions {
  fua: boolean;
  /** The client allows punching a hole (no NBD_CMD_FLAG_NO_HOLE). */
  mayTrim: boolean;
  /** NBD_CMD_FLAG_FAST_ZERO: throw FastZeroUnsupportedError at once, changing nothing, unless zeroing is fast. */
  fast: boolean;
}

/**
 * One export. Offsets and lengths are bytes and always inside [0, size): the
 * server checks ranges, alignment and read-only before calling. Optional
 * methods that are absent are not advertised to clients. Buffers passed to read
 * and write are reused by the server once the returned promise settles: an
 * export must not keep them. Returning DONE (a block device's mark for a request
 * already finished) lets the server reply without waiting for a promise job.
 */
export interface NbdExport {
  readonly name: string;
  readonly size: number;
  readonly readOnly: boolean;
  readonly description?: string;
  /** Defaults to DEFAULT_BLOCK_SIZES. */
  readonly blockSizes?: BlockSizes;
  /** A FLUSH or FUA on one connection makes data durable and visible on all of them. */
  readonly canMultiConn: boolean;
  read(buf: Uint8Array, offset: number): Promise<void>;
  /** With fua, resolve only once the data is durable. */
  write(buf: Uint8Array, offset: number, fua: boolean): Promise<void>;
  /** Make every completed write durable. */
  flush(): Promise<void>;
  trim?(offset: number, length: number, fua: boolean): Promise<void>;
  writeZeroes?(offset: number, length: number, opts: WriteZeroesOptions): Promise<void>;
  /** base:allocation extents from offset on: consecutive, each length > 0; may cover less or more than asked. */
  blockStatus?(offset: number, length: number): Promise<Extent[]>;
  cache?(offset: number, length: number): Promise<void>;
}

export interface ExportRegistry {
  get(name: string): NbdExport | undefined;
  list(): Iterable<NbdExport>;
}

/** qemu-nbd's values: byte-granular access, 4 KiB preferred, the portable payload limit. */
export const DEFAULT_BLOCK_SIZES: BlockSizes = { min: 1, preferred: 4096, max: DEFAULT_MAX_PAYLOAD };

/** A payload is held in one buffer, so the limit an export may advertise is bounded. */
export const MAX_PAYLOAD_LIMIT = 2 ** 30;

export class NbdError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

/** The only way a writeZeroes with `fast` may fail without doing anything. */
export class FastZeroUnsupportedError extends NbdError {
  constructor(message = "zeroing this range is not faster than writing zeroes") {
    super(ERR.ENOTSUP, message);
  }
}

// Host errors outside this table become EIO: the spec reserves EOVERFLOW and ENOTSUP for
// specific cases, discourages ENOMEM, and raw errno values must never reach the wire.
const ERRNO_BY_CODE: Record<string, number> = {
  EPERM: ERR.EPERM,
  EACCES: ERR.EPERM,
  EROFS: ERR.EPERM,
  EINVAL: ERR.EINVAL,
  ENOSPC: ERR.ENOSPC,
  EDQUOT: ERR.ENOSPC,
  EFBIG: ERR.ENOSPC,
};

export function nbdErrno(e: unknown): number {
  if (e instanceof NbdError) return e.errno;
  const code = (e as { code?: unknown } | null)?.code;
  return (typeof code === "string" && ERRNO_BY_CODE[code]) || ERR.EIO;
}

const isPowerOf2 = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Throws when an export would make the server advertise something the spec forbids. */
export function validateExport(e: NbdExport): void {
  const problem = exportProblem(e);
  if (problem) throw new Error(`NBD export "${e.name}": ${problem}`);
}

function exportProblem(e: NbdExport): string | undefined {
  if (Buffer.byteLength(e.name) > MAX_STRING || e.name.includes("\0")) return "name is not a valid NBD string";
  if (e.description !== undefined && (Buffer.byteLength(e.description) > MAX_STRING || e.description.includes("\0")))
    return "description is not a valid NBD string";
  if (!Number.isSafeInteger(e.size) || e.size < 0) return `size ${e.size} is not a byte count`;
  const b = e.blockSizes;
  if (!b) return undefined;
  if (!isPowerOf2(b.min) || b.min > 65536) return `minimum block size ${b.min} is not a power of 2 up to 64 KiB`;
  if (!isPowerOf2(b.preferred) || b.preferred < Math.max(b.min, 512))
    return `preferred block size ${b.preferred} is not a power of 2 of at least max(minimum, 512)`;
  if (!Number.isSafeInteger(b.max) || b.max < b.preferred || b.max > MAX_PAYLOAD_LIMIT)
    return `maximum payload ${b.max} is not between the preferred block size and ${MAX_PAYLOAD_LIMIT}`;
  if (e.size % b.min !== 0) return `size ${e.size} is not a multiple of the minimum block size ${b.min}`;
  return undefined;
}

/** A registry the daemon fills and empties while the server runs. */
export class ExportMap implements ExportRegistry {
  private readonly byName = new Map<string, NbdExport>();

  add(e: NbdExport): void {
    validateExport(e);
    if (this.byName.has(e.name)) throw new Error(`NBD export "${e.name}" already exists`);
    this.byName.set(e.name, e);
  }

  /** Connections already using the export keep it until they close. */
  remove(name: string): boolean {
    return this.byName.delete(name);
  }

  get(name: string): NbdExport | undefined {
    return this.byName.get(name);
  }

  list(): Iterable<NbdExport> {
    return this.byName.values();
  }
}

/**
 * A BlockDevice served as it is. One device object serves every connection, so a
 * flush on any of them covers all writes: multi-conn is safe.
 */
export function blockDeviceExport(
  dev: BlockDevice,
  opts: { name: string; readOnly?: boolean; description?: string; blockSizes?: BlockSizes },
): NbdExport {
  return {
    name: opts.name,
    size: dev.size,
    readOnly: opts.readOnly ?? false,
    description: opts.description,
    blockSizes: opts.blockSizes,
    canMultiConn: true,
    read: (buf, offset) => dev.read(buf, offset),
    write: (buf, offset, fua) => (fua ? dev.write(buf, offset).then(() => dev.flush()) : dev.write(buf, offset)),
    flush: () => dev.flush(),
  };
}
