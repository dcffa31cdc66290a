/**
 * argv → ParsedCommand with lvm 2.03's rules and messages.
 *
 * lvm builds a getopt_long table from the options valid for the command (so
 * glibc's unambiguous-prefix matching, its ambiguity list and its error texts
 * depend on that set), drops hyphens inside long options first (`--split-mirrors`),
 * validates each value by type as it is read, then picks the command variant
 * whose required options and positionals match best and refuses options the
 * variant does not take. getopt's own messages are returned in `rawLines` (lvm
 * prints them without its two-space prefix).
 */
import { EXIT, LvmError, type ExitCode } from "../core/errors.ts";
import {
  OPTIONS,
  getCommand,
  optionById,
  type CommandDef,
  type OptionDef,
  type OptionUse,
  type ValueType,
  type Variant,
} from "./command-table.ts";
import { commandList, shortUsage, variantUsage } from "./help.ts";
import { parseSizeArg, parseUnits, type SizeArg } from "../core/report/units.ts";

export { commandNames } from "./command-table.ts";

export type Sign = "" | "+" | "-";
/** A size in sectors with the sign it was given. */
export type SizeValue = SizeArg;
export type PercentOf = "VG" | "FREE" | "LV" | "PVS" | "ORIGIN";
/** `-l 10`, `-l +10%FREE`: a count of extents, or a percentage of something. */
export interface ExtentsValue {
  sign: Sign;
  count: number;
  percent?: PercentOf;
}
export interface SignedNumber {
  sign: Sign;
  value: number;
}
/**
 * true for flags; boolean for y|n; number for Number/Uint32; SignedNumber for
 * [+|-]Number; SizeValue for sizes (readahead: also "auto"|"none"); ExtentsValue
 * for extents; string for the rest (already validated and canonical: activation
 * y|n|ay|ey|sy|ly|ln, permission rw|r, allocation policy, segment type, tag
 * without its `@`, ...).
 */
export type OptionValue = boolean | number | string | SizeValue | ExtentsValue | SignedNumber;

export interface ParsedCommand {
  command: string;
  /** The matched command variant's id (lvm's command ids, e.g. lvconvert_repair). */
  variant: string;
  /** Keyed by long name without dashes (a synonym under its standard name); values in order of appearance. */
  options: Map<string, OptionValue[]>;
  positional: string[];
}

/** A command line lvm refuses: `rawLines` go to stderr unprefixed first, `stdout` (a usage hint) to stdout. */
export class CommandLineError extends LvmError {
  constructor(
    lines: string[],
    exitCode: ExitCode = EXIT.INVALID_CMD_LINE,
    readonly rawLines: string[] = [],
    readonly stdout = "",
  ) {
    super(lines, exitCode);
  }
}

const PARSE_FAILED = "Error during parsing of command line.";

/** A value lvm's parser refused, with the messages it printed first. */
class Rejected {
  constructor(readonly lines: string[] = []) {}
}
function reject(...lines: string[]): never {
  throw new Rejected(lines);
}

// ---------------------------------------------------------------- values

/** lvm's _get_int_arg: optional sign, then decimal digits (strtoull), maybe followed by more. */
function leadingInt(raw: string): { sign: Sign; value: number; rest: string } | undefined {
  const m = /^([+-]?)(\d+)/.exec(raw);
  if (!m || BigInt(m[2]!) > 0xffffffffffffffffn) return undefined;
  return { sign: m[1] as Sign, value: Number(m[2]), rest: raw.slice(m[0].length) };
}

function plainInt(raw: string): number {
  const n = leadingInt(raw);
  if (!n || n.rest || n.sign === "-") reject();
  return n.value;
}

function signedInt(raw: string): SignedNumber {
  const n = leadingInt(raw);
  if (!n || n.rest) reject();
  return { sign: n.sign, value: n.value };
}

/** lvm's _size_arg: a number with an optional unit letter, else in `unit`s (s, k or m). */
function size(raw: string, unit: string): SizeValue {
  try {
    return parseSizeArg(raw, unit);
  } catch (e) {
    if (e instanceof LvmError) reject(...e.lines);
    throw e;
  }
}

const PERCENTS: [RegExp, PercentOf][] = [
  [/^(v|vg)$/i, "VG"],
  [/^(l|lv)$/i, "LV"],
  [/^(p|pv|pvs)$/i, "PVS"],
  [/^(f|fr|free)$/i, "FREE"],
  [/^(o|or|origin)$/i, "ORIGIN"],
];

function extents(raw: string): ExtentsValue {
  const n = leadingInt(raw);
  if (!n) reject();
  if (!n.rest) return { sign: n.sign, count: n.value };
  if (n.rest[0] !== "%") reject();
  const word = n.rest.slice(1);
  const percent = PERCENTS.find(([re]) => re.test(word))?.[1] ?? reject(`Specified %${word} is unknown.`);
  // lvm formats UINT32_MAX with %d here.
  if (n.value >= 0xffffffff) reject("Percentage is too big (>=-1%).");
  return { sign: n.sign, count: n.value, percent };
}

function oneOf(raw: string, words: string[], ...messages: string[]): string {
  return words.includes(raw) ? raw : reject(...messages);
}

function noSign<T extends { sign: Sign }>(v: T, signs: Sign[], message: string): T {
  return signs.includes(v.sign) ? reject(message) : v;
}

/** The segment types lvm 2.03.16 knows (`lvm segtypes`). */
const SEGTYPES = (
  "linear striped zero error snapshot mirror raid0 raid0_meta raid1 raid10 raid10_near raid4 raid5 raid5_n " +
  "raid5_la raid5_ls raid5_ra raid5_rs raid6 raid6_n_6 raid6_nc raid6_nr raid6_zr raid6_ls_6 raid6_rs_6 " +
  "raid6_la_6 raid6_ra_6 thin-pool thin cache-pool cache vdo vdo-pool writecache integrity"
).split(" ");

/** Each activation request under the spellings lvm takes for it. */
const ACTIVATION = new Map(
  Object.entries({
    y: "y",
    n: "n en ne",
    ay: "a ay ya",
    ey: "e ey ye",
    sy: "s sy ys",
    ly: "ly yl",
    ln: "ln nl",
  }).flatMap(([request, spellings]) => spellings.split(" ").map((s) => [s, request] as const)),
);

/** lvm's validate_name: what a VG, LV or devices file may be called. */
function isValidName(name: string): boolean {
  return /^[A-Za-z0-9._+-]+$/.test(name) && name[0] !== "-" && name !== "." && name !== ".." && name.length < 128;
}

function parseValue(type: ValueType, raw: string, command: string): OptionValue {
  switch (type) {
    case "Bool":
      return oneOf(raw, ["y", "n"]) === "y";
    case "Number":
      return plainInt(raw);
    case "Uint32": {
      const n = plainInt(raw);
      return n > 0xffffffff ? reject() : n;
    }
    case "SNumber":
      return signedInt(raw);
    case "PNumber":
      return noSign(signedInt(raw), ["-"], "Number may not be negative.");
    case "SizeKB":
      return noSign(size(raw, "k"), ["-"], "Size may not be negative.");
    case "SizeMB":
      return noSign(size(raw, "m"), ["-", "+"], "Size may not be relative/signed.");
    case "SSizeMB":
      return size(raw, "m");
    case "PSizeMB":
      return noSign(size(raw, "m"), ["-"], "Size may not be negative.");
    case "NSizeMB":
      return noSign(size(raw, "m"), ["+"], "Size may not be positive.");
    case "RegionSize": {
      const v = noSign(size(raw, "m"), ["-"], "Region size may not be negative.");
      if (v.sectors > 0xffffffff) reject("Region size is too big (max 4294967295).");
      if (!v.sectors) reject("Region size may not be zero.");
      if (v.sectors % 8) reject("Region size must be a multiple of machine memory page size (4096 bytes).");
      if (v.sectors & (v.sectors - 1)) reject("Region size must be a power of 2.");
      return v;
    }
    case "Extents":
      return noSign(extents(raw), ["-", "+"], "Extents may not be relative/signed.");
    case "SExtents":
      return extents(raw);
    case "PExtents":
      return noSign(extents(raw), ["-"], "Extents may not be negative.");
    case "NExtents":
      return noSign(extents(raw), ["+"], "Extents may not be positive.");
    case "Readahead": {
      if (/^(auto|none)$/i.test(raw)) return raw.toLowerCase();
      const v = size(raw, "s");
      return v.sign === "-" ? reject() : v;
    }
    case "Active":
      return ACTIVATION.get(raw) ?? reject();
    case "Tag": {
      const tag = raw.startsWith("@") ? raw.slice(1) : raw;
      return /^[A-Za-z0-9._+/=!:&#-]+$/.test(tag) ? tag : reject();
    }
    case "Permission":
      return raw === "wr" ? "rw" : oneOf(raw, ["rw", "r"]);
    case "Alloc":
      if (raw === "cling_by_tags") return "cling";
      if (raw === "next free") return "normal";
      return oneOf(
        raw,
        ["contiguous", "cling", "normal", "anywhere", "inherit"],
        `Unrecognised allocation policy ${raw}`,
      );
    case "CacheMode":
      return oneOf(raw.toLowerCase(), ["writethrough", "writeback", "passthrough"], `Unknown cache mode: ${raw}.`);
    case "Discards":
      return oneOf(
        raw.toLowerCase(),
        ["passdown", "nopassdown", "ignore"],
        `Thin pool discards type "${raw}" is unknown.`,
      );
    case "MirrorLog":
      return oneOf(raw, ["core", "disk", "mirrored"], `Mirror log type "${raw}" is unknown.`);
    case "CacheMetadataFormat": {
      if (raw === "auto") return raw;
      const n = Math.min(plainInt(raw), 0x7fffffff);
      return n <= 2 ? n : reject(`Selected cache metadata format ${n} is not supported.`);
    }
    case "MetadataType":
      return /^(lvm2|2|text)$/i.test(raw) ? "lvm2" : reject();
    case "SegType":
      return oneOf(raw, SEGTYPES, `WARNING: Unrecognised segment type ${raw}`);
    case "LockType":
      return oneOf(raw, ["none", "clvm", "dlm", "sanlock", "idm"]);
    case "MetadataCopiesVG":
      return /^(all|unmanaged)$/i.test(raw) ? raw.toLowerCase() : plainInt(raw);
    case "MetadataCopiesPV": {
      const n = plainInt(raw);
      return n <= 2 ? n : reject();
    }
    case "MetadataCopies":
      if (command.startsWith("pv")) return parseValue("MetadataCopiesPV", raw, command);
      return command.startsWith("vg") ? parseValue("MetadataCopiesVG", raw, command) : reject();
    case "SyncAction":
      return oneOf(raw, ["check", "repair"]);
    case "ReportFmt":
      return oneOf(raw, ["basic", "json"]);
    case "ConfigReport":
      return oneOf(raw, ["log", "vg", "lv", "pv", "pvseg", "seg"]);
    case "RepairType":
      return oneOf(raw, ["pv_header", "metadata", "label_header"]);
    case "DumpType":
      return oneOf(raw, ["headers", "metadata", "metadata_all", "metadata_search", "metadata_area", "backup_to_raw"]);
    case "Listen": {
      const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(raw);
      return m && Number(m[2]) <= 65535 ? raw : reject();
    }
    case "String":
    case "VG":
    case "LV":
    case "PV":
    case "ActivationMode":
    case "Units":
    case "WriteMostlyPV":
      return raw;
  }
}

// ---------------------------------------------------------------- getopt

/** Option id → the options naming it in `synonymOf`, and those getopt lists after it, in OPTIONS order. */
const SYNONYMS = new Map<string, OptionDef[]>();
const GETOPT_AFTER = new Map<string, OptionDef[]>();
for (const o of OPTIONS) {
  for (const id of o.synonymOf ?? []) SYNONYMS.set(id, [...(SYNONYMS.get(id) ?? []), o]);
  for (const id of o.getoptAfter ?? []) GETOPT_AFTER.set(id, [...(GETOPT_AFTER.get(id) ?? []), o]);
}

/** The synonym getopt also accepts for a standard option in this command (lvm's _opt_standard_to_synonym). */
function synonymOf(std: OptionDef, command: string): OptionDef | undefined {
  return SYNONYMS.get(std.id)?.find((o) => !o.prefixBound || command.startsWith(std.id.slice(0, 2)));
}

/** The standard options a synonym can stand for in this command. */
function standardsOf(option: OptionDef, command: string): OptionDef[] {
  return (option.synonymOf ?? [])
    .filter((id) => !option.prefixBound || command.startsWith(id.slice(0, 2)))
    .map(optionById);
}

/** The standard option lvm reports a synonym as (lvm's _opt_synonym_to_standard). */
function standardOf(option: OptionDef, command: string): OptionDef {
  return standardsOf(option, command)[0] ?? option;
}

function validOptionIds(cmd: CommandDef): Set<string> {
  return new Set(
    cmd.variants.flatMap((v) => [...v.required, ...v.anyOf, ...v.optional, ...v.ignored].map((u) => u.option.id)),
  );
}

/** getopt_long's table for the command, in lvm's order (which getopt's ambiguity messages follow). */
function getoptTable(cmd: CommandDef): OptionDef[] {
  const valid = validOptionIds(cmd);
  return OPTIONS.filter((o) => valid.has(o.id)).flatMap((o) => {
    const synonym = synonymOf(o, cmd.name);
    return [o, ...(synonym ? [synonym] : []), ...(GETOPT_AFTER.get(o.id) ?? [])];
  });
}

/** What getopt_long tells options apart by: the short letter, or the option itself. */
const getoptVal = (o: OptionDef) => o.short ?? o.id;

interface Occurrence {
  option: OptionDef;
  raw?: string;
  value: OptionValue;
}

class GetoptError {
  constructor(readonly line: string) {}
}

/** Runs glibc's getopt_long over args (permuting: positionals may come anywhere), reporting each option. */
function getopt(
  name: string,
  args: string[],
  table: OptionDef[],
  onOption: (option: OptionDef, raw?: string) => void,
): string[] {
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const text = arg.slice(2);
      const eq = text.indexOf("=");
      const word = eq < 0 ? text : text.slice(0, eq);
      let found = table.find((o) => o.long === word);
      if (!found) {
        const candidates = [...table.keys()].filter((idx) => table[idx]!.long.startsWith(word));
        const first = table[candidates[0] ?? -1];
        if (!first) throw new GetoptError(`${name}: unrecognized option '--${text}'`);
        // Candidates that getopt could not tell from the first one are no ambiguity (glibc).
        const marked = candidates.filter(
          (idx) =>
            table[idx] === first ||
            !!table[idx]!.value !== !!first.value ||
            getoptVal(table[idx]!) !== getoptVal(first),
        );
        if (marked.length > 1) {
          const list = marked.map((idx) => ` '--${table[idx]!.long}'`).join("");
          throw new GetoptError(`${name}: option '--${text}' is ambiguous; possibilities:${list}`);
        }
        found = first;
      }
      if (!found.value && eq >= 0) throw new GetoptError(`${name}: option '--${found.long}' doesn't allow an argument`);
      if (found.value && eq < 0 && i + 1 >= args.length) {
        throw new GetoptError(`${name}: option '--${found.long}' requires an argument`);
      }
      onOption(found, !found.value ? undefined : eq >= 0 ? text.slice(eq + 1) : args[++i]);
    } else if (arg.startsWith("-") && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j]!;
        const option = table.find((o) => o.short === letter);
        if (!option) throw new GetoptError(`${name}: invalid option -- '${letter}'`);
        if (!option.value) {
          onOption(option);
          continue;
        }
        if (j + 1 < arg.length) onOption(option, arg.slice(j + 1));
        else if (i + 1 < args.length) onOption(option, args[++i]);
        else throw new GetoptError(`${name}: option requires an argument -- '${letter}'`);
        break;
      }
    } else {
      positional.push(arg);
    }
  }
  return positional;
}

/** lvm drops '-' inside long options (`--split-mirrors`), up to an '=' and up to a bare `--`. */
function dropHyphens(args: string[]): string[] {
  const end = args.indexOf("--");
  return args.map((arg, i) => {
    if ((end >= 0 && i >= end) || !arg.startsWith("--")) return arg;
    const eq = arg.indexOf("=", 2);
    const head = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    return `--${head.replaceAll("-", "")}${eq < 0 ? "" : arg.slice(eq)}`;
  });
}

// ---------------------------------------------------------------- variant matching

class CommandLine {
  constructor(
    readonly cmd: CommandDef,
    readonly occurrences: Occurrence[],
    readonly positional: string[],
    readonly env: Record<string, string | undefined>,
  ) {}

  isSet(id: string): boolean {
    return this.occurrences.some((o) => o.option.id === id);
  }

  count(id: string): number {
    return this.occurrences.filter((o) => o.option.id === id).length;
  }

  last(id: string): Occurrence | undefined {
    return this.occurrences.filter((o) => o.option.id === id).pop();
  }

  /** The last value as typed ("" when unset), as lvm compares constants. */
  raw(id: string): string {
    return this.last(id)?.raw ?? "";
  }

  number(id: string): number {
    const v = this.last(id)?.value;
    return typeof v === "number" ? v : typeof v === "object" && "value" in v ? v.value : 0;
  }

  /** A declared constant (`--type raid`, `--mirrors 0`) against what was given. */
  matchesConstant(use: OptionUse, required: boolean): boolean {
    const constant = use.value?.constant;
    if (typeof constant === "number") return this.number(use.option.id) === constant;
    if (constant === undefined) return true;
    const given = this.raw(use.option.id);
    return given === constant || (required && constant === "raid" && given.startsWith("raid"));
  }

  requiredOptionMatches(use: OptionUse): boolean {
    const synonym = synonymOf(use.option, this.cmd.name);
    const set =
      this.isSet(use.option.id) ||
      (synonym !== undefined && this.isSet(synonym.id)) ||
      (use.option.id === "size" && this.isSet("extents") && this.cmd.extentsForSize);
    return set && this.matchesConstant(use, true);
  }

  requiredPositionMatches(v: Variant, index: number): boolean {
    if (this.positional[index] !== undefined) return true;
    const types = v.positional[index]!.types.map((t) => t.type);
    if (types.includes("Select") && this.isSet("select")) return true;
    // lvcreate takes the VG from --name VG/LV (or --thinpool/--cachepool/--vdopool, or LVM_VG_NAME).
    if (this.cmd.name !== "lvcreate" || index !== 0 || !types.includes("VG")) return false;
    if (this.env.LVM_VG_NAME) return true;
    return ["name", "thinpool", "cachepool", "vdopool"].some((id) => this.raw(id).includes("/"));
  }

  /** lvm considers only variants whose --type, if they declare one, agrees with the given one. */
  skipForType(v: Variant, type: string): boolean {
    const declared =
      [...v.required, ...v.anyOf].find((u) => u.option.id === "type") ?? v.optional.find((u) => u.option.id === "type");
    if (!declared) return true;
    const constant = declared.value?.constant;
    if (declared.value?.types.includes("SegType") || constant === undefined) return false;
    return !(constant === type || (String(constant).startsWith("raid") && type.startsWith("raid")));
  }

  /** Options given that the variant does not accept, as lvm names them (standard names, lvm's order). */
  unused(v: Variant): OptionDef[] {
    const accepted = (use: OptionUse[], id: string, constant: boolean) =>
      use.some((u) => u.option.id === id && (!constant || this.matchesConstant(u, false)));
    return OPTIONS.filter((o) => this.isSet(o.id))
      .map((o) => standardOf(o, this.cmd.name))
      .filter(
        (std) =>
          std.id !== "extents" &&
          !accepted([...v.required, ...v.anyOf], std.id, false) &&
          !accepted(v.optional, std.id, true) &&
          !accepted(v.ignored, std.id, true),
      );
  }

  /** lvm's _find_command: the variant that matches best, or lvm's refusal. */
  findVariant(): Variant {
    const { cmd } = this;
    if (["help", "longhelp", "version"].some((id) => this.isSet(id))) return cmd.variants[0]!;
    const type = this.isSet("type") ? this.raw("type") : undefined;
    let best: { v: Variant; required: number; type: number; unused: OptionDef[] } | undefined;
    let close: { v: Variant; ro: number; type: number } | undefined;
    for (const v of cmd.variants) {
      if (v.id === "lvconvert_plain" && this.occurrences.length > this.count("verbose")) continue;
      if (type !== undefined && v.autotype.some((t) => t !== type)) continue;
      if (type !== undefined && this.skipForType(v, type)) continue;
      const ro = v.required.filter((u) => this.requiredOptionMatches(u)).length;
      const rp = v.positional.filter((_, i) => this.requiredPositionMatches(v, i)).length;
      const matchType = v.required.some((u) => u.option.id === "type" && this.requiredOptionMatches(u)) ? 1 : 0;
      const anyMissing = v.anyOf.length > 0 && !v.anyOf.some((u) => this.requiredOptionMatches(u));
      if (ro < v.required.length || rp < v.positional.length || anyMissing) {
        if ((matchType && !close?.type) || (matchType === (close?.type ?? 0) && ro > (close?.ro ?? 0))) {
          close = { v, ro, type: matchType };
        }
        continue;
      }
      // The command name counts as one more match, as in lvm.
      const required = v.required.length + v.positional.length ? ro + rp + 1 : 1;
      const unused = this.unused(v);
      if (
        !best ||
        (required > best.required && !unused.length) ||
        unused.length < best.unused.length ||
        matchType > best.type
      ) {
        best = { v, required, type: matchType, unused };
      }
    }
    if (!best) {
      const lines = [`No command with matching syntax recognised.  Run '${cmd.name} --help' for more information.`];
      const hint = cmd.variants.length === 1 ? cmd.variants[0] : close?.ro ? close.v : undefined;
      if (!hint) throw new CommandLineError(lines);
      lines.push(cmd.variants.length === 1 ? "Correct command syntax is:" : "Nearest similar command has syntax:");
      throw new CommandLineError(lines, EXIT.INVALID_CMD_LINE, [], variantUsage(hint, false, false));
    }
    if (best.unused.length) {
      throw new CommandLineError(
        best.unused.slice(0, 8).map((o) => {
          const raw = this.last(o.id)?.raw;
          return `Command does not accept option: --${o.long}${raw === undefined ? "" : ` ${raw}`}.`;
        }),
      );
    }
    this.checkPositionals(best.v);
    this.checkRules(best.v);
    return best.v;
  }

  checkPositionals(v: Variant): void {
    if (v.positional.at(-1)?.repeat || v.optionalPositional.at(-1)?.repeat) return;
    const extra = this.positional[v.positional.length + v.optionalPositional.length];
    if (extra !== undefined) throw new CommandLineError([`Command does not accept argument: ${extra}.`]);
  }

  checkRules(v: Variant): void {
    // lvm prints each option followed by a space, in a 64-byte buffer.
    const names = (list: OptionDef[]) =>
      list
        .map((o) => `--${o.long} `)
        .join("")
        .slice(0, 63);
    for (const rule of v.rules) {
      if (rule.when.length && !rule.when.some((o) => this.isSet(o.id))) continue;
      const given = rule.check.filter((o) => this.isSet(o.id)).length;
      if (given && rule.kind === "not") {
        throw new CommandLineError([
          rule.when.length
            ? `Command does not accept option combination: ${names(rule.when)} with ${names(rule.check)}`
            : `Command does not accept options: ${names(rule.check)}`,
        ]);
      }
      if (given < rule.check.length && rule.kind === "and") {
        throw new CommandLineError([`Command requires options: ${names(rule.check)}`]);
      }
    }
  }

  /** The checks lvm makes once the command is known (each refusal adds the --help hint). */
  checkSettings(): void {
    const fail = (...lines: string[]): never => {
      throw new CommandLineError([...lines, shortUsage(this.cmd.name)]);
    };
    let mode: string | undefined;
    if (this.isSet("activationmode")) {
      mode = this.raw("activationmode");
      if (this.isSet("partial") && mode !== "partial") {
        fail("--partial and --activationmode are mutually exclusive arguments");
      }
    }
    if (mode !== undefined && !["partial", "degraded", "complete"].includes(mode))
      fail("Invalid activation mode given.");
    const devicesFile = this.isSet("devicesfile") ? this.raw("devicesfile") : undefined;
    if (devicesFile && !isValidName(devicesFile)) fail("Invalid devices file name.");
    if (devicesFile && this.isSet("devices")) fail("A --devices list cannot be used with --devicesfile.");
    if (this.isSet("units")) {
      try {
        parseUnits(this.raw("units"));
      } catch (e) {
        if (e instanceof LvmError) fail(...e.lines);
        throw e;
      }
    }
    for (const synonym of OPTIONS.filter((o) => !o.unmerged && this.isSet(o.id))) {
      const std = standardsOf(synonym, this.cmd.name).find((o) => this.isSet(o.id));
      if (std) fail(`--${synonym.long} and --${std.long} are synonyms.  Please only supply one.`);
    }
  }

  /** Merged synonyms are filed under the standard option this command has. */
  options(): Map<string, OptionValue[]> {
    const valid = validOptionIds(this.cmd);
    const options = new Map<string, OptionValue[]>();
    for (const { option, value } of this.occurrences) {
      const stds = option.unmerged ? [] : standardsOf(option, this.cmd.name);
      const key = (stds.find((o) => valid.has(o.id)) ?? option).long;
      options.set(key, [...(options.get(key) ?? []), value]);
    }
    return options;
  }
}

// ---------------------------------------------------------------- entry

/**
 * Parses `argv` (argv[0] is the command name, as in `ulvm lvcreate -L 1G vg`)
 * like lvm 2.03. Throws CommandLineError with lvm's messages and exit code.
 * `--help`, `--longhelp` and `--version` are left in the options for the caller.
 */
export function parseCommandLine(argv: string[], env: Record<string, string | undefined> = process.env): ParsedCommand {
  let [name, ...args] = argv;
  if (name === undefined) throw new CommandLineError(["Please supply an LVM command.", ...commandList()]);
  // lvm answers `lvm version` before looking at anything else.
  if (name === "version") return { command: name, variant: "version_general", options: new Map(), positional: [] };
  if (["-h", "--help", "-?"].includes(name)) name = "help";
  else if (name.startsWith("-"))
    throw new CommandLineError(["Specify options after a command: lvm [command] [options]."]);
  if (args[0] === "-?") args[0] = "-h";
  const cmd = getCommand(name);
  if (!cmd) throw new CommandLineError(["No such command.  Try 'lvm help'."], EXIT.NO_SUCH_COMMAND);

  const occurrences: Occurrence[] = [];
  let positional: string[];
  try {
    positional = getopt(name, dropHyphens(args), getoptTable(cmd), (option, raw) => {
      if (!option.countable && !option.groupable && occurrences.some((o) => o.option === option)) {
        const names = option.short ? `-${option.short}/--${option.long}` : `--${option.long}`;
        reject(`Option ${names} may not be repeated.`);
      }
      const type = cmd.valueTypes[option.id] ?? option.value;
      let value: OptionValue = true;
      if (type && raw !== undefined) {
        try {
          value = parseValue(type, raw, name);
        } catch (e) {
          if (e instanceof Rejected) reject(...e.lines, `Invalid argument for --${option.long}: ${raw}`);
          throw e;
        }
      }
      occurrences.push({ option, raw, value });
    });
  } catch (e) {
    if (e instanceof GetoptError) throw new CommandLineError([PARSE_FAILED], EXIT.INVALID_CMD_LINE, [e.line]);
    if (e instanceof Rejected) throw new CommandLineError([...e.lines, PARSE_FAILED]);
    throw e;
  }

  const line = new CommandLine(cmd, occurrences, positional, env);
  const variant = line.findVariant();
  const kept = new CommandLine(
    cmd,
    occurrences.filter((o) => !variant.ignored.some((u) => u.option.id === o.option.id)),
    positional,
    env,
  );
  kept.checkSettings();
  return { command: name, variant: variant.id, options: kept.options(), positional };
}
