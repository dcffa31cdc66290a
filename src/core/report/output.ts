/**
 * Report rendering as libdm does it: aligned columns (every column padded, the
 * last one too), headings, separators, `--nameprefixes`, `--rows`, JSON, and
 * row sorting by -O keys. Every line carries LVM's two-space log prefix.
 */
import { alignRight, type FieldDef, type Value, type ValueKind } from "./fields.ts";

export interface ReportColumn {
  field: FieldDef;
  /** Sort keys and selection fields that are not displayed. */
  hidden: boolean;
}

export interface Layout {
  json: boolean;
  headings: boolean;
  aligned: boolean;
  separator: string;
  nameprefixes: boolean;
  quoted: boolean;
  /** --rows: one line per field. */
  rows: boolean;
  /** The JSON array's name: lv, vg, pv, seg or pvseg. */
  name: string;
}

export interface SortKey {
  /** Index into the row's values. */
  column: number;
  descending: boolean;
  kind: ValueKind;
}

const NUMERIC: ReadonlySet<ValueKind> = new Set(["number", "size", "time", "percent"]);

function compareValues(a: Value, b: Value, kind: ValueKind): number {
  if (NUMERIC.has(kind)) return (a.sort as number) - (b.sort as number);
  // Strings compare byte-wise (strcmp); string lists by their text.
  const x = kind === "strlist" ? a.text : String(a.sort);
  const y = kind === "strlist" ? b.text : String(b.sort);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A stable sort by the keys in order (glibc's qsort keeps equal rows in processing order). */
export function sortRows(rows: Value[][], keys: SortKey[]): Value[][] {
  return [...rows].sort((a, b) => {
    for (const key of keys) {
      const c = compareValues(a[key.column]!, b[key.column]!, key.kind);
      if (c !== 0) return key.descending ? -Math.sign(c) : Math.sign(c);
    }
    return 0;
  });
}

function fieldText(field: FieldDef, text: string, width: number, layout: Layout): string {
  let out: string;
  if (layout.json) out = `"${field.id}":"${text.replaceAll('"', '\\"')}"`;
  else if (layout.aligned) out = alignRight(field) ? text.padStart(width) : text.padEnd(width);
  else out = text;
  if (layout.nameprefixes && !layout.json) {
    const q = layout.quoted ? "'" : "";
    out = `LVM2_${field.id.toUpperCase()}=${q}${out}${q}`;
  }
  return out;
}

/** The report's stdout text; nothing at all for no rows, except JSON's empty array. */
export function renderReport(columns: ReportColumn[], rows: Value[][], layout: Layout): string {
  const shown = columns.map((c, i) => ({ ...c, i })).filter((c) => !c.hidden);
  const lines: string[] = [];
  if (layout.json) {
    lines.push("{", '    "report": [', "        {", `            "${layout.name}": [`);
    rows.forEach((row, r) => {
      const cells = shown.map((c) => fieldText(c.field, row[c.i]!.text, 0, layout));
      lines.push(`                {${cells.join(", ")}}${r < rows.length - 1 ? "," : ""}`);
    });
    lines.push("            ]", "        }", "    ]", "}");
  } else if (rows.length && layout.rows) {
    for (const c of shown) {
      const cells = rows.map((row) => fieldText(c.field, row[c.i]!.text, 0, layout));
      lines.push([...(layout.headings ? [c.field.heading] : []), ...cells].join(layout.separator));
    }
  } else if (rows.length) {
    const widths = shown.map((c) => Math.max(c.field.width, ...rows.map((row) => row[c.i]!.text.length)));
    if (layout.headings)
      lines.push(
        shown
          .map((c, k) => (layout.aligned ? c.field.heading.slice(0, widths[k]).padEnd(widths[k]!) : c.field.heading))
          .join(layout.separator),
      );
    for (const row of rows) lines.push(shown.map((c, k) => fieldText(c.field, row[c.i]!.text, widths[k]!, layout)).join(layout.separator));
  }
  return lines.map((line) => `  ${line}\n`).join("");
}
