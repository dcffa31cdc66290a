/**
 * Reads the real-lvm2 report fixtures (see capture-real.sh for the format) and
 * runs the same commands through buildReport with the same input.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseVgText } from "../../../src/core/model/text.ts";
import type { LoadedVg, ScannedPv } from "../../../src/metadata/session.ts";
import { buildReport, type ReportCommand, type ReportInput, type ReportOptions } from "../../../src/core/report/report.ts";
import { LvmError } from "../../../src/core/errors.ts";

const FIXTURES = join(import.meta.dirname, "..", "..", "fixtures", "real");

export interface FixtureCase {
  line: string;
  argv: string[];
  stdout: string;
  stderr: string[];
  rc: number;
}

export interface Fixture {
  input: ReportInput;
  cases: FixtureCase[];
}

/** Splits a command line written by capture-real.sh's quote(): bare words, '...' and \\x. */
export function splitArgs(line: string): string[] {
  const args: string[] = [];
  let arg: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === " ") {
      if (arg !== undefined) args.push(arg);
      arg = undefined;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      arg = (arg ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (c === "\\") arg = (arg ?? "") + line[++i];
    else arg = (arg ?? "") + c;
  }
  if (arg !== undefined) args.push(arg);
  return args;
}

function parseDevice(line: string): { scanned: ScannedPv; vg: string } {
  const [path, ...pairs] = line.split(" ");
  const kv = Object.fromEntries(pairs.map((p) => p.split("=") as [string, string]));
  const mdas = Array.from({ length: Number(kv.mdas) }, (_, i) => ({
    start: 4096,
    size: Number(kv.mda_size),
    ignored: i >= Number(kv.used_mdas),
    free: Number(kv.mda_free),
  }));
  const scanned: ScannedPv = {
    device: path!,
    size: Number(kv.size),
    pvId: kv.pvid!,
    labelDeviceSize: Number(kv.size),
    peStart: Number(kv.pe_start),
    mdas,
    used: kv.in_use === "1",
  };
  if (kv.vg) scanned.vgName = kv.vg;
  return { scanned, vg: kv.vg ?? "" };
}

export function loadFixture(name: string): Fixture {
  const lines = readFileSync(join(FIXTURES, `report-${name}.txt`), "utf8").split("\n");
  const vgs: LoadedVg[] = [];
  const devices: { scanned: ScannedPv; vg: string }[] = [];
  const cases: FixtureCase[] = [];
  let current: FixtureCase | undefined;
  for (const line of lines) {
    if (line.startsWith("@vg ")) {
      const { vg } = parseVgText(readFileSync(join(FIXTURES, line.slice(4)), "utf8"));
      vgs.push({ vg, devices: new Map() });
    } else if (line.startsWith("@device ")) {
      // A PV lvm could not find is listed as [unknown]: it is no device.
      if (!line.startsWith("@device [unknown]")) devices.push(parseDevice(line.slice(8)));
    } else if (line.startsWith("$ ")) {
      current = { line: line.slice(2), argv: splitArgs(line.slice(2)), stdout: "", stderr: [], rc: 0 };
      cases.push(current);
    } else if (line.startsWith("@stderr ")) current!.stderr.push(line.slice(8));
    else if (line.startsWith("@rc ")) current!.rc = Number(line.slice(4));
    else if (current && !line.startsWith("#") && line !== "") current.stdout += `${line}\n`;
  }
  const orphans: ScannedPv[] = [];
  for (const { scanned } of devices) {
    const owner = vgs.find((l) => l.vg.pvs.some((pv) => pv.id === scanned.pvId));
    if (owner) owner.devices.set(scanned.pvId, scanned);
    else orphans.push(scanned);
  }
  return { input: { vgs, orphans }, cases };
}

const VALUE_OPTIONS: Record<string, keyof ReportOptions | "options"> = {
  "-o": "options",
  "--options": "options",
  "-O": "sort",
  "--sort": "sort",
  "-S": "select",
  "--select": "select",
  "--units": "units",
  "--reportformat": "reportFormat",
  "--separator": "separator",
};
const FLAGS: Record<string, keyof ReportOptions> = {
  "-a": "all",
  "--all": "all",
  "--segments": "segments",
  "--nosuffix": "nosuffix",
  "--noheadings": "noheadings",
  "--aligned": "aligned",
  "--nameprefixes": "nameprefixes",
  "--unquoted": "unquoted",
  "--rows": "rows",
};

export interface RunResult {
  stdout: string;
  stderr: string[];
  rc: number;
}

/** Runs one fixture command line the way the pvs/vgs/lvs commands hand it to buildReport. */
export function runCase(fixture: Fixture, argv: string[]): RunResult {
  const [command, ...rest] = argv as [ReportCommand, ...string[]];
  const options: string[] = [];
  const values: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const key = VALUE_OPTIONS[arg];
    if (key === "options") options.push(rest[++i]!);
    else if (key) values[key] = rest[++i]!;
    else if (FLAGS[arg]) values[FLAGS[arg]!] = true;
    else positional.push(arg);
  }
  const opts: ReportOptions = { ...values, options };
  const input: ReportInput = { ...fixture.input };
  if (positional.length && command === "pvs") {
    const all = [...fixture.input.vgs.flatMap((l) => [...l.devices.values()]), ...(fixture.input.orphans ?? [])];
    input.pvIds = new Set(all.filter((s) => positional.includes(s.device)).map((s) => s.pvId));
  } else if (positional.length) {
    const named = (vg: string) => positional.filter((p) => p === vg || p.startsWith(`${vg}/`));
    input.vgs = fixture.input.vgs.filter((l) => named(l.vg.name).length);
    if (command === "lvs") {
      input.lvs = new Map();
      for (const l of input.vgs) {
        const names = named(l.vg.name).map((p) => p.split("/")[1] ?? "");
        if (!names.includes("")) input.lvs.set(l.vg.name, l.vg.lvs.filter((lv) => names.includes(lv.name)));
      }
    }
  }
  const stderr: string[] = [];
  try {
    const stdout = buildReport(command, input, { ...opts, warn: (line) => stderr.push(`  ${line}`) });
    return { stdout, stderr, rc: 0 };
  } catch (e) {
    if (!(e instanceof LvmError)) throw e;
    return { stdout: "", stderr: [...stderr, ...e.lines.map((l) => `  ${l}`)], rc: e.exitCode };
  }
}
