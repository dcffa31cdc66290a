/**
 * LVM's CRC-32: the reflected polynomial 0xEDB88320 with LVM's own initial value
 * and no final XOR, so it does not equal zlib's crc32 for the same bytes.
 */
export const LVM_CRC_INITIAL = 0xf597a6cf;

/**
 * Slicing-by-8 tables: metadata text can be 500 KB and is checksummed on every
 * read of every mda, so eight bytes per step pays for the 8 KiB of tables.
 */
const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0]![n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k]![n] = (t[k - 1]![n]! >>> 8) ^ t[0]![t[k - 1]![n]! & 0xff]!;
  }
  return t;
})();

/**
 * Pass the result of a previous call as `initial` to continue over a further
 * part: that is how a wrapped metadata copy is checked without joining its parts.
 */
export function lvmCrc(data: Uint8Array, initial: number = LVM_CRC_INITIAL): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
  ];
  let crc = initial >>> 0;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  while (i < end8) {
    const lo = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    const hi = data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24);
    crc =
      t7[lo & 0xff]! ^ t6[(lo >>> 8) & 0xff]! ^ t5[(lo >>> 16) & 0xff]! ^ t4[lo >>> 24]! ^
      t3[hi & 0xff]! ^ t2[(hi >>> 8) & 0xff]! ^ t1[(hi >>> 16) & 0xff]! ^ t0[hi >>> 24]!;
    i += 8;
  }
  for (; i < data.length; i++) crc = t0[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return crc >>> 0;
}
