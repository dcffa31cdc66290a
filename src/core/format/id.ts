/**
 * LVM ids (PV, VG, LV uuids): 32 characters, stored without dashes on disk and
 * shown in 6-4-4-4-4-4-6 groups in text.
 */
import { FormatError } from "../errors.ts";

export const ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!#";
export const ID_LEN = 32;
/** LVM generates from all but the last two symbols, which LVM1 ids could not hold. */
const GENERATED_SYMBOLS = 62;
const GROUPS = [6, 4, 4, 4, 4, 4, 6];

/** `randomBytes` is injected because core does no I/O; LVM maps each byte modulo 62. */
export function generateId(randomBytes: (n: number) => Uint8Array): string {
  const bytes = randomBytes(ID_LEN);
  if (bytes.length < ID_LEN) throw new FormatError(`random source returned ${bytes.length} bytes, ${ID_LEN} needed`);
  let id = "";
  for (let i = 0; i < ID_LEN; i++) id += ID_ALPHABET[bytes[i]! % GENERATED_SYMBOLS];
  return id;
}

export function isValidId(id: string): boolean {
  if (id.length !== ID_LEN) return false;
  for (const ch of id) if (!ID_ALPHABET.includes(ch)) return false;
  return true;
}

export function formatId(id32: string): string {
  if (!isValidId(id32)) throw new FormatError(`not a 32-character LVM id: "${id32}"`);
  // LVM prints ids starting with '#' (its internal orphan names) undashed.
  if (id32.startsWith("#")) return id32;
  const parts: string[] = [];
  let at = 0;
  for (const len of GROUPS) {
    parts.push(id32.slice(at, at + len));
    at += len;
  }
  return parts.join("-");
}

/** Dashes may appear anywhere, as in LVM; the messages are LVM's. */
export function parseId(text: string): string {
  const id = text.replaceAll("-", "");
  if (id.length > ID_LEN) throw new FormatError("Too many characters to be uuid.");
  if (id.length < ID_LEN) throw new FormatError("Couldn't read uuid: incorrect number of characters.");
  for (const ch of id) {
    if (!ID_ALPHABET.includes(ch)) throw new FormatError(`UUID contains invalid character '${ch}'`);
  }
  return id;
}
