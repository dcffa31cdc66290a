import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseSelection } from "../../../src/core/report/select.ts";
import { findField, NUM_UNDEF, type FieldDef, type Value } from "../../../src/core/report/fields.ts";
import { LvmError } from "../../../src/core/errors.ts";

interface Lv {
  name: string;
  sectors: number;
  segs: number;
  tags: string[];
  minor?: number;
  copy?: number;
}

/** Field values as the report computes them, for the few fields these tests select on. */
function values(lv: Lv): (field: FieldDef) => Value {
  return (field) => {
    switch (field.id) {
      case "lv_name":
        return { text: lv.name, sort: lv.name };
      case "lv_size":
        return { text: "", sort: lv.sectors };
      case "seg_count":
        return { text: String(lv.segs), sort: lv.segs };
      case "lv_tags": {
        const items = [...lv.tags].sort();
        return { text: items.join(","), sort: items.join(","), items };
      }
      case "lv_minor":
        return { text: String(lv.minor ?? -1), sort: lv.minor ?? NUM_UNDEF };
      case "copy_percent":
        return { text: "", sort: lv.copy === undefined ? NUM_UNDEF : lv.copy * 1_000_000 };
      default:
        throw new Error(`unexpected field ${field.id}`);
    }
  };
}

const select = (text: string, lvs: Lv[]) => {
  const sel = parseSelection(text, "lv_")!;
  return lvs.filter((lv) => sel.matches(values(lv))).map((lv) => lv.name);
};

const LVS: Lv[] = [
  { name: "lin", sectors: 81920, segs: 1, tags: ["t1", "alpha"] },
  { name: "big", sectors: 2138112, segs: 1, tags: [], minor: 42, copy: 100 },
  { name: "multi", sectors: 65536, segs: 2, tags: ["alpha"], copy: 25.5 },
];

test("sizes take units (MiB without one) and compare as sizes", () => {
  assert.deepEqual(select("lv_size>30m", LVS), ["lin", "big", "multi"]);
  assert.deepEqual(select("lv_size>=40", LVS), ["lin", "big"]);
  assert.deepEqual(select("lv_size<1g && lv_size!=32m", LVS), ["lin"]);
  assert.deepEqual(select("size=40m", LVS), ["lin"]);
});

test("string lists: a bare item matches any, [..] the whole list, {..} a subset, || any of them", () => {
  assert.deepEqual(select("lv_tags=t1", LVS), ["lin"]);
  assert.deepEqual(select("lv_tags=[alpha]", LVS), ["multi"]);
  assert.deepEqual(select("lv_tags=[t1,alpha]", LVS), ["lin"]);
  assert.deepEqual(select("lv_tags={alpha}", LVS), ["lin", "multi"]);
  assert.deepEqual(select("lv_tags=[zz||t1]", LVS), ["lin"]);
  assert.deepEqual(select('lv_tags=""', LVS), ["big"]);
  assert.deepEqual(select("lv_tags!=alpha", LVS), ["big"]);
});

test("reserved values: undefined numbers match -1/undefined and never compare as ordered", () => {
  assert.deepEqual(select("lv_minor=-1", LVS), ["lin", "multi"]);
  assert.deepEqual(select("lv_minor=undefined", LVS), ["lin", "multi"]);
  assert.deepEqual(select("lv_minor>0", LVS), ["big"]);
  assert.deepEqual(select("lv_minor<100", LVS), ["big"]);
});

test("percents with or without %; no percent (inactive) never matches, not even !=", () => {
  assert.deepEqual(select("copy_percent=100", LVS), ["big"]);
  assert.deepEqual(select("copy_percent<50%", LVS), ["multi"]);
  assert.deepEqual(select("copy_percent!=100", LVS), ["multi"]);
});

test("regexes, quoting, grouping and negation", () => {
  assert.deepEqual(select("lv_name=~^m", LVS), ["multi"]);
  assert.deepEqual(select("name!~'^(m|l)'", LVS), ["big"]);
  assert.deepEqual(select("!(name=lin || name=big)", LVS), ["multi"]);
  assert.deepEqual(select('(name="lin" # seg_count>1), lv_size>35m', LVS), ["lin"]);
});

test("errors carry lvm's lines and exit 5", () => {
  const fails = (text: string, last: string) =>
    assert.throws(() => parseSelection(text, "lv_"), (e: unknown) => e instanceof LvmError && e.exitCode === 5 && e.lines.at(-1) === last, text);
  fails("foo=1", "Use 'help' for selection to get more help.");
  fails("lv_size=~1", "dm_report: incompatible comparison type for selection field lv_size");
  fails("(lv_name=lin", "Syntax error: right parenthesis expected at ''");
  fails("!lv_name=lin", "Syntax error: left parenthesis expected at 'lv_name=lin'");
  fails("lv_name=~'(' ", "dm_report: failed to create regex matcher for selection field lv_name");
  fails("copy_percent=101", "Field selection value 101 out of supported range for field copy_percent.");
  assert.equal(parseSelection("all", "lv_"), undefined);
  assert.equal(parseSelection("", "lv_"), undefined);
});

test("the fields a selection reads are reported back, resolved with the report's prefix", () => {
  assert.deepEqual(
    parseSelection("name=a || size>1 && tags=x", "lv_")!.fields.map((f) => f.id),
    ["lv_name", "lv_size", "lv_tags"],
  );
  assert.equal(findField("name", "vg_")!.id, "vg_name");
});

const arbLv = fc.record({
  name: fc.constantFrom("a", "b", "c"),
  sectors: fc.integer({ min: 0, max: 1 << 24 }),
  segs: fc.integer({ min: 1, max: 4 }),
  tags: fc.uniqueArray(fc.constantFrom("x", "y", "z"), { maxLength: 3 }),
});

type Expr = { atom: string; test: (lv: Lv) => boolean } | { op: "and" | "or" | "not"; args: Expr[] };
const atom = fc.oneof(
  fc.integer({ min: 0, max: 8192 }).map((m) => ({ atom: `lv_size>${m}m`, test: (lv: Lv) => lv.sectors > m * 2048 })),
  fc.integer({ min: 1, max: 4 }).map((k) => ({ atom: `seg_count<=${k}`, test: (lv: Lv) => lv.segs <= k })),
  fc.constantFrom("a", "b").map((n) => ({ atom: `lv_name=${n}`, test: (lv: Lv) => lv.name === n })),
  fc.constantFrom("x", "y").map((t) => ({ atom: `lv_tags=${t}`, test: (lv: Lv) => lv.tags.includes(t) })),
);
const expr: fc.Arbitrary<Expr> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, atom, tie("and"), tie("or"), tie("not")),
  and: fc.tuple(tie("node"), tie("node")).map((args) => ({ op: "and" as const, args: args as Expr[] })),
  or: fc.tuple(tie("node"), tie("node")).map((args) => ({ op: "or" as const, args: args as Expr[] })),
  not: tie("node").map((arg) => ({ op: "not" as const, args: [arg as Expr] })),
})).node as fc.Arbitrary<Expr>;

function render(e: Expr): string {
  if ("atom" in e) return e.atom;
  if (e.op === "not") return `!(${render(e.args[0]!)})`;
  return `(${e.args.map(render).join(e.op === "and" ? " && " : " || ")})`;
}
function truth(e: Expr, lv: Lv): boolean {
  if ("atom" in e) return e.test(lv);
  if (e.op === "not") return !truth(e.args[0]!, lv);
  return e.op === "and" ? e.args.every((a) => truth(a, lv)) : e.args.some((a) => truth(a, lv));
}

test("property: a selection matches exactly the LVs its logic says", () => {
  fc.assert(
    fc.property(expr, fc.array(arbLv, { maxLength: 6 }), (e, lvs) => {
      const sel = parseSelection(render(e), "lv_")!;
      for (const lv of lvs) assert.equal(sel.matches(values(lv)), truth(e, lv), `${render(e)} on ${JSON.stringify(lv)}`);
    }),
  );
});
