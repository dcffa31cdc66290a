/**
 * A metadata commit interrupted at any single write (the machine stops there, or
 * the write is torn) leaves a VG that the real lvm2 and ulvm both read, at the old
 * or the new seqno, and both agree which.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { makeEnv, lvmNoise } from "../helpers/env.ts";
import { openSessionWith, systemDeps } from "../../src/metadata/open-session.ts";
import { systemDeviceAccess } from "../../src/io/device-access.ts";
import { FaultPlan, FaultyDevice } from "../../src/io/faulty-device.ts";
import type { LogicalVolume } from "../../src/core/model/types.ts";

const env = makeEnv();
after(() => env.cleanup());
const images = ["a", "b", "c"].map((n) => env.image(`${n}.img`, "16M"));
const pristine = images.map((p) => `${p}.pristine`);

function ulvmOk(args: string[]) {
  const r = env.ulvm(args);
  assert.equal(r.code, 0, `ulvm ${args.join(" ")}: ${r.stderr}`);
  return r;
}

ulvmOk(["pvcreate", ...images]);
ulvmOk(["vgcreate", "-s", "1m", "vgc", ...images]);
ulvmOk(["lvcreate", "-L", "2m", "-n", "lin", "vgc"]);
images.forEach((p, i) => copyFileSync(p, pristine[i]!));

async function interruptedLvcreate(plan: FaultPlan): Promise<number> {
  const session = await openSessionWith(
    {
      systemDir: env.vars.ULVM_SYSTEM_DIR!,
      runDir: env.vars.ULVM_RUN_DIR!,
      devices: images,
      commandLine: "lvcreate -L 1m -n new vgc",
      warn: () => undefined,
    },
    {
      ...systemDeps,
      access: { ...systemDeviceAccess, open: async (path, writable) => new FaultyDevice(await systemDeviceAccess.open(path, writable), plan) },
    },
  );
  try {
    await session.lockVg("vgc");
    const loaded = session.readVg("vgc")!;
    const oldSeqno = loaded.vg.seqno;
    const lin = loaded.vg.lvs[0]!;
    const added: LogicalVolume = {
      ...structuredClone(lin),
      name: "new",
      id: "NewLvNewLvNewLvNewLvNewLvNewLv01",
      segments: [{ ...structuredClone(lin.segments[0]!), extentCount: 1, areas: [{ kind: "pv", pvId: loaded.vg.pvs[1]!.id, pe: 0 }] }],
    };
    await session.writeVg(loaded, { ...loaded.vg, lvs: [...loaded.vg.lvs, added] }).catch(() => undefined);
    return oldSeqno;
  } finally {
    await session.close();
  }
}

function realSeqno(): { seqno: number; lvs: string } {
  const loops = images.map((p) => env.loop(p));
  try {
    const vgs = env.lvm(["vgs", "--noheadings", "-o", "vg_seqno", "vgc"], loops);
    assert.equal(vgs.code, 0, `real vgs: ${lvmNoise(vgs.stderr)}`);
    const lvs = env.lvm(["lvs", "--noheadings", "-o", "lv_name", "vgc"], loops);
    assert.equal(lvs.code, 0, `real lvs: ${lvmNoise(lvs.stderr)}`);
    return { seqno: Number(vgs.stdout.trim()), lvs: lvs.stdout.replace(/\s+/g, " ").trim() };
  } finally {
    for (const loop of env.loops.splice(0)) spawnSync("losetup", ["-d", loop]);
  }
}

for (const mode of [{ name: "stop", tear: 0 }, { name: "torn write", tear: 300 }]) {
  test(`a commit interrupted at every write (${mode.name}) reads at the old or new seqno in lvm2 and ulvm`, async () => {
    let interrupted = 0;
    for (let k = 1; ; k++) {
      pristine.forEach((p, i) => copyFileSync(p, images[i]!));
      const plan = Object.assign(new FaultPlan(), { failWriteAt: k, crash: true, tearBytes: mode.tear });
      const oldSeqno = await interruptedLvcreate(plan);
      if (!plan.failed) break;
      interrupted++;
      const real = realSeqno();
      assert.ok(real.seqno === oldSeqno || real.seqno === oldSeqno + 1, `write ${k}: lvm2 reads seqno ${real.seqno}`);
      assert.equal(real.lvs, real.seqno === oldSeqno ? "lin" : "lin new", `write ${k}: LVs at seqno ${real.seqno}`);
      const ours = env.ulvm(["vgs", "--noheadings", "-o", "vg_seqno", "vgc", "--devices", images.join(",")]);
      assert.equal(ours.code, 0, `write ${k}: ulvm vgs: ${ours.stderr}`);
      assert.equal(Number(ours.stdout.trim()), real.seqno, `write ${k}: ulvm and lvm2 disagree`);
    }
    assert.ok(interrupted >= 9, `a 3-PV commit has at least 9 writes; interrupted ${interrupted}`);
  });
}
