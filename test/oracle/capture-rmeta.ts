/**
 * Ground truth for the rmeta codecs: boots the kernel oracle on
 * rmeta-states.guest.sh (real lvm2 + dm-raid leave four raid1 LVs in known
 * states), copies the first 8 KiB of every rmeta off the images into
 * test/fixtures/kernel/ with a JSON description and the guest transcript, then
 * boots it again on reactivate.guest.sh to record what dm-raid does with each
 * state (resync or not, bytes written, legs equal).
 *
 *   node --import tsx test/oracle/capture-rmeta.ts            # ~2 min of both cores
 *   node --import tsx test/oracle/capture-rmeta.ts --images D # reuse D/{a..i}.img + D/out.txt of a first run
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, closeSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { lvLocation, readAt, readVgs, runOracle } from "./images.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const OUT = join(HERE, "../fixtures/kernel");
const GUEST = join(HERE, "rmeta-states.guest.sh");
const REACTIVATE = join(HERE, "reactivate.guest.sh");
const CAPTURE_BYTES = 8192;
const NAMES = "abcdefghi".split("");

/** What the guest script did to each VG; see rmeta-states.guest.sh. */
const SCENARIOS: Record<string, { state: string; how: string }> = {
  vgclean: { state: "clean", how: "lvcreate --type raid1 -m1 -L 16M -R 512k; initial sync; 16 MiB written; lvchange -an" },
  vgnosync: { state: "nosync", how: "lvcreate --type raid1 -m2 --nosync -L 16M; regions 0, 3, 7 written; lvchange -an" },
  vgdirty: {
    state: "dirty",
    how: "lvcreate --type raid1 -m1 -L 32M -R 256k; initial sync; 12 s idle; 4 KiB written in a few regions; power-off while active",
  },
  vgsyncing: {
    state: "syncing",
    how: "lvcreate --type raid1 -m1 -L 48M -R 1M --maxrecoveryrate 128k; power-off while active during the initial resync",
  },
};

function guestRun(): { dir: string; transcript: string; cleanup: boolean } {
  const i = process.argv.indexOf("--images");
  if (i >= 0) {
    const dir = process.argv[i + 1]!;
    return { dir, transcript: readFileSync(join(dir, "out.txt"), "utf8"), cleanup: false };
  }
  const dir = mkdtempSync(join(tmpdir(), "rmeta-oracle-"));
  for (const n of NAMES) {
    closeSync(openSync(join(dir, `${n}.img`), "w"));
    truncateSync(join(dir, `${n}.img`), 64 << 20);
  }
  const { output } = runOracle(GUEST, NAMES.map((n) => join(dir, `${n}.img`)), { ORACLE_NO_DEACTIVATE: "1" });
  return { dir, transcript: output, cleanup: true };
}

/** The guest scripts' "RESULT <vg> <key> <value>" lines. */
function results(transcript: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const m of transcript.matchAll(/^RESULT (\S+) (\S+) (\S+)$/gm)) {
    const r = out.get(m[1]!) ?? {};
    r[m[2]!] = m[3]!;
    out.set(m[1]!, r);
  }
  return out;
}

const { dir, transcript, cleanup } = guestRun();
const images = NAMES.map((n) => join(dir, `${n}.img`));
const vgs = readVgs(images);
const description: Record<string, unknown> = {};
for (const [vgName, scenario] of Object.entries(SCENARIOS)) {
  const ivg = vgs.get(vgName);
  if (!ivg) throw new Error(`${vgName} not found on the images`);
  const top = ivg.vg.lvs.find((l) => l.name === "r1")!;
  const seg = top.segments[0]!;
  const rmetas = seg.metaAreas.map((a) => {
    if (a.kind !== "lv") throw new Error(`${vgName}/r1: rmeta area is not an LV`);
    const at = lvLocation(ivg, a.lv);
    const file = `${vgName}-${a.lv.replace(/^r1_/, "")}.bin`;
    writeFileSync(join(OUT, file), readAt(at.path, at.offset, CAPTURE_BYTES));
    return file;
  });
  const r = results(transcript).get(vgName) ?? {};
  description[vgName] = {
    ...scenario,
    legs: seg.areas.length,
    lvSectors: seg.extentCount * ivg.vg.extentSize,
    regionSectors: seg.regionSize,
    lvStatus: top.status,
    rmetas,
    ...(r.dirty_regions ? { dirtyRegions: r.dirty_regions.split(",").map(Number) } : {}),
    ...(r.lv_md5 ? { lvMd5: r.lv_md5 } : {}),
  };
}
writeFileSync(join(OUT, "rmeta-states.transcript.txt"), transcript);
const again = runOracle(REACTIVATE, images).output;
writeFileSync(join(OUT, "reactivate.transcript.txt"), again);
for (const [vgName, r] of results(again)) {
  Object.assign(description[vgName] as object, {
    reactivation: { writtenKib: Number(r.sync_written_kib), legsEqual: r.legs_equal === "yes" },
  });
}
writeFileSync(join(OUT, "rmeta-states.json"), JSON.stringify(description, null, 2) + "\n");
if (cleanup) rmSync(dir, { recursive: true, force: true });
console.log(`wrote ${Object.keys(description).length} scenarios to ${OUT}`);
