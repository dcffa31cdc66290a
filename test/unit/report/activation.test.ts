/**
 * lv_attr, Cpy%Sync, health and the other live fields with device-mapper state,
 * against real lvm2 2.03.16 on a kernel with dm-raid (the seed transcript in
 * /work/shared/reference and lvm2-observed/): the VG is the one that transcript
 * backed up (report-seed-vg_data.vg), put in each state the transcript shows.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseVgText } from "../../../src/core/model/text.ts";
import type { LoadedVg, ScannedPv } from "../../../src/metadata/session.ts";
import type { VolumeGroup } from "../../../src/core/model/types.ts";
import { buildReport, type ReportOptions } from "../../../src/core/report/report.ts";
import { activationKey, type ActivationInfo, type ActivationMap } from "../../../src/core/report/view.ts";

const text = readFileSync(join(import.meta.dirname, "..", "..", "fixtures", "real", "report-seed-vg_data.vg"), "utf8");
const MIB = 1024 * 1024;

function seedVg(): VolumeGroup {
  return parseVgText(text).vg;
}

function scanned(vg: VolumeGroup, device: string): ScannedPv {
  const pv = vg.pvs.find((p) => p.deviceHint === device)!;
  return {
    device,
    size: 256 * MIB,
    pvId: pv.id,
    labelDeviceSize: 256 * MIB,
    peStart: MIB,
    mdas: [{ start: 4096, size: 1044480, ignored: false, free: 500000 }],
    vgName: vg.name,
    used: true,
  };
}

function loaded(vg: VolumeGroup, devices = ["/dev/vda", "/dev/vdb"]): LoadedVg {
  return { vg, devices: new Map(devices.map((d) => scanned(vg, d)).map((s) => [s.pvId, s])) };
}

const SUBS = ["lv_mirror_rimage_0", "lv_mirror_rimage_1", "lv_mirror_rmeta_0", "lv_mirror_rmeta_1"];

/** lv_mirror with the given kernel state, its sub-LVs active and opened by the raid target. */
function active(raid: Partial<ActivationInfo>, subs: Record<string, Partial<ActivationInfo>> = {}): ActivationMap {
  const map: ActivationMap = new Map();
  map.set(activationKey("vg_data", "lv_mirror"), { active: true, open: false, syncPercent: 100, syncAction: "idle", mismatchCount: 0, health: "AA", ...raid });
  for (const name of SUBS) map.set(activationKey("vg_data", name), { active: true, open: true, ...subs[name] });
  return map;
}

function lvs(input: LoadedVg, activation: ActivationMap | undefined, opts: ReportOptions): string {
  return buildReport("lvs", { vgs: [input], activation }, { all: true, ...opts });
}

const LONG = ["name,attr,segtype,devices,copy_percent,raid_sync_action,raid_mismatch_count,lv_health_status"];

test("initial resync: images not in sync, Cpy%Sync and sync action from the kernel", () => {
  const out = lvs(loaded(seedVg()), active({ syncPercent: (33280 / 131072) * 100, syncAction: "resync", health: "aa" }), { options: LONG });
  assert.equal(
    out,
    `  LV                   Attr       Type   Devices                                     Cpy%Sync SyncAction Mismatches Health         
  lv_mirror            rwi-a-r--- raid1  lv_mirror_rimage_0(0),lv_mirror_rimage_1(0) 25.39    resync              0                
  [lv_mirror_rimage_0] Iwi-aor--- linear /dev/vda(1)                                                                               
  [lv_mirror_rimage_1] Iwi-aor--- linear /dev/vdb(1)                                                                               
  [lv_mirror_rmeta_0]  ewi-aor--- linear /dev/vda(0)                                                                               
  [lv_mirror_rmeta_1]  ewi-aor--- linear /dev/vdb(0)                                                                               
`,
  );
});

test("in sync, then mounted: images in sync, the raid LV open", () => {
  const expected = (attr: string) => `  LV                   VG      Attr       LSize  Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    
  lv_mirror            vg_data ${attr} 64.00m                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)
  [lv_mirror_rimage_0] vg_data iwi-aor--- 64.00m                                                     /dev/vda(1)                                
  [lv_mirror_rimage_1] vg_data iwi-aor--- 64.00m                                                     /dev/vdb(1)                                
  [lv_mirror_rmeta_0]  vg_data ewi-aor---  4.00m                                                     /dev/vda(0)                                
  [lv_mirror_rmeta_1]  vg_data ewi-aor---  4.00m                                                     /dev/vdb(0)                                
`;
  assert.equal(lvs(loaded(seedVg()), active({}), { options: ["+devices"] }), expected("rwi-a-r---"));
  assert.equal(lvs(loaded(seedVg()), active({ open: true }), { options: ["+devices"] }), expected("rwi-aor---"));
});

test("a PV lost under a live array: partial attrs and health, [unknown] devices, pvs and vgs", () => {
  const input = loaded(seedVg(), ["/dev/vdb"]);
  const activation = active({ open: true });
  assert.equal(
    lvs(input, activation, { options: ["+devices"] }),
    `  LV                   VG      Attr       LSize  Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert Devices                                    
  lv_mirror            vg_data rwi-aor-p- 64.00m                                    100.00           lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)
  [lv_mirror_rimage_0] vg_data iwi-aor-p- 64.00m                                                     [unknown](1)                               
  [lv_mirror_rimage_1] vg_data iwi-aor--- 64.00m                                                     /dev/vdb(1)                                
  [lv_mirror_rmeta_0]  vg_data ewi-aor-p-  4.00m                                                     [unknown](0)                               
  [lv_mirror_rmeta_1]  vg_data ewi-aor---  4.00m                                                     /dev/vdb(0)                                
`,
  );
  assert.equal(
    lvs(input, activation, { options: LONG }),
    `  LV                   Attr       Type   Devices                                     Cpy%Sync SyncAction Mismatches Health         
  lv_mirror            rwi-aor-p- raid1  lv_mirror_rimage_0(0),lv_mirror_rimage_1(0) 100.00   idle                0 partial        
  [lv_mirror_rimage_0] iwi-aor-p- linear [unknown](1)                                                               partial        
  [lv_mirror_rimage_1] iwi-aor--- linear /dev/vdb(1)                                                                               
  [lv_mirror_rmeta_0]  ewi-aor-p- linear [unknown](0)                                                               partial        
  [lv_mirror_rmeta_1]  ewi-aor--- linear /dev/vdb(0)                                                                               
`,
  );
  assert.equal(
    buildReport("pvs", { vgs: [input] }),
    `  PV         VG      Fmt  Attr PSize   PFree  
  /dev/vdb   vg_data lvm2 a--  252.00m 184.00m
  [unknown]  vg_data lvm2 a-m  252.00m 184.00m
`,
  );
  assert.equal(
    buildReport("vgs", { vgs: [input] }),
    `  VG      #PV #LV #SN Attr   VSize   VFree  
  vg_data   2   1   0 wz-pn- 504.00m 368.00m
`,
  );
});

/** The leg on /dev/vda replaced by error segments and its PV dropped, as vgreduce --removemissing --force leaves it. */
function afterRemoveMissing(): LoadedVg {
  const vg = seedVg();
  const lost = vg.pvs.find((p) => p.deviceHint === "/dev/vda")!;
  vg.pvs = vg.pvs.filter((p) => p !== lost);
  for (const lv of vg.lvs.filter((l) => l.name.endsWith("_0")))
    lv.segments = lv.segments.map((s) => ({ ...s, type: "error", areas: [] }));
  return loaded(vg, ["/dev/vdb"]);
}

test("error-segment leg: v for the image, e for the metadata LV, no devices; r once the kernel saw the failure", () => {
  const input = afterRemoveMissing();
  assert.equal(
    lvs(input, active({ open: true }), { options: LONG }),
    `  LV                   Attr       Type   Devices                                     Cpy%Sync SyncAction Mismatches Health         
  lv_mirror            rwi-aor--- raid1  lv_mirror_rimage_0(0),lv_mirror_rimage_1(0) 100.00   idle                0                
  [lv_mirror_rimage_0] vwi-aor--- error                                                                                            
  [lv_mirror_rimage_1] iwi-aor--- linear /dev/vdb(1)                                                                               
  [lv_mirror_rmeta_0]  ewi-aor--- error                                                                                            
  [lv_mirror_rmeta_1]  ewi-aor--- linear /dev/vdb(0)                                                                               
`,
  );
  assert.equal(
    buildReport("vgs", { vgs: [input] }),
    `  VG      #PV #LV #SN Attr   VSize   VFree  
  vg_data   1   1   0 wz--n- 252.00m 184.00m
`,
  );
  // lvm2-observed/03: after a write hit the error leg the kernel reports DA.
  const failed = lvs(input, active({ health: "DA" }), { options: ["name,attr,lv_health_status"], noheadings: true });
  assert.deepEqual(
    failed.split("\n").map((l) => l.trim().split(/\s+/).slice(1).join(" ")),
    ["rwi-a-r-r- refresh needed", "vwi-aor-r- refresh needed", "iwi-aor---", "ewi-aor-r- refresh needed", "ewi-aor---", ""],
  );
});

test("split with --trackchanges: the visible image is Iri, read-only, still a raid image", () => {
  const vg = seedVg();
  const image = vg.lvs.find((l) => l.name === "lv_mirror_rimage_1")!;
  image.status = ["READ", "VISIBLE"];
  const activation = active({ open: true, health: "A-" }, { lv_mirror_rimage_1: { open: false }, lv_mirror_rmeta_1: { open: false } });
  assert.equal(
    lvs(loaded(vg), activation, { options: ["name,attr,lv_role,lv_layout,lv_active,lv_permissions,lv_health_status"] }),
    `  LV                   Attr       Role                  Layout     Active LPerms    Health         
  lv_mirror            rwi-aor--- public                raid,raid1 active writeable                
  [lv_mirror_rimage_0] iwi-aor--- private,raid,image    linear     active writeable                
  lv_mirror_rimage_1   Iri-a-r--- private,raid,image    linear     active read-only                
  [lv_mirror_rmeta_0]  ewi-aor--- private,raid,metadata linear     active writeable                
  [lv_mirror_rmeta_1]  ewi-a-r--- private,raid,metadata linear     active writeable                
`,
  );
  // Without -a the split image is listed (it is visible), the other sub-LVs are not.
  const plain = buildReport("lvs", { vgs: [loaded(vg)], activation }, { options: ["name,attr"] });
  assert.equal(plain, "  LV                 Attr      \n  lv_mirror          rwi-aor---\n  lv_mirror_rimage_1 Iri-a-r---\n");
});

test("mismatches found by a scrub: m in position 9, the count, mismatches exist", () => {
  const out = buildReport("lvs", { vgs: [loaded(seedVg())], activation: active({ mismatchCount: 2048 }) }, {
    options: ["lv_attr,raid_mismatch_count,lv_health_status"],
    noheadings: true,
  });
  assert.equal(out, "  rwi-a-r-m-       2048 mismatches exist\n");
});

test("--nosync shows R; deactivated LVs show the inactive forms and no live values", () => {
  const vg = seedVg();
  vg.lvs[0]!.status.push("NOTSYNCED");
  assert.match(lvs(loaded(vg), active({}), { options: ["attr"], select: "name=lv_mirror", noheadings: true }), /^ {2}Rwi-a-r---\n$/);
  assert.equal(
    lvs(loaded(seedVg()), undefined, { options: LONG }),
    `  LV                   Attr       Type   Devices                                     Cpy%Sync SyncAction Mismatches Health         
  lv_mirror            rwi---r--- raid1  lv_mirror_rimage_0(0),lv_mirror_rimage_1(0)                                               
  [lv_mirror_rimage_0] Iwi---r--- linear /dev/vda(1)                                                                               
  [lv_mirror_rimage_1] Iwi---r--- linear /dev/vdb(1)                                                                               
  [lv_mirror_rmeta_0]  ewi---r--- linear /dev/vda(0)                                                                               
  [lv_mirror_rmeta_1]  ewi---r--- linear /dev/vdb(0)                                                                               
`,
  );
});

test("live-only fields: active, open, suspended, kernel read-ahead, image synced", () => {
  const out = lvs(loaded(seedVg()), active({ readAhead: 256 }), {
    options: ["name,lv_active,lv_active_locally,lv_device_open,lv_suspended,lv_kernel_read_ahead,lv_image_synced"],
    separator: "|",
    noheadings: true,
  });
  assert.deepEqual(out.split("\n").slice(0, 2), [
    "  lv_mirror|active|active locally|||128.00k|",
    "  [lv_mirror_rimage_0]|active|active locally|open||0 |image synced",
  ]);
  const inactive = lvs(loaded(seedVg()), undefined, { options: ["name,lv_active,lv_device_open,lv_suspended,lv_kernel_read_ahead,lv_image_synced"], separator: "|", noheadings: true });
  assert.equal(inactive.split("\n")[0], "  lv_mirror||unknown|unknown|-1|");
});
