import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { EXIT, LvmError } from "../../../src/core/errors.ts";
import { isValidName, reservedLvNamePart, validateLvName, validateVgName } from "../../../src/core/model/names.ts";

function lines(fn: () => void): { lines: string[]; code: number } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LvmError, String(e));
    return { lines: e.lines, code: e.exitCode };
  }
  assert.fail("accepted");
}

// Messages and codes as printed by vgcreate/lvcreate 2.03.16 on this machine (the CLI adds "Run `... --help'").
test("VG names: LVM's reason line, then the vgcreate line, exit 3", () => {
  const cases: [string, string][] = [
    ["bad name", "Name contains invalid character, valid set includes: [a-zA-Z0-9.-_+]."],
    ["a/b", "Name contains invalid character, valid set includes: [a-zA-Z0-9.-_+]."],
    ["-vg", "Name cannot start with hyphen."],
    [".", "Name starts with . or .. and has no following character(s)."],
    ["..", "Name starts with . or .. and has no following character(s)."],
    ["", "Name is zero length."],
    ["a".repeat(128), "Name length exceeds maximum limit of 127."],
  ];
  for (const [name, why] of cases) assert.deepEqual(lines(() => validateVgName(name)), { lines: [why, `New volume group name "${name}" is invalid.`], code: EXIT.INVALID_CMD_LINE });
  for (const name of ["vg0", "a".repeat(127), "...", ".a", "a-b_c+d.e", "pvmove0", "x_rimage_0"]) validateVgName(name);
});

test("LV names: invalid characters, then reserved prefixes and infixes for names typed on the CLI", () => {
  assert.deepEqual(lines(() => validateLvName("bad name", { cli: true })), { lines: ['Logical volume name "bad name" is invalid.'], code: EXIT.INVALID_CMD_LINE });
  assert.deepEqual(lines(() => validateLvName("-a", { cli: false })), { lines: ['Logical volume name "-a" is invalid.'], code: 3 });
  assert.deepEqual(lines(() => validateLvName("pvmove0", { cli: true })).lines, ['Names starting "pvmove" are reserved. Please choose a different LV name.']);
  assert.deepEqual(lines(() => validateLvName("snapshotx", { cli: true })).lines, ['Names starting "snapshot" are reserved. Please choose a different LV name.']);
  assert.deepEqual(lines(() => validateLvName("a_rimage_1", { cli: true })).lines, ['Names including "_rimage" are reserved. Please choose a different LV name.']);
  assert.deepEqual(lines(() => validateLvName("a_pmspare", { cli: true })).lines, ['Names including "_pmspare" are reserved. Please choose a different LV name.']);
  // The first reserved string in LVM's list wins.
  assert.deepEqual(lines(() => validateLvName("x_rmeta_mlog", { cli: true })).lines, ['Names including "_mlog" are reserved. Please choose a different LV name.']);
  // vgcfgrestore loads sub-LVs by these names.
  validateLvName("r1_rimage_0", { cli: false });
  validateLvName("pvmove0", { cli: false });
});

test("names made of the allowed set are valid unless they are . or .. or start with -", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9+_.-]{1,127}$/), (name) => {
      assert.equal(isValidName(name), !name.startsWith("-") && name !== "." && name !== "..");
    }),
  );
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /[^A-Za-z0-9+_.-]/.test(s)), (name) => {
      assert.equal(isValidName(name), false);
    }),
  );
});

test("reserved parts are found anywhere for infixes, only at the start for prefixes", () => {
  assert.deepEqual(reservedLvNamePart("mypvmove"), undefined);
  assert.deepEqual(reservedLvNamePart("pvmove"), { prefix: "pvmove" });
  assert.deepEqual(reservedLvNamePart("lv_tmeta"), { infix: "_tmeta" });
  assert.deepEqual(reservedLvNamePart("lv_vorigin_x"), { infix: "_vorigin" });
  assert.deepEqual(reservedLvNamePart("lv"), undefined);
});
