/**
 * Sizes as LVM prints and reads them: `--units` for reports (libdm's
 * dm_units_to_factor / dm_size_to_string with si_unit_consistency on) and the
 * size arguments of commands (`-L 10G`, `--size +1.5g`).
 */
import { EXIT, LvmError } from "../errors.ts";

/** A parsed `--units` value. */
export interface Units {
  /**
   * The unit letter: h/H/r/R (human, picks a unit per value), b/B, s/S, k..e
   * (1024-based), K..E (1000-based), or U for a custom factor such as `4m`.
   */
  type: string;
  /** Bytes per unit; 0 for the human forms. */
  factor: number;
}

export const DEFAULT_UNITS: Units = { type: "r", factor: 0 };

const POW1024 = "kmgtpe";
const POW1000 = "KMGTPE";

/** strtod's decimal subject sequence at the start of `text` (no sign): the value and its length, or length 0. */
function leadingNumber(text: string): { value: number; length: number } {
  const m = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text);
  return m ? { value: Number(m[0]), length: m[0].length } : { value: 0, length: 0 };
}

function unitMultiplier(letter: string): number | undefined {
  if (letter === "b" || letter === "B") return 1;
  if (letter === "s" || letter === "S") return 512;
  const lower = POW1024.indexOf(letter);
  if (letter !== "" && lower >= 0) return 1024 ** (lower + 1);
  const upper = POW1000.indexOf(letter);
  if (letter !== "" && upper >= 0) return 1000 ** (upper + 1);
  return undefined;
}

/** `--units`: one letter, optionally after a number (`4m` is a 4 MiB unit printed as `U`). */
export function parseUnits(spec: string): Units {
  const invalid = () => new LvmError("Invalid units specification", EXIT.INVALID_CMD_LINE);
  let count = 1;
  let custom = 0;
  let rest = spec;
  if (/^\d/.test(spec)) {
    const num = leadingNumber(spec);
    // LVM takes the integer part for the unit letter decision and the exact value for the factor.
    count = Number.parseInt(spec, 10);
    if (num.value !== count) custom = num.value;
    rest = spec.slice(num.length);
  }
  if (rest.length !== 1) throw invalid();
  if ("hHrR".includes(rest)) return { type: rest, factor: 0 };
  const multiplier = unitMultiplier(rest);
  if (multiplier === undefined) throw invalid();
  const factor = custom ? Math.trunc(custom * multiplier) : count * multiplier;
  if (factor <= 0 || !Number.isFinite(factor)) throw invalid();
  return { type: count === 1 ? rest : "U", factor };
}

/** `x` = m * 2^e exactly, for a finite non-negative double. */
function decompose(x: number): { m: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (exp === 0) return { m, e: -1074 };
  m |= 1n << 52n;
  return { m, e: exp - 1075 };
}

/**
 * printf("%.*f") as glibc does it: the exact binary value rounded half to even.
 * (Number#toFixed rounds exact ties away from zero, e.g. 1.125 → "1.13" where C prints "1.12".)
 */
export function formatFixed(x: number, digits: number): string {
  const negative = x < 0 || Object.is(x, -0);
  const { m, e } = decompose(Math.abs(x));
  const scaled = m * 10n ** BigInt(digits);
  let q: bigint;
  if (e >= 0) q = scaled << BigInt(e);
  else {
    const shift = BigInt(-e);
    q = scaled >> shift;
    const r = scaled - (q << shift);
    const half = 1n << (shift - 1n);
    if (r > half || (r === half && (q & 1n) === 1n)) q += 1n;
  }
  let s = q.toString();
  if (digits > 0) {
    s = s.padStart(digits + 1, "0");
    s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  }
  return negative ? `-${s}` : s;
}

/** The one-letter suffixes of dm_size_to_string, largest unit first. */
const HUMAN_1024 = ["e", "p", "t", "g", "m", "k", "b"];
const HUMAN_1000 = ["E", "P", "T", "G", "M", "K", "B"];

export interface SizeFormat {
  /** false for --nosuffix; the human units keep their suffix regardless, as in LVM. */
  suffix: boolean;
}

/** A size in sectors as LVM's reports print it. */
export function formatSize(sectors: number, units: Units, opts: SizeFormat): string {
  const human = units.factor === 0;
  let suffix: string;
  if (human) suffix = " ";
  else if (POW1024.includes(units.type) || POW1000.includes(units.type)) suffix = units.type;
  else suffix = units.type.toUpperCase();
  if (sectors === 0) return `0${opts.suffix ? suffix : ""}`;

  const bytes = sectors * 512;
  let unit: number;
  let prefix = "";
  let withSuffix = opts.suffix;
  if (human) {
    const thousand = units.type === "H" || units.type === "R";
    const base = thousand ? 1000 : 1024;
    const names = thousand ? HUMAN_1000 : HUMAN_1024;
    let i = 0;
    for (unit = base ** 6; i < 6 && bytes < unit; i++) unit /= base;
    suffix = names[i]!;
    if (i < 6 && (units.type === "r" || units.type === "R")) {
      // The '<' marks a value that %.2f rounded up (LVM compares floor with round-half-even).
      const d = (100 * bytes) / unit;
      if (Math.floor(d) !== roundHalfEven(d)) prefix = "<";
    }
    withSuffix = true;
  } else unit = units.factor;
  const precision = suffix.toUpperCase() === "B" || suffix === "S" ? 0 : 2;
  return `${prefix}${formatFixed(bytes / unit, precision)}${withSuffix ? suffix : ""}`;
}

/** The unit names of libdm's long size form, keyed by the report's one-letter suffix. */
const LONG_SUFFIX: Record<string, string> = {
  e: " EiB", p: " PiB", t: " TiB", g: " GiB", m: " MiB", k: " KiB", b: " B",
  E: " EB", P: " PB", T: " TB", G: " GB", M: " MB", K: " kB", B: " B ", S: " Se", U: " Un",
};

/**
 * lvm's display_size, used in messages and the *display commands: the report's
 * number with the unit spelled out ("40.00 MiB", "<10.00 GiB", "512 B", "0   ").
 */
export function displaySize(sectors: number, units: Units = DEFAULT_UNITS): string {
  const short = formatSize(sectors, units, { suffix: true });
  const letter = short.slice(-1);
  if (letter === " ") return `${short}  `;
  return short.slice(0, -1) + (LONG_SUFFIX[letter] ?? letter);
}

function roundHalfEven(d: number): number {
  const f = Math.floor(d);
  const diff = d - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export interface SizeArg {
  sign: "" | "+" | "-";
  /** Magnitude in sectors (LVM truncates fractions of a sector). */
  sectors: number;
}

/**
 * A size option value (`-L/--size`, `--virtualsize`, ...): LVM's _size_arg. Both
 * letter cases mean powers of 1024 here, `s` is sectors and `b` bytes (a multiple of
 * 512); without a letter `defaultUnit` applies ("m" for -L, "k" for sizes in KiB).
 * Throws LVM's message lines with exit 3; the caller adds
 * "Invalid argument for --size: <text>" as lvm does.
 */
export function parseSizeArg(text: string, defaultUnit: string): SizeArg {
  const fail = (line: string) => new LvmError(line, EXIT.INVALID_CMD_LINE);
  let sign: SizeArg["sign"] = "";
  let rest = text;
  if (rest[0] === "+" || rest[0] === "-") {
    sign = rest[0];
    rest = rest.slice(1);
  }
  if (rest[0] === "+" || rest[0] === "-") throw fail("Multiple sign symbols detected.");
  if (!/^[\d.]/.test(rest)) throw fail("Size requires number argument.");
  const num = leadingNumber(rest);
  if (num.length === 0) throw fail(`Can't parse size argument at '${rest[0]}'.`);
  let value = num.value;
  const letter = rest.slice(num.length);
  if (letter === "") value *= sizeArgSectors(defaultUnit) ?? 1;
  else {
    const lower = letter[0]!.toLowerCase();
    if (lower === "b") {
      const bytes = Math.trunc(value);
      if (bytes % 512) {
        const up = bytes + (512 - (bytes % 512));
        throw fail(`Size is not a multiple of 512. Try using ${up - 512} or ${up}.`);
      }
      value /= 512;
    } else {
      const sectors = sizeArgSectors(lower);
      if (sectors === undefined) throw fail("Can't parse size argument.");
      value *= sectors;
    }
  }
  if (value >= 2 ** 55) throw fail("Size is too big (>=16EiB).");
  return { sign, sectors: Math.trunc(value) };
}

/** Sectors per unit of a size argument letter (lower case). */
function sizeArgSectors(letter: string): number | undefined {
  if (letter === "s") return 1;
  const i = POW1024.indexOf(letter);
  return letter !== "" && i >= 0 ? 2 * 1024 ** i : undefined;
}
