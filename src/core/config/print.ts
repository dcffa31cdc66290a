/**
 * Printer for LVM's config syntax in the two layouts LVM's metadata writer uses:
 * "raw" is the on-disk text (no indentation, no comments), "backup" the
 * vgcfgbackup/archive file (one TAB per level, comments aligned as LVM does).
 */
import type { ConfigEntry, ConfigSection, ConfigValue } from "./tree.ts";

export type ConfigStyle = "raw" | "backup";

/** LVM's writer stops indenting deeper than this. */
const MAX_INDENT = 5;
/** Comments start at this tab stop when the text leaves room. */
const COMMENT_TAB = 6;

const utf8 = new TextEncoder();

export function escapeString(s: string): string {
  return s.replace(/["\\]/g, "\\$&");
}

/**
 * Keys that would not read back as a bare identifier are quoted; libdm quotes
 * those with `#`, `"` or `!` and the rest can only come from quoted input.
 */
function formatKey(key: string): string {
  const bare = key !== "" && !/^["'[\],]/.test(key) && !/[\s#={}"!]/.test(key);
  return bare ? key : `"${escapeString(key)}"`;
}

export function formatValue(value: ConfigValue): string {
  switch (value.type) {
    case "int":
      return String(value.value);
    case "float":
      return value.text;
    case "string":
      return `"${escapeString(value.value)}"`;
    case "array":
      return `[${value.items.map(formatValue).join(", ")}]`;
  }
}

/** TABs before a comment: LVM counts the printed bytes plus 8 per indent level and aims for tab stop 6. */
function commentPad(text: string, level: number): string {
  const stop = Math.floor((utf8.encode(text).length + 8 * level) / 8) + 1;
  return "\t".repeat(Math.max(1, COMMENT_TAB - stop));
}

export function printConfig(root: ConfigSection, style: ConfigStyle): string {
  const lines: string[] = [];
  const indent = (level: number): string => (style === "backup" ? "\t".repeat(Math.min(level, MAX_INDENT)) : "");
  const line = (level: number, text: string, comment?: string, commentInRaw?: boolean): void => {
    let out = indent(level) + text;
    // Comments that LVM keeps on disk are part of the printed text there, so they get one plain TAB.
    if (comment !== undefined && commentInRaw) out += "\t" + comment;
    else if (comment !== undefined && style === "backup") out += commentPad(text, level) + comment;
    lines.push(out);
  };
  const emit = (entries: ConfigEntry[], level: number): void => {
    for (const entry of entries) {
      if (entry.kind === "blank") lines.push("");
      else if (entry.kind === "section") {
        line(level, `${formatKey(entry.section.name)} {`);
        emit(entry.section.entries, level + 1);
        line(level, "}");
      } else {
        const key = formatKey(entry.key);
        const { value, itemsPerLine } = entry;
        if (value.type === "array" && itemsPerLine !== undefined && itemsPerLine > 0) {
          line(level, `${key} = [`);
          for (let i = 0; i < value.items.length; i += itemsPerLine) {
            const group = value.items.slice(i, i + itemsPerLine).map(formatValue).join(", ");
            line(level + 1, i + itemsPerLine < value.items.length ? group + "," : group);
          }
          // After the closing bracket, where a parser finds the end of the value.
          line(level, "]", entry.comment, entry.commentInRaw);
        } else line(level, `${key} = ${formatValue(value)}`, entry.comment, entry.commentInRaw);
      }
    }
  };
  emit(root.entries, 0);
  return lines.map((l) => l + "\n").join("");
}
