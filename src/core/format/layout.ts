/**
 * pvcreate's placement of the metadata areas, the bootloader area and pe_start,
 * and the extent count a VG gets from a PV. Follows lvm2 2.03's arithmetic for a
 * 4 KiB page size and devices that report no I/O topology (files, loop devices).
 */
import { EXIT, FormatError, LvmError } from "../errors.ts";
import { LABEL_SCAN_BYTES, LABEL_SCAN_SECTORS, SECTOR_SIZE, type DiskLocn } from "./label.ts";

const PAGE_SIZE = 4096;
/** Chosen so that mda0 (at one page) ends, and pe_start falls, at 1 MiB. */
export const DEFAULT_METADATA_SIZE = 2040 * SECTOR_SIZE;
export const DEFAULT_DATA_ALIGNMENT = 1024 * 1024;
export const MDA_SIZE_MIN = 8 * PAGE_SIZE;
/** devices/pv_min_size default: LVM's device filter rejects anything smaller. */
export const PV_MIN_SIZE = 2048 * 1024;

export interface PvLayoutOptions {
  /** Bytes; rounded down to whole sectors as LVM sees the device. */
  deviceSize: number;
  /** For LVM's messages. */
  deviceName?: string;
  /** All bytes, multiples of 512; absent or 0 means LVM's default. */
  metadataSize?: number;
  dataAlignment?: number;
  dataAlignmentOffset?: number;
  pvMetadataCopies?: 0 | 1 | 2;
  bootloaderAreaSize?: number;
  labelSector?: number;
}

export interface PvLayout {
  metadataAreas: DiskLocn[];
  /** offset = pe_start; size 0 = to the end of the device. */
  dataArea: DiskLocn;
  bootloaderAreas: DiskLocn[];
}

function sectorMultiple(n: number | undefined, what: string): number {
  const v = n ?? 0;
  if (!Number.isSafeInteger(v) || v < 0 || v % SECTOR_SIZE !== 0) {
    throw new FormatError(`${what} ${v} is not a non-negative multiple of ${SECTOR_SIZE} bytes`);
  }
  return v;
}

const roundUp = (n: number, align: number): number => n + ((align - (n % align)) % align);

/**
 * Throws LvmError with the lines pvcreate prints before its own
 * `Failed to setup physical volume "<dev>".`; FormatError for option values the
 * command line would have refused.
 */
export function computePvLayout(opts: PvLayoutOptions): PvLayout {
  const dev = opts.deviceName ?? "device";
  if (!Number.isSafeInteger(opts.deviceSize) || opts.deviceSize < 0) {
    throw new FormatError(`device size ${opts.deviceSize} is not a valid value`);
  }
  const size = opts.deviceSize - (opts.deviceSize % SECTOR_SIZE);
  const requestedAlign = sectorMultiple(opts.dataAlignment, "data alignment");
  const alignOffset = sectorMultiple(opts.dataAlignmentOffset, "data alignment offset");
  const metadataSize = sectorMultiple(opts.metadataSize, "metadata size") || DEFAULT_METADATA_SIZE;
  const baRequested = sectorMultiple(opts.bootloaderAreaSize, "bootloader area size");
  const copies = opts.pvMetadataCopies ?? 1;
  if (![0, 1, 2].includes(copies)) throw new FormatError(`pvmetadatacopies ${copies} is not 0, 1 or 2`);
  const labelSector = opts.labelSector ?? 1;
  if (!Number.isInteger(labelSector) || labelSector < 0 || labelSector >= LABEL_SCAN_SECTORS) {
    throw new FormatError(`label sector ${labelSector} is not 0-${LABEL_SCAN_SECTORS - 1}`);
  }

  const fail = (...lines: string[]): never => {
    throw new LvmError(lines, EXIT.FAILED);
  };
  if (size < PV_MIN_SIZE) fail(`Cannot use ${dev}: device is too small (pv_min_size)`);
  if (size < requestedAlign + alignOffset) fail(`${dev}: Data alignment must not exceed device size.`);

  const initFailed = `Format-specific initialisation of physical volume ${dev} failed.`;
  const align = requestedAlign || DEFAULT_DATA_ALIGNMENT;
  if (align < alignOffset) {
    fail(
      `${dev}: pe_align (${align / SECTOR_SIZE} sectors) must not be less than pe_align_offset (${alignOffset / SECTOR_SIZE} sectors)`,
      initFailed,
    );
  }
  const finalAlign = align + alignOffset;
  if (size < finalAlign) fail(`${dev}: Data alignment must not exceed device size.`, initFailed);
  if (size < finalAlign + baRequested) {
    fail(`${dev}: Bootloader area with data-aligned start must not exceed device size.`, initFailed);
  }
  let baSize = 0;
  let peStart = finalAlign;
  if (baRequested) {
    baSize = Math.min(roundUp(baRequested, align), size - finalAlign);
    peStart = finalAlign + baSize;
  }
  let baStart = finalAlign;

  const metadataAreas: DiskLocn[] = [];
  for (let index = 0; index < copies; index++) {
    const noSpace = [
      `Not enough space available for metadata area with index ${index} on PV ${dev}.`,
      `Failed to add metadata area for new physical volume ${dev}`,
    ];
    let mdaStart: number;
    let mdaSize = metadataSize;
    if (index === 0) {
      const limit = size - baSize;
      // LVM's unsigned arithmetic would wrap here; no real device gets this far.
      if (limit <= LABEL_SCAN_BYTES) fail(...noSpace);
      mdaStart = LABEL_SCAN_BYTES;
      if (limit - mdaStart >= MDA_SIZE_MIN) mdaStart = roundUp(mdaStart, PAGE_SIZE);
      const endAdjust = (mdaStart + mdaSize) % align;
      if (endAdjust && mdaStart + mdaSize + align - endAdjust <= limit) mdaSize += align - endAdjust;
      if (alignOffset && (mdaStart + mdaSize) % align === 0 && mdaStart + mdaSize + alignOffset <= limit) {
        mdaSize += alignOffset;
      }
      if (mdaStart + mdaSize > limit) {
        if (limit - mdaStart > 2 * align) {
          mdaSize = roundUp(limit - 2 * align, align) - mdaStart;
          if (mdaStart + mdaSize > limit) fail(...noSpace);
        } else {
          mdaSize = limit - mdaStart;
        }
      }
      baStart = mdaStart + mdaSize;
      peStart = baStart + baSize;
    } else {
      // pe_start is known by now, so it bounds mda1 from below.
      const limit = peStart;
      if (limit >= size) fail(...noSpace);
      if (mdaSize > size) mdaSize = size - limit;
      mdaStart = size - mdaSize;
      if (mdaStart < limit) {
        mdaSize = size - limit;
        mdaStart = limit;
      } else if (mdaStart % align) {
        const grown = mdaSize + (mdaStart % align);
        if (grown < size && size - grown >= limit) {
          mdaSize = grown;
          mdaStart = size - grown;
        }
      }
    }
    if (mdaSize < MDA_SIZE_MIN) {
      fail(`Metadata area size too small: ${mdaSize} bytes. It must be at least ${MDA_SIZE_MIN} bytes.`, ...noSpace);
    }
    metadataAreas.push({ offset: mdaStart, size: mdaSize });
  }
  return {
    metadataAreas,
    dataArea: { offset: peStart, size: 0 },
    bootloaderAreas: baSize ? [{ offset: baStart, size: baSize }] : [],
  };
}

/**
 * Extents a VG of this extent size gets from the PV. An mda placed after pe_start
 * (the second one, at the end of the device) is not data space.
 */
export function peCount(
  deviceSizeBytes: number,
  peStartBytes: number,
  extentSizeSectors: number,
  metadataAreas: DiskLocn[],
): number {
  if (!Number.isSafeInteger(extentSizeSectors) || extentSizeSectors <= 0) {
    throw new FormatError(`extent size ${extentSizeSectors} is not a positive number of sectors`);
  }
  const deviceSize = deviceSizeBytes - (deviceSizeBytes % SECTOR_SIZE);
  const tail = metadataAreas.filter((m) => m.offset >= peStartBytes).reduce((sum, m) => sum + m.size, 0);
  const usable = deviceSize - peStartBytes - tail;
  return usable > 0 ? Math.floor(usable / (extentSizeSectors * SECTOR_SIZE)) : 0;
}
