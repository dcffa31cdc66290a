/**
 * Parser for LVM's config syntax (libdm's tokenizer rules), used for metadata
 * text, backup files and lvm.conf-style input. Anything it cannot read raises a
 * FormatError naming the line; no other exception escapes, whatever the input.
 *
 * Deliberately stricter than libdm where libdm silently reads garbage: numbers
 * must end at a delimiter (so `0x10` is rejected instead of read as 0), octal
 * literals must hold octal digits, integers must fit in a double exactly, and
 * sections nest at most MAX_DEPTH deep (libdm recurses without bound).
 */
import { FormatError } from "../errors.ts";
import type { ConfigEntry, ConfigSection, ConfigValue } from "./tree.ts";

export interface ParseConfigOptions {
  /** LVM's warnings (duplicate values), one line each, without the two-space prefix. */
  warn?: (line: string) => void;
}

/** Far beyond anything LVM writes (5 levels); keeps every consumer's recursion safe. */
export const MAX_DEPTH = 64;

type TokenType = "int" | "float" | "dq" | "sq" | "bare" | "ident" | "=" | "{" | "}" | "[" | "]" | "," | "eof";

interface Token {
  type: TokenType;
  /** Raw text of the token. */
  text: string;
  line: number;
  /** Line on which the token ends (strings may span lines). */
  endLine: number;
  /** The first comment between the previous token and this one. */
  comment?: { line: number; text: string };
}

const SPACE = new Set([" ", "\t", "\n", "\v", "\f", "\r"]);
const PUNCT: Record<string, TokenType> = { "{": "{", "}": "}", "[": "[", "]": "]", ",": ",", "=": "=" };
/** What may follow a number: libdm would start a new token there anyway. */
const NUMBER_END = /^(?:$|[\s,\]}#])/;

type ValueEntry = Extract<ConfigEntry, { kind: "value" }>;
type NamedEntry = ValueEntry | Extract<ConfigEntry, { kind: "section" }>;

function parseError(line: number, what: string): FormatError {
  return new FormatError(`Parse error at line ${line}: ${what}`);
}

class Tokenizer {
  private pos = 0;
  private line = 1;
  private prev: TokenType = "}";

  constructor(private readonly text: string) {}

  next(): Token {
    let comment: Token["comment"];
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === undefined) break;
      if (ch === "#") {
        const end = this.text.indexOf("\n", this.pos);
        const stop = end < 0 ? this.text.length : end;
        comment ??= { line: this.line, text: this.text.slice(this.pos, stop) };
        this.pos = stop;
      } else if (SPACE.has(ch)) {
        if (ch === "\n") this.line++;
        this.pos++;
      } else break;
    }
    const token = this.scan();
    token.comment = comment;
    this.prev = token.type;
    return token;
  }

  private scan(): Token {
    const start = this.pos;
    const line = this.line;
    const make = (type: TokenType): Token => ({ type, text: this.text.slice(start, this.pos), line, endLine: this.line });
    const ch = this.text[start];
    if (ch === undefined) return make("eof");
    const punct = PUNCT[ch];
    if (punct) {
      this.pos++;
      return make(punct);
    }
    if (ch === '"' || ch === "'") {
      this.pos++;
      for (;;) {
        const c = this.text[this.pos];
        if (c === undefined) throw parseError(line, "unterminated string");
        this.pos++;
        if (c === "\n") this.line++;
        if (c === ch) break;
        if (c === "\\" && ch === '"' && this.text[this.pos] !== undefined) {
          if (this.text[this.pos] === "\n") this.line++;
          this.pos++;
        }
      }
      return make(ch === '"' ? "dq" : "sq");
    }
    const valueAllowed = this.prev === "=" || this.prev === "[" || this.prev === ",";
    if (valueAllowed && /[0-9+\-.]/.test(ch)) {
      const m = /^[+-]?[0-9]*(?:\.[0-9]*)?/.exec(this.text.slice(start, start + 400))!;
      this.pos += Math.max(m[0].length, 1);
      const token = make(m[0].includes(".") ? "float" : "int");
      if (!/[0-9]/.test(token.text) || !NUMBER_END.test(this.text.slice(this.pos, this.pos + 1)))
        throw parseError(line, `invalid number "${this.text.slice(start, this.pos + 1)}"`);
      return token;
    }
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (SPACE.has(c) || c === "#" || c === "=" || c === "{" || c === "}") break;
      this.pos++;
    }
    return make(valueAllowed ? "bare" : "ident");
  }
}

/** Only `\"` and `\\` are escapes; any other backslash stays, as in libdm. */
function unescapeDq(body: string): string {
  return body.replace(/\\(["\\])/g, "$1");
}

function intValue(token: Token): number {
  const m = /^([+-]?)(0[0-7]*|[1-9][0-9]*)$/.exec(token.text);
  if (!m) throw parseError(token.line, `invalid integer "${token.text}"`);
  const digits = m[2]!;
  const magnitude = digits.length > 1 && digits.startsWith("0") ? BigInt("0o" + digits.slice(1)) : BigInt(digits);
  if (magnitude > BigInt(Number.MAX_SAFE_INTEGER)) throw parseError(token.line, `integer out of range "${token.text}"`);
  const value = Number(magnitude);
  return m[1] === "-" && value !== 0 ? -value : value;
}

function scalar(token: Token): ConfigValue | undefined {
  switch (token.type) {
    case "int":
      return { type: "int", value: intValue(token) };
    case "float":
      return { type: "float", text: token.text };
    case "dq":
      return { type: "string", value: unescapeDq(token.text.slice(1, -1)) };
    case "sq":
      return { type: "string", value: token.text.slice(1, -1) };
    case "bare":
      return { type: "string", value: token.text };
    default:
      return undefined;
  }
}

function keyOf(token: Token): string | undefined {
  switch (token.type) {
    case "ident":
      return token.text;
    case "dq":
      return unescapeDq(token.text.slice(1, -1));
    case "sq":
      return token.text.slice(1, -1);
    default:
      return undefined;
  }
}

function describe(token: Token): string {
  return token.type === "eof" ? "end of input" : `"${token.text.slice(0, 40)}"`;
}

/**
 * Parses config text into a root section named "". Text after a NUL byte is
 * ignored, as libdm stops there (on-disk metadata ends with one).
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): ConfigSection {
  const nul = text.indexOf("\0");
  const tokens = new Tokenizer(nul < 0 ? text : text.slice(0, nul));
  const root: ConfigSection = { name: "", entries: [] };
  /** Entries by key for each open section: duplicates merge into the first occurrence. */
  const indexes = new WeakMap<ConfigSection, Map<string, NamedEntry>>([[root, new Map()]]);
  const stack: ConfigSection[] = [root];
  let token = tokens.next();

  for (;;) {
    const section = stack[stack.length - 1]!;
    if (token.type === "eof") {
      if (stack.length > 1) throw parseError(token.line, `unexpected end of input, section "${section.name}" is not closed`);
      return root;
    }
    if (token.type === "}") {
      if (stack.length === 1) throw parseError(token.line, 'unexpected "}"');
      stack.pop();
      token = tokens.next();
      continue;
    }
    const key = keyOf(token);
    if (key === undefined) throw parseError(token.line, `expected a key, found ${describe(token)}`);
    if (key === "") throw parseError(token.line, "empty section identifier");
    const keyLine = token.line;
    const index = indexes.get(section)!;
    const existing = index.get(key);
    token = tokens.next();
    if (token.type === "{") {
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
      token = tokens.next();
      continue;
    }
    if (token.type !== "=") throw parseError(token.line, `expected "=" or "{" after "${key}", found ${describe(token)}`);
    if (existing?.kind === "section") throw parseError(keyLine, `"${key}" is both a section and a value`);
    token = tokens.next();
    let value: ConfigValue;
    if (token.type === "[") {
      const items: ConfigValue[] = [];
      token = tokens.next();
      while (token.type !== "]") {
        const item = scalar(token);
        if (!item) throw parseError(token.line, `expected a value, found ${describe(token)}`);
        items.push(item);
        token = tokens.next();
        if (token.type === ",") token = tokens.next();
      }
      value = { type: "array", items };
    } else {
      const item = scalar(token);
      if (!item) throw parseError(token.line, `expected a value, found ${describe(token)}`);
      value = item;
    }
    const endLine = token.endLine;
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
    token = tokens.next();
    if (token.comment?.line === endLine) entry.comment = token.comment.text;
  }
}
