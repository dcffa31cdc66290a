import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FormatError } from "../../../src/core/errors.ts";
import { MAX_DEPTH, parseConfig } from "../../../src/core/config/parse.ts";
import type { ConfigEntry, ConfigValue } from "../../../src/core/config/tree.ts";

function value(text: string, key = "k"): ConfigValue {
  const entry = parseConfig(text).entries.find((e) => e.kind === "value" && e.key === key);
  assert.ok(entry?.kind === "value", `no value ${key} in ${text}`);
  return entry.value;
}

function parseError(text: string): string {
  try {
    parseConfig(text);
  } catch (e) {
    assert.ok(e instanceof FormatError, `not a FormatError: ${e}`);
    return e.message;
  }
  assert.fail(`accepted: ${JSON.stringify(text)}`);
}

test("sections, values and comments", () => {
  const root = parseConfig("# header\nvg {  # trailing\n  a = 1 # one\n  sub { b = \"x\" }\n}\nc = 2\n");
  assert.equal(root.name, "");
  assert.deepEqual(root.entries, [
    {
      kind: "section",
      section: {
        name: "vg",
        entries: [
          { kind: "value", key: "a", value: { type: "int", value: 1 }, comment: "# one" },
          { kind: "section", section: { name: "sub", entries: [{ kind: "value", key: "b", value: { type: "string", value: "x" } }] } },
        ],
      },
    },
    { kind: "value", key: "c", value: { type: "int", value: 2 } },
  ]);
});

test("a comment on the next line is not attached", () => {
  const root = parseConfig("a = [1,\n2]\n# later\nb = 1");
  assert.equal((root.entries[0] as Extract<ConfigEntry, { kind: "value" }>).comment, undefined);
  assert.equal((parseConfig("a = [1,\n2]  # here").entries[0] as Extract<ConfigEntry, { kind: "value" }>).comment, "# here");
});

test("integers are read like C's strtoll with base 0, without hex", () => {
  assert.deepEqual(value("k = 42"), { type: "int", value: 42 });
  assert.deepEqual(value("k = -7"), { type: "int", value: -7 });
  assert.deepEqual(value("k = +7"), { type: "int", value: 7 });
  assert.deepEqual(value("k = 010"), { type: "int", value: 8 });
  assert.deepEqual(value("k = 0"), { type: "int", value: 0 });
  assert.deepEqual(value("k = -0"), { type: "int", value: 0 });
  assert.deepEqual(value(`k = ${Number.MAX_SAFE_INTEGER}`), { type: "int", value: Number.MAX_SAFE_INTEGER });
  assert.match(parseError("k = 0x10"), /^Parse error at line 1: invalid number/);
  assert.match(parseError("k = 09"), /invalid integer "09"/);
  assert.match(parseError(`k = ${Number.MAX_SAFE_INTEGER + 1}`), /integer out of range/);
  assert.match(parseError("k = 99999999999999999999999999"), /out of range/);
  assert.match(parseError("k = 12abc"), /invalid number/);
  assert.match(parseError("k = -"), /invalid number/);
});

test("integers: any safe value reads back as itself, decimal or octal, signed or not, short or long", () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), fc.constantFrom("", "+", "-"), fc.boolean(), (n, sign, octal) => {
      const digits = octal && n !== 0 ? `0${n.toString(8)}` : String(n);
      const expected = sign === "-" && n !== 0 ? -n : n;
      assert.deepEqual(value(`k = ${sign}${digits}`), { type: "int", value: expected });
      assert.deepEqual(value(`k = [${sign}${digits}, 1]`), { type: "array", items: [{ type: "int", value: expected }, { type: "int", value: 1 }] });
    }),
    { numRuns: 2000 },
  );
});

test("line numbers count newlines inside strings, escapes and comments", () => {
  assert.equal(parseError('a = "x\\\ny" # c\n# d\nb c'), 'Parse error at line 4: expected "=" or "{" after "b", found "c"');
  assert.equal(parseError("a = 'p\nq'\n\n c = ]"), 'Parse error at line 4: expected a value, found "]"');
  assert.match(parseError('a = 1\n b = "never closed\n'), /^Parse error at line 2: unterminated string$/);
});

test("floats keep their text", () => {
  assert.deepEqual(value("k = 1.5"), { type: "float", text: "1.5" });
  assert.deepEqual(value("k = .25"), { type: "float", text: ".25" });
  assert.deepEqual(value("k = -3."), { type: "float", text: "-3." });
  assert.match(parseError("k = 1.2.3"), /invalid number/);
  assert.match(parseError("k = ."), /invalid number/);
});

test("strings: double quotes unescape only \\\" and \\\\, single quotes nothing, bare words after = [ ,", () => {
  assert.deepEqual(value(String.raw`k = "a\"b\\c\nd"`), { type: "string", value: 'a"b\\c\\nd' });
  assert.deepEqual(value(String.raw`k = 'a\"b'`), { type: "string", value: String.raw`a\"b` });
  assert.deepEqual(value('k = "multi\nline"'), { type: "string", value: "multi\nline" });
  assert.deepEqual(value("k = bare/word"), { type: "string", value: "bare/word" });
  assert.deepEqual(value("k = [one \"two\"]"), { type: "array", items: [{ type: "string", value: "one" }, { type: "string", value: "two" }] });
  assert.match(parseError('k = "open'), /line 1: unterminated string/);
  assert.match(parseError("k = 'open\n\n"), /line 1: unterminated string/);
});

test("quoted keys", () => {
  assert.deepEqual(value('"a key" = 1', "a key"), { type: "int", value: 1 });
  assert.deepEqual(value("'x#y' = 2", "x#y"), { type: "int", value: 2 });
  assert.equal((parseConfig('"s p" { }').entries[0] as Extract<ConfigEntry, { kind: "section" }>).section.name, "s p");
  assert.match(parseError('"" = 1'), /empty section identifier/);
});

test("arrays: commas optional between strings, trailing comma allowed, no nesting", () => {
  assert.deepEqual(value("k = []"), { type: "array", items: [] });
  assert.deepEqual(value('k = ["a", 1, 2.5,]'), {
    type: "array",
    items: [{ type: "string", value: "a" }, { type: "int", value: 1 }, { type: "float", text: "2.5" }],
  });
  assert.deepEqual(value('k = ["a" "b"]'), { type: "array", items: [{ type: "string", value: "a" }, { type: "string", value: "b" }] });
  assert.match(parseError("k = [[1]]"), /expected a value/);
  assert.match(parseError("k = [,1]"), /expected a value/);
  assert.match(parseError("k = [1"), /expected a value, found end of input/);
});

test("duplicate values: the later wins in the first one's place, with LVM's warning", () => {
  const warnings: string[] = [];
  const root = parseConfig("a = 1\nb = 2\na = 3\n", { warn: (l) => warnings.push(l) });
  assert.deepEqual(root.entries, [
    { kind: "value", key: "a", value: { type: "int", value: 3 } },
    { kind: "value", key: "b", value: { type: "int", value: 2 } },
  ]);
  assert.deepEqual(warnings, ["WARNING: Ignoring duplicate config value: a"]);
});

test("duplicate sections merge recursively", () => {
  const root = parseConfig("s { a = 1 t { x = 1 } }\nother = 0\ns { b = 2 t { y = 2 } a = 5 }");
  assert.deepEqual(root.entries[0], {
    kind: "section",
    section: {
      name: "s",
      entries: [
        { kind: "value", key: "a", value: { type: "int", value: 5 } },
        {
          kind: "section",
          section: {
            name: "t",
            entries: [
              { kind: "value", key: "x", value: { type: "int", value: 1 } },
              { kind: "value", key: "y", value: { type: "int", value: 2 } },
            ],
          },
        },
        { kind: "value", key: "b", value: { type: "int", value: 2 } },
      ],
    },
  });
  assert.equal(root.entries.length, 2);
  assert.match(parseError("s { }\ns = 1"), /both a section and a value/);
  assert.match(parseError("s = 1\ns { }"), /both a value and a section/);
});

test("errors name the line", () => {
  assert.equal(parseError("a = 1\nb {\n c = \n}\n"), 'Parse error at line 4: expected a value, found "}"');
  assert.equal(parseError("a {\n b = 1\n"), 'Parse error at line 3: unexpected end of input, section "a" is not closed');
  assert.equal(parseError("a = 1\n}\n"), 'Parse error at line 2: unexpected "}"');
  assert.equal(parseError('x = "a\nb"\ny z'), 'Parse error at line 3: expected "=" or "{" after "y", found "z"');
  assert.equal(parseError("= 1"), 'Parse error at line 1: expected a key, found "="');
});

test("nesting is bounded", () => {
  const ok = "a {".repeat(MAX_DEPTH) + "}".repeat(MAX_DEPTH);
  assert.equal(parseConfig(ok).entries.length, 1);
  const deep = "a {".repeat(100000);
  assert.match(parseError(deep), /nested too deeply/);
});

test("text after a NUL is ignored, as on disk", () => {
  assert.deepEqual(parseConfig("a = 1\n\0garbage {{{").entries, [{ kind: "value", key: "a", value: { type: "int", value: 1 } }]);
});

test("any input gives a tree or a FormatError, never another exception", () => {
  const alphabet = fc.constantFrom(..."{}[]=,\"'#\\\n\t 0123456789.+-abcxyz_/\0");
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: alphabet, maxLength: 60 }), fc.string({ maxLength: 60 }), fc.string({ unit: "binary", maxLength: 60 })), (text) => {
      try {
        parseConfig(text);
      } catch (e) {
        assert.ok(e instanceof FormatError, String(e));
        assert.match(e.message, /^Parse error at line \d+: /);
      }
    }),
    { numRuns: 5000 },
  );
});
