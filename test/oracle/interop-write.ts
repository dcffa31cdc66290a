/**
 * The reverse direction: a raid1 whose rmetas ulvm's encoder wrote, checked by
 * the real kernel. Real lvm2 on the host (isolated config, own loop devices)
 * makes a VG on two blank images and loads a raid1 LV into it with
 * vgcfgrestore; then this script writes both rmetas with encodeRmeta and the
 * same data into both rimages, and boots the kernel oracle's interop-read.sh.
 * Afterwards it decodes the rmetas again to show what the kernel left there.
 *
 *   node --import tsx test/oracle/interop-write.ts [VARIANT]   # ~30 s of both cores each
 *
 * VARIANT (default clean), each with the outcome it requires:
 *   clean         in sync, bitmap clean: activation starts no resync
 *                 (STRICT_NO_RESYNC=1), legs equal, the LV holds the data written
 *   stale-bitmap  bitmap events one below the superblock's: md declares the bitmap
 *                 out of date and sets every bit, yet resyncs nothing, since the
 *                 resync offset (MaxSector) says the array is in sync
 *   dirty         resync offset 0, two region bits set, leg 1 differing in the first
 *                 of them: md resyncs those regions only (writes no more than
 *                 them) and the legs end equal
 *
 * Writes test/fixtures/kernel/interop-write-VARIANT.transcript.txt; exits 1
 * when the kernel did not do what the variant requires.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_SECTOR, decodeRmeta, encodeRmeta, type Rmeta } from "../../src/core/format/dmraid.ts";
import { bitmapSuperblockFor, superblockFor } from "../../src/raid/assemble.ts";
import { generateId } from "../../src/core/format/id.ts";
import { SECTOR_SIZE } from "../../src/core/format/label.ts";
import {
  BITMAP_SUPERBLOCK_SIZE,
  bitmapBytes,
  bitmapRegions,
  bitmapSpanBytes,
  countSetBits,
  setRegionBit,
} from "../../src/core/format/md-bitmap.ts";
import { formatVgText, parseVgText } from "../../src/core/model/text.ts";
import type { LogicalVolume, Segment } from "../../src/core/model/types.ts";
import { ORACLE_DIR, lvLocation, readAt, readVgs, runOracle } from "./images.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const VG = "vgulvm";
const LV_EXTENTS = 4;
const REGION_SECTORS = 1024;
const EVENTS = 20n;
const DIRTY_REGIONS = [3, 17];

interface Variant {
  env: string;
  /** Changes to the clean rmeta of every leg. */
  rmeta(r: Rmeta): void;
  /** Changes to the data of leg `leg`. */
  data(leg: number, bytes: Uint8Array): void;
  /** Why the run does not show what the variant requires, or undefined. */
  problem(status: number, output: string, md5: string): string | undefined;
}

const writtenKib = (output: string): number => Number(/written to the disks since activation: (\d+) KiB/.exec(output)?.[1] ?? NaN);

const VARIANTS: Record<string, Variant> = {
  clean: {
    env: "STRICT_NO_RESYNC=1",
    rmeta: () => {},
    data: () => {},
    problem: (status, output, md5) =>
      status !== 0 ? `interop-read.sh exited ${status}` : output.includes(md5) ? undefined : "the LV does not hold the data written",
  },
  "stale-bitmap": {
    env: "SKIP_SCRUB=1",
    rmeta: (r) => {
      r.bitmap.events = EVENTS - 1n;
    },
    data: () => {},
    problem: (_status, output) => {
      if (!/bitmap file is out of date \(19 < 20\) -- forcing full recovery/.test(output)) return "md did not declare the bitmap stale";
      return writtenKib(output) < 64 ? undefined : `${writtenKib(output)} KiB written: md resynced`;
    },
  },
  dirty: {
    env: "SKIP_SCRUB=1",
    rmeta: (r) => {
      r.superblock.arrayResyncOffset = 0n;
      for (const region of DIRTY_REGIONS) setRegionBit(r.bits, region);
    },
    data: (leg, bytes) => {
      if (leg === 1) bytes.fill(0x5a, DIRTY_REGIONS[0]! * REGION_SECTORS * SECTOR_SIZE, (DIRTY_REGIONS[0]! + 1) * REGION_SECTORS * SECTOR_SIZE);
    },
    problem: (_status, output) => {
      if (!output.includes("not clean -- starting background reconstruction")) return "md started no resync";
      if (!output.includes("raid1 legs identical")) return "the legs differ after the resync";
      // A full resync writes the whole LV to one leg; this one may write no more than the dirty regions.
      const kib = writtenKib(output);
      const regionsKib = (DIRTY_REGIONS.length * REGION_SECTORS * SECTOR_SIZE) / 1024;
      return kib <= regionsKib + 64 ? undefined : `${kib} KiB written, more than the ${regionsKib} KiB of the dirty regions`;
    },
  },
};
const variantName = process.argv[2] ?? "clean";
const variant = VARIANTS[variantName];
if (!variant) throw new Error(`unknown variant ${variantName}; one of ${Object.keys(VARIANTS).join(", ")}`);

const dir = mkdtempSync(join(tmpdir(), "rmeta-interop-"));
const images = ["a.img", "b.img"].map((n) => join(dir, n));
for (const img of images) {
  closeSync(openSync(img, "w"));
  truncateSync(img, 64 << 20);
}

/** Real lvm2 with its own config: no device-mapper here, no devices file, only our loop devices. */
function makeVgWithRaid1(): void {
  const sysdir = join(dir, "lvm");
  mkdirSync(sysdir);
  writeFileSync(
    join(sysdir, "lvm.conf"),
    "global { activation = 0 }\ndevices { use_devicesfile = 0 obtain_device_list_from_udev = 0 }\n" +
      "activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }\n",
  );
  const loops: string[] = [];
  const env = { ...process.env, LVM_SYSTEM_DIR: sysdir, LVM_SUPPRESS_FD_WARNINGS: "1" };
  try {
    for (const img of images) loops.push(execFileSync("losetup", ["-f", "--show", img], { encoding: "utf8" }).trim());
    const lvm = (...args: string[]) =>
      execFileSync("lvm", [...args, "--devices", loops.join(",")], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    lvm("pvcreate", "-q", ...loops);
    lvm("vgcreate", "-q", VG, ...loops);
    const backup = join(dir, "backup.vg");
    lvm("vgcfgbackup", "-q", "-f", backup, VG);
    const { vg, header } = parseVgText(readFileSync(backup, "utf8"));
    const now = Math.floor(Date.now() / 1000);
    const lv = (name: string, visible: boolean, segment: Omit<Segment, "startExtent" | "typeFlags" | "tags" | "extra">): LogicalVolume => ({
      name,
      id: generateId(randomBytes),
      status: visible ? ["READ", "WRITE", "VISIBLE"] : ["READ", "WRITE"],
      flags: [],
      tags: [],
      creationTime: now,
      creationHost: header.creationHost ?? "ulvm",
      segments: [{ startExtent: 0, typeFlags: [], tags: [], extra: [], ...segment }],
      extra: [],
    });
    const legs = vg.pvs.map((pv, i) => ({ pv, i }));
    vg.lvs.push(
      lv("r1", true, {
        extentCount: LV_EXTENTS,
        type: "raid1",
        regionSize: REGION_SECTORS,
        areas: legs.map(({ i }) => ({ kind: "lv", lv: `r1_rimage_${i}`, le: 0 })),
        metaAreas: legs.map(({ i }) => ({ kind: "lv", lv: `r1_rmeta_${i}`, le: 0 })),
      }),
      ...legs.flatMap(({ pv, i }) => [
        lv(`r1_rimage_${i}`, false, { extentCount: LV_EXTENTS, type: "striped", areas: [{ kind: "pv", pvId: pv.id, pe: 1 }], metaAreas: [] }),
        lv(`r1_rmeta_${i}`, false, { extentCount: 1, type: "striped", areas: [{ kind: "pv", pvId: pv.id, pe: 0 }], metaAreas: [] }),
      ]),
    );
    writeFileSync(backup, formatVgText(vg, { description: "ulvm interop-write", creationHost: "ulvm", creationTime: now }, "backup"));
    lvm("vgcfgrestore", "-q", "-f", backup, VG);
  } finally {
    for (const l of loops) execFileSync("losetup", ["-d", l]);
  }
}

/** What dm-raid keeps for leg `position` of an array in sync whose last stop was clean. */
function cleanRmeta(position: number, legs: number, sectors: bigint): Rmeta {
  const regionSize = REGION_SECTORS * SECTOR_SIZE;
  const g = { size: Number(sectors) * SECTOR_SIZE, regionSize, legs };
  const regions = bitmapRegions(sectors, regionSize);
  const bits = new Uint8Array(bitmapSpanBytes(regions) - BITMAP_SUPERBLOCK_SIZE).fill(0xff);
  bits.fill(0, 0, bitmapBytes(regions));
  const state = { events: EVENTS, failedDevices: 0n, resyncOffset: MAX_SECTOR, recoveryOffsets: [] };
  return { superblock: superblockFor(g, position, state), bitmap: bitmapSuperblockFor(g, EVENTS, EVENTS), bits };
}

function writeAt(path: string, offset: number, data: Uint8Array): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

makeVgWithRaid1();
const ivg = readVgs(images).get(VG)!;
const sectors = BigInt(LV_EXTENTS * ivg.vg.extentSize);
const data = randomBytes(Number(sectors) * SECTOR_SIZE);
const md5 = createHash("md5").update(data).digest("hex");
const legs = ivg.vg.pvs.length;
for (let i = 0; i < legs; i++) {
  const rmeta = cleanRmeta(i, legs, sectors);
  variant.rmeta(rmeta);
  const legData = data.slice();
  variant.data(i, legData);
  writeAt(lvLocation(ivg, `r1_rmeta_${i}`).path, lvLocation(ivg, `r1_rmeta_${i}`).offset, encodeRmeta(rmeta));
  writeAt(lvLocation(ivg, `r1_rimage_${i}`).path, lvLocation(ivg, `r1_rimage_${i}`).offset, legData);
}

const { status, output } = runOracle(
  join(ORACLE_DIR, "scenarios/interop-read.sh"),
  images,
  { ORACLE_ENV: `EXPECT_MD5=${VG}/r1:${md5} ${variant.env}` },
  true,
);
const after = [...Array(legs).keys()].map((i) => {
  const at = lvLocation(ivg, `r1_rmeta_${i}`);
  const r = decodeRmeta(readAt(at.path, at.offset, 8192));
  const regions = bitmapRegions(r.bitmap.syncSize, r.bitmap.chunksize);
  return (
    `rmeta_${i} after the kernel: events ${r.superblock.events} (written ${EVENTS}), ` +
    `resync offset ${r.superblock.arrayResyncOffset === MAX_SECTOR ? "MaxSector" : r.superblock.arrayResyncOffset}, ` +
    `bitmap events ${r.bitmap.events}/${r.bitmap.eventsCleared} cleared, state ${r.bitmap.state}, ` +
    `dirty regions ${countSetBits(r.bits, regions)} of ${regions}`
  );
});
const problem = variant.problem(status, output, md5);
const verdict = problem ? `FAIL (${variantName}): ${problem}` : `PASS (${variantName}): the kernel did what the rmetas ulvm wrote say`;
const report =
  `# interop-write.ts ${variantName}: raid1 ${VG}/r1 (${legs} legs, ${sectors} sectors, region ${REGION_SECTORS} sectors), ` +
  `rmetas written by ulvm's encodeRmeta, data md5 ${md5}\n# interop-read.sh exit ${status}\n${output}\n${after.join("\n")}\n${verdict}\n`;
writeFileSync(join(HERE, `../fixtures/kernel/interop-write-${variantName}.transcript.txt`), report);
rmSync(dir, { recursive: true, force: true });
console.log(`${after.join("\n")}\n${verdict}`);
process.exit(problem ? 1 : 0);
