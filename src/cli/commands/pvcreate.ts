/**
 * pvcreate, and the device initialisation vgcreate and vgextend share with it
 * (lvm's pvcreate_each_device): every argument is resolved, checked and, where
 * lvm asks, confirmed before the first device is written, and each refusal
 * prints lvm's messages.
 */
import { readFileSync } from "node:fs";
import { EXIT, FormatError, LvmError } from "../../core/errors.ts";
import { formatId, parseId } from "../../core/format/id.ts";
import { LABEL_SCAN_BYTES, LABEL_SCAN_SECTORS, PV_EXT_USED, scanLabel, type DiskLocn, type PvLabel } from "../../core/format/label.ts";
import { computePvLayout, peCount } from "../../core/format/layout.ts";
import { parseVgText } from "../../core/model/text.ts";
import type { PhysicalVolume } from "../../core/model/types.ts";
import type { PvCreateOptions, ScannedPv, Session } from "../../metadata/session.ts";
import { openBlockDevice } from "../../io/file-device.ts";
import { resolveDevice } from "../resolve.ts";
import { type CommandContext, usageError } from "../context.ts";
import type { SizeValue } from "../args.ts";

/** lvm changes orphan PVs, and creates, removes and renames VGs, under its global lock. */
export const GLOBAL_LOCK = "#global";

/** A device ready to join a VG: a PV pvcreate just made, or an orphan PV taken as it is. */
export interface InitializedPv {
  /** As typed, for messages. */
  arg: string;
  /** Canonical path. */
  device: string;
  pvId: string;
  /** Recorded in the label, bytes. */
  deviceSize: number;
  /** Bytes. */
  peStart: number;
  mdas: DiskLocn[];
  bootloaderArea?: DiskLocn;
}

type Mode = "pvcreate" | "vgcreate" | "vgextend";

interface Candidate extends DeviceArg {
  /** For devices that will get a new label. */
  layout?: ReturnType<typeof computePvLayout>;
  deviceSize: number;
  /** The session read this PV; it cannot write a VG to one it has not (it learns of it only by pvcreate). */
  scanned: boolean;
}

/** lvm's exit code 3 from a command's own checks, with the hint lvm prints after it. */
/** A size option in bytes (the parser hands sizes over in sectors, signs already checked). */
function sizeOption(ctx: CommandContext, name: string): number | undefined {
  const v = ctx.opt<SizeValue>(name);
  return v && v.sectors * 512;
}

/** pvcreate_params_from_args: the PV layout options shared by pvcreate, vgcreate and vgextend. */
export function pvCreateOptions(ctx: CommandContext): PvCreateOptions {
  const labelSector = ctx.opt<number>("labelsector");
  if (labelSector !== undefined && labelSector >= LABEL_SCAN_SECTORS)
    throw usageError(`labelsector must be less than ${LABEL_SCAN_SECTORS}.`);
  const copies = ctx.opt<number>("pvmetadatacopies");
  if (copies === 0 && ctx.opt<boolean>("metadataignore")) throw usageError("metadataignore only applies to metadatacopies > 0.");
  const alignment = (name: string, tooBig: string): number | undefined => {
    const bytes = sizeOption(ctx, name);
    if (bytes !== undefined && bytes / 512 > 0xffffffff) throw usageError(tooBig);
    return bytes;
  };
  const opts: PvCreateOptions = {
    dataAlignment: alignment("dataalignment", "Physical volume data alignment is too big."),
    dataAlignmentOffset: alignment("dataalignmentoffset", "Physical volume data alignment offset is too big."),
    metadataSize: sizeOption(ctx, "metadatasize"),
    bootloaderAreaSize: sizeOption(ctx, "bootloaderareasize"),
    zero: ctx.opt<boolean>("zero") ?? true,
  };
  if (labelSector !== undefined) opts.labelSector = labelSector;
  if (copies !== undefined) opts.pvMetadataCopies = copies as 0 | 1 | 2;
  return opts;
}

/** pvcreate's --uuid and --restorefile: the id to give the PV and the layout recorded for it. */
function restoreOptions(ctx: CommandContext, opts: PvCreateOptions): { restoredPeStart?: number } {
  const file = ctx.opt<string>("restorefile");
  const uuid = ctx.opt<string>("uuid");
  if (file !== undefined && uuid === undefined) throw usageError("--uuid is required with --restorefile");
  if (file === undefined && uuid !== undefined && !ctx.has("norestorefile")) throw usageError("--restorefile is required with --uuid");
  if (uuid !== undefined && ctx.positional.length !== 1) throw usageError("Can only set uuid on one volume at once");
  if (uuid === undefined) return {};
  try {
    opts.pvId = parseId(uuid);
  } catch (e) {
    if (e instanceof FormatError) throw usageError(e.message);
    throw e;
  }
  // lvm never zeroes a device whose PV is being restored.
  opts.zero = false;
  if (file === undefined) return {};
  let text: string;
  try {
    text = readFileSync(file, "latin1");
  } catch {
    throw usageError([`${file}: stat failed: No such file or directory`, `Unable to read volume group from ${file}`]);
  }
  let pvs: PhysicalVolume[];
  try {
    pvs = parseVgText(text).vg.pvs;
  } catch (e) {
    if (e instanceof FormatError) throw usageError([e.message, `Unable to read volume group from ${file}`]);
    throw e;
  }
  // lvm reads the file before it scans any device, so it finds none of its PVs.
  for (const p of pvs) ctx.warn(`WARNING: Couldn't find device with uuid ${formatId(p.id)}.`);
  const pv = pvs.find((p) => p.id === opts.pvId);
  if (!pv) throw usageError(`Can't find uuid ${uuid} in backup file ${file}`);
  if (pv.baSize) opts.bootloaderAreaSize = pv.baSize * 512;
  return { restoredPeStart: pv.peStart * 512 };
}

/** A device's size and PV label, read directly: for devices the session has not scanned. */
export async function probeDevice(path: string): Promise<{ size: number; label?: PvLabel }> {
  const dev = await openBlockDevice(path, { writable: false });
  try {
    if (dev.size < LABEL_SCAN_BYTES) return { size: dev.size };
    const head = new Uint8Array(LABEL_SCAN_BYTES);
    await dev.read(head, 0);
    return { size: dev.size, label: scanLabel(head, path).label };
  } finally {
    await dev.close();
  }
}

/**
 * What the label alone says of a PV the session did not scan (outside the devices
 * file): its VG is unknown, and its USED flag tells whether it has one.
 */
function unscannedPv(device: string, size: number, label: PvLabel): ScannedPv {
  return {
    device,
    size,
    pvId: label.pvId,
    labelDeviceSize: label.deviceSize,
    peStart: label.dataAreas[0]?.offset ?? 0,
    mdas: label.metadataAreas.map((m) => ({ start: m.offset, size: m.size, ignored: false, free: 0 })),
    ...(label.bootloaderAreas[0] ? { bootloaderArea: label.bootloaderAreas[0] } : {}),
    used: (label.extFlags & PV_EXT_USED) !== 0,
  };
}

/** The PV's entry in new VG metadata, with the extent count the VG's extent size gives it. */
export function pvEntry(pv: InitializedPv, extentSize: number): PhysicalVolume {
  return {
    id: pv.pvId,
    deviceHint: pv.device,
    status: ["ALLOCATABLE"],
    flags: [],
    tags: [],
    devSize: pv.deviceSize / 512,
    peStart: pv.peStart / 512,
    peCount: peCount(pv.deviceSize, pv.peStart, extentSize, pv.mdas),
    ...(pv.bootloaderArea ? { baStart: pv.bootloaderArea.offset / 512, baSize: pv.bootloaderArea.size / 512 } : {}),
    extra: [],
  };
}

export function fromScanned(arg: string, pv: ScannedPv): InitializedPv {
  return {
    arg,
    device: pv.device,
    pvId: pv.pvId,
    deviceSize: pv.labelDeviceSize,
    peStart: pv.peStart,
    mdas: pv.mdas.map((m) => ({ offset: m.start, size: m.size })),
    ...(pv.bootloaderArea ? { bootloaderArea: pv.bootloaderArea } : {}),
  };
}

export interface DeviceArg {
  /** As typed, for messages. */
  arg: string;
  /** Canonical path. */
  device: string;
  /** The PV found there, if the device has a label. */
  pv?: ScannedPv;
}

/**
 * The devices named on the command line, each once, with lvm's message for those
 * it cannot use. pvcreate and its kin may use devices outside the devices file
 * (they add them to it); `devicesFile` applies the file as other commands do.
 * `processEachPv`: the command finds PVs the way lvm's process_each_pv does,
 * which words a missing device differently.
 */
export async function lookupDevices(
  ctx: CommandContext,
  session: Session,
  args: string[],
  opts: { devicesFile: boolean; processEachPv?: boolean },
): Promise<{ found: DeviceArg[]; failed: string[] }> {
  const restricted = ctx.has("devices") || opts.devicesFile;
  const allowed = restricted ? new Set(session.allowedDevices().map((d) => resolveDevice(d) ?? d)) : undefined;
  const reason = ctx.has("devices") ? "device is not in devices list" : "device is not in devices file";
  const found: DeviceArg[] = [];
  const failed: string[] = [];
  for (const arg of args) {
    const device = resolveDevice(arg);
    if (!device) {
      ctx.error(opts.processEachPv ? `Cannot use ${arg}: device not found` : `No device found for ${arg}.`);
      failed.push(arg);
    } else if (allowed && !allowed.has(device)) {
      ctx.error(`Cannot use ${arg}: ${reason}`);
      failed.push(arg);
    } else if (!found.some((f) => f.device === device)) {
      found.push({ arg, device, pv: session.findPv(device) });
    }
  }
  return { found, failed };
}

/**
 * Decides, reports and confirms everything about the arguments, then (only if
 * the command may go on) writes the new PVs. `mode` decides lvm's variations:
 * vgcreate and vgextend need every device (MUST_USE_ALL_ARGS) and keep existing
 * orphan PVs as they are; vgextend cannot be forced. check() and write() are
 * apart so that vgcreate and vgextend can make their own checks in between.
 */
export class DeviceInitializer {
  private readonly failed: string[] = [];
  private candidates: Candidate[] = [];
  private restoredPeStart?: number;

  constructor(
    private readonly ctx: CommandContext,
    private readonly session: Session,
    private readonly mode: Mode,
    readonly options: PvCreateOptions,
  ) {}

  static forPvcreate(ctx: CommandContext, session: Session): DeviceInitializer {
    const opts = pvCreateOptions(ctx);
    const restore = restoreOptions(ctx, opts);
    const init = new DeviceInitializer(ctx, session, "pvcreate", opts);
    init.restoredPeStart = restore.restoredPeStart;
    return init;
  }

  /** The devices that passed every check, in argument order. */
  get devices(): readonly { arg: string; device: string }[] {
    return this.candidates;
  }

  get anyFailed(): boolean {
    return this.failed.length > 0;
  }

  private get mustUseAll(): boolean {
    return this.mode !== "pvcreate";
  }

  private fail(c: { arg: string }, ...lines: string[]): void {
    for (const line of lines) this.ctx.error(line);
    this.failed.push(c.arg);
  }

  /** Stops the command when lvm would: a device missing for vgcreate/vgextend, or nothing left to do. */
  private stopIfNeeded(): void {
    if ((this.mustUseAll && this.failed.length) || this.candidates.length === 0) throw new LvmError([], EXIT.FAILED);
  }

  /**
   * Everything up to the writes: lookup, filters, layout, the in-use checks and
   * their prompts. Throws (with the messages already printed) when the command
   * cannot go on.
   */
  async check(args: string[]): Promise<void> {
    const { found, failed } = await lookupDevices(this.ctx, this.session, args, { devicesFile: false });
    this.failed.push(...failed);
    for (const d of found) {
      if (d.pv) {
        this.candidates.push({ ...d, deviceSize: d.pv.size, scanned: true });
        continue;
      }
      // pvcreate may name a device outside the devices file, which the session has not read.
      const { size, label } = await probeDevice(d.device);
      this.candidates.push({ ...d, deviceSize: size, scanned: false, ...(label ? { pv: unscannedPv(d.device, size, label) } : {}) });
    }
    if (this.candidates.length === 0) throw new LvmError([], EXIT.FAILED);

    // pv_min_size is a device filter in lvm, so it reads as "cannot use" before any check.
    this.candidates = this.candidates.filter((c) => {
      if (this.keepsExistingPv(c)) return true;
      try {
        c.layout = computePvLayout({ ...this.options, deviceSize: c.deviceSize, deviceName: c.arg });
      } catch (e) {
        if (!(e instanceof LvmError)) throw e;
        const filtered = e.lines.length === 1 && e.lines[0]!.startsWith("Cannot use ");
        this.fail(c, ...e.lines, ...(filtered ? [] : [`Failed to setup physical volume "${c.arg}".`]));
        return false;
      }
      if (this.restoredPeStart !== undefined && c.layout.dataArea.offset !== this.restoredPeStart) {
        this.fail(c, `Cannot restore pe_start ${this.restoredPeStart / 512} on ${c.arg}: ulvm would place it at ${c.layout.dataArea.offset / 512}.`);
        return false;
      }
      return true;
    });
    if (this.mustUseAll && this.failed.length) {
      this.ctx.error("Command requires all devices to be found.");
      throw new LvmError([], EXIT.FAILED);
    }
    this.stopIfNeeded();

    if (this.options.pvId) {
      const holder = this.session.scannedPvs().find((p) => p.pvId === this.options.pvId);
      if (holder && !this.candidates.some((c) => c.device === holder.device)) {
        for (const c of this.candidates.splice(0)) this.fail(c, `UUID ${this.ctx.opt<string>("uuid")} already in use on "${holder.device}".`);
      }
    }
    this.stopIfNeeded();

    this.candidates = this.candidates.filter((c) => this.confirmUse(c));
    this.stopIfNeeded();
  }

  private keepsExistingPv(c: Candidate): boolean {
    return this.mode !== "pvcreate" && c.pv !== undefined && !c.pv.vgName && !c.pv.used;
  }

  /** _check_pvcreate_prompt for a device that already is a PV of some VG. */
  private confirmUse(c: Candidate): boolean {
    if (!c.pv || (!c.pv.vgName && !c.pv.used)) return true;
    const vg = c.pv.vgName ?? "<unknown>";
    const force = this.mode === "vgextend" ? 0 : this.ctx.count("force");
    const notInitialized = `${c.device}: physical volume not initialized.`;
    if (force < 2) {
      if (!c.pv.vgName)
        this.fail(c, `PV ${c.device} is used by a VG but its metadata is missing.`, `Can't initialize PV '${c.device}' without -ff.`, notInitialized);
      else if (this.mode === "pvcreate")
        this.fail(c, `Can't initialize physical volume "${c.device}" of volume group "${vg}" without -ff`, notInitialized);
      else
        this.fail(
          c,
          `Physical volume '${c.device}' is already in volume group '${vg}'`,
          `Unable to add physical volume '${c.device}' to volume group '${vg}'`,
          notInitialized,
        );
      return false;
    }
    if (this.ctx.has("yes")) return true;
    if (!this.ctx.confirm(`Really INITIALIZE physical volume "${c.device}" of volume group "${vg}"`, " [y/n]? ")) {
      this.fail(c, notInitialized);
      return false;
    }
    this.ctx.warn(`WARNING: Forcing physical volume creation on ${c.device} of volume group "${vg}"`);
    return true;
  }

  /** Writes the new PVs (existing orphans stay as they are for vgcreate/vgextend) and records them in the devices file. */
  async write(): Promise<InitializedPv[]> {
    const result: InitializedPv[] = [];
    for (const c of this.candidates) {
      if (this.keepsExistingPv(c)) {
        // Adding it to the devices file makes the session scan it, mdas and all.
        await this.session.addToDevicesFile(c.device, c.pv!.pvId);
        result.push(fromScanned(c.arg, this.session.findPv(c.device) ?? c.pv!));
        continue;
      }
      const pvId = await this.session.createPv(c.device, this.options);
      await this.session.addToDevicesFile(c.device, pvId);
      this.ctx.print(`Physical volume "${c.arg}" successfully created.`);
      const layout = c.layout!;
      result.push({
        arg: c.arg,
        device: c.device,
        pvId,
        deviceSize: c.deviceSize - (c.deviceSize % 512),
        peStart: layout.dataArea.offset,
        mdas: layout.metadataAreas,
        ...(layout.bootloaderAreas[0] ? { bootloaderArea: layout.bootloaderAreas[0] } : {}),
      });
    }
    return result;
  }
}

export async function run(ctx: CommandContext): Promise<number> {
  const session = await ctx.session();
  await session.lockVg(GLOBAL_LOCK);
  const init = DeviceInitializer.forPvcreate(ctx, session);
  await init.check(ctx.positional);
  await init.write();
  return init.anyFailed ? EXIT.FAILED : EXIT.OK;
}

