/** Raw reads and writes on the test devices, for saving, restoring, damaging and wiping PV heads. */
import { closeSync, openSync, readSync, writeSync } from "node:fs";

export const MiB = 1 << 20;

export function readBytes(path: string, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const fd = openSync(path, "r");
  try {
    readSync(fd, buf, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return buf;
}

export function writeBytes(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Zeroes 2 MiB at each byte offset in `at`: the label and first mda at 0, a second mda near the end. */
export function wipe(devices: string[], at: number[] = [0]): void {
  for (const d of devices) for (const offset of at) writeBytes(d, offset, Buffer.alloc(2 * MiB));
}
