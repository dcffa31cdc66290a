/**
 * The same command lines through the real lvm2 (a dependency of this suite) and
 * through ulvm's parser: where lvm refuses a command line (exit 2 or 3) ulvm must
 * refuse it with the same messages; where lvm gets past parsing, ulvm must accept.
 * lvm runs with a private LVM_SYSTEM_DIR that lets it see no device at all, so no
 * command here can touch anything, and the VG names used exist nowhere.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { parseCommandLine } from "../../../src/cli/args.ts";
import { commandList, commandUsage, helpFor } from "../../../src/cli/help.ts";
import { commandNames, getCommand } from "../../../src/cli/command-table.ts";
import { ACCEPTED, REFUSED, parseOutcome, words } from "./cases.ts";

const dir = mkdtempSync(join(tmpdir(), "ulvm-cli-lvm-"));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, "nodev"));
writeFileSync(
  join(dir, "lvm.conf"),
  `global { activation = 0 }
devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 scan = [ "${dir}/nodev" ] filter = [ "r|.*|" ] global_filter = [ "r|.*|" ] }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup_dir = "${dir}/backup" archive_dir = "${dir}/archive" }
`,
);

function lvm(argv: string[]): { code: number; stderr: string; stdout: string } {
  const r = spawnSync("lvm", argv, {
    encoding: "utf8",
    input: "",
    env: { PATH: process.env.PATH, LVM_SYSTEM_DIR: dir, LVM_SUPPRESS_FD_WARNINGS: "1" },
  });
  assert.equal(r.error, undefined, "the real lvm2 must be installed");
  // Said by every command under activation = 0, before anything else.
  const stderr = r.stderr.replace(
    /^ {2}WARNING: Activation disabled\. No device-mapper interaction will be attempted\.\n/gm,
    "",
  );
  return { code: r.status ?? -1, stderr: stderr.replace(/\n$/, ""), stdout: r.stdout };
}

/** lvm's -vvvv log of how far it got with a command line. */
function lvmDebug(argv: string[]): string {
  const end = argv.indexOf("--");
  return lvm(end < 0 ? [...argv, "-vvvv"] : [...argv.slice(0, end), "-vvvv", ...argv.slice(end)]).stderr;
}

/**
 * lvm's verdict on a command line: its refusal, or exit code 0 when it accepted it
 * (and went on to fail for want of the VG, say). Commands refuse things with exit
 * 3 too; lvm logs "Processing command" once the command line itself is accepted.
 */
function lvmParse(argv: string[]): { code: number; stderr: string; stdout: string } {
  const r = lvm(argv);
  const refused = (r.code === 2 || r.code === 3) && !lvmDebug(argv).includes("Processing command:");
  return refused ? r : { code: 0, stderr: "", stdout: "" };
}

/** The command id lvm logs for the variant it matched, if it logged one (not for --help). */
const lvmVariant = (argv: string[]) => /Recognised command (\S+) /.exec(lvmDebug(argv))?.[1];

/** ulvm names the two splits apart; lvm has one id for both. */
const lvmId = (variant: string) =>
  ["lvconvert_split_and_keep", "lvconvert_split_and_track"].includes(variant)
    ? "lvconvert_split_mirror_images"
    : variant;

const inBoth = (line: string) => {
  const name = words(line)[0] ?? "";
  return (getCommand(name) !== undefined && name !== "daemon") || ["bogus", "-x"].includes(line);
};

test("lvm refuses the command lines ulvm refuses, with the same messages", () => {
  const lines = REFUSED.map(([l]) => l).filter(inBoth);
  assert.ok(lines.length > 40);
  for (const line of lines) assert.deepEqual(parseOutcome(words(line)), lvmParse(words(line)), line);
});

test("lvm accepts the command lines ulvm accepts, and matches the same variant", () => {
  const lines = ACCEPTED.filter(([l]) => inBoth(l));
  assert.ok(lines.length > 60);
  for (const [line, variant] of lines) {
    const real = lvmParse(words(line));
    assert.equal(real.code, 0, `${line}: ${real.stderr}`);
    const id = lvmVariant(words(line));
    if (id) assert.equal(lvmId(variant), id, line);
  }
});

test("lvm reads hyphens out of long options the same way", () => {
  assert.equal(
    lvm(words("lvcreate -n --odd-name -L1 nosuchvg")).stderr.split("\n")[0],
    '  Logical volume name "--oddname" is invalid.',
  );
  assert.deepEqual(parseCommandLine(words("lvcreate -n --odd-name -L1 nosuchvg")).options.get("name"), ["--oddname"]);
});

/** Options of a command that take no value, under random prefixes and hyphens, against lvm. */
test("random abbreviations and hyphenations of options get lvm's verdict", () => {
  const tails: Record<string, string[]> = {
    lvconvert: ["nosuchvg/lv"],
    lvcreate: ["-L1", "nosuchvg"],
    lvs: [],
    vgreduce: ["nosuchvg"],
    pvchange: ["/dev/nosuchdev"],
    vgchange: ["nosuchvg"],
  };
  const cases = Object.entries(tails).flatMap(([cmd, tail]) => {
    const v = getCommand(cmd)!.variants;
    const flags = new Set(v.flatMap((x) => [...x.required, ...x.anyOf, ...x.optional]).filter((u) => !u.option.value));
    return [...flags].map((u) => ({ cmd, tail, long: u.option.long }));
  });
  fc.assert(
    fc.property(
      fc.constantFrom(...cases),
      fc.nat(),
      fc.array(fc.nat(), { maxLength: 2 }),
      ({ cmd, tail, long }, n, cuts) => {
        let opt = long.slice(0, 1 + (n % long.length));
        for (const cut of cuts) opt = `${opt.slice(0, cut % (opt.length + 1))}-${opt.slice(cut % (opt.length + 1))}`;
        const argv = [cmd, `--${opt}`, ...tail];
        assert.deepEqual(parseOutcome(argv), lvmParse(argv), argv.join(" "));
      },
    ),
    { numRuns: 150 },
  );
});

test("random sizes, extents and numbers get lvm's verdict and messages", () => {
  const letters = fc.string({ unit: fc.constantFrom(..."0123456789.+-%xXpPeEkKmMgGtTbBsSfFrRvVlLoO"), maxLength: 4 });
  // strtod's hex and exponent forms (0x1p3, 1e3) are left out: parseSizeArg (core/report/units.ts) reads neither.
  const value = fc
    .oneof(
      letters.filter((v) => v.length > 0),
      fc
        .tuple(fc.constantFrom("", "+", "-", "+-"), fc.stringMatching(/^[0-9]{1,5}(\.[0-9]{0,2})?$/), letters)
        .map((parts) => parts.join("")),
    )
    .filter((v) => !/^[+-]*[0-9.]*(0[xX][0-9a-fA-F.]|[0-9.][eE][+-]?[0-9])/.test(v));
  const where = fc.constantFrom(
    ["lvcreate", "-L", "nosuchvg"],
    ["lvextend", "-L", "nosuchvg/lv"],
    ["lvresize", "-L", "nosuchvg/lv"],
    ["lvreduce", "-l", "nosuchvg/lv"],
    ["lvcreate", "-l", "nosuchvg"],
    ["lvconvert", "-m", "nosuchvg/lv"],
    ["lvcreate", "-m1 -L1 -R", "nosuchvg"],
    ["lvchange", "-r", "nosuchvg/lv"],
  );
  fc.assert(
    fc.property(where, value, ([cmd, opt, target], v) => {
      const argv = [cmd, ...opt.split(" "), v, target];
      assert.deepEqual(parseOutcome(argv), lvmParse(argv), argv.join(" "));
    }),
    { numRuns: 200 },
  );
});

test("CMD --help and --longhelp print lvm's usage text", () => {
  for (const name of commandNames().filter((n) => !["daemon", "version"].includes(n))) {
    assert.equal(commandUsage(name, false), lvm([name, "--help"]).stdout, `${name} --help`);
    // lvm's long help ends with notes on option syntax, which ulvm leaves out.
    const long = lvm([name, "--longhelp"]).stdout;
    assert.equal(
      commandUsage(name, true),
      long.slice(0, long.search(/^ {2}(Special options|Common variables)/m)),
      name,
    );
  }
});

test("help lists each command as lvm does", () => {
  const real = lvm(["help"]).stderr.split("\n");
  const mine = commandList().map((l) => `  ${l}`);
  assert.deepEqual(mine.slice(0, 3), real.slice(0, 3));
  for (const line of mine.slice(3).filter((l) => !l.startsWith("  daemon "))) assert.ok(real.includes(line), line);
});

test("help for named commands, unknown ones included, matches lvm", () => {
  for (const line of ["help lvs vgs", "help nosuchcmd", "help pvs nosuchcmd", "lvs -?", "vgs -h"]) {
    const out = helpFor(parseCommandLine(words(line)))!;
    const real = lvm(words(line));
    assert.deepEqual(
      { code: out.exitCode, stdout: out.stdout, stderr: out.stderr.map((l) => `  ${l}`).join("\n") },
      { code: real.code, stdout: real.stdout, stderr: real.stderr },
      line,
    );
  }
});
