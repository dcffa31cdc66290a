/**
 * Replays test/fixtures/real/alloc-*.txt: for every command real lvm2 ran,
 * ulvm must place every extent of every LV where lvm2 did (or fail with the
 * same message), and print the same informational lines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { allocateLv, extendLv, reduceLv, stripeParams } from "../../../src/core/alloc/lv.ts";
import { buildPvList, type PvListEntry } from "../../../src/core/alloc/pv-map.ts";
import { planResize } from "../../../src/core/alloc/resize.ts";
import { createExtentsFromPercent, extentsFromSize } from "../../../src/core/alloc/sizes.ts";
import { LvmError } from "../../../src/core/errors.ts";
import type { VolumeGroup } from "../../../src/core/model/types.ts";
import { parseVgText } from "../../../src/core/model/text.ts";
import type { VolumeGroup as ModelVg } from "../../../src/core/model/types.ts";

interface LoadedVg {
  vg: ModelVg;
  /** pvN key of the text -> PV id (LVM numbers PVs in list order). */
  pvKeys: Map<string, string>;
}

function loadVg(text: string): LoadedVg {
  const { vg } = parseVgText(text);
  return { vg, pvKeys: new Map(vg.pvs.map((pv, i) => [`pv${i}`, pv.id])) };
}
import type { Op } from "./real-scenarios.ts";

const fixturesDir = join(import.meta.dirname, "..", "..", "fixtures", "real");

interface Step {
  cmd: string;
  op: Op;
  rc: number;
  stdout: string[];
  stderr: string[];
  after?: string;
}

function parseFixture(text: string): { setup: string; steps: Step[] } {
  const blocks = text.split(/^### /m).slice(1);
  let setup = "";
  const steps: Step[] = [];
  for (const block of blocks) {
    const nl = block.indexOf("\n");
    const head = block.slice(0, nl);
    const body = block.slice(nl + 1);
    const lines = body.split("\n").filter((l) => l.trim()).map((l) => l.replace(/^ {2}/, ""));
    if (head === "setup:") setup = body;
    else if (head.startsWith("step: ")) steps.push({ cmd: head.slice(6), op: undefined as never, rc: 0, stdout: [], stderr: [] });
    else {
      const step = steps[steps.length - 1]!;
      if (head.startsWith("op: ")) step.op = JSON.parse(head.slice(4)) as Op;
      else if (head.startsWith("rc: ")) step.rc = Number(head.slice(4));
      else if (head === "stdout:") step.stdout = lines;
      else if (head === "stderr:") step.stderr = lines;
      else if (head === "after:") step.after = body;
    }
  }
  return { setup, steps };
}

/** Lines of lvm2's output that are the CLI's own success reports, not allocation's. */
const CLI_LINES = /^Logical volume ".*" created\.$|^Size of logical volume .* changed from|^Logical volume .* successfully resized\.$/;

function pvList(state: LoadedVg, pvs: string[] | undefined, warnings: string[]): PvListEntry[] | undefined {
  if (!pvs) return undefined;
  const args = pvs.map((p) => {
    const [key, ...ranges] = p.split(":");
    return { pvId: state.pvKeys.get(key!), name: `{${key}}`, rangeSpec: ranges.length ? `:${ranges.join(":")}` : undefined };
  });
  const built = buildPvList(state.vg, args);
  warnings.push(...built.warnings);
  return built.list;
}

function apply(state: LoadedVg, op: Op, messages: string[], warnings: string[]): VolumeGroup {
  const vg = state.vg;
  const pvs = pvList(state, op.pvs, warnings);
  if (op.fn === "create") {
    const stripeSize = stripeParams(op.stripes ?? 1, op.stripeSize, messages);
    let extents = op.extents ?? 0;
    if (op.size !== undefined) extents = extentsFromSize(op.size, vg.extentSize, messages);
    else if (op.percent)
      extents = createExtentsFromPercent(
        vg,
        { percent: op.percent.value, kind: op.percent.kind, pvs, mirrors: 1, stripes: op.stripes ?? 1, stripeSize: stripeSize ?? 0 },
        messages,
      );
    const created = allocateLv(
      vg,
      {
        name: op.name,
        extents,
        type: op.type,
        stripes: op.stripes,
        stripeSize,
        pvs,
        alloc: op.alloc,
        approx: op.percent !== undefined,
        creationTime: 1,
        creationHost: "test",
        newId: () => "x".repeat(32),
      },
      messages,
    );
    return { ...vg, lvs: [...vg.lvs, ...created] };
  }
  const plan = planResize(vg, op.lv, { ...op, pvs }, messages);
  if (plan.kind === "reduce") return reduceLv(vg, op.lv, plan.extents);
  return extendLv(vg, op.lv, plan.extents, { stripes: plan.stripes, stripeSize: plan.stripeSize, pvs, alloc: op.alloc, approx: plan.approx });
}

/** What allocation decides about an LV, in a form assert.deepEqual can compare. */
function layout(vg: VolumeGroup) {
  return vg.lvs.map((lv) => ({
    name: lv.name,
    status: lv.status,
    alloc: lv.allocationPolicy,
    segments: lv.segments.map((s) => ({
      start: s.startExtent,
      count: s.extentCount,
      type: s.type,
      stripeSize: s.areas.length > 1 && s.type === "striped" ? s.stripeSize : undefined,
      regionSize: s.regionSize,
      areas: s.areas,
      metaAreas: s.metaAreas,
    })),
  }));
}

const fixtures = readdirSync(fixturesDir).filter((f) => /^alloc-.*\.txt$/.test(f));

test("there are real lvm2 allocation fixtures to replay", () => {
  assert.ok(fixtures.length >= 5);
});

for (const file of fixtures) {
  const { setup, steps } = parseFixture(readFileSync(join(fixturesDir, file), "utf8"));
  test(`${file}: ulvm allocates as real lvm2 did`, async (t) => {
    let state = loadVg(setup);
    for (const step of steps) {
      await t.test(step.cmd, () => {
        const messages: string[] = [];
        const warnings: string[] = [];
        if (step.rc === 0) {
          const vg = apply(state, step.op, messages, warnings);
          const after = loadVg(step.after!);
          assert.deepEqual(layout(vg), layout(after.vg));
          assert.deepEqual(messages, step.stdout.filter((l) => !CLI_LINES.test(l)));
          assert.deepEqual(warnings, step.stderr.filter((l) => !CLI_LINES.test(l)));
          state = after;
        } else {
          assert.throws(
            () => apply(state, step.op, messages, warnings),
            (e: unknown) => {
              assert.ok(e instanceof LvmError, String(e));
              assert.deepEqual(messages, step.stdout);
              assert.deepEqual([...warnings, ...e.lines], step.stderr);
              assert.equal(e.exitCode, step.rc);
              return true;
            },
          );
        }
      });
    }
  });
}
