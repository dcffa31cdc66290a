import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatFixed, formatSize, parseSizeArg, parseUnits, DEFAULT_UNITS } from "../../../src/core/report/units.ts";
import { LvmError } from "../../../src/core/errors.ts";

const MIB = 2048; // sectors
const show = (sectors: number, units = "r", suffix = true) => formatSize(sectors, parseUnits(units), { suffix });

test("human sizes: the largest unit that fits, '<' only where %.2f rounded up (lvm2-format.md §5.4)", () => {
  assert.equal(show(9212 * MIB), "<9.00g");
  assert.equal(show(10236 * MIB), "<10.00g");
  assert.equal(show(1028 * MIB), "1.00g");
  assert.equal(show(1020 * MIB), "1020.00m");
  assert.equal(show(40 * MIB), "40.00m");
  assert.equal(show(1044 * MIB), "<1.02g");
  assert.equal(show(1024 * 1024 * MIB, "H"), "1.10T");
  assert.equal(show(1024 * MIB, "H"), "1.07G");
  assert.equal(show(9212 * MIB, "h"), "9.00g");
});

test("a value exactly halfway rounds to even, as glibc's printf does", () => {
  // 1152 MiB = 1.125 GiB: "1.12g", and no '<' because nothing was rounded up.
  assert.equal(show(1152 * MIB), "1.12g");
  assert.equal(show(1408 * MIB), "<1.38g");
  assert.equal(show(1160 * MIB), "1.13g");
  assert.equal(formatFixed(0.125, 2), "0.12");
  assert.equal(formatFixed(0.375, 2), "0.38");
  assert.equal(formatFixed(2.5, 0), "2");
});

test("fixed units: B and S without decimals and upper-case suffix, others with two decimals", () => {
  assert.equal(show(40 * MIB, "b"), "41943040B");
  assert.equal(show(40 * MIB, "B"), "41943040B");
  assert.equal(show(40 * MIB, "s"), "81920S");
  assert.equal(show(40 * MIB, "k"), "40960.00k");
  assert.equal(show(40 * MIB, "m"), "40.00m");
  assert.equal(show(40 * MIB, "M"), "41.94M");
  assert.equal(show(40 * MIB, "m", false), "40.00");
});

test("zero: '0 ' in human units, the unit letter otherwise, bare with --nosuffix", () => {
  assert.equal(show(0), "0 ");
  assert.equal(show(0, "H"), "0 ");
  assert.equal(show(0, "m"), "0m");
  assert.equal(show(0, "b"), "0B");
  assert.equal(show(0, "r", false), "0");
});

test("--nosuffix keeps the suffix of human units, as lvm does", () => {
  assert.equal(show(1044 * MIB, "r", false), "<1.02g");
});

test("--units with a count: a custom unit printed as U; a fraction keeps the letter", () => {
  assert.deepEqual(parseUnits("4m"), { type: "U", factor: 4 * 1024 * 1024 });
  assert.equal(show(40 * MIB, "4m"), "10.00U");
  assert.deepEqual(parseUnits("1.5m"), { type: "m", factor: 1572864 });
  assert.equal(show(40 * MIB, "1.5m"), "26.67m");
  assert.deepEqual(parseUnits("r"), DEFAULT_UNITS);
});

test("bad --units: LVM's message, exit 3", () => {
  for (const spec of ["x", "", "mm", "0m", "+m", "4"]) {
    assert.throws(() => parseUnits(spec), (e: unknown) => e instanceof LvmError && e.exitCode === 3 && e.lines[0] === "Invalid units specification", spec);
  }
});

test("property: r prints h's number, marked '<' exactly when that number is above the exact value", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 44 }), (sectors) => {
      const r = show(sectors, "r");
      const h = show(sectors, "h");
      assert.equal(r.replace(/^</, ""), h);
      const m = /^([\d.]+)([bkmgtpe])$/.exec(h)!;
      const exact = (sectors * 512) / 1024 ** "bkmgtpe".indexOf(m[2]!);
      assert.equal(r.startsWith("<"), Number(m[1]) > exact);
    }),
  );
});

test("property: formatFixed is Number#toFixed except on exact ties, which go to the even digit", () => {
  fc.assert(
    // n / 2^j is exact in binary, so whether it lies halfway between two printed values is known exactly.
    fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 4 }), (n, j, digits) => {
      const x = n / 2 ** j;
      const twice = BigInt(n) * 10n ** BigInt(digits) * 2n;
      const tie = twice % 2n ** BigInt(j) === 0n && (twice / 2n ** BigInt(j)) % 2n === 1n;
      const ours = formatFixed(x, digits);
      if (!tie) assert.equal(ours, x.toFixed(digits));
      else assert.equal(BigInt(ours.replace(".", "")) % 2n, 0n);
    }),
  );
});

test("size arguments: both letter cases are powers of 1024, s is sectors, b bytes; default unit applies", () => {
  assert.deepEqual(parseSizeArg("10G", "m"), { sign: "", sectors: 10 * 1024 * MIB });
  assert.deepEqual(parseSizeArg("10g", "m"), { sign: "", sectors: 10 * 1024 * MIB });
  assert.deepEqual(parseSizeArg("100m", "m"), { sign: "", sectors: 100 * MIB });
  assert.deepEqual(parseSizeArg("1.5g", "m"), { sign: "", sectors: 1536 * MIB });
  assert.deepEqual(parseSizeArg("+10G", "m"), { sign: "+", sectors: 10 * 1024 * MIB });
  assert.deepEqual(parseSizeArg("-8", "m"), { sign: "-", sectors: 8 * MIB });
  assert.deepEqual(parseSizeArg("64", "k"), { sign: "", sectors: 128 });
  assert.deepEqual(parseSizeArg("100s", "m"), { sign: "", sectors: 100 });
  assert.deepEqual(parseSizeArg("1024b", "m"), { sign: "", sectors: 2 });
  assert.deepEqual(parseSizeArg(".5m", "m"), { sign: "", sectors: 1024 });
  assert.deepEqual(parseSizeArg("1.1m", "m"), { sign: "", sectors: 2252 });
});

test("bad size arguments: lvm's messages (real lvcreate -L output), exit 3", () => {
  const cases: [string, string][] = [
    ["10x", "Can't parse size argument."],
    ["++10", "Multiple sign symbols detected."],
    ["1000b", "Size is not a multiple of 512. Try using 512 or 1024."],
    ["abc", "Size requires number argument."],
    [".", "Can't parse size argument at '.'."],
    ["99999999e", "Size is too big (>=16EiB)."],
  ];
  for (const [text, message] of cases)
    assert.throws(() => parseSizeArg(text, "m"), (e: unknown) => e instanceof LvmError && e.exitCode === 3 && e.lines[0] === message, text);
});

test("property: every unit letter in either case scales an integer exactly, and the sign is kept", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 100000 }), fc.constantFrom(..."kmgtKMGT"), fc.constantFrom("", "+", "-"), (n, unit, sign) => {
      const expected = n * 2 * 1024 ** "kmgt".indexOf(unit.toLowerCase());
      assert.deepEqual(parseSizeArg(`${sign}${n}${unit}`, "m"), { sign, sectors: expected });
    }),
  );
});
