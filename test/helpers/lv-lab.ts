/**
 * A lab for the LV, report and display command tests: loop devices shared by
 * ./bin/ulvm and the real lvm2, fresh VGs made by the real lvm2, and runs of
 * the same command by both tools from the same VG state so that outputs,
 * exit codes and the resulting layouts can be compared.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeEnv, lvmNoise, type RunResult, type TestEnv } from "./env.ts";
import { maskActivation } from "./report-compare.ts";

/** What `lvs` shows about where and how LVs are laid out. */
export const LAYOUT = ["lvs", "-a", "--units", "s", "-o", "vg_name,name,attr,segtype,devices,seg_pe_ranges,stripe_size,region_size,lv_tags,lv_allocation_policy,lv_read_ahead,skip_activation,autoactivation"];

export interface Lab {
  env: TestEnv;
  devs: string[];
  /** ulvm on the lab's devices; its dev dir is /dev so that paths read as lvm's do. */
  ulvm(args: string[], input?: string): RunResult;
  /** Real lvm2 on the lab's devices, without the noise of a host with no device-mapper. */
  lvm(args: string[], input?: string): RunResult;
  /** Real lvm2 that must succeed. */
  real(args: string[]): RunResult;
  /** A new VG on the devices (wiped first) with pvcreate/vgcreate of the real lvm2. */
  freshVg(vg: string, devs: string[]): void;
  /** Real lvm2's layout report of a VG, masked where only activation can differ. */
  layout(vg: string): string;
  /**
   * Runs `args` with the real lvm2, notes output and layout, puts the VG back
   * as it was, then runs `args` with ulvm and notes the same; the VG is left as
   * ulvm changed it.
   */
  both(vg: string, args: string[], input?: string): { lvm: RunResult & { layout: string }; ulvm: RunResult & { layout: string } };
  /** Rewrites a VG's metadata through the real lvm2's vgcfgbackup/vgcfgrestore (for states only lvconvert makes). */
  editMetadata(vg: string, edit: (text: string) => string): void;
  /** Asserts that ulvm and the real lvm2 print and change exactly the same for `args`. */
  assertSame(vg: string, args: string[], input?: string): RunResult;
}

export function makeLab(count: number, size: string): Lab {
  const env = makeEnv();
  const devs = Array.from({ length: count }, (_, i) => env.loop(env.image(`d${i}.img`, size)));
  const clean = (r: RunResult): RunResult => {
    const stderr = lvmNoise(r.stderr);
    return { ...r, stderr: stderr && `${stderr}\n` };
  };
  const lab: Lab = {
    env,
    devs,
    ulvm: (args, input = "") => env.ulvm([...args, "--devices", devs.join(",")], { input, env: { ULVM_DEV_DIR: "/dev" } }),
    lvm: (args, input = "") => clean(env.lvm(args, devs, { input })),
    real(args) {
      const r = lab.lvm(args);
      assert.equal(r.code, 0, `lvm ${args.join(" ")}: ${r.stdout}${r.stderr}`);
      return r;
    },
    freshVg(vg, pvs) {
      if (lab.lvm(["vgs", vg]).code === 0) lab.real(["vgremove", "-ff", "-y", vg]);
      lab.real(["pvcreate", "-ff", "-y", ...pvs]);
      lab.real(["vgcreate", vg, ...pvs]);
    },
    layout: (vg) => maskActivation(lab.real([...LAYOUT, vg]).stdout),
    both(vg, args, input = "") {
      const saved = join(env.dir, `${vg}.saved`);
      lab.real(["vgcfgbackup", "-f", saved, vg]);
      const real = lab.lvm(args, input);
      const realLayout = lab.layout(vg);
      lab.real(["vgcfgrestore", "-f", saved, vg]);
      const ours = lab.ulvm(args, input);
      return { lvm: { ...real, layout: realLayout }, ulvm: { ...ours, layout: lab.layout(vg) } };
    },
    editMetadata(vg, edit) {
      const file = join(env.dir, `${vg}.edit`);
      lab.real(["vgcfgbackup", "-f", file, vg]);
      writeFileSync(file, edit(readFileSync(file, "utf8")));
      lab.real(["vgcfgrestore", "-f", file, vg]);
    },
    assertSame(vg, args, input = "") {
      const { lvm, ulvm } = lab.both(vg, args, input);
      assert.deepEqual(
        { stdout: ulvm.stdout, stderr: ulvm.stderr, code: ulvm.code, layout: ulvm.layout },
        { stdout: lvm.stdout, stderr: lvm.stderr, code: lvm.code, layout: lvm.layout },
        args.join(" "),
      );
      return ulvm;
    },
  };
  return lab;
}

/** The LVs' layout rows of a masked layout report, for assertions on single LVs. */
export function layoutRow(layout: string, lv: string): string | undefined {
  return layout.split("\n").find((line) => line.trim().split(/\s+/)[1] === lv);
}
