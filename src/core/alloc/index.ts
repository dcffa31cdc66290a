/**
 * Extent allocation as LVM 2.03 does it. Pure: functions take the VG model and
 * return new LVs or a new VG; the input is never changed. Informational lines
 * LVM would print go to the `notes` array passed in, in LVM's order, so the
 * ones printed before a failure survive it; failures are LvmErrors with LVM's
 * messages.
 */
export { allocateLv, extendLv, reduceLv, stripeParams, type CreateRequest, type ExtendOptions } from "./lv.ts";
export { planResize, type ResizePlan, type ResizeSpec } from "./resize.ts";
export { raidAddImages, raidRemoveImages, type ImageOptions } from "./raid.ts";
export { buildPvList, pvListFreeExtents, type PeRange, type PvArg, type PvListEntry } from "./pv-map.ts";
export { createExtentsFromPercent, extentsFromSize, regionSizeFor, resizeExtentsFromPercent, resizeExtentsFromSize, vgFreeExtents, type PercentKind, type Sign } from "./sizes.ts";
