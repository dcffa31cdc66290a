import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { FormatError } from "../../../src/core/errors.ts";
import { ctime, formatVgText, isoLocalTime, parseVgText, sizeComment, type VgTextHeader } from "../../../src/core/model/text.ts";
import { validateVg } from "../../../src/core/model/validate.ts";
import type { VolumeGroup } from "../../../src/core/model/types.ts";
import { arbVolumeGroup } from "./arbitrary.ts";

// The fixtures were written on a UTC host; LVM prints its time comments in local time.
process.env.TZ = "UTC";

const fixtures = join(import.meta.dirname, "..", "..", "fixtures", "real");
// Whole files as lvm2 wrote them (other fixtures in the folder may be trimmed for other tests).
const textFixtures = readdirSync(fixtures)
  .filter((f) => /^(text-|vg0-)/.test(f) && (f.endsWith(".vg") || f.endsWith("-raw.txt")))
  .sort();

function load(name: string): { text: string; style: "raw" | "backup" } {
  const bytes = readFileSync(join(fixtures, name), "utf8");
  if (name.endsWith("-raw.txt")) {
    assert.equal(bytes.at(-1), "\0", `${name} keeps the on-disk NUL`);
    return { text: bytes.slice(0, -1), style: "raw" };
  }
  return { text: bytes, style: "backup" };
}

function parseFixture(name: string): { vg: VolumeGroup; header: VgTextHeader } {
  const { vg, header } = parseVgText(load(name).text);
  return { vg, header: header as VgTextHeader };
}

test("every real lvm2 text fixture is rewritten byte for byte", () => {
  assert.ok(textFixtures.length >= 20, `found ${textFixtures.length} fixtures`);
  for (const name of textFixtures) {
    const { text, style } = load(name);
    const { vg, header } = parseVgText(text);
    assert.equal(formatVgText(vg, header as VgTextHeader, style), text, name);
  }
});

test("raw and backup fixtures of the same state hold the same model", () => {
  for (const name of textFixtures.filter((f) => f.startsWith("text-") && f.endsWith(".vg"))) {
    const backup = parseFixture(name).vg;
    const raw = parseFixture(name.replace(/\.vg$/, "-raw.txt")).vg;
    // The raw copy is the last write; vgcfgbackup rewrites the same seqno.
    assert.deepEqual(raw, backup, name);
  }
});

test("header fields are read, including the uname comment", () => {
  const { header } = parseFixture("vg0-raw.txt");
  assert.deepEqual(header, {
    description: "Write from vgcfgrestore -f r1.vg vg0.",
    creationHost: "vm",
    creationHostComment: "Linux vm 6.18.44-fc-v669 #1 SMP PREEMPT_DYNAMIC @0 x86_64",
    creationTime: 1796071462,
  });
  const tags = parseFixture("text-tags-raw.txt").header;
  assert.match(tags.description, /--config devices\/scan=\["\/dev"\] vgt/);
});

test("ids are stored without dashes; PV names become ids in areas", () => {
  const { vg } = parseFixture("vg0-backup.vg");
  assert.equal(vg.id, "3RQUCzSxOhjq087YGTzMIIhf4c93vVoy");
  const str = vg.lvs.find((lv) => lv.name === "str")!;
  assert.deepEqual(str.segments[0]!.areas, [
    { kind: "pv", pvId: vg.pvs[0]!.id, pe: 10 },
    { kind: "pv", pvId: vg.pvs[1]!.id, pe: 0 },
  ]);
  assert.equal(str.segments[0]!.stripeSize, 128);
});

test("raid pairs are split into meta and data areas by the _rmeta_ name", () => {
  const { vg } = parseFixture("text-raid3.vg");
  const seg = vg.lvs.find((lv) => lv.name === "r3")!.segments[0]!;
  assert.equal(seg.type, "raid1");
  assert.equal(seg.regionSize, 4096);
  assert.deepEqual(seg.areas.map((a) => a.kind === "lv" && a.lv), ["r3_rimage_0", "r3_rimage_1", "r3_rimage_2"]);
  assert.deepEqual(seg.metaAreas.map((a) => a.kind === "lv" && a.lv), ["r3_rmeta_0", "r3_rmeta_1", "r3_rmeta_2"]);
});

test("raid without metadata LVs lists only images and prints one per line", () => {
  const { vg, header } = parseFixture("text-raid3-raw.txt");
  const seg = vg.lvs.find((lv) => lv.name === "r3")!.segments[0]!;
  seg.metaAreas = [];
  const text = formatVgText(vg, header, "raw");
  assert.match(text, /raids = \[\n"r3_rimage_0",\n"r3_rimage_1",\n"r3_rimage_2"\n\]/);
  assert.deepEqual(parseVgText(text).vg, vg);
});

test("mirror segments keep their log, region size and image areas", () => {
  const { vg } = parseFixture("text-mirror.vg");
  const seg = vg.lvs.find((lv) => lv.name === "m1")!.segments[0]!;
  assert.equal(seg.type, "mirror");
  assert.equal(seg.mirrorLog, "m1_mlog");
  assert.equal(seg.regionSize, 1024);
  assert.deepEqual(seg.areas, [
    { kind: "lv", lv: "m1_mimage_0", le: 0 },
    { kind: "lv", lv: "m1_mimage_1", le: 0 },
  ]);
});

test("state flags: NOTSYNCED, REBUILD, WRITEMOSTLY, ACTIVATION_SKIP, tracked image", () => {
  const { vg } = parseFixture("text-flags-raw.txt");
  const lv = (n: string) => vg.lvs.find((l) => l.name === n)!;
  assert.deepEqual(lv("rf").status, ["READ", "WRITE", "VISIBLE", "NOTSYNCED"]);
  assert.deepEqual(lv("rf").flags, ["ACTIVATION_SKIP"]);
  assert.deepEqual(lv("rf_rimage_1").status, ["READ", "WRITE", "REBUILD"]);
  assert.deepEqual(lv("rf_rimage_0").status, ["READ", "WRITE", "WRITEMOSTLY"]);
  assert.deepEqual(lv("rf_rimage_2").status, ["READ", "VISIBLE"]);
  // Visible LVs come first in the text, so the tracked image is second in list order.
  assert.deepEqual(vg.lvs.slice(0, 2).map((l) => l.name), ["rf", "rf_rimage_2"]);
});

test("a missing PV has the MISSING flag and the [unknown] device", () => {
  const { vg } = parseFixture("text-missing-raw.txt");
  const missing = vg.pvs.filter((pv) => pv.flags.includes("MISSING"));
  assert.equal(missing.length, 1);
  assert.equal(missing[0]!.deviceHint, "[unknown]");
});

test("vgreduce --removemissing --force leaves error segments and drops the PV", () => {
  const before = parseFixture("text-missing-raw.txt").vg;
  const { vg } = parseFixture("text-error-raw.txt");
  assert.equal(vg.pvs.length, before.pvs.length - 1);
  for (const name of ["r1_rimage_1", "r1_rmeta_1"]) {
    const segs = vg.lvs.find((lv) => lv.name === name)!.segments;
    assert.equal(segs.length, 1);
    assert.equal(segs[0]!.type, "error");
    assert.deepEqual(segs[0]!.areas, []);
  }
});

test("allocation policies, read_ahead, persistent minor and bootloader areas", () => {
  const { vg } = parseFixture("text-alloc.vg");
  assert.equal(vg.allocationPolicy, "contiguous");
  const lv = (n: string) => vg.lvs.find((l) => l.name === n)!;
  assert.equal(lv("any").allocationPolicy, "anywhere");
  assert.equal(lv("any").readAhead, 256);
  assert.equal(lv("cl").readAhead, -1);
  assert.equal(lv("nor").allocationPolicy, "normal");
  assert.equal(lv("fixed").minor, 200);
  const ba = parseFixture("text-ba.vg").vg.pvs[0]!;
  assert.deepEqual([ba.baStart, ba.baSize, ba.peStart], [2048, 2048, 4096]);
});

test("MISSING is also read from PV status, WRITE_LOCKED becomes WRITE", () => {
  const { text } = load("vg0-raw.txt");
  const edited = text
    .replace('status = ["ALLOCATABLE"]', 'status = ["ALLOCATABLE", "MISSING"]')
    .replace('status = ["RESIZEABLE", "READ", "WRITE"]\nflags = []', 'status = ["RESIZEABLE", "READ"]\nflags = ["WRITE_LOCKED"]');
  const { vg } = parseVgText(edited);
  assert.deepEqual(vg.pvs[0]!.flags, ["MISSING"]);
  assert.deepEqual(vg.pvs[0]!.status, ["ALLOCATABLE"]);
  assert.deepEqual(vg.status, ["RESIZEABLE", "READ", "WRITE"]);
  assert.deepEqual(vg.flags, []);
});

test("unknown flags are kept; unknown status strings are errors", () => {
  const { text } = load("vg0-raw.txt");
  const { vg, header } = parseVgText(text.replace('flags = []\nextent_size', 'flags = ["NEW_FLAG", "NOAUTOACTIVATE"]\nextent_size'));
  assert.deepEqual(vg.flags, ["NOAUTOACTIVATE", "NEW_FLAG"]);
  assert.match(formatVgText(vg, header as VgTextHeader, "raw"), /flags = \["NOAUTOACTIVATE", "NEW_FLAG"\]/);
  assert.throws(() => parseVgText(text.replace('["RESIZEABLE", "READ", "WRITE"]', '["RESIZEABLE", "BOGUS"]')), {
    name: "Error",
    message: /Unknown status flag 'BOGUS'/,
  });
});

test("segment type flags: known ones split off, an unknown one makes the type unknown", () => {
  const { text } = load("vg0-raw.txt");
  const warnings: string[] = [];
  const plus = parseVgText(text.replace('type = "raid1"', 'type = "raid1+RESHAPE"')).vg;
  const r1 = plus.lvs.find((lv) => lv.name === "r1")!.segments[0]!;
  assert.deepEqual([r1.type, r1.typeFlags], ["raid1", ["RESHAPE"]]);
  const odd = parseVgText(text.replace('type = "raid1"', 'type = "raid1+FUTURE"'), { warn: (l) => warnings.push(l) });
  const seg = odd.vg.lvs.find((lv) => lv.name === "r1")!.segments[0]!;
  assert.deepEqual([seg.type, seg.typeFlags, seg.areas], ["raid1+FUTURE", [], []]);
  assert.deepEqual(seg.extra.map((e) => e.kind === "value" && e.key), ["device_count", "region_size", "raids"]);
  assert.deepEqual(warnings, ["WARNING: Unrecognised flag FUTURE in segment type raid1+FUTURE."]);
  assert.equal(formatVgText(odd.vg, odd.header as VgTextHeader, "raw").includes('type = "raid1+FUTURE"\ndevice_count = 2\nregion_size = 4096\nraids = ['), true);
});

test("unknown keys and sections survive a rewrite in place", () => {
  const { text } = load("vg0-raw.txt");
  const edited = text
    .replace("metadata_copies = 0\n", 'metadata_copies = 0\nfuture_vg = "x"\n')
    .replace('pe_count = 63\n}\n\npv1', 'pe_count = 63\nfuture_pv = [1, 2]\n}\n\npv1')
    .replace('creation_host = "vm"\nsegment_count = 1\n\nsegment1 {\nstart_extent = 0\nextent_count = 10\n\ntype = "striped"\nstripe_count = 1\n', 'creation_host = "vm"\nfuture_lv = 7\nsegment_count = 1\n\nsegment1 {\nstart_extent = 0\nextent_count = 10\n\ntype = "striped"\nstripe_count = 1\nfuture_seg = 1.5\n')
    .replace('region_size = 4096\n', "region_size = 4096\nwritebehind = 30\nmax_recovery_rate = 100\n")
    .replace("}\n# Generated", "historical_logical_volumes {\n\nold {\nid = \"aaaaaa-bbbb-cccc-dddd-eeee-ffff-gggggg\"\ncreation_time = 1796071451\nremoval_time = 1796071452\n}\n}\n}\n# Generated")
    .replace("\n\n}\n}\n# Generated", "\n\n}\n# Generated");
  const { vg, header } = parseVgText(edited);
  assert.equal(formatVgText(vg, header as VgTextHeader, "raw"), edited);
  const backup = formatVgText(vg, header as VgTextHeader, "backup");
  assert.match(backup, /\n\thistorical_logical_volumes {\n\n\t\told {\n\t\t\tid = "aaaaaa-bbbb-cccc-dddd-eeee-ffff-gggggg"\n\t\t\tcreation_time = 1796071451\t# 2026-11-30 20:44:11 \+0000\n\t\t\tremoval_time = 1796071452\t# 2026-11-30 20:44:12 \+0000\n\t\t}\n\t}\n}\n$/);
  assert.deepEqual(parseVgText(backup).vg, vg);
});

test("unknown segment types keep every entry", () => {
  const { text } = load("vg0-raw.txt");
  const edited = text.replace(
    'type = "striped"\nstripe_count = 1\n\nstripes = [\n"pv0", 0\n]',
    'type = "thin-pool"\nmetadata = "lin_tmeta"\npool = "lin_tdata"\ntransaction_id = 0\nzero_new_blocks = 1',
  );
  const { vg, header } = parseVgText(edited);
  const seg = vg.lvs.find((lv) => lv.name === "lin")!.segments[0]!;
  assert.equal(seg.type, "thin-pool");
  assert.deepEqual(seg.extra.map((e) => e.kind === "value" && e.key), ["metadata", "pool", "transaction_id", "zero_new_blocks"]);
  assert.equal(formatVgText(vg, header as VgTextHeader, "raw"), edited);
});

test("required fields and structural errors are FormatErrors with LVM's wording", () => {
  const { text } = load("vg0-raw.txt");
  const cases: [string, string, RegExp][] = [
    ['contents = "Text Format Volume Group"', 'contents = "Other"', /unrecognised contents field/],
    ["version = 1", "version = 2", /unrecognised version number/],
    ["seqno = 4\n", "", /Couldn't read 'seqno' for volume group vg0/],
    ["extent_size = 8192\n", "", /Couldn't read extent size for volume group vg0/],
    ['format = "lvm2"', 'format = "lvm1"', /Unrecognised format lvm1 for volume group vg0/],
    ['id = "3RQUCz-SxOh-jq08-7YGT-zMII-hf4c-93vVoy"', 'id = "3RQUCz"', /Couldn't read uuid for volume group vg0/],
    ["pe_count = 63\n", "", /pe_count/],
    ["segment_count = 1\n\nsegment1 {\nstart_extent = 0\nextent_count = 10", "segment_count = 2\n\nsegment1 {\nstart_extent = 0\nextent_count = 10", /segment_count and actual number of segments disagree for logical volume vg0\/lin/],
    ['"pv0", 0\n]', '"pv7", 0\n]', /Couldn't find volume 'pv7' for segment 'segment1'/],
    ['"pv0", 0\n]', '"pv0"\n]', /Missing offset in areas array/],
    ['"r1_rmeta_1", "r1_rimage_1"\n]', '"r1_rmeta_1"\n]', /Missing data device in areas array/],
    ["device_count = 2", "device_count = 3", /Incorrect number of areas/],
    ["device_count = 2", "device_count = 2\nstripe_count = 2", /Only one of 'device_count' and 'stripe_count'/],
    ['creation_host = "vm"\nsegment_count', "segment_count", /Couldn't read creation_host for logical volume vg0\/lin/],
    ["stripe_size = 128\n", "", /Couldn't read stripe_size for segment segment1 of logical volume vg0\/str/],
    ["physical_volumes {", "physical_volumez {", /physical_volumes/],
  ];
  for (const [from, to, message] of cases) {
    assert.ok(text.includes(from), from);
    assert.throws(() => parseVgText(text.replace(from, to)), (e: unknown) => e instanceof FormatError && message.test(e.message), from);
  }
});

test("size comments follow printf %g", () => {
  // Expected strings from C's printf("%g") (via Python's %-formatting) on the same arithmetic.
  const expected: [number, string][] = [
    [8192, "# 4 Megabytes"],
    [2048, "# 1024 Kilobytes"],
    [128, "# 64 Kilobytes"],
    [0, "# 0 Kilobytes"],
    [1, "# 0.5 Kilobytes"],
    [3, "# 1.5 Kilobytes"],
    [2047, "# 1023.5 Kilobytes"],
    // 512.0625 MiB is an exact tie at six digits and rounds to even; one sector more rounds up.
    [1048704, "# 512.062 Megabytes"],
    [1048705, "# 512.063 Megabytes"],
    [1000001, "# 488.282 Megabytes"],
    [2097153, "# 1 Gigabytes"],
    [2 ** 31 * 3, "# 3 Terabytes"],
    // LVM divides only while the value is above 1024.
    [2 ** 41, "# 1024 Terabytes"],
    [2 ** 41 + 2 ** 31, "# 1.00098 Petabytes"],
    [2 ** 53 - 1, "# 4 Exabytes"],
  ];
  for (const [sectors, comment] of expected) assert.equal(sizeComment(sectors), comment, String(sectors));
});

test("size comments agree with a decimal rendering wherever no tie is involved", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (sectors) => {
      const m = /^# (\S+) (\w+)$/.exec(sizeComment(sectors))!;
      const units = ["Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Petabytes", "Exabytes"];
      const value = sectors / 2 / 1024 ** units.indexOf(m[2]!);
      assert.ok(value <= 1024 || m[2] === "Exabytes");
      assert.ok(Math.abs(Number(m[1]) - value) <= value * 5e-6, `${sectors}: ${m[1]} vs ${value}`);
    }),
  );
});

test("time comments: ctime and strftime %z in local time", () => {
  assert.equal(ctime(1796071451), "Mon Nov 30 20:44:11 2026");
  assert.equal(ctime(0), "Thu Jan  1 00:00:00 1970");
  assert.equal(isoLocalTime(1796071451), "2026-11-30 20:44:11 +0000");
  process.env.TZ = "America/New_York";
  try {
    assert.equal(isoLocalTime(1796071451), "2026-11-30 15:44:11 -0500");
    assert.equal(ctime(1796071451), "Mon Nov 30 15:44:11 2026");
  } finally {
    process.env.TZ = "UTC";
  }
});

const header: VgTextHeader = { description: 'Write from lvcreate -n "x".', creationHost: "vm", creationHostComment: "Linux vm 6.1 x86_64", creationTime: 1796071451 };

test("generated VGs are valid and survive model -> text -> model in both forms", () => {
  fc.assert(
    fc.property(arbVolumeGroup(), fc.constantFrom("raw" as const, "backup" as const), (vg, style) => {
      validateVg(vg);
      const text = formatVgText(vg, header, style);
      const back = parseVgText(text);
      assert.deepEqual(back.vg, vg);
      assert.deepEqual(back.header, header);
      assert.equal(formatVgText(back.vg, header, style), text);
    }),
    { numRuns: 300 },
  );
});

/** Random edits of real metadata: deletions, insertions, replacements, truncation, duplication. */
const arbMutation = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.string({ unit: fc.constantFrom(..."{}[]=,\"'#\\\n 0-9.+xpv_RM-") , maxLength: 6 }) }),
  fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), text: fc.string({ maxLength: 3 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant("number" as const), at: fc.nat(), text: fc.oneof(fc.integer().map(String), fc.bigInt().map(String), fc.constantFrom("0", "-1", "4294967295", "1e3", "0x1f", "07", "08")) }),
);

type Mutation = typeof arbMutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, mutations: Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const at = m.at % (out.length + 1);
    if (m.kind === "delete") out = out.slice(0, at) + out.slice(at + m.len);
    else if (m.kind === "insert") out = out.slice(0, at) + m.text + out.slice(at);
    else if (m.kind === "replace") out = out.slice(0, at) + m.text + out.slice(at + m.text.length);
    else if (m.kind === "truncate") out = out.slice(0, at);
    else if (m.kind === "duplicate") out = out.slice(0, at) + out.slice(at, at + m.len) + out.slice(at);
    else {
      // Replace the next run of digits, so that numbers of every size and form land in every field.
      const digits = /[0-9]+/g;
      digits.lastIndex = at;
      const found = digits.exec(out);
      if (found) out = out.slice(0, found.index) + m.text + out.slice(found.index + found[0].length);
    }
  }
  return out;
}

test("garbled, truncated and edited metadata gives FormatError only, and what parses rewrites stably", () => {
  const sources = textFixtures.map((f) => load(f).text);
  fc.assert(
    fc.property(fc.constantFrom(...sources), fc.array(arbMutation, { minLength: 1, maxLength: 4 }), (source, mutations) => {
      const text = mutate(source, mutations);
      let parsed;
      try {
        parsed = parseVgText(text);
      } catch (e) {
        assert.ok(e instanceof FormatError, `${(e as Error).name}: ${(e as Error).message}`);
        return;
      }
      const h: VgTextHeader = { description: "", creationHost: "h", creationTime: 0, ...parsed.header };
      const text2 = formatVgText(parsed.vg, h, "backup");
      const again = parseVgText(text2);
      // A write lists visible LVs first, so a reread only differs in that order.
      const visibleFirst = (vg: VolumeGroup): VolumeGroup => {
        const visible = vg.lvs.filter((lv) => lv.status.includes("VISIBLE"));
        return { ...vg, lvs: [...visible, ...vg.lvs.filter((lv) => !visible.includes(lv))] };
      };
      assert.deepEqual(again.vg, visibleFirst(parsed.vg));
      assert.equal(formatVgText(again.vg, h, "backup"), text2);
    }),
    { numRuns: 2000 },
  );
});
