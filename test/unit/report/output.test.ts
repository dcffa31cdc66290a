import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { renderReport, sortRows, type Layout, type ReportColumn } from "../../../src/core/report/output.ts";
import { findField, type Value } from "../../../src/core/report/fields.ts";

const columns: ReportColumn[] = ["lv_name", "lv_size", "lv_attr"].map((id) => ({ field: findField(id, "lv_")!, hidden: false }));
const BASIC: Layout = { json: false, headings: true, aligned: true, separator: " ", nameprefixes: false, quoted: true, rows: false, name: "lv" };

const arbText = fc.stringMatching(/^[a-z0-9._<-]{0,12}$/);
const arbRow = fc.tuple(arbText, fc.integer({ min: 0, max: 1e6 }), arbText).map(([name, size, attr]): Value[] => [
  { text: name, sort: name },
  { text: `${size}.00m`, sort: size },
  { text: attr, sort: attr },
]);

test("property: aligned output pads every column, the last too, under LVM's two-space prefix", () => {
  fc.assert(
    fc.property(fc.array(arbRow, { minLength: 1, maxLength: 8 }), (rows) => {
      const lines = renderReport(columns, rows, BASIC).split("\n").slice(0, -1);
      assert.equal(lines.length, rows.length + 1);
      const width = lines[0]!.length;
      for (const line of lines) {
        assert.ok(line.startsWith("  "));
        assert.equal(line.length, width);
      }
      rows.forEach((row, i) => {
        const line = lines[i + 1]!;
        assert.ok(line.startsWith(`  ${row[0]!.text}`), "strings are left-aligned");
        const nameWidth = Math.max(4, ...rows.map((r) => r[0]!.text.length));
        const sizeWidth = Math.max(5, ...rows.map((r) => r[1]!.text.length));
        assert.equal(line.slice(2 + nameWidth + 1, 2 + nameWidth + 1 + sizeWidth), row[1]!.text.padStart(sizeWidth), "sizes are right-aligned");
      });
    }),
  );
});

test("no rows print nothing at all, JSON prints its empty array", () => {
  assert.equal(renderReport(columns, [], BASIC), "");
  assert.equal(
    renderReport(columns, [], { ...BASIC, json: true, headings: false, aligned: false }),
    '  {\n      "report": [\n          {\n              "lv": [\n              ]\n          }\n      ]\n  }\n',
  );
});

test("property: JSON output is JSON with every value a string, quotes escaped", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 5 }), (pairs) => {
      const rows = pairs.map(([a, b]): Value[] => [{ text: a.replaceAll("\\", ""), sort: a }, { text: b.replaceAll("\\", ""), sort: 0 }, { text: "", sort: "" }]);
      const text = renderReport(columns, rows, { ...BASIC, json: true, headings: false, aligned: false });
      const parsed = JSON.parse(text.split("\n").map((l) => l.slice(2)).join("\n"));
      assert.deepEqual(
        parsed.report[0].lv,
        rows.map((r) => ({ lv_name: r[0]!.text, lv_size: r[1]!.text, lv_attr: "" })),
      );
    }),
  );
});

test("separators, name prefixes, --rows and hidden columns", () => {
  const rows: Value[][] = [
    [{ text: "lin", sort: "lin" }, { text: "40.00m", sort: 81920 }, { text: "-wi-a-----", sort: "" }],
    [{ text: "str", sort: "str" }, { text: "16.00m", sort: 32768 }, { text: "-wi-------", sort: "" }],
  ];
  const unaligned = { ...BASIC, aligned: false, separator: "," };
  assert.equal(renderReport(columns, rows, unaligned), "  LV,LSize,Attr\n  lin,40.00m,-wi-a-----\n  str,16.00m,-wi-------\n");
  assert.equal(
    renderReport(columns, rows, { ...BASIC, aligned: true, separator: "|" }),
    "  LV  |LSize |Attr      \n  lin |40.00m|-wi-a-----\n  str |16.00m|-wi-------\n",
  );
  assert.equal(
    renderReport(columns.slice(0, 2), rows, { ...unaligned, separator: " ", nameprefixes: true, headings: false }),
    "  LVM2_LV_NAME='lin' LVM2_LV_SIZE='40.00m'\n  LVM2_LV_NAME='str' LVM2_LV_SIZE='16.00m'\n",
  );
  assert.equal(
    renderReport(columns.slice(0, 2), rows, { ...unaligned, separator: " ", rows: true }),
    "  LV lin str\n  LSize 40.00m 16.00m\n",
  );
  const hidden = columns.map((c, i) => ({ ...c, hidden: i === 1 }));
  assert.equal(renderReport(hidden, rows, unaligned), "  LV,Attr\n  lin,-wi-a-----\n  str,-wi-------\n");
});

test("property: sorting is by the keys in order, descending where asked, and stable", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), fc.integer({ min: 0, max: 3 })), { maxLength: 12 }), fc.boolean(), (pairs, desc) => {
      const rows = pairs.map(([s, n], i): Value[] => [{ text: s, sort: s }, { text: String(n), sort: n }, { text: String(i), sort: i }]);
      const sorted = sortRows(rows, [
        { column: 0, descending: false, kind: "string" },
        { column: 1, descending: desc, kind: "number" },
      ]);
      for (let i = 1; i < sorted.length; i++) {
        const [a, b] = [sorted[i - 1]!, sorted[i]!];
        const byName = (a[0]!.sort as string).localeCompare(b[0]!.sort as string);
        assert.ok(byName <= 0);
        if (byName === 0) {
          const diff = (a[1]!.sort as number) - (b[1]!.sort as number);
          assert.ok(desc ? diff >= 0 : diff <= 0);
          if (diff === 0) assert.ok((a[2]!.sort as number) < (b[2]!.sort as number), "equal rows keep their order");
        }
      }
    }),
  );
});
