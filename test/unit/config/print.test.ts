import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseConfig } from "../../../src/core/config/parse.ts";
import { printConfig, type ConfigStyle } from "../../../src/core/config/print.ts";
import type { ConfigEntry, ConfigSection, ConfigValue } from "../../../src/core/config/tree.ts";

const int = (value: number): ConfigValue => ({ type: "int", value });
const str = (value: string): ConfigValue => ({ type: "string", value });
const root = (entries: ConfigEntry[]): ConfigSection => ({ name: "", entries });
const section = (name: string, entries: ConfigEntry[]): ConfigEntry => ({ kind: "section", section: { name, entries } });

const sample = root([
  section("vg0", [
    { kind: "value", key: "format", value: str("lvm2"), comment: "# informational" },
    { kind: "value", key: "status", value: { type: "array", items: [str("READ"), str("WRITE")] } },
    { kind: "value", key: "extent_size", value: int(8192), comment: "# 4 Megabytes" },
    { kind: "blank" },
    section("pvs", [
      section("pv0", [{ kind: "value", key: "device", value: str("/dev/loop0"), comment: "# Hint only" }]),
    ]),
    { kind: "value", key: "stripes", value: { type: "array", items: [str("pv0"), int(10), str("pv1"), int(0)] }, itemsPerLine: 2 },
  ]),
  { kind: "value", key: "creation_host", value: str("vm"), comment: "# Linux vm", commentInRaw: true },
]);

test("raw: no indentation, comments only where LVM keeps them on disk", () => {
  assert.equal(
    printConfig(sample, "raw"),
    [
      "vg0 {",
      'format = "lvm2"',
      'status = ["READ", "WRITE"]',
      "extent_size = 8192",
      "",
      "pvs {",
      "pv0 {",
      'device = "/dev/loop0"',
      "}",
      "}",
      "stripes = [",
      '"pv0", 10,',
      '"pv1", 0',
      "]",
      "}",
      'creation_host = "vm"\t# Linux vm',
      "",
    ].join("\n"),
  );
});

test("backup: a TAB per level and comments aligned at tab stop 6", () => {
  assert.equal(
    printConfig(sample, "backup"),
    [
      "vg0 {",
      '\tformat = "lvm2"\t\t\t# informational',
      '\tstatus = ["READ", "WRITE"]',
      "\textent_size = 8192\t\t# 4 Megabytes",
      "",
      "\tpvs {",
      "\t\tpv0 {",
      '\t\t\tdevice = "/dev/loop0"\t# Hint only',
      "\t\t}",
      "\t}",
      "\tstripes = [",
      '\t\t"pv0", 10,',
      '\t\t"pv1", 0',
      "\t]",
      "}",
      'creation_host = "vm"\t# Linux vm',
      "",
    ].join("\n"),
  );
});

test("comment padding counts bytes and never drops below one TAB", () => {
  const one = (key: string, value: ConfigValue, level: number): string => {
    let entries: ConfigEntry[] = [{ kind: "value", key, value, comment: "# c" }];
    for (let i = 0; i < level; i++) entries = [section("s", entries)];
    return printConfig(root(entries), "backup").split("\n")[level]!;
  };
  assert.equal(one("a", int(1), 0), "a = 1\t\t\t\t\t# c");
  assert.equal(one("a", str("é"), 0), 'a = "é"\t\t\t\t# c');
  assert.equal(one("a", str("x".repeat(60)), 0), `a = "${"x".repeat(60)}"\t# c`);
  assert.equal(one("a", int(1), 5), "\t\t\t\t\ta = 1\t# c");
  // LVM stops indenting at level 5.
  assert.equal(one("a", int(1), 7), "\t\t\t\t\ta = 1\t# c");
});

test("strings escape quotes and backslashes; odd keys are quoted", () => {
  const text = printConfig(root([{ kind: "value", key: "a b", value: str('say "hi" \\ bye') }, { kind: "value", key: "x#y", value: int(1) }]), "raw");
  assert.equal(text, '"a b" = "say \\"hi\\" \\\\ bye"\n"x#y" = 1\n');
});

test("empty arrays print inline or as an empty block", () => {
  assert.equal(printConfig(root([{ kind: "value", key: "flags", value: { type: "array", items: [] } }]), "raw"), "flags = []\n");
  assert.equal(printConfig(root([{ kind: "value", key: "raids", value: { type: "array", items: [] }, itemsPerLine: 2 }]), "raw"), "raids = [\n]\n");
  const ones = printConfig(root([{ kind: "value", key: "raids", value: { type: "array", items: [str("a"), str("b"), str("c")] }, itemsPerLine: 1 }]), "raw");
  assert.equal(ones, 'raids = [\n"a",\n"b",\n"c"\n]\n');
});

// Trees that a parser can give back: unique keys per section, flat arrays, no NUL.
const arbText = fc.string({ unit: fc.oneof(fc.constantFrom(..."\"\\#'{}[],= \t\n/"), fc.constantFrom(..."azAZ09.-+_!"), fc.constantFrom("é", "☃")), maxLength: 12 });
const arbKey = fc.oneof(fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/), arbText.filter((s) => s.length > 0));
const arbScalar: fc.Arbitrary<ConfigValue> = fc.oneof(
  fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }).map(int),
  fc.stringMatching(/^-?[0-9]{1,5}\.[0-9]{0,4}$/).map((text): ConfigValue => ({ type: "float", text })),
  arbText.map(str),
);
const arbValue: fc.Arbitrary<ConfigValue> = fc.oneof(arbScalar, fc.array(arbScalar, { maxLength: 6 }).map((items): ConfigValue => ({ type: "array", items })));
const arbComment = fc.option(fc.string({ maxLength: 10 }).filter((s) => !/[\n\0]/.test(s)).map((s) => "# " + s), { nil: undefined });

const { tree } = fc.letrec<{ tree: ConfigSection; entry: ConfigEntry }>((tie) => ({
  tree: fc
    .record({ name: arbKey, entries: fc.uniqueArray(tie("entry"), { maxLength: 5, selector: (e) => (e.kind === "value" ? e.key : e.kind === "section" ? e.section.name : "") }) })
    .map((s) => ({ name: s.name, entries: s.entries })),
  entry: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ key: arbKey, value: arbValue, comment: arbComment, inRaw: fc.boolean(), perLine: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) }).map(
      ({ key, value, comment, inRaw, perLine }): ConfigEntry => ({
        kind: "value",
        key,
        value,
        ...(comment === undefined ? {} : { comment, ...(inRaw ? { commentInRaw: true } : {}) }),
        ...(perLine === undefined ? {} : { itemsPerLine: perLine }),
      }),
    ),
    tie("tree").map((section): ConfigEntry => ({ kind: "section", section })),
  ),
}));

/** What a parse gives back: no blanks, no layout hints, and comments only where the style prints them. */
function expected(section: ConfigSection, style: ConfigStyle): ConfigSection {
  return {
    name: section.name,
    entries: section.entries.flatMap((e): ConfigEntry[] => {
      if (e.kind === "blank") return [];
      if (e.kind === "section") return [{ kind: "section", section: expected(e.section, style) }];
      const keep = e.comment !== undefined && (style === "backup" || e.commentInRaw);
      return [{ kind: "value", key: e.key, value: e.value, ...(keep ? { comment: e.comment } : {}) }];
    }),
  };
}

test("printConfig then parseConfig gives the tree back, in both styles", () => {
  fc.assert(
    fc.property(tree, fc.constantFrom<ConfigStyle>("raw", "backup"), (t, style) => {
      const top = root(t.entries);
      assert.deepEqual(parseConfig(printConfig(top, style)), expected(top, style));
    }),
    { numRuns: 1000 },
  );
});
