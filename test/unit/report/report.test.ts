/**
 * pvs/vgs/lvs against real lvm2 2.03.16: every command captured in
 * test/fixtures/real/report-*.txt is run through buildReport on the same
 * metadata and devices and must print the same bytes (activation masked, see
 * test/helpers/report-compare.ts), fail with the same exit code, and print the same error lines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadFixture, runCase } from "./fixtures.ts";
import { maskActivation } from "../../helpers/report-compare.ts";
import { fieldHelp } from "../../../src/core/report/fields.ts";
import { SELECTION_HELP } from "../../../src/core/report/select.ts";

/** lvm's field list (ulvm lists a subset of it, checked separately) and the CLI's usage line are not compared here. */
function messageLines(lines: string[]): string[] {
  return lines.filter(
    (l) =>
      !/^ {4}\S+\s+- /.test(l) &&
      !/^ {2}[A-Z][A-Za-z ]* Fields$/.test(l) &&
      !/^ {2}-+$/.test(l) &&
      l !== "   " &&
      !l.startsWith("  Run `") &&
      !l.startsWith("  WARNING: "),
  );
}

for (const name of ["basic", "raid", "missing"]) {
  const fixture = loadFixture(name);
  for (const c of fixture.cases) {
    test(`${name}: ${c.line}`, () => {
      const ours = runCase(fixture, c.argv);
      assert.equal(ours.rc, c.rc, ours.stderr.join("\n"));
      assert.equal(maskActivation(ours.stdout), maskActivation(c.stdout));
      assert.deepEqual(messageLines(ours.stderr), messageLines(c.stderr));
    });
  }
}

const basic = loadFixture("basic");
const realStderr = (line: string) => basic.cases.find((c) => c.line === line)!.stderr;

test("the field help lists ulvm's fields in lvm's order, with lvm's text", () => {
  const real = realStderr("lvs -o xyz");
  const ours = fieldHelp(true, false).map((l) => `  ${l}`);
  let at = 0;
  for (const line of ours) {
    const found = real.indexOf(line, at);
    assert.ok(found >= 0, `not in lvm's help (in order): ${JSON.stringify(line)}`);
    at = found + 1;
  }
  assert.ok(ours.length > 150);
});

test("the field help with types matches lvm's for selection errors", () => {
  const real = realStderr("lvs -S foo=1");
  let at = 0;
  for (const line of fieldHelp(false, true).map((l) => `  ${l}`)) {
    const found = real.indexOf(line, at);
    assert.ok(found >= 0, `not in lvm's help (in order): ${JSON.stringify(line)}`);
    at = found + 1;
  }
});

test("the selection help is lvm's, line for line", () => {
  const real = realStderr("lvs -S lv_name");
  const start = real.indexOf("  Selection operands");
  assert.deepEqual(real.slice(start, start + SELECTION_HELP.length), SELECTION_HELP.map((l) => `  ${l}`));
});
