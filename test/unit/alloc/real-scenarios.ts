/**
 * The allocation scenarios recorded from real lvm2 (record-real-fixtures.ts)
 * and replayed against ulvm (alloc-real.test.ts). `{pvN}` stands for the Nth
 * PV's device and `{vg}` for the VG; `op` is the same request in ulvm's terms
 * (PVs as `pvN` or `pvN:ranges`).
 */
import type { AllocPolicy } from "../../../src/core/model/types.ts";
import type { PercentKind, Sign } from "../../../src/core/alloc/sizes.ts";

export type Op =
  | {
      fn: "create";
      name: string;
      type: "linear" | "striped" | "raid1";
      extents?: number;
      /** -L in sectors. */
      size?: number;
      percent?: { value: number; kind: PercentKind };
      stripes?: number;
      stripeSize?: number;
      pvs?: string[];
      alloc: AllocPolicy;
    }
  | {
      fn: "resize";
      lv: string;
      command: "lvextend" | "lvreduce" | "lvresize";
      sign: Sign;
      extents?: number;
      size?: number;
      percent?: PercentKind;
      stripes?: number;
      pvs?: string[];
      alloc?: AllocPolicy;
    };

export interface Step {
  cmd: string[];
  op: Op;
}

export interface Scenario {
  name: string;
  title: string;
  extentSize: string;
  pvSizesMiB: number[];
  /** lvm commands building the starting layout. */
  setup: string[][];
  /** Turns the metadata after setup into the text to vgcfgrestore (raid1 cannot be created without device-mapper). */
  raid?: (text: string) => string;
  steps: Step[];
}

const C = ["lvcreate", "-an", "-Zn", "-Wn", "-y"];

function lv(name: string, extents: number, ...pvs: string[]): string[] {
  return [...C, "-l", String(extents), "-n", name, "{vg}", ...pvs];
}

function create(name: string, extents: number, pvs: string[] = [], extra: Partial<Extract<Op, { fn: "create" }>> = {}, flags: string[] = []): Step {
  const alloc = extra.alloc ?? "inherit";
  const type = extra.type ?? (extra.stripes ? "striped" : "linear");
  return {
    cmd: [...C, "-l", String(extents), ...flags, ...(alloc !== "inherit" ? ["--alloc", alloc] : []), "-n", name, "{vg}", ...pvs],
    op: { fn: "create", name, type, extents, alloc, ...(pvs.length ? { pvs: pvs.map(pvKey) } : {}), ...extra },
  };
}

/** "{pv2}:0-9" -> "pv2:0-9" */
function pvKey(arg: string): string {
  return arg.replace(/\{(pv\d)\}/, "$1");
}

function resize(command: "lvextend" | "lvreduce" | "lvresize", name: string, arg: string, op: Partial<Extract<Op, { fn: "resize" }>>, pvs: string[] = [], flags: string[] = []): Step {
  const sizeFlag = op.size !== undefined ? "-L" : "-l";
  return {
    cmd: [command, ...(command === "lvextend" ? [] : ["-f"]), "-y", sizeFlag, arg, ...flags, `{vg}/${name}`, ...pvs],
    op: { fn: "resize", lv: name, command, sign: "", ...(pvs.length ? { pvs: pvs.map(pvKey) } : {}), ...op },
  };
}

/**
 * Placeholder linear LVs xm<i>/xi<i> (made by lvcreate where we want the legs)
 * become r1_rmeta_<i>/r1_rimage_<i>, hidden, under a new raid1 LV r1.
 */
function makeRaid1(legs: number) {
  return (text: string): string => {
    let out = text;
    for (let i = 0; i < legs; i++)
      for (const [from, to] of [[`xm${i}`, `r1_rmeta_${i}`], [`xi${i}`, `r1_rimage_${i}`]])
        out = out.replace(
          new RegExp(`\\n(\\t+)${from} \\{([\\s\\S]*?)status = \\["READ", "WRITE", "VISIBLE"\\]`),
          `\n$1${to} {$2status = ["READ", "WRITE"]`,
        );
    const len = Number(/r1_rimage_0 \{[\s\S]*?extent_count = (\d+)/.exec(out)![1]);
    const raids = Array.from({ length: legs }, (_, i) => `"r1_rmeta_${i}", "r1_rimage_${i}"`).join(",\n");
    const top =
      `\t\tr1 {\n\t\t\tid = "Raid1L-vAAA-AAAA-AAAA-AAAA-AAAA-AAAAAA"\n\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]\n` +
      `\t\t\tflags = []\n\t\t\tcreation_time = 1796072503\n\t\t\tcreation_host = "vm"\n\t\t\tsegment_count = 1\n\n` +
      `\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0\n\t\t\t\textent_count = ${len}\n\n\t\t\t\ttype = "raid1"\n` +
      `\t\t\t\tdevice_count = ${legs}\n\t\t\t\tregion_size = 4096\n\n\t\t\t\traids = [\n${raids}\n]\n\t\t\t}\n\t\t}\n\n`;
    return out.replace(/logical_volumes \{\n\n/, `logical_volumes {\n\n${top}`);
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: "linear",
    title: "linear LVs in fragmented free space, PV lists and PE ranges, sizes and their errors",
    extentSize: "4m",
    pvSizesMiB: [256, 256, 256],
    setup: [
      lv("a", 4, "{pv0}:0-3"),
      lv("b", 6, "{pv0}:4-9"),
      lv("c", 3, "{pv0}:10-12"),
      lv("d", 8, "{pv0}:13-20"),
      lv("e", 2, "{pv0}:21-22"),
      lv("h", 32, "{pv0}:31-62"),
      lv("f", 50, "{pv1}:0-49"),
      lv("g", 50, "{pv2}:3-52"),
      ["lvremove", "-f", "{vg}/b", "{vg}/d"],
    ],
    steps: [
      create("t1", 5),
      create("t2", 7),
      create("t3", 14),
      create("t4", 4, ["{pv2}", "{pv1}"]),
      create("t5", 2, ["{pv0}:20-30"]),
      create("t6", 3, ["{pv1}:55-57:60-"]),
      {
        cmd: [...C, "-L", "10m", "-n", "t7", "{vg}"],
        op: { fn: "create", name: "t7", type: "linear", size: 20480, alloc: "inherit" },
      },
      create("t8", 100),
      create("t9", 9, ["{pv2}"]),
      {
        cmd: [...C, "-l", "50%FREE", "-n", "t10", "{vg}"],
        op: { fn: "create", name: "t10", type: "linear", percent: { value: 50, kind: "FREE" }, alloc: "inherit" },
      },
      {
        cmd: [...C, "-l", "100%PVS", "-n", "t11", "{vg}", "{pv2}", "{pv0}"],
        op: { fn: "create", name: "t11", type: "linear", percent: { value: 100, kind: "PVS" }, pvs: ["pv2", "pv0"], alloc: "inherit" },
      },
      create("t12", 1),
    ],
  },
  {
    name: "striped",
    title: "striped LVs: stripes over PVs with uneven free space, rounding, PV lists, limits",
    extentSize: "4m",
    pvSizesMiB: [128, 128, 128, 96],
    setup: [lv("a", 10, "{pv0}:0-9"), lv("b", 5, "{pv1}:5-9"), lv("c", 20, "{pv2}:0-19"), lv("d", 3, "{pv3}:10-12")],
    steps: [
      create("s1", 10, [], { stripes: 2 }, ["-i", "2"]),
      create("s2", 9, [], { stripes: 3, stripeSize: 32 }, ["-i", "3", "-I", "16k"]),
      create("s3", 7, [], { stripes: 2 }, ["-i", "2"]),
      create("s4", 6, ["{pv3}", "{pv1}:0-4"], { stripes: 2 }, ["-i", "2"]),
      create("s5", 5, [], { stripes: 5 }, ["-i", "5"]),
      create("s6", 4, ["{pv3}"], { stripes: 2, alloc: "anywhere" }, ["-i", "2"]),
      create("s7", 60, [], { stripes: 3 }, ["-i", "3"]),
      {
        cmd: [...C, "-l", "100%FREE", "-i", "2", "-n", "s8", "{vg}"],
        op: { fn: "create", name: "s8", type: "striped", stripes: 2, percent: { value: 100, kind: "FREE" }, alloc: "inherit" },
      },
    ],
  },
  {
    name: "policies",
    title: "--alloc contiguous, cling, normal and anywhere for new LVs",
    extentSize: "4m",
    pvSizesMiB: [128, 128, 128],
    setup: [lv("a", 5, "{pv0}:0-4"), lv("b", 5, "{pv0}:10-14"), lv("c", 3, "{pv1}:0-2"), lv("d", 6, "{pv2}:12-17")],
    steps: [
      create("k1", 12, [], { alloc: "contiguous" }),
      create("k2", 40, [], { alloc: "contiguous" }),
      create("k3", 30, [], { alloc: "cling" }),
      create("k4", 10, [], { alloc: "anywhere" }),
      create("k5", 3, ["{pv0}"], { alloc: "contiguous" }),
      create("k6", 2, ["{pv0}", "{pv2}"], { stripes: 2, alloc: "cling" }, ["-i", "2"]),
      create("k7", 20, [], { alloc: "normal" }),
    ],
  },
  {
    name: "extend",
    title: "lvextend/lvreduce/lvresize of linear and striped LVs: merging, clinging, PV lists, rounding, refusals",
    extentSize: "4m",
    pvSizesMiB: [128, 128, 128],
    setup: [
      lv("l1", 5, "{pv0}:0-4"),
      lv("x", 2, "{pv0}:5-6"),
      lv("l2", 3, "{pv1}:0-2"),
      [...C, "-l", "4", "-i", "2", "-n", "s", "{vg}", "{pv1}:10-20", "{pv2}:0-10"],
      lv("y", 1, "{pv2}:2"),
    ],
    steps: [
      resize("lvextend", "l2", "+3", { extents: 3, sign: "+" }),
      resize("lvextend", "l1", "+4", { extents: 4, sign: "+" }),
      resize("lvextend", "l1", "+2", { extents: 2, sign: "+" }, ["{pv2}"]),
      resize("lvextend", "s", "+2", { extents: 2, sign: "+" }),
      resize("lvextend", "s", "+3", { extents: 3, sign: "+" }),
      resize("lvextend", "l2", "+6m", { size: 12288, sign: "+" }),
      resize("lvextend", "l2", "+50", { extents: 50, sign: "+", alloc: "contiguous" }, [], ["--alloc", "contiguous"]),
      resize("lvextend", "l2", "4", { extents: 4 }),
      resize("lvextend", "x", "+1", { extents: 1, sign: "+", alloc: "anywhere" }, [], ["--alloc", "anywhere"]),
      resize("lvextend", "l1", "+50%FREE", { extents: 50, sign: "+", percent: "FREE" }),
      resize("lvreduce", "l1", "-3", { extents: 3, sign: "-" }),
      resize("lvreduce", "s", "-2", { extents: 2, sign: "-" }),
      resize("lvreduce", "s", "-1", { extents: 1, sign: "-" }),
      resize("lvresize", "l2", "4", { extents: 4 }),
      resize("lvreduce", "l2", "-40", { extents: 40, sign: "-" }),
      resize("lvextend", "s", "+100%FREE", { extents: 100, sign: "+", percent: "FREE" }),
    ],
  },
  {
    name: "extend-policies",
    title: "lvextend honouring the LV's stored policy, --alloc overrides, PE ranges and changes of stripe count",
    extentSize: "4m",
    pvSizesMiB: [128, 128, 128],
    setup: [
      [...C, "-l", "3", "--alloc", "contiguous", "-n", "c1", "{vg}", "{pv0}:0-2"],
      lv("x", 1, "{pv0}:3"),
      [...C, "-l", "3", "--alloc", "contiguous", "-n", "c2", "{vg}", "{pv1}:0-2"],
      lv("l", 4, "{pv2}:5-8"),
      lv("z", 1, "{pv2}:9"),
    ],
    steps: [
      resize("lvextend", "c2", "+2", { extents: 2, sign: "+" }),
      resize("lvextend", "c1", "+2", { extents: 2, sign: "+" }),
      resize("lvextend", "c1", "+2", { extents: 2, sign: "+", alloc: "normal" }, [], ["--alloc", "normal"]),
      resize("lvextend", "l", "+3", { extents: 3, sign: "+", alloc: "cling" }, [], ["--alloc", "cling"]),
      resize("lvextend", "l", "+2", { extents: 2, sign: "+" }, ["{pv1}:20-25"]),
      resize("lvextend", "l", "+4", { extents: 4, sign: "+", stripes: 2 }, [], ["-i", "2"]),
      resize("lvextend", "l", "+2", { extents: 2, sign: "+" }),
      resize("lvextend", "l", "+2", { extents: 2, sign: "+", stripes: 1 }, [], ["-i", "1"]),
      resize("lvextend", "c2", "+30", { extents: 30, sign: "+", alloc: "anywhere" }, [], ["--alloc", "anywhere"]),
      resize("lvreduce", "l", "-5", { extents: 5, sign: "-" }),
    ],
  },
  {
    name: "cling",
    title: "lvextend --alloc cling of a striped LV: positional cling fails, cling to the LV's PVs in any order succeeds",
    extentSize: "4m",
    pvSizesMiB: [64, 64, 64, 64],
    setup: [
      [...C, "-l", "2", "-i", "2", "-n", "s", "{vg}", "{pv0}:0", "{pv1}:0"],
      ["lvextend", "-y", "-l", "+2", "{vg}/s", "{pv2}:0", "{pv3}:0"],
      lv("x", 1, "{pv2}:1"),
      lv("full", 14, "{pv0}:1-14"),
      lv("l", 3, "{pv1}:5-7"),
      lv("m", 2, "{pv2}:9-10"),
    ],
    steps: [
      resize("lvextend", "s", "+2", { extents: 2, sign: "+", alloc: "cling" }, [], ["--alloc", "cling"]),
      resize("lvextend", "l", "+3", { extents: 3, sign: "+", alloc: "cling" }, [], ["--alloc", "cling"]),
      resize("lvextend", "m", "+20", { extents: 20, sign: "+", alloc: "cling" }, [], ["--alloc", "cling"]),
      resize("lvextend", "s", "+4", { extents: 4, sign: "+", alloc: "cling" }, [], ["--alloc", "cling"]),
      resize("lvextend", "s", "+2", { extents: 2, sign: "+" }),
      resize("lvextend", "m", "+3", { extents: 3, sign: "+", alloc: "cling" }, ["{pv3}"], ["--alloc", "cling"]),
    ],
  },
  {
    name: "raid1-extend",
    title: "lvextend/lvreduce of raid1 LVs (loaded with vgcfgrestore): every image grows on its own leg's PV",
    extentSize: "4m",
    pvSizesMiB: [128, 128, 128],
    setup: [
      lv("f0", 3, "{pv0}:4-6"),
      lv("xm0", 1, "{pv0}:0"),
      lv("xi0", 3, "{pv0}:1-3"),
      lv("xm1", 1, "{pv1}:0"),
      lv("xi1", 3, "{pv1}:1-3"),
      lv("f1", 2, "{pv1}:8-9"),
    ],
    raid: makeRaid1(2),
    steps: [
      resize("lvextend", "r1", "+4", { extents: 4, sign: "+" }),
      resize("lvextend", "r1", "+2", { extents: 2, sign: "+" }, ["{pv2}"]),
      resize("lvextend", "r1", "+3", { extents: 3, sign: "+", alloc: "cling" }, [], ["--alloc", "cling"]),
      resize("lvextend", "r1", "+2", { extents: 2, sign: "+", alloc: "anywhere" }, ["{pv2}"], ["--alloc", "anywhere"]),
      resize("lvextend", "r1", "+50", { extents: 50, sign: "+" }),
      resize("lvextend", "r1", "+10%FREE", { extents: 10, sign: "+", percent: "FREE" }),
      resize("lvextend", "r1", "+8m", { size: 16384, sign: "+" }),
      resize("lvextend", "r1", "+1", { extents: 1, sign: "+", stripes: 2 }, [], ["-i", "2"]),
    ],
  },
  {
    name: "raid1-3legs",
    title: "lvextend of a 3-legged raid1 whose legs have gaps after them",
    extentSize: "4m",
    pvSizesMiB: [128, 128, 128],
    setup: [
      lv("xm0", 1, "{pv1}:0"),
      lv("xi0", 2, "{pv1}:1-2"),
      lv("xm1", 1, "{pv2}:5"),
      lv("xi1", 2, "{pv2}:6-7"),
      lv("xm2", 1, "{pv0}:0"),
      lv("xi2", 2, "{pv0}:1-2"),
      lv("h", 2, "{pv1}:3-4"),
      lv("h2", 28, "{pv0}:3-30"),
    ],
    raid: makeRaid1(3),
    steps: [
      resize("lvextend", "r1", "+2", { extents: 2, sign: "+" }),
      resize("lvextend", "r1", "+4", { extents: 4, sign: "+", alloc: "anywhere" }, [], ["--alloc", "anywhere"]),
      resize("lvextend", "r1", "+1", { extents: 1, sign: "+" }),
    ],
  },
];
