/**
 * Host-side helpers for the kernel oracle scripts: run the oracle, and find
 * where an LV's extents lie in disk images through the VG metadata that real
 * lvm2 wrote there (read with ulvm's own label, mda and text codecs).
 */
import { spawnSync } from "node:child_process";
import { openSync, readSync, closeSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SECTOR_SIZE, scanLabel } from "../../src/core/format/label.ts";
import { MDA_HEADER_SIZE, assembleMetadataText, decodeMdaHeader, metadataSpans } from "../../src/core/format/mda.ts";
import { parseVgText } from "../../src/core/model/text.ts";
import type { VolumeGroup } from "../../src/core/model/types.ts";

/** shared/ sits next to the repository (../shared), in development and on CI. */
const SHARED_ORACLE = fileURLToPath(new URL("../../../shared/tools/kernel-oracle", import.meta.url));
export const ORACLE_DIR = process.env.ORACLE_DIR ?? (existsSync(SHARED_ORACLE) ? SHARED_ORACLE : "/work/shared/tools/kernel-oracle");
/** run.sh behind a build of the oracle's kernel and initramfs when they are missing (CI starts without them). */
const ORACLE_RUN = fileURLToPath(new URL("../../scripts/kernel-oracle.sh", import.meta.url));

export function readAt(path: string, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  const fd = openSync(path, "r");
  try {
    if (readSync(fd, buf, 0, length, offset) !== length) throw new Error(`${path}: short read of ${length} at ${offset}`);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** The committed metadata text in the first mda of a PV image, or undefined for a non-PV. */
function pvMetadata(path: string): { pvId: string; text: string } | undefined {
  const { label } = scanLabel(readAt(path, 0, 4 * SECTOR_SIZE), path);
  const mda = label?.metadataAreas[0];
  if (!label || !mda) return undefined;
  const header = decodeMdaHeader(readAt(path, mda.offset, MDA_HEADER_SIZE), mda.offset, path);
  const parts = metadataSpans(header, header.committed, path).map((s) => readAt(path, s.offset, s.length));
  const bytes = assembleMetadataText(header, header.committed, parts, path);
  return { pvId: label.pvId, text: new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0))) };
}

export interface ImageVg {
  vg: VolumeGroup;
  /** PV id to image path. */
  pvImages: Map<string, string>;
}

/** The VGs found on `images`, by name (each from the first of its PVs that holds metadata). */
export function readVgs(images: string[]): Map<string, ImageVg> {
  const out = new Map<string, ImageVg>();
  const byPv = new Map<string, string>();
  for (const path of images) {
    const md = pvMetadata(path);
    if (!md) continue;
    byPv.set(md.pvId, path);
    const { vg } = parseVgText(md.text);
    if (!out.has(vg.name)) out.set(vg.name, { vg, pvImages: new Map() });
  }
  for (const { vg, pvImages } of out.values()) {
    for (const pv of vg.pvs) {
      const path = byPv.get(pv.id);
      if (path) pvImages.set(pv.id, path);
    }
  }
  return out;
}

/** Image path and byte offset of the first extent of a single-segment LV on one PV. */
export function lvLocation(ivg: ImageVg, lvName: string): { path: string; offset: number; bytes: number } {
  const { vg, pvImages } = ivg;
  const lv = vg.lvs.find((l) => l.name === lvName);
  const seg = lv?.segments[0];
  const area = seg?.areas[0];
  if (!lv || lv.segments.length !== 1 || !seg || seg.areas.length !== 1 || area?.kind !== "pv") {
    throw new Error(`${vg.name}/${lvName}: not a single-area LV on a PV`);
  }
  const pv = vg.pvs.find((p) => p.id === area.pvId);
  const path = pvImages.get(area.pvId);
  if (!pv || !path) throw new Error(`${vg.name}/${lvName}: its PV ${area.pvId} is not among the images`);
  const extent = vg.extentSize * SECTOR_SIZE;
  return { path, offset: pv.peStart * SECTOR_SIZE + area.pe * extent, bytes: seg.extentCount * extent };
}

/**
 * Boots the oracle on `script` with `images` attached (building the oracle
 * first if need be); returns its output. Throws on a non-zero status unless `allowFail`.
 */
export function runOracle(
  script: string,
  images: string[],
  env: Record<string, string> = {},
  allowFail = false,
): { status: number; output: string } {
  const r = spawnSync(ORACLE_RUN, [script, ...images], {
    env: { ...process.env, ORACLE_DIR, ORACLE_TIMEOUT: "900", ...env },
    encoding: "utf8",
    maxBuffer: 64 << 20,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const status = r.status ?? 125;
  if (status !== 0 && !allowFail) throw new Error(`oracle run of ${script} exited ${status}:\n${r.stdout}`);
  return { status, output: r.stdout };
}
