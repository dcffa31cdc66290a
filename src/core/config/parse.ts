/**
 * Parser for LVM's config syntax (libdm's tokenizer rules), used for metadata
 * text, backup files and lvm.conf-style input. Anything it cannot read raises a
 * FormatError naming the line; no other exception escapes, whatever the input.
 *
 * Deliberately stricter than libdm where libdm silently reads garbage: numbers
 * must end at a delimiter (so `0x10` is rejected instead of read as 0), octal
 * literals must hold octal digits, integers must fit in a double exactly, and
 * sections nest at most MAX_DEPTH deep (libdm recurses without bound).
 *
 * The tokenizer works on char codes and keeps the current token in its own
 * fields: a 1,000-LV VG is 300 KB of text, and a string or object per character
 * or token was most of the cost of reading one.
 */
import { FormatError } from "../errors.ts";
import type { ConfigEntry, ConfigSection, ConfigValue } from "./tree.ts";

export interface ParseConfigOptions {
  /** LVM's warnings (duplicate values), one line each, without the two-space prefix. */
  warn?: (line: string) => void;
}

/** Far beyond anything LVM writes (5 levels); keeps every consumer's recursion safe. */
export const MAX_DEPTH = 64;

const enum T {
  Int,
  Float,
  Dq,
  Sq,
  Bare,
  Ident,
  Eq,
  Open,
  Close,
  OpenArray,
  CloseArray,
  Comma,
  Eof,
}

const enum C {
  Tab = 9,
  Nl = 10,
  Cr = 13,
  Space = 32,
  Dq = 34,
  Hash = 35,
  Sq = 39,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Zero = 48,
  Seven = 55,
  Nine = 57,
  Eq = 61,
  OpenArray = 91,
  Backslash = 92,
  CloseArray = 93,
  Open = 123,
  Close = 125,
}

/** libdm's whitespace: space, \t, \n, \v, \f, \r. */
const isSpace = (c: number) => c === C.Space || (c >= C.Tab && c <= C.Cr);

/** JavaScript's \s, which is what may follow a number (libdm would start a new token there anyway). */
function isJsSpace(c: number): boolean {
  return (
    isSpace(c) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

type ValueEntry = Extract<ConfigEntry, { kind: "value" }>;
type NamedEntry = ValueEntry | Extract<ConfigEntry, { kind: "section" }>;

function parseError(line: number, what: string): FormatError {
  return new FormatError(`Parse error at line ${line}: ${what}`);
}

class Tokenizer {
  private pos = 0;
  private line = 1;
  type: T = T.Close;
  start = 0;
  end = 0;
  /** Line the token starts on, and the one it ends on (strings may span lines). */
  tokenLine = 1;
  endLine = 1;
  /** The first comment between the previous token and this one; line 0 when there is none. */
  commentLine = 0;
  private commentStart = 0;
  private commentEnd = 0;
  /** A decimal integer's value, read while scanning; -1 when the token needs the careful path. */
  private quickInt = -1;

  constructor(private readonly text: string) {}

  get raw(): string {
    return this.text.slice(this.start, this.end);
  }

  get comment(): string {
    return this.text.slice(this.commentStart, this.commentEnd);
  }

  /** Moves to the next token and returns its type. */
  next(): T {
    const text = this.text;
    const length = text.length;
    let pos = this.pos;
    this.commentLine = 0;
    while (pos < length) {
      const c = text.charCodeAt(pos);
      if (c === C.Hash) {
        const nl = text.indexOf("\n", pos);
        const stop = nl < 0 ? length : nl;
        if (!this.commentLine) {
          this.commentLine = this.line;
          this.commentStart = pos;
          this.commentEnd = stop;
        }
        pos = stop;
      } else if (isSpace(c)) {
        if (c === C.Nl) this.line++;
        pos++;
      } else break;
    }
    this.pos = pos;
    this.scan();
    return this.type;
  }

  private scan(): void {
    const text = this.text;
    const start = this.pos;
    const line = this.line;
    const valueAllowed = this.type === T.Eq || this.type === T.OpenArray || this.type === T.Comma;
    this.start = start;
    this.tokenLine = line;
    this.type = this.lex(valueAllowed);
    this.end = this.pos;
    this.endLine = this.line;
    if ((this.type === T.Int || this.type === T.Float) && !this.numberEnds()) {
      throw parseError(line, `invalid number "${text.slice(start, this.pos + 1)}"`);
    }
  }

  private lex(valueAllowed: boolean): T {
    const text = this.text;
    const length = text.length;
    let pos = this.pos;
    if (pos >= length) return T.Eof;
    const ch = text.charCodeAt(pos);
    switch (ch) {
      case C.Open:
      case C.Close:
      case C.OpenArray:
      case C.CloseArray:
      case C.Comma:
      case C.Eq:
        this.pos = pos + 1;
        return ch === C.Open ? T.Open : ch === C.Close ? T.Close : ch === C.OpenArray ? T.OpenArray : ch === C.CloseArray ? T.CloseArray : ch === C.Comma ? T.Comma : T.Eq;
      case C.Dq:
      case C.Sq: {
        pos++;
        for (;;) {
          if (pos >= length) throw parseError(this.tokenLine, "unterminated string");
          const c = text.charCodeAt(pos++);
          if (c === C.Nl) this.line++;
          if (c === ch) break;
          if (c === C.Backslash && ch === C.Dq && pos < length) {
            if (text.charCodeAt(pos) === C.Nl) this.line++;
            pos++;
          }
        }
        this.pos = pos;
        return ch === C.Dq ? T.Dq : T.Sq;
      }
    }
    if (valueAllowed && ((ch >= C.Zero && ch <= C.Nine) || ch === C.Plus || ch === C.Minus || ch === C.Dot)) {
      if (ch === C.Plus || ch === C.Minus) pos++;
      const digits = pos;
      let value = 0;
      for (let c = text.charCodeAt(pos); c >= C.Zero && c <= C.Nine; c = text.charCodeAt(++pos)) value = value * 10 + c - C.Zero;
      const intDigits = pos - digits;
      let type = T.Int;
      if (text.charCodeAt(pos) === C.Dot) {
        type = T.Float;
        for (let c = text.charCodeAt(++pos); c >= C.Zero && c <= C.Nine; c = text.charCodeAt(++pos));
      }
      this.pos = pos;
      // Plain decimals short enough to be exact take the fast path; the rest (signs, octal, huge) are checked by intValue.
      this.quickInt = type === T.Int && ch !== C.Plus && ch !== C.Minus && intDigits < 16 && (ch !== C.Zero || intDigits === 1) ? value : -1;
      return type;
    }
    while (pos < length) {
      const c = text.charCodeAt(pos);
      if (isSpace(c) || c === C.Hash || c === C.Eq || c === C.Open || c === C.Close) break;
      pos++;
    }
    this.pos = pos;
    return valueAllowed ? T.Bare : T.Ident;
  }

  /** A number needs a digit and must end where libdm would start a new token anyway. */
  private numberEnds(): boolean {
    const text = this.text;
    let digit = false;
    for (let i = this.start; i < this.pos && !digit; i++) {
      const c = text.charCodeAt(i);
      digit = c >= C.Zero && c <= C.Nine;
    }
    if (!digit) return false;
    if (this.pos >= text.length) return true;
    const c = text.charCodeAt(this.pos);
    return isJsSpace(c) || c === C.Comma || c === C.CloseArray || c === C.Close || c === C.Hash;
  }

  intValue(): number {
    return this.quickInt >= 0 ? this.quickInt : intValue(this.raw, this.tokenLine);
  }
}

/** Only `\"` and `\\` are escapes; any other backslash stays, as in libdm. */
function unescapeDq(body: string): string {
  return body.includes("\\") ? body.replace(/\\(["\\])/g, "$1") : body;
}

function intValue(text: string, line: number): number {
  const m = /^([+-]?)(0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) throw parseError(line, `invalid integer "${text}"`);
  const digits = m[2]!;
  const magnitude = digits.length > 1 && digits.startsWith("0") ? BigInt("0o" + digits.slice(1)) : BigInt(digits);
  if (magnitude > BigInt(Number.MAX_SAFE_INTEGER)) throw parseError(line, `integer out of range "${text}"`);
  const value = Number(magnitude);
  return m[1] === "-" && value !== 0 ? -value : value;
}

/** The token as a string: the body of a quoted one, the text of a bare one; undefined for others. */
function stringOf(t: Tokenizer, bare: T.Bare | T.Ident): string | undefined {
  switch (t.type) {
    case T.Dq:
      return unescapeDq(t.raw.slice(1, -1));
    case T.Sq:
      return t.raw.slice(1, -1);
    case bare:
      return t.raw;
    default:
      return undefined;
  }
}

function scalar(t: Tokenizer): ConfigValue | undefined {
  switch (t.type) {
    case T.Int:
      return { type: "int", value: t.intValue() };
    case T.Float:
      return { type: "float", text: t.raw };
    default: {
      const value = stringOf(t, T.Bare);
      return value === undefined ? undefined : { type: "string", value };
    }
  }
}

function describe(t: Tokenizer): string {
  return t.type === T.Eof ? "end of input" : `"${t.raw.slice(0, 40)}"`;
}

/**
 * Parses config text into a root section named "". Text after a NUL byte is
 * ignored, as libdm stops there (on-disk metadata ends with one).
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): ConfigSection {
  const nul = text.indexOf("\0");
  const t = new Tokenizer(nul < 0 ? text : text.slice(0, nul));
  const root: ConfigSection = { name: "", entries: [] };
  /** Entries by key for each section: duplicates merge into the first occurrence. */
  const indexes = new Map<ConfigSection, Map<string, NamedEntry>>([[root, new Map()]]);
  const stack: ConfigSection[] = [root];
  let type = t.next();

  for (;;) {
    const section = stack[stack.length - 1]!;
    if (type === T.Eof) {
      if (stack.length > 1) throw parseError(t.tokenLine, `unexpected end of input, section "${section.name}" is not closed`);
      return root;
    }
    if (type === T.Close) {
      if (stack.length === 1) throw parseError(t.tokenLine, 'unexpected "}"');
      stack.pop();
      type = t.next();
      continue;
    }
    const key = stringOf(t, T.Ident);
    if (key === undefined) throw parseError(t.tokenLine, `expected a key, found ${describe(t)}`);
    if (key === "") throw parseError(t.tokenLine, "empty section identifier");
    const keyLine = t.tokenLine;
    const index = indexes.get(section)!;
    const existing = index.get(key);
    type = t.next();
    if (type === T.Open) {
      if (existing?.kind === "value") throw parseError(keyLine, `"${key}" is both a value and a section`);
      if (stack.length > MAX_DEPTH) throw parseError(keyLine, "sections nested too deeply");
      let child = existing?.section;
      if (!child) {
        child = { name: key, entries: [] };
        const entry: NamedEntry = { kind: "section", section: child };
        section.entries.push(entry);
        index.set(key, entry);
        indexes.set(child, new Map());
      }
      stack.push(child);
      type = t.next();
      continue;
    }
    if (type !== T.Eq) throw parseError(t.tokenLine, `expected "=" or "{" after "${key}", found ${describe(t)}`);
    if (existing?.kind === "section") throw parseError(keyLine, `"${key}" is both a section and a value`);
    type = t.next();
    let value: ConfigValue;
    if (type === T.OpenArray) {
      const items: ConfigValue[] = [];
      type = t.next();
      while (type !== T.CloseArray) {
        const item = scalar(t);
        if (!item) throw parseError(t.tokenLine, `expected a value, found ${describe(t)}`);
        items.push(item);
        type = t.next();
        if (type === T.Comma) type = t.next();
      }
      value = { type: "array", items };
    } else {
      const item = scalar(t);
      if (!item) throw parseError(t.tokenLine, `expected a value, found ${describe(t)}`);
      value = item;
    }
    const endLine = t.endLine;
    let entry: ValueEntry;
    if (existing) {
      options.warn?.(`WARNING: Ignoring duplicate config value: ${key}`);
      entry = existing;
      entry.value = value;
      delete entry.comment;
    } else {
      entry = { kind: "value", key, value };
      section.entries.push(entry);
      index.set(key, entry);
    }
    type = t.next();
    if (t.commentLine === endLine) entry.comment = t.comment;
  }
}
