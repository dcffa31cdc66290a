/** Bounds shared by every BlockDevice: an I/O past the end is a caller bug, never a short transfer. */
export function assertInRange(path: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > size)
    throw new RangeError(`${path}: I/O of ${length} bytes at ${offset} is outside the device (${size} bytes)`);
}
