/**
 * lvs over live raid1 LVs, from the daemon's status as the protocol carries it
 * (LvStatus with RaidStatus) through activationInfo and the sub-LV state
 * makeVgView derives, against whole tables real lvm2 2.03.16 printed over
 * dm-raid (/work/shared/reference/lvm2-observed, the seed transcript and
 * test/fixtures/kernel). The tables below are those lines, byte for byte; the
 * VGs are built to match them, and each sync ratio is one that gives the
 * transcript's Cpy%Sync.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { LogicalVolume, PhysicalVolume, Segment, VolumeGroup } from "../../../src/core/model/types.ts";
import type { LoadedVg, ScannedPv } from "../../../src/metadata/session.ts";
import type { LvStatus, SyncAction } from "../../../src/daemon/protocol.ts";
import { buildReport, type ReportOptions } from "../../../src/core/report/report.ts";
import { activeOnMissingPvs, makeVgView } from "../../../src/core/report/view.ts";
import { activationMapOf } from "../../../src/cli/daemon-client.ts";
import { makeLv, makePv, makeVg, linearSegment } from "../../helpers/model-builders.ts";
import { HIDDEN } from "../../helpers/lv-text.ts";

const MiB = 1024 * 1024;
/** 4 MiB extents, in sectors. */
const EXTENT = 8192;

const LONG_01 = ["name,attr,segtype,copy_percent,raid_sync_action,lv_health_status,raid_mismatch_count,region_size,devices"];
const LONG_SEED = ["name,attr,segtype,devices,copy_percent,raid_sync_action,raid_mismatch_count,lv_health_status"];
const LONG_KERNEL = ["name,attr,segtype,copy_percent,raid_sync_action,region_size,devices"];
const PLUS_DEVICES = ["+devices"];

const pvId = (device: string) => device.replace(/\W/g, "").padEnd(32, "0");

function pv(device: string, peCount = 3071): PhysicalVolume {
  return makePv(pvId(device), peCount, { deviceHint: device });
}

/** A raid1 LV as lvcreate lays it out: leg i is rmeta at legs[i].pe and the image right after it. */
function raid1(
  name: string,
  extents: number,
  legs: { device: string; pe: number }[],
  opts: { status?: string[]; regionSize?: number } = {},
): LogicalVolume[] {
  const segment: Segment = {
    startExtent: 0,
    extentCount: extents,
    type: "raid1",
    typeFlags: [],
    tags: [],
    regionSize: opts.regionSize ?? 4096,
    areas: legs.map((_, i) => ({ kind: "lv", lv: `${name}_rimage_${i}`, le: 0 })),
    metaAreas: legs.map((_, i) => ({ kind: "lv", lv: `${name}_rmeta_${i}`, le: 0 })),
    extra: [],
  };
  return [
    makeLv(name, [segment], { status: opts.status ?? ["READ", "WRITE", "VISIBLE"] }),
    ...legs.flatMap((leg, i) => [
      makeLv(`${name}_rimage_${i}`, [linearSegment(0, extents, pvId(leg.device), leg.pe + 1)], { status: HIDDEN }),
      makeLv(`${name}_rmeta_${i}`, [linearSegment(0, 1, pvId(leg.device), leg.pe)], { status: HIDDEN }),
    ]),
  ];
}

function vgOf(pvs: PhysicalVolume[], lvs: LogicalVolume[], name = "vg_data"): VolumeGroup {
  return makeVg({ name, extentSize: EXTENT, pvs, lvs });
}

/** The VG as lvs finds it: only the PVs on `found` devices are there. */
function loaded(vg: VolumeGroup, found = vg.pvs.map((p) => p.deviceHint!)): LoadedVg {
  const scanned = (device: string): ScannedPv => ({
    device,
    size: 12 * 1024 * MiB,
    pvId: pvId(device),
    labelDeviceSize: 12 * 1024 * MiB,
    peStart: MiB,
    mdas: [],
    vgName: vg.name,
    used: true,
  });
  return { vg, devices: new Map(found.map((d) => [pvId(d), scanned(d)])) };
}

function lv(vg: VolumeGroup, name: string): LogicalVolume {
  return vg.lvs.find((l) => l.name === name)!;
}

/** The leg's image and rmeta turned into error segments, as vgreduce --removemissing --force leaves them. */
function errorLeg(vg: VolumeGroup, lvName: string, leg: number): void {
  for (const sub of [`${lvName}_rimage_${leg}`, `${lvName}_rmeta_${leg}`]) {
    const l = lv(vg, sub);
    l.segments = l.segments.map((s) => ({ ...s, type: "error", areas: [] }));
  }
}

/** The image split off with --trackchanges: visible, no longer writable. */
function split(vg: VolumeGroup, image: string): void {
  lv(vg, image).status = ["READ", "VISIBLE"];
}

interface Raid {
  health: string;
  action?: SyncAction;
  /** Sectors in sync, of the LV's; all when left out. */
  inSync?: number;
  mismatches?: number;
  open?: boolean;
}

/** The daemon's entry for an active raid1 LV. */
function raidLv(vg: VolumeGroup, name: string, r: Raid): LvStatus {
  const size = lv(vg, name).segments[0]!.extentCount * EXTENT * 512;
  return {
    vg: vg.name,
    lv: name,
    size,
    openCount: r.open ? 1 : 0,
    raid: {
      health: r.health,
      syncBytes: r.inSync === undefined ? size : r.inSync * 512,
      size,
      syncAction: r.action ?? "idle",
      mismatchCount: r.mismatches ?? 0,
      resyncedBytes: 0,
    },
  };
}

/** The daemon's entry for an active LV with no raid status (a split image). */
function plainLv(vg: VolumeGroup, name: string): LvStatus {
  return { vg: vg.name, lv: name, size: lv(vg, name).segments[0]!.extentCount * EXTENT * 512, openCount: 0 };
}

/** lvs (-a unless `all` is false) with the daemon listing `statuses`; `only` names LVs on the command line. */
function lvs(
  vg: VolumeGroup,
  statuses: LvStatus[],
  options: string[],
  { found, only, all = true, ...report }: { found?: string[]; only?: string[] } & ReportOptions = {},
): string {
  const named = only && new Map([[vg.name, only.map((n) => lv(vg, n))]]);
  return buildReport("lvs", { vgs: [loaded(vg, found)], activation: activationMapOf(statuses), lvs: named }, { all, options, ...report });
}

const table = (lines: string[]) => lines.map((l) => `${l}\n`).join("");

const INITIAL = [
  "  LV                   VG      Attr       LSize Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    ",
  "  lv_mirror            vg_data rwi-a-r--- 1.00g                                    56.15            lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] vg_data Iwi-aor--- 1.00g                                                     /dev/sdb(1)                                ",
  "  [lv_mirror_rimage_1] vg_data Iwi-aor--- 1.00g                                                     /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor--- 4.00m                                                     /dev/sdb(0)                                ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-aor--- 4.00m                                                     /dev/sdc1(0)                               ",
];
const IN_SYNC = [
  "  LV                   VG      Attr       LSize Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    ",
  "  lv_mirror            vg_data rwi-a-r--- 1.00g                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] vg_data iwi-aor--- 1.00g                                                     /dev/sdb(1)                                ",
  "  [lv_mirror_rimage_1] vg_data iwi-aor--- 1.00g                                                     /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor--- 4.00m                                                     /dev/sdb(0)                                ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-aor--- 4.00m                                                     /dev/sdc1(0)                               ",
];
const IN_SYNC_LONG = [
  "  LV                   Attr       Type   Cpy%Sync SyncAction Health          Mismatches Region Devices                                    ",
  "  lv_mirror            rwi-a-r--- raid1  100.00   idle                                0  2.00m lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] iwi-aor--- linear                                                    0  /dev/sdb(1)                                ",
  "  [lv_mirror_rimage_1] iwi-aor--- linear                                                    0  /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  ewi-aor--- linear                                                    0  /dev/sdb(0)                                ",
  "  [lv_mirror_rmeta_1]  ewi-aor--- linear                                                    0  /dev/sdc1(0)                               ",
];
const MISSING = [
  "  LV                   VG      Attr       LSize Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    ",
  "  lv_mirror            vg_data rwi-a-r-p- 1.00g                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] vg_data iwi-aor-p- 1.00g                                                     [unknown](1)                               ",
  "  [lv_mirror_rimage_1] vg_data iwi-aor--- 1.00g                                                     /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor-p- 4.00m                                                     [unknown](0)                               ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-aor--- 4.00m                                                     /dev/sdc1(0)                               ",
];
const MISSING_LONG = [
  "  LV                   Attr       Type   Cpy%Sync SyncAction Health          Mismatches Region Devices                                    ",
  "  lv_mirror            rwi-a-r-p- raid1  100.00   idle       partial                  0  2.00m lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] iwi-aor-p- linear                     partial                        0  [unknown](1)                               ",
  "  [lv_mirror_rimage_1] iwi-aor--- linear                                                    0  /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  ewi-aor-p- linear                     partial                        0  [unknown](0)                               ",
  "  [lv_mirror_rmeta_1]  ewi-aor--- linear                                                    0  /dev/sdc1(0)                               ",
];
const ERROR_LEG = [
  "  LV                   VG      Attr       LSize Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    ",
  "  lv_mirror            vg_data rwi-a-r--- 1.00g                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] vg_data vwi-aor--- 1.00g                                                                                                ",
  "  [lv_mirror_rimage_1] vg_data iwi-aor--- 1.00g                                                     /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor--- 4.00m                                                                                                ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-aor--- 4.00m                                                     /dev/sdc1(0)                               ",
];
const ERROR_LEG_LONG = [
  "  LV                   Attr       Type   Cpy%Sync SyncAction Health          Mismatches Region Devices                                    ",
  "  lv_mirror            rwi-a-r--- raid1  100.00   idle                                0  2.00m lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] vwi-aor--- error                                                     0                                             ",
  "  [lv_mirror_rimage_1] iwi-aor--- linear                                                    0  /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  ewi-aor--- error                                                     0                                             ",
  "  [lv_mirror_rmeta_1]  ewi-aor--- linear                                                    0  /dev/sdc1(0)                               ",
];
const RECOVER = [
  "  LV                   VG      Attr       LSize Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    ",
  "  lv_mirror            vg_data rwi-a-r--- 1.00g                                    75.79            lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] vg_data Iwi-aor--- 1.00g                                                     /dev/sdb(1)                                ",
  "  [lv_mirror_rimage_1] vg_data iwi-aor--- 1.00g                                                     /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor--- 4.00m                                                     /dev/sdb(0)                                ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-aor--- 4.00m                                                     /dev/sdc1(0)                               ",
];
const SPLIT = [
  "  LV                   VG      Attr       LSize Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    ",
  "  lv_mirror            vg_data rwi-a-r--- 1.00g                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] vg_data iwi-aor--- 1.00g                                                     /dev/sdb(1)                                ",
  "  lv_mirror_rimage_1   vg_data Iri-a-r--- 1.00g                                                     /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor--- 4.00m                                                     /dev/sdb(0)                                ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-a-r--- 4.00m                                                     /dev/sdc1(0)                               ",
];
const SPLIT_LONG = [
  "  LV                   Attr       Type   Cpy%Sync SyncAction Health          Mismatches Region Devices                                    ",
  "  lv_mirror            rwi-a-r--- raid1  100.00   idle                                0  2.00m lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] iwi-aor--- linear                                                    0  /dev/sdb(1)                                ",
  "  lv_mirror_rimage_1   Iri-a-r--- linear                                                    0  /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  ewi-aor--- linear                                                    0  /dev/sdb(0)                                ",
  "  [lv_mirror_rmeta_1]  ewi-a-r--- linear                                                    0  /dev/sdc1(0)                               ",
];
const MISMATCH_LONG = [
  "  LV                   Attr       Type   Cpy%Sync SyncAction Health           Mismatches Region Devices                                    ",
  "  lv_mirror            rwi-a-r-m- raid1  100.00   idle       mismatches exist       2048  2.00m lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] iwi-aor--- linear                                                     0  /dev/sdb(1)                                ",
  "  [lv_mirror_rimage_1] iwi-aor--- linear                                                     0  /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  ewi-aor--- linear                                                     0  /dev/sdb(0)                                ",
  "  [lv_mirror_rmeta_1]  ewi-aor--- linear                                                     0  /dev/sdc1(0)                               ",
];
const SLOW_LONG = [
  "  LV      Attr       Type  Cpy%Sync SyncAction Health          Mismatches Region Devices                                ",
  "  lv_slow rwi-a-r--- raid1 0.00     resync                              0  2.00m lv_slow_rimage_0(0),lv_slow_rimage_1(0)",
];
const SPLIT3 = [
  "  LV                   VG      Attr       LSize   Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                                          ",
  "  lv_mirror            vg_data rwi-a-r--- 512.00m                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0),lv_mirror_rimage_2(0)",
  "  [lv_mirror_rimage_0] vg_data iwi-aor--- 512.00m                                                     /dev/sdb(1)                                                      ",
  "  [lv_mirror_rimage_1] vg_data iwi-aor--- 512.00m                                                     /dev/sdc1(1)                                                     ",
  "  lv_mirror_rimage_2   vg_data Iri-a-r--- 512.00m                                                     /dev/sdd(1)                                                      ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor---   4.00m                                                     /dev/sdb(0)                                                      ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-aor---   4.00m                                                     /dev/sdc1(0)                                                     ",
  "  [lv_mirror_rmeta_2]  vg_data ewi-a-r---   4.00m                                                     /dev/sdd(0)                                                      ",
];
const SPLIT3_INACTIVE = [
  "  LV                   VG      Attr       LSize   Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                                          ",
  "  lv_mirror            vg_data rwi---r--- 512.00m                                                     lv_mirror_rimage_0(0),lv_mirror_rimage_1(0),lv_mirror_rimage_2(0)",
  "  [lv_mirror_rimage_0] vg_data Iwi---r--- 512.00m                                                     /dev/sdb(1)                                                      ",
  "  [lv_mirror_rimage_1] vg_data Iwi---r--- 512.00m                                                     /dev/sdc1(1)                                                     ",
  "  lv_mirror_rimage_2   vg_data Iri---r--- 512.00m                                                     /dev/sdd(1)                                                      ",
  "  [lv_mirror_rmeta_0]  vg_data ewi---r---   4.00m                                                     /dev/sdb(0)                                                      ",
  "  [lv_mirror_rmeta_1]  vg_data ewi---r---   4.00m                                                     /dev/sdc1(0)                                                     ",
  "  [lv_mirror_rmeta_2]  vg_data ewi---r---   4.00m                                                     /dev/sdd(0)                                                      ",
];
const SPLIT3_REACTIVATED = [
  "  LV                   VG      Attr       LSize   Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                                          ",
  "  lv_mirror            vg_data rwi-a-r--- 512.00m                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0),lv_mirror_rimage_2(0)",
  "  [lv_mirror_rimage_0] vg_data iwi-aor--- 512.00m                                                     /dev/sdb(1)                                                      ",
  "  [lv_mirror_rimage_1] vg_data iwi-aor--- 512.00m                                                     /dev/sdc1(1)                                                     ",
  "  lv_mirror_rimage_2   vg_data Iri---r--- 512.00m                                                     /dev/sdd(1)                                                      ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor---   4.00m                                                     /dev/sdb(0)                                                      ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-aor---   4.00m                                                     /dev/sdc1(0)                                                     ",
  "  [lv_mirror_rmeta_2]  vg_data ewi---r---   4.00m                                                     /dev/sdd(0)                                                      ",
];
const NOSYNC_LONG = [
  "  LV        Attr       Type  Cpy%Sync SyncAction Health          Mismatches Region Devices                                    ",
  "  lv_nosync Rwi-a-r--- raid1 100.00   idle                                0  2.00m lv_nosync_rimage_0(0),lv_nosync_rimage_1(0)",
];
const ERROR_LEG_FAILED = [
  "  LV                   VG      Attr       LSize   Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    ",
  "  lv_mirror            vg_data rwi-a-r-r- 256.00m                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] vg_data vwi-aor-r- 256.00m                                                                                                ",
  "  [lv_mirror_rimage_1] vg_data iwi-aor--- 256.00m                                                     /dev/sdc1(1)                               ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor-r-   4.00m                                                                                                ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-aor---   4.00m                                                     /dev/sdc1(0)                               ",
];
const DEGRADED = [
  "  LV                   VG      Attr       LSize   Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    ",
  "  lv_mirror            vg_data rwi-a-r-p- 256.00m                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)",
  "  [lv_mirror_rimage_0] vg_data iwi-aor--- 256.00m                                                     /dev/sdd(1)                                ",
  "  [lv_mirror_rimage_1] vg_data iwi-aor-p- 256.00m                                                     [unknown](1)                               ",
  "  [lv_mirror_rmeta_0]  vg_data ewi-aor---   4.00m                                                     /dev/sdd(0)                                ",
  "  [lv_mirror_rmeta_1]  vg_data ewi-aor-p-   4.00m                                                     [unknown](0)                               ",
  "  lv_two               vg_data rwi-a-r-p- 128.00m                                    100.00           lv_two_rimage_0(0),lv_two_rimage_1(0)      ",
  "  [lv_two_rimage_0]    vg_data Iwi-aor-p- 128.00m                                                     [unknown](66)                              ",
  "  [lv_two_rimage_1]    vg_data iwi-aor--- 128.00m                                                     /dev/sdd(66)                               ",
  "  [lv_two_rmeta_0]     vg_data ewi-aor-p-   4.00m                                                     [unknown](65)                              ",
  "  [lv_two_rmeta_1]     vg_data ewi-aor---   4.00m                                                     /dev/sdd(65)                               ",
];
const DEGRADED_HEALTH = [
  "  LV        Health          Attr      ",
  "  lv_mirror partial         rwi-a-r-p-",
  "  lv_two    partial         rwi---r-p-",
];
const SEED_RECOVER = [
  "  LV                   Attr       Type   Devices                                     Cpy%Sync SyncAction Mismatches Health         ",
  "  lv_mirror            rwi-aor--- raid1  lv_mirror_rimage_0(0),lv_mirror_rimage_1(0) 44.43    recover             0                ",
  "  [lv_mirror_rimage_0] Iwi-aor--- linear /dev/vda(1)                                                                               ",
  "  [lv_mirror_rimage_1] iwi-aor--- linear /dev/vdb(1)                                                                               ",
  "  [lv_mirror_rmeta_0]  ewi-aor--- linear /dev/vda(0)                                                                               ",
  "  [lv_mirror_rmeta_1]  ewi-aor--- linear /dev/vdb(0)                                                                               ",
];
const KERNEL_RESYNC = [
  "  LV            Attr       Type   Cpy%Sync SyncAction Region Devices                      ",
  "  r1            rwi-a-r--- raid1  46.61    resync      1.00m r1_rimage_0(0),r1_rimage_1(0)",
  "  [r1_rimage_0] Iwi-aor--- linear                         0  /dev/vdh(1)                  ",
  "  [r1_rimage_1] Iwi-aor--- linear                         0  /dev/vdi(1)                  ",
  "  [r1_rmeta_0]  ewi-aor--- linear                         0  /dev/vdh(0)                  ",
  "  [r1_rmeta_1]  ewi-aor--- linear                         0  /dev/vdi(0)                  ",
];

const leg = (device: string, pe = 0) => ({ device, pe });

/** lvm2-observed/01: the guide's 1 GiB raid1 on /dev/sdb and /dev/sdc1. */
const guide = () => vgOf([pv("/dev/sdb"), pv("/dev/sdc1")], raid1("lv_mirror", 256, [leg("/dev/sdb"), leg("/dev/sdc1")]));

test("initial resync: the kernel's ratio as Cpy%Sync, both images I, all sub-LVs active and open", () => {
  const vg = guide();
  assert.equal(lvs(vg, [raidLv(vg, "lv_mirror", { health: "aa", action: "resync", inSync: 1177600 })], PLUS_DEVICES), table(INITIAL));
});

test("in sync: images i, 100.00, idle, no mismatches", () => {
  const vg = guide();
  const live = [raidLv(vg, "lv_mirror", { health: "AA" })];
  assert.equal(lvs(vg, live, PLUS_DEVICES), table(IN_SYNC));
  assert.equal(lvs(vg, live, LONG_01), table(IN_SYNC_LONG));
});

test("a leg's PV lost under the live array (the kernel still says AA): p and partial on the LV and that leg, [unknown] devices", () => {
  const vg = guide();
  const live = [raidLv(vg, "lv_mirror", { health: "AA" })];
  assert.equal(lvs(vg, live, PLUS_DEVICES, { found: ["/dev/sdc1"] }), table(MISSING));
  assert.equal(lvs(vg, live, LONG_01, { found: ["/dev/sdc1"] }), table(MISSING_LONG));
  // The sub-LVs lvm then warns of ("Couldn't find all devices for LV ..."), in its order; none while inactive.
  const using = (statuses: LvStatus[]) => activeOnMissingPvs(makeVgView(loaded(vg, ["/dev/sdc1"]), activationMapOf(statuses))).map((l) => l.name);
  assert.deepEqual(using(live), ["lv_mirror_rimage_0", "lv_mirror_rmeta_0"]);
  assert.deepEqual(using([]), []);
});

test("after vgreduce --removemissing --force: the lost leg is error segments (v, no devices); r and refresh needed once the kernel failed it", () => {
  const vg = guide();
  vg.pvs = vg.pvs.filter((p) => p.deviceHint !== "/dev/sdb");
  errorLeg(vg, "lv_mirror", 0);
  const live = [raidLv(vg, "lv_mirror", { health: "AA" })];
  assert.equal(lvs(vg, live, PLUS_DEVICES), table(ERROR_LEG));
  assert.equal(lvs(vg, live, LONG_01), table(ERROR_LEG_LONG));

  // lvm2-observed/03: the same on a 256 MiB LV after a write hit the error leg (kernel DA).
  const small = vgOf([pv("/dev/sdc1")], raid1("lv_mirror", 64, [leg("/dev/sdb"), leg("/dev/sdc1")]));
  errorLeg(small, "lv_mirror", 0);
  assert.equal(lvs(small, [raidLv(small, "lv_mirror", { health: "DA" })], PLUS_DEVICES), table(ERROR_LEG_FAILED));
});

test("recovery of the replaced leg after lvconvert --repair: Aa-style health, recover, the new image I", () => {
  const vg = guide();
  assert.equal(lvs(vg, [raidLv(vg, "lv_mirror", { health: "aA", action: "recover", inSync: 1589440 })], PLUS_DEVICES), table(RECOVER));
});

test("an image split off with --trackchanges: its own active LV (Iri, not open), its rmeta active but no longer held", () => {
  const vg = guide();
  split(vg, "lv_mirror_rimage_1");
  const live = [raidLv(vg, "lv_mirror", { health: "A-" }), plainLv(vg, "lv_mirror_rimage_1")];
  assert.equal(lvs(vg, live, PLUS_DEVICES), table(SPLIT));
  assert.equal(lvs(vg, live, LONG_01), table(SPLIT_LONG));
});

/** lvm2-observed/02: a 512 MiB raid1 in a VG of /dev/sdb, /dev/sdc1 and /dev/sdd. */
const threePvs = () => [pv("/dev/sdb"), pv("/dev/sdc1"), pv("/dev/sdd")];

test("mismatches found by a check: m and mismatches exist on the raid LV only, the count in sectors", () => {
  const vg = vgOf(threePvs(), raid1("lv_mirror", 128, [leg("/dev/sdb"), leg("/dev/sdc1")]));
  assert.equal(lvs(vg, [raidLv(vg, "lv_mirror", { health: "AA", mismatches: 2048 })], LONG_01), table(MISMATCH_LONG));
});

test("a new LV named on the command line at the start of its resync: 0.00 (nothing in sync yet)", () => {
  const vg = vgOf(threePvs(), [...raid1("lv_mirror", 128, [leg("/dev/sdb"), leg("/dev/sdc1")]), ...raid1("lv_slow", 128, [leg("/dev/sdb", 129), leg("/dev/sdd")])]);
  const live = [raidLv(vg, "lv_mirror", { health: "AA" }), raidLv(vg, "lv_slow", { health: "aa", action: "resync", inSync: 0 })];
  assert.equal(lvs(vg, live, LONG_01, { only: ["lv_slow"] }), table(SLOW_LONG));
});

test("a 3-way raid1 tracking a split image, deactivated, then reactivated without the image", () => {
  const vg = vgOf(threePvs(), raid1("lv_mirror", 128, [leg("/dev/sdb"), leg("/dev/sdc1"), leg("/dev/sdd")]));
  split(vg, "lv_mirror_rimage_2");
  const raid = raidLv(vg, "lv_mirror", { health: "AA-" });
  assert.equal(lvs(vg, [raid, plainLv(vg, "lv_mirror_rimage_2")], PLUS_DEVICES), table(SPLIT3));
  assert.equal(lvs(vg, [], PLUS_DEVICES), table(SPLIT3_INACTIVE));
  assert.equal(lvs(vg, [raid], PLUS_DEVICES), table(SPLIT3_REACTIVATED));
});

test("--nosync: R, 100.00 at once, idle", () => {
  const vg = vgOf(threePvs(), raid1("lv_nosync", 25, [leg("/dev/sdb"), leg("/dev/sdc1")], { status: ["READ", "WRITE", "VISIBLE", "NOTSYNCED"] }));
  assert.equal(lvs(vg, [raidLv(vg, "lv_nosync", { health: "AA" })], LONG_01, { only: ["lv_nosync"] }), table(NOSYNC_LONG));
});

test("degraded activation with a PV missing (kernel DA): the missing leg I and p; an inactive partial LV still partial", () => {
  // lvm2-observed/03 M: /dev/sdb lost its label; lv_mirror was active before, lv_two is activated after.
  const vg = vgOf(
    [pv("/dev/sdb"), pv("/dev/sdd")],
    [...raid1("lv_mirror", 64, [leg("/dev/sdd"), leg("/dev/sdb")]), ...raid1("lv_two", 32, [leg("/dev/sdb", 65), leg("/dev/sdd", 65)])],
  );
  const mirror = raidLv(vg, "lv_mirror", { health: "AA" });
  assert.equal(lvs(vg, [mirror, raidLv(vg, "lv_two", { health: "DA" })], PLUS_DEVICES, { found: ["/dev/sdd"] }), table(DEGRADED));
  assert.equal(lvs(vg, [mirror], ["name,lv_health_status,attr"], { found: ["/dev/sdd"], all: false }), table(DEGRADED_HEALTH));
});

test("the seed transcript: recovery of leg 0 of a mounted LV (aA, 44.43, open)", () => {
  const vg = vgOf([pv("/dev/vda", 63), pv("/dev/vdb", 63)], raid1("lv_mirror", 16, [leg("/dev/vda"), leg("/dev/vdb")]));
  assert.equal(lvs(vg, [raidLv(vg, "lv_mirror", { health: "aA", action: "recover", inSync: 58240, open: true })], LONG_SEED), table(SEED_RECOVER));
});

test("test/fixtures/kernel: the kernel's own ratio 45824/98304 of a throttled resync is 46.61", () => {
  const vg = vgOf([pv("/dev/vdh", 63), pv("/dev/vdi", 63)], raid1("r1", 12, [leg("/dev/vdh"), leg("/dev/vdi")], { regionSize: 2048 }), "vgsyncing");
  assert.equal(lvs(vg, [raidLv(vg, "r1", { health: "aa", action: "resync", inSync: 45824 })], LONG_KERNEL), table(KERNEL_RESYNC));
});

test("libdm's correction: a full ratio while some leg is still 'a' and the array idle or recovering shows 99.99", () => {
  const vg = guide();
  const cpy = (r: Raid) => lvs(vg, [raidLv(vg, "lv_mirror", r)], ["copy_percent"], { only: ["lv_mirror"], noheadings: true }).trim();
  assert.equal(cpy({ health: "aA", action: "recover" }), "99.99");
  assert.equal(cpy({ health: "Aa", action: "idle" }), "99.99");
  assert.equal(cpy({ health: "AA", action: "idle" }), "100.00");
  // Every leg 'a' (the end of an initial resync) or another action: no correction.
  assert.equal(cpy({ health: "aa", action: "resync" }), "100.00");
  assert.equal(cpy({ health: "aA", action: "check" }), "100.00");
});

test("the daemon's own entries for hidden sub-LVs do not count: the raid table holds them open", () => {
  const vg = guide();
  const sub = { ...plainLv(vg, "lv_mirror_rimage_0"), openCount: 0 };
  const out = lvs(vg, [raidLv(vg, "lv_mirror", { health: "AA" }), sub], ["name,attr"], { noheadings: true });
  assert.match(out, /\[lv_mirror_rimage_0\] iwi-aor---/);
  // Without the raid LV active, a sub-LV is only what the daemon says of it.
  assert.match(lvs(vg, [sub], ["name,attr"], { noheadings: true }), /\[lv_mirror_rimage_0\] Iwi-a-r---/);
});

test("property: Cpy%Sync is 100.00 only when all is in sync, 0.00 only when nothing is, within 0.01 of the ratio, and never goes down", () => {
  const vg = guide();
  const raid = lv(vg, "lv_mirror");
  const cpy = (extents: number, inSync: number) => {
    raid.segments[0]!.extentCount = extents;
    return lvs(vg, [raidLv(vg, "lv_mirror", { health: "aa", action: "resync", inSync })], ["copy_percent"], { only: ["lv_mirror"], noheadings: true }).trim();
  };
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (extents, x, y) => {
      const total = extents * EXTENT;
      const [a, b] = [Math.floor(total * Math.min(x, y)), Math.floor(total * Math.max(x, y))];
      const [ta, tb] = [cpy(extents, a), cpy(extents, b)];
      assert.equal(ta === "100.00", a === total);
      assert.equal(ta === "0.00", a === 0);
      assert.ok(Math.abs(Number(ta) - (100 * a) / total) <= 0.01, `${a}/${total}: ${ta}`);
      assert.ok(Number(ta) <= Number(tb), `${a} → ${ta}, ${b} → ${tb}`);
    }),
    { numRuns: 300 },
  );
});
