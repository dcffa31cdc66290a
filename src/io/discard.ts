/**
 * Discard and zeroing as optional device capabilities. Node's fs API has no
 * fallocate, so a plain file or block device offers neither: zeroing falls back
 * to writing zeroes, and discard, being advisory, to doing nothing.
 */
import type { BlockDevice } from "./block-device.ts";

export interface DiscardableDevice {
  /** The range may read back as anything afterwards (usually zeroes). */
  discard?(offset: number, length: number): Promise<void>;
  /** The range reads back as zeroes afterwards, without the caller sending them. */
  writeZeroes?(offset: number, length: number): Promise<void>;
}

export type ExtendedDevice = BlockDevice & DiscardableDevice;

/** Shared by every fallback zeroing: devices only read from a write buffer, so one is enough. */
const ZEROES = new Uint8Array(1 << 20);

/** A device that cannot discard reports it here; discarding on it is a no-op. */
export function canDiscard(dev: ExtendedDevice): boolean {
  return dev.discard !== undefined;
}

/** Zeroing without writing every byte: what NBD's FAST_ZERO asks about. */
export function canZeroFast(dev: ExtendedDevice): boolean {
  return dev.writeZeroes !== undefined;
}

export async function discardOn(dev: ExtendedDevice, offset: number, length: number): Promise<void> {
  if (dev.discard) await dev.discard(offset, length);
}

export async function writeZeroesOn(dev: ExtendedDevice, offset: number, length: number): Promise<void> {
  if (dev.writeZeroes) return dev.writeZeroes(offset, length);
  for (let done = 0; done < length; ) {
    const n = Math.min(ZEROES.length, length - done);
    await dev.write(ZEROES.subarray(0, n), offset + done);
    done += n;
  }
}
