import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCommandLine, CommandLineError, type ParsedCommand } from "../../../src/cli/args.ts";
import { commandNames, getCommand, OPTIONS } from "../../../src/cli/command-table.ts";
import { ACCEPTED, REFUSED, parseOutcome, words } from "./cases.ts";

function parse(line: string | string[], env: Record<string, string> = {}): ParsedCommand {
  return parseCommandLine(typeof line === "string" ? words(line) : line, env);
}

test("command lines lvm accepts parse to the variant and typed values", () => {
  for (const [line, variant, options, positional] of ACCEPTED) {
    const parsed = parse(line);
    assert.equal(parsed.command, line.startsWith("-") ? "help" : line.split(" ")[0], line);
    assert.equal(parsed.variant, variant, line);
    assert.deepEqual(Object.fromEntries(parsed.options), options, line);
    assert.deepEqual(parsed.positional, positional, line);
  }
});

test("lvcreate takes its VG from LVM_VG_NAME", () => {
  assert.equal(parse("lvcreate -L1 -n lv", { LVM_VG_NAME: "vg" }).variant, "lvcreate_linear");
  assert.throws(() => parse("lvcreate -L1 -n lv"), /No command with matching syntax/);
});

test("command lines lvm refuses give lvm's messages and exit codes", () => {
  for (const [line, code, stderr, stdout = ""] of REFUSED) {
    assert.deepEqual(parseOutcome(words(line)), { stderr, stdout, code }, line);
  }
});

test("an empty command line asks for a command and lists them", () => {
  const r = parseOutcome([]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^ {2}Please supply an LVM command\.\n {2}Available lvm commands:\n/);
  assert.match(r.stderr, /\n {2}lvconvert {7}Change logical volume layout\n/);
});

test("no command gives two of its valid options the same short letter", () => {
  for (const name of commandNames()) {
    const cmd = getCommand(name)!;
    const ids = new Set(
      cmd.variants.flatMap((v) => [...v.required, ...v.anyOf, ...v.optional, ...v.ignored]).map((u) => u.option.id),
    );
    const letters = OPTIONS.filter((o) => ids.has(o.id) && o.short).map((o) => o.short);
    assert.equal(new Set(letters).size, letters.length, `${name}: ${letters.join("")}`);
  }
});

test("variant ids are lvm-style command ids", () => {
  for (const name of commandNames()) {
    for (const v of getCommand(name)!.variants) {
      assert.match(v.id, new RegExp(`^${name}_[a-z0-9_]+$`), v.id);
      assert.equal(v.command, name);
    }
  }
});

// ------------------------------------------------------------ properties

const lvs = getCommand("lvs")!.variants[0]!;
const lvsOptions = [...lvs.optional, ...lvs.ignored].map((u) => u.option);
const lvsFlags = lvsOptions.filter((o) => !o.value).map((o) => o.long);

test("hyphens inside a long option do not change what it means", () => {
  fc.assert(
    fc.property(fc.constantFrom(...lvsFlags), fc.array(fc.nat(), { maxLength: 4 }), (long, cuts) => {
      let hyphened = long;
      for (const cut of cuts) {
        const at = 1 + (cut % (hyphened.length - 1 || 1));
        hyphened = `${hyphened.slice(0, at)}-${hyphened.slice(at)}`;
      }
      const plain = parse(["lvs", `--${long}`, "vg"]);
      assert.deepEqual(parse(["lvs", `--${hyphened}`, "vg"]), plain);
    }),
  );
});

test("an unambiguous prefix means the option; an ambiguous one names every candidate", () => {
  const longs = lvsOptions.map((o) => o.long);
  fc.assert(
    fc.property(fc.constantFrom(...lvsFlags), fc.nat(), (long, n) => {
      const prefix = long.slice(0, 1 + (n % long.length));
      const others = longs.filter((l) => l !== long && l.startsWith(prefix));
      const exact = longs.includes(prefix) && prefix !== long;
      try {
        const parsed = parse(["lvs", `--${prefix}`]);
        assert.ok(!others.length || exact || prefix === long, `--${prefix} accepted though ambiguous`);
        if (!exact) assert.deepEqual(parsed, parse(["lvs", `--${long}`]));
      } catch (e) {
        assert.ok(e instanceof CommandLineError);
        assert.ok(others.length > 0 && !exact && prefix !== long, `--${prefix} refused`);
        for (const other of [long, ...others]) assert.ok(e.rawLines[0]!.includes(` '--${other}'`));
      }
    }),
  );
});

test("sizes convert to sectors by unit, keeping the sign", () => {
  const units: [string, number][] = [
    ["s", 1],
    ["k", 2],
    ["K", 2],
    ["m", 2048],
    ["g", 2 * 1024 ** 2],
    ["t", 2 * 1024 ** 3],
  ];
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1_000_000 }),
      fc.constantFrom(...units),
      fc.constantFrom("", "+", "-"),
      (n, [unit, factor], sign) => {
        const parsed = parse(["lvresize", "-L", `${sign}${n}${unit}`, "vg/lv"]);
        assert.deepEqual(parsed.options.get("size"), [{ sign, sectors: n * factor }]);
      },
    ),
  );
});

test("positionals may be interleaved with options anywhere", () => {
  fc.assert(
    fc.property(
      fc.array(fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      (names, at) => {
        const opts = ["-f", "--nohints", "-v"];
        const argv = [...names];
        argv.splice(at % (argv.length + 1), 0, ...opts);
        const parsed = parse(["lvremove", ...argv]);
        assert.deepEqual(parsed.positional, names);
        assert.deepEqual([...parsed.options.keys()], ["force", "nohints", "verbose"]);
      },
    ),
  );
});

test("repeatable options keep every value in order", () => {
  fc.assert(
    fc.property(
      fc.array(fc.stringMatching(/^[A-Za-z0-9_+.][A-Za-z0-9_+.-]{0,7}$/), { minLength: 1, maxLength: 6 }),
      (tags) => {
        const parsed = parse(["lvchange", ...tags.flatMap((t) => ["--addtag", t]), "vg/lv"]);
        assert.deepEqual(parsed.options.get("addtag"), tags);
      },
    ),
  );
});

test("a command's table is compiled once, on first use; names that are no command have none", () => {
  const name = commandNames().find((n) => n !== "lvs")!;
  assert.equal(getCommand(name), getCommand(name));
  assert.equal(getCommand(name)!.name, name);
  for (const other of ["nosuch", "__proto__", "constructor", "toString", ""]) assert.equal(getCommand(other), undefined, other);
});
