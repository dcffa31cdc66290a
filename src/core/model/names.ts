/**
 * VG and LV name rules and LVM's messages for them. The CLI appends its own
 * "Run `<cmd> --help' for more information." line for exit code 3.
 */
import { EXIT, LvmError } from "../errors.ts";

/** Longest name: LVM's NAME_LEN (128) counts the terminating NUL. */
export const MAX_NAME_LENGTH = 127;

/** Why a name breaks the common VG/LV rules, in LVM's words; undefined when valid. */
export function nameError(name: string): string | undefined {
  if (name === "") return "Name is zero length.";
  if (name.startsWith("-")) return "Name cannot start with hyphen.";
  if (name === "." || name === "..") return "Name starts with . or .. and has no following character(s).";
  if (!/^[A-Za-z0-9.\-_+]*$/.test(name)) return "Name contains invalid character, valid set includes: [a-zA-Z0-9.-_+].";
  if (name.length > MAX_NAME_LENGTH) return `Name length exceeds maximum limit of ${MAX_NAME_LENGTH}.`;
  return undefined;
}

export function isValidName(name: string): boolean {
  return nameError(name) === undefined;
}

/** A name for a new VG (vgcreate, vgrename, vgsplit). */
export function validateVgName(name: string): void {
  const why = nameError(name);
  if (why) throw new LvmError([why, `New volume group name "${name}" is invalid.`], EXIT.INVALID_CMD_LINE);
}

const RESERVED_PREFIXES = ["pvmove", "snapshot"];
/** Suffixes of component LVs, then the two reserved for other internal LVs; order decides which one is named. */
const RESERVED_STRINGS = [
  "_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig", "_mimage", "_mlog", "_rimage", "_rmeta",
  "_tdata", "_tmeta", "_vdata", "_imeta", "_iorig", "_pmspare", "_vorigin",
];

/** The prefix or infix that makes an LV name reserved for LVM's internal LVs, if any. */
export function reservedLvNamePart(name: string): { prefix?: string; infix?: string } | undefined {
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return { prefix };
  const infix = RESERVED_STRINGS.find((s) => name.includes(s));
  return infix ? { infix } : undefined;
}

/**
 * `cli`: the name was typed by the user (lvcreate -n, lvrename), so LVM's
 * reserved prefixes and infixes apply; metadata read back (vgcfgrestore) only
 * needs the character rules.
 */
export function validateLvName(name: string, opts: { cli: boolean }): void {
  if (!isValidName(name)) throw new LvmError(`Logical volume name "${name}" is invalid.`, EXIT.INVALID_CMD_LINE);
  if (!opts.cli) return;
  const reserved = reservedLvNamePart(name);
  if (reserved?.prefix)
    throw new LvmError(`Names starting "${reserved.prefix}" are reserved. Please choose a different LV name.`, EXIT.INVALID_CMD_LINE);
  if (reserved?.infix)
    throw new LvmError(`Names including "${reserved.infix}" are reserved. Please choose a different LV name.`, EXIT.INVALID_CMD_LINE);
}
