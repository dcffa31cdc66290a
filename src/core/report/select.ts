/**
 * `-S/--select`: libdm's selection language. `field op value` items joined by
 * `&&`/`,` (and) and `||`/`#` (or), `!( )` and `( )`; values are numbers, sizes
 * with units (MiB by default), percents, strings (quoted or bare), string lists
 * (`[a,b]` all items, `[a||b]` any, `{a,b}` subset), regexes (`=~`, `!~`), times
 * as `@<unix seconds>`, and LVM's reserved words (`undefined`, `yes`, `rw`, ...).
 * Errors are LVM's messages, exit 5.
 */
import { EXIT, LvmError } from "../errors.ts";
import { fieldHelp, findField, NUM_UNDEF, type FieldDef, type Value, type ValueKind } from "./fields.ts";

type CmpOp = "=~" | "!~" | "=" | "!=" | ">=" | ">" | "<=" | "<" | "since" | "after" | "until" | "before";
const CMP_OPS: CmpOp[] = ["=~", "!~", "=", "!=", ">=", ">", "<=", "<", "since", "after", "until", "before"];
const NUMERIC_OPS = new Set<CmpOp>([">=", ">", "<=", "<"]);
const TIME_OPS = new Set<CmpOp>(["since", "after", "until", "before"]);

type ListValue = { items: string[]; all: boolean; subset: boolean };

type Item = {
  kind: "item";
  field: FieldDef;
  op: CmpOp;
  value: number | string | RegExp | ListValue;
  /** The value is one of LVM's strict reserved values (undefined etc.), which never compare as ordered. */
  reserved: boolean;
};
type Node = Item | { kind: "and" | "or"; nodes: Node[]; not?: boolean };

export interface Selection {
  /** Every field the selection reads (they become hidden report fields). */
  fields: FieldDef[];
  matches(value: (field: FieldDef) => Value): boolean;
}

const SYNTAX_HELP = "Use 'help' for selection to get more help.";
const LOG_OPS = ["&&", ",", "||", "#", "!", "(", ")", "[", "]", "{", "}"] as const;
type LogOp = (typeof LOG_OPS)[number];

/** LVM's reserved selection values: per-type (numbers) and per-field synonyms. */
interface Reserved {
  names: string[];
  value: number | string;
  /** Strict reserved values are excluded from <, >, <=, >= comparisons. */
  strict: boolean;
}
const NUM_RESERVED: Reserved = { names: ["-1", "unknown", "undefined", "undef"], value: NUM_UNDEF, strict: true };
const yesNo = (...words: string[]): Reserved[] => [
  { names: [...words, "yes"], value: 1, strict: false },
  { names: [...words, "no"], value: 0, strict: false },
];
const perms = (override: boolean): Reserved[] => [
  { names: ["writeable", "rw", "read-write"], value: "writeable", strict: false },
  { names: ["read-only", "r", "ro"], value: "read-only", strict: false },
  ...(override ? [{ names: ["read-only-override", "ro-override", "r-override", "R"], value: "read-only-override", strict: false }] : []),
];
const undefString: Reserved = { names: ["", "undefined"], value: "", strict: true };
const FIELD_RESERVED: Record<string, Reserved[]> = {
  pv_allocatable: yesNo("allocatable"),
  pv_exported: yesNo("exported"),
  pv_missing: yesNo("missing"),
  pv_in_use: yesNo("used", "in use"),
  pv_duplicate: yesNo("duplicate"),
  vg_extendable: yesNo("extendable"),
  vg_exported: yesNo("exported"),
  vg_partial: yesNo("partial"),
  vg_clustered: yesNo("clustered"),
  vg_shared: yesNo("shared"),
  vg_permissions: perms(false),
  vg_mda_copies: [{ names: ["unmanaged"], value: NUM_UNDEF, strict: true }],
  lv_initial_image_sync: yesNo("initial image sync", "sync"),
  lv_image_synced: yesNo("image synced", "synced"),
  lv_merging: yesNo("merging"),
  lv_converting: yesNo("converting"),
  lv_allocation_locked: yesNo("allocation locked", "locked"),
  lv_fixed_minor: yesNo("fixed minor", "fixed"),
  lv_active_locally: yesNo("active locally", "active", "locally"),
  lv_active_remotely: yesNo("active remotely", "active", "remotely"),
  lv_active_exclusively: yesNo("active exclusively", "active", "exclusively"),
  lv_suspended: yesNo("suspended"),
  lv_live_table: yesNo("live table present", "live table", "live"),
  lv_inactive_table: yesNo("inactive table present", "inactive table", "inactive"),
  lv_device_open: yesNo("open"),
  lv_skip_activation: yesNo("skip activation", "skip"),
  lv_permissions: perms(true),
  lv_read_ahead: [{ names: ["auto"], value: Number.MAX_VALUE, strict: true }],
  lv_when_full: [
    { names: ["error", "error when full", "error if no space"], value: "error", strict: false },
    { names: ["queue", "queue when full", "queue if no space"], value: "queue", strict: false },
    undefString,
  ],
  seg_monitor: [undefString],
  lv_health_status: [undefString],
};

/** The selection help LVM prints for `-S help` and after an operator error. */
export const SELECTION_HELP: readonly string[] = [
  "Selection operands",
  "------------------",
  "  field               - Reporting field.",
  "  number              - Non-negative integer value.",
  "  size                - Floating point value with units, 'm' unit used by default if not specified.",
  "  percent             - Non-negative integer with or without % suffix.",
  "  string              - Characters quoted by ' or \" or unquoted.",
  "  string list         - Strings enclosed by [ ] or { } and elements delimited by either",
  "                        \"all items must match\" or \"at least one item must match\" operator.",
  "  regular expression  - Characters quoted by ' or \" or unquoted.",
  " ",
  "Reserved values",
  "---------------",
  "  -1, unknown, undefined, undef   - Reserved value for undefined numeric value. [number]",
  ...[
    ["allocatable"], ["exported"], ["missing"], ["used", "in use"], ["duplicate"], ["extendable"],
    ["exported"], ["partial"], ["clustered"], ["shared"],
  ].flatMap((words) => ["yes", "no"].map((yn) => `  ${[...words, yn].join(", ").padEnd(31)} -  [unknown]`)),
  "  writeable, rw, read-write       -  [unknown]",
  "  read-only, r, ro                -  [unknown]",
  " ",
  "Selection operators",
  "-------------------",
  "  Comparison operators:",
  "        =~  - Matching regular expression. [regex]",
  "        !~  - Not matching regular expression. [regex]",
  "         =  - Equal to. [number, size, percent, string, string list, time]",
  "        !=  - Not equal to. [number, size, percent, string, string_list, time]",
  "        >=  - Greater than or equal to. [number, size, percent, time]",
  "         >  - Greater than. [number, size, percent, time]",
  "        <=  - Less than or equal to. [number, size, percent, time]",
  "         <  - Less than. [number, size, percent, time]",
  "     since  - Since specified time (same as '>='). [time]",
  "     after  - After specified time (same as '>'). [time]",
  "     until  - Until specified time (same as '<='). [time]",
  "    before  - Before specified time (same as '<'). [time]",
  " ",
  "  Logical and grouping operators:",
  "      &&  - All fields must match",
  "       ,  - All fields must match",
  "      ||  - At least one field must match",
  "       #  - At least one field must match",
  "       !  - Logical negation",
  "       (  - Left parenthesis",
  "       )  - Right parenthesis",
  "       [  - List start",
  "       ]  - List end",
  "       {  - List subset start",
  "       }  - List subset end",
  " ",
];

class SelectionError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join("\n"));
  }
}

const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);

/** Sizes in units: the same letters as --units, without a count; h/H/r/R count as bytes. */
const SIZE_UNIT: Record<string, number> = { h: 1, H: 1, r: 1, R: 1, b: 1, B: 1, s: 512, S: 512 };
"kmgtpe".split("").forEach((c, i) => (SIZE_UNIT[c] = 1024 ** (i + 1)));
"KMGTPE".split("").forEach((c, i) => (SIZE_UNIT[c] = 1000 ** (i + 1)));

class Parser {
  pos = 0;
  readonly fields: FieldDef[] = [];
  constructor(
    readonly text: string,
    readonly prefix: string,
  ) {}

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  private skipSpace(): void {
    while (isSpace(this.text[this.pos])) this.pos++;
  }

  private peekLog(allowed: readonly LogOp[]): LogOp | undefined {
    this.skipSpace();
    return allowed.find((op) => this.text.startsWith(op, this.pos));
  }

  private takeLog(allowed: readonly LogOp[]): LogOp | undefined {
    const op = this.peekLog(allowed);
    if (op) this.pos += op.length;
    return op;
  }

  private syntaxError(lines: string[], at: number): SelectionError {
    return new SelectionError([...lines, `Selection syntax error at '${this.text.slice(at)}'.`, SYNTAX_HELP]);
  }

  parseOr(): Node {
    const nodes = [this.parseAnd()];
    while (this.takeLog(["||", "#"])) nodes.push(this.parseAnd());
    return nodes.length === 1 ? nodes[0]! : { kind: "or", nodes };
  }

  private parseAnd(): Node {
    const nodes = [this.parseEx()];
    while (this.takeLog(["&&", ","])) nodes.push(this.parseEx());
    return nodes.length === 1 ? nodes[0]! : { kind: "and", nodes };
  }

  private parseEx(): Node {
    const op = this.takeLog(["!", "("]);
    if (op === "!") {
      if (!this.takeLog(["("])) throw new SelectionError([`Syntax error: left parenthesis expected at '${this.text.slice(this.pos)}'`]);
      const inner = this.parseOr();
      if (!this.takeLog([")"])) throw new SelectionError([`Syntax error: right parenthesis expected at '${this.text.slice(this.pos)}'`]);
      return { kind: "and", nodes: [inner], not: true };
    }
    if (op === "(") {
      const inner = this.parseOr();
      if (!this.takeLog([")"])) throw new SelectionError([`Syntax error: right parenthesis expected at '${this.text.slice(this.pos)}'`]);
      return inner;
    }
    return this.parseItem();
  }

  private parseItem(): Item {
    this.skipSpace();
    const start = this.pos;
    const name = /^[A-Za-z0-9_-]*/.exec(this.text.slice(this.pos))![0];
    if (!name) throw this.syntaxError(["Expecting field name"], start);
    this.pos += name.length;
    const field = findField(name, this.prefix);
    if (!field) {
      if (name.replaceAll("_", "").toLowerCase() === "help")
        throw this.syntaxError([...fieldHelp(false, true), `Selection field is uncomparable: ${name}.`], start);
      throw this.syntaxError([...fieldHelp(false, true), `Unrecognised selection field: ${name}`], start);
    }
    const afterName = this.pos;
    this.skipSpace();
    const op = CMP_OPS.find((o) => this.text.startsWith(o, this.pos));
    if (!op) throw this.syntaxError([...SELECTION_HELP, `Unrecognised comparison operator: ${this.text.slice(afterName)}`], start);
    this.pos += op.length;
    if (NUMERIC_OPS.has(op) && !["number", "size", "percent", "time"].includes(field.kind))
      throw this.syntaxError([...SELECTION_HELP, `Operator can be used only with number, size, time or percent fields: ${this.text.slice(start)}`], start);
    if (TIME_OPS.has(op) && field.kind !== "time")
      throw this.syntaxError([...SELECTION_HELP, `Operator can be used only with time fields: ${this.text.slice(start)}`], start);
    if (!this.fields.includes(field)) this.fields.push(field);
    if (op === "=~" || op === "!~") return this.regexItem(field, op, start);
    const reserved = this.reserved(field);
    if (reserved) return { kind: "item", field, op, value: reserved.value, reserved: reserved.strict };
    return { kind: "item", field, op, value: this.value(field, start), reserved: false };
  }

  /** An unquoted token ends at a space or at `&&`, `,`, `||`, `#`, `)` (and list operators inside lists). */
  private token(endOps: readonly string[]): string {
    this.skipSpace();
    const quote = this.text[this.pos] === '"' || this.text[this.pos] === "'" ? this.text[this.pos] : undefined;
    return quote ? this.quoted(quote) : this.bare(endOps);
  }

  private quoted(end: string): string {
    const from = ++this.pos;
    const at = this.text.indexOf(end, from);
    if (at < 0) {
      this.pos = this.text.length;
      throw new SelectionError(["Missing end quote."]);
    }
    this.pos = at + 1;
    return this.text.slice(from, at);
  }

  private bare(endOps: readonly string[]): string {
    const from = this.pos;
    while (this.pos < this.text.length && this.text[this.pos] !== " " && !endOps.some((op) => this.text.startsWith(op, this.pos))) this.pos++;
    return this.text.slice(from, this.pos);
  }

  private reserved(field: FieldDef): Reserved | undefined {
    const save = this.pos;
    let word: string;
    try {
      word = this.token(["&&", ",", "||", "#", ")"]);
    } catch {
      this.pos = save;
      return undefined;
    }
    const candidates = [...(FIELD_RESERVED[field.id] ?? []), ...(field.kind === "number" ? [NUM_RESERVED] : [])];
    const found = candidates.find((r) => r.names.includes(word));
    if (!found) this.pos = save;
    return found;
  }

  private regexItem(field: FieldDef, op: CmpOp, start: number): Item {
    this.skipSpace();
    if (this.pos >= this.text.length)
      throw this.syntaxError([`Regular expression expected for selection field ${field.id}`], start);
    const open = this.text[this.pos]!;
    const close = ({ "(": ")", "{": "}", "[": "]", '"': '"', "'": "'" } as Record<string, string>)[open];
    let source: string;
    try {
      if (close) {
        this.pos++;
        const at = this.text.indexOf(close, this.pos);
        if (at < 0) throw new SelectionError(["Missing end quote."]);
        source = this.text.slice(this.pos, at);
        this.pos = at + 1;
      } else source = this.bare(["&&", ",", "||", "#", ")"]);
    } catch (e) {
      const lines = e instanceof SelectionError ? e.lines : [];
      throw this.syntaxError([...lines, `Failed to parse regex value for selection field ${field.id}.`], start);
    }
    if (field.kind !== "string") throw new SelectionError([`dm_report: incompatible comparison type for selection field ${field.id}`]);
    let regex: RegExp;
    try {
      regex = new RegExp(source);
    } catch {
      throw new SelectionError([`dm_report: failed to create regex matcher for selection field ${field.id}`]);
    }
    return { kind: "item", field, op, value: regex, reserved: false };
  }

  private value(field: FieldDef, start: number): Item["value"] {
    const kind: ValueKind = field.kind;
    const fail = (what: string, extra: string[] = []) =>
      this.syntaxError([...extra, `Failed to parse ${what} value for selection field ${field.id}.`], start);
    if (kind === "string") {
      try {
        return this.token(["&&", ",", "||", "#", ")"]);
      } catch (e) {
        throw fail("string", (e as SelectionError).lines);
      }
    }
    if (kind === "strlist") {
      try {
        return this.list(field);
      } catch (e) {
        throw fail("string list", (e as SelectionError).lines);
      }
    }
    if (kind === "time") {
      this.skipSpace();
      const m = /^@(\d+(?:\.\d*)?)/.exec(this.text.slice(this.pos));
      if (!m) throw fail("time");
      this.pos += m[0].length;
      return Number.parseInt(m[1]!, 10);
    }
    this.skipSpace();
    const m = /^\d*(?:\.\d*)?/.exec(this.text.slice(this.pos))![0];
    if (!m) throw fail("numeric");
    this.pos += m.length;
    const n = Number.parseFloat(m.startsWith(".") ? `0${m}` : m) || 0;
    if (this.text[this.pos] === "%") {
      this.pos++;
      if (kind !== "percent")
        throw this.syntaxError([`Found percent value but ${kind === "number" ? "numeric" : "size"} value expected for selection field ${field.id}.`], start);
      return this.percent(n, m, field);
    }
    const unit = SIZE_UNIT[this.text[this.pos] ?? ""];
    if (unit !== undefined) {
      this.pos++;
      if (kind !== "size")
        throw this.syntaxError([`Found size unit specifier but ${kind === "number" ? "numeric" : "percent"} value expected for selection field ${field.id}.`], start);
    }
    if (kind === "size") return (n * (unit ?? 1024 * 1024)) / 512;
    if (kind === "percent") return this.percent(n, m, field);
    return Math.trunc(n);
  }

  private percent(n: number, text: string, field: FieldDef): number {
    if (n > 100) throw new SelectionError([`Field selection value ${text} out of supported range for field ${field.id}.`]);
    return Math.trunc(1_000_000 * n);
  }

  /** A string list value: one bare item (matches if any item is equal), `[...]` or `{...}`. */
  private list(field: FieldDef): ListValue {
    const open = this.takeLog(["[", "{"]);
    if (!open) return { items: [this.token(["&&", ",", "||", "#", ")"])], all: false, subset: false };
    const closeOp = open === "[" ? "]" : "}";
    const ops: LogOp[] = ["]", "}", "&&", ",", "||", "#"];
    const items: string[] = [];
    let joiner: "and" | "or" | undefined;
    for (;;) {
      if (this.pos >= this.text.length) throw new SelectionError([`Missing list end for selection field ${field.id}`]);
      items.push(this.token(ops));
      const op = this.takeLog(ops);
      if (!op) throw new SelectionError(["Invalid operator in selection list."]);
      if (op === "]" || op === "}") {
        if (op !== closeOp) throw new SelectionError([`List ended with incorrect character, expecting '${closeOp}'.`]);
        break;
      }
      const kind = op === "&&" || op === "," ? "and" : "or";
      if (joiner && joiner !== kind) throw new SelectionError(["Only one type of logical operator allowed in selection list at a time."]);
      joiner = kind;
    }
    items.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    // A one-item [x] needs the whole list to be x; with {x} any list holding x matches.
    return { items, all: (joiner ?? (open === "[" ? "and" : "or")) === "and", subset: open === "{" };
  }
}

const EPSILON = 2.220446049250313e-16;

function compareOrdered(op: CmpOp, a: number, b: number, approx: boolean): boolean {
  const eq = approx ? Math.abs(a - b) < EPSILON : a === b;
  switch (op) {
    case "=":
      return eq;
    case "!=":
      return !eq;
    case ">":
    case "after":
      return a > b && !eq;
    case ">=":
    case "since":
      return a > b || eq;
    case "<":
    case "before":
      return a < b && !eq;
    default:
      return a < b || eq;
  }
}

function matchList(items: string[], sel: ListValue): boolean {
  if (items.length === 0) return sel.all ? sel.items.length === 1 && sel.items[0] === "" : sel.items.includes("");
  if (!sel.all) return sel.items.some((s) => items.includes(s));
  if (sel.subset) return sel.items.every((s) => items.includes(s));
  return sel.items.length === items.length && sel.items.every((s, i) => s === items[i]);
}

function matchItem(item: Item, v: Value): boolean {
  const { field, op } = item;
  if (item.value instanceof RegExp) {
    const hit = item.value.test(String(v.sort));
    return op === "!~" ? !hit : hit;
  }
  if (field.kind === "string") return op === "=" ? v.sort === item.value : v.sort !== item.value;
  if (field.kind === "strlist") {
    const hit = matchList(v.items ?? [], item.value as ListValue);
    return op === "!=" ? !hit : hit;
  }
  const value = v.sort as number;
  const wanted = item.value as number;
  // A percent that is not a real percentage (inactive, unknown) never matches.
  if (field.kind === "percent" && value > 100_000_000) return false;
  const ordered = op !== "=" && op !== "!=";
  if (ordered && (item.reserved || value === NUM_UNDEF || value === Number.MAX_VALUE)) return false;
  return compareOrdered(op, value, wanted, field.kind === "size");
}

function evaluate(node: Node, value: (field: FieldDef) => Value): boolean {
  if (node.kind === "item") return matchItem(node, value(node.field));
  const result = node.kind === "and" ? node.nodes.every((n) => evaluate(n, value)) : node.nodes.some((n) => evaluate(n, value));
  return node.not ? !result : result;
}

/**
 * Parses a selection for a report whose fields take `prefix` (lv_, pv_, vg_,
 * seg_, pvseg_). Undefined for an empty selection or "all".
 */
export function parseSelection(text: string, prefix: string): Selection | undefined {
  if (!text || text.toLowerCase() === "all") return undefined;
  const parser = new Parser(text, prefix);
  let root: Node;
  try {
    root = parser.parseOr();
    if (!parser.atEnd())
      throw new SelectionError(["Expecting logical operator", `Selection syntax error at '${text.slice(parser.pos)}'.`, SYNTAX_HELP]);
  } catch (e) {
    if (e instanceof SelectionError) throw new LvmError(e.lines, EXIT.FAILED);
    throw e;
  }
  return { fields: parser.fields, matches: (value) => evaluate(root, value) };
}
