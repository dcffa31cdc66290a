/**
 * Discard and zeroing on PV files and block devices. Node's fs has neither
 * fallocate nor ioctls, so large ranges go to util-linux: fallocate(1) punches
 * holes and zeroes ranges of files, blkdiscard(8) issues BLKDISCARD and
 * BLKZEROOUT on block devices. A process costs milliseconds, so small ranges
 * are zeroed by writing and not discarded at all (discard is advisory).
 *
 * Zeroing a file uses FALLOC_FL_ZERO_RANGE, not a punched hole: the range stays
 * allocated, as BLKZEROOUT (which the kernel issues with NOUNMAP) leaves a block
 * device's, so a thick PV file does not turn sparse and later writes there
 * cannot fail for lack of space. NBD's WRITE_ZEROES may carry NO_HOLE, and
 * `writeZeroes` has no way to be told, so it keeps that promise always.
 *
 * `writeZeroes` is only present while zeroing does not write every byte:
 * canZeroFast (NBD's FAST_ZERO) reads its presence. Support is detected when
 * the device is wrapped; a tool that refuses later (EOPNOTSUPP, or missing)
 * drops the operation for good on that device. Any other failure of a tool
 * falls back for that request only: a discard does nothing, and zeroing writes
 * the zeroes, which reports the device's own error if it has one.
 */
import { access, open, readFile, realpath, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeZeroesOn, type ExtendedDevice } from "./discard.ts";
import type { BlockDevice } from "./block-device.ts";
import { splitDevT } from "./file-device.ts";
import { nodeChildProcess } from "./lazy-builtins.ts";
import { Slots } from "./slots.ts";
import { assertInRange } from "./range.ts";

/** Below this a range is not worth a process: discard skips it, zeroing writes it. */
export const TOOL_MIN_BYTES = 1 << 20;

/** Tool processes running at once over every device of this process. */
export const MAX_TOOLS_AT_ONCE = 4;

/** Runs a program to completion; rejects with its `code` and `stderr` when it fails. */
export type ToolRunner = (file: string, args: string[]) => Promise<void>;

export const runTool: ToolRunner = (file, args) =>
  new Promise((resolve, reject) =>
    nodeChildProcess().execFile(
      file,
      args,
      // The refusal is recognised by its message, which must not be translated.
      { env: { ...process.env, LC_ALL: "C" } },
      (err, _stdout, stderr) => (err ? reject(Object.assign(err, { stderr: String(stderr) })) : resolve()),
    ),
  );

/** The backing store cannot do it, as opposed to failing this once (ENOSPC, EIO, EBUSY). */
function refused(e: unknown): boolean {
  const { code, stderr } = (e ?? {}) as { code?: unknown; stderr?: unknown };
  return code === "ENOENT" || /not supported|unsupported|inappropriate ioctl/i.test(String(stderr ?? ""));
}

/** Tool processes at once, for every device of the process. */
const slots = new Slots(MAX_TOOLS_AT_ONCE);

interface SpaceCaps {
  discard: boolean;
  zero: boolean;
  /** What the tool accepts: the range is trimmed inward to these multiples. */
  discardAlign: number;
  zeroAlign: number;
  /** The tool and its arguments before the offset and length. */
  discardCmd: [string, string[]];
  zeroCmd: [string, string[]];
}

const NONE: SpaceCaps = { discard: false, zero: false, discardAlign: 1, zeroAlign: 1, discardCmd: ["", []], zeroCmd: ["", []] };

const readNumber = async (path: string) => Number((await readFile(path, "utf8")).trim());

async function blockCaps(rdev: bigint): Promise<SpaceCaps> {
  const { major, minor } = splitDevT(rdev);
  const base = `/sys/dev/block/${major}:${minor}`;
  // A partition has no queue of its own: its disk's limits apply.
  const queue = await access(`${base}/partition`).then(
    () => `${base}/../queue`,
    () => `${base}/queue`,
  );
  const [logical, granularity, discardMax, zeroesMax] = await Promise.all(
    ["logical_block_size", "discard_granularity", "discard_max_bytes", "write_zeroes_max_bytes"].map((f) =>
      readNumber(`${queue}/${f}`).catch(() => 0),
    ),
  );
  const sector = logical || 512;
  return {
    discard: discardMax > 0,
    discardAlign: Math.max(sector, granularity),
    // --force: no O_EXCL open, which would fail while anyone else holds the device, and no signature probe.
    discardCmd: ["blkdiscard", ["--force"]],
    // Without write-zeroes support the kernel's BLKZEROOUT writes zero pages: not fast.
    zero: zeroesMax > 0,
    zeroAlign: sector,
    zeroCmd: ["blkdiscard", ["--force", "--zeroout"]],
  };
}

/**
 * Tried on a scratch file beside the PV, on the same filesystem, since trying
 * on the PV itself would change its data or allocate past its end.
 */
async function fileCaps(path: string, run: ToolRunner): Promise<SpaceCaps> {
  const punch = ["--punch-hole", "--keep-size"];
  const zero = ["--zero-range", "--keep-size"];
  let scratch: string | undefined;
  try {
    // A symlink's own directory may be on another filesystem.
    const name = join(dirname(await realpath(path)), `.ulvm-space-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const fh = await open(name, "wx");
    scratch = name;
    await fh.truncate(1 << 16).finally(() => fh.close());
    const works = (args: string[]) => run("fallocate", [...args, "-o", "0", "-l", String(1 << 16), name]).then(() => true, () => false);
    const [discard, zeroes] = await Promise.all([works(punch), works(zero)]);
    return { discard, zero: zeroes, discardAlign: 1, zeroAlign: 1, discardCmd: ["fallocate", punch], zeroCmd: ["fallocate", zero] };
  } catch {
    return NONE;
  } finally {
    if (scratch !== undefined) await unlink(scratch).catch(() => undefined);
  }
}

/** [start, end) of the aligned part of a range; end < start when there is none. */
function inward(offset: number, length: number, align: number): [number, number] {
  return [Math.ceil(offset / align) * align, Math.floor((offset + length) / align) * align];
}

export class SpaceDevice implements ExtendedDevice {
  readonly path: string;
  readonly size: number;
  /** Present while the backing store discards. */
  discard?: (offset: number, length: number) => Promise<void>;
  /** Present while the backing store zeroes without being sent the bytes. */
  writeZeroes?: (offset: number, length: number) => Promise<void>;
  private readonly running = new Set<Promise<boolean>>();
  private closed = false;

  constructor(
    private readonly dev: BlockDevice,
    private readonly caps: SpaceCaps,
    private readonly run: ToolRunner,
  ) {
    this.path = dev.path;
    this.size = dev.size;
    if (caps.discard) this.discard = (offset, length) => this.discardRange(offset, length);
    if (caps.zero) this.writeZeroes = (offset, length) => this.zeroRange(offset, length);
  }

  read(buf: Uint8Array, offset: number): Promise<void> {
    return this.dev.read(buf, offset);
  }

  write(buf: Uint8Array, offset: number): Promise<void> {
    return this.dev.write(buf, offset);
  }

  /** fdatasync covers what the tools changed too: it syncs the inode (or the disk's cache), whoever changed it. */
  flush(): Promise<void> {
    return this.dev.flush();
  }

  /** As the device's own close, waits for what is in flight: tools still running included. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
    await this.dev.close();
  }

  private async discardRange(offset: number, length: number): Promise<void> {
    assertInRange(this.path, this.size, offset, length);
    const [start, end] = inward(offset, length, this.caps.discardAlign);
    if (end - start >= TOOL_MIN_BYTES) await this.tool("discard", start, end - start);
  }

  private async zeroRange(offset: number, length: number): Promise<void> {
    assertInRange(this.path, this.size, offset, length);
    const [start, end] = inward(offset, length, this.caps.zeroAlign);
    if (end - start < TOOL_MIN_BYTES || !(await this.tool("zero", start, end - start))) return writeZeroesOn(this.dev, offset, length);
    await writeZeroesOn(this.dev, offset, start - offset);
    await writeZeroesOn(this.dev, end, offset + length - end);
  }

  /** Whether the tool did it; a refusal removes the operation from this device. */
  private tool(op: "discard" | "zero", offset: number, length: number): Promise<boolean> {
    if (this.closed) return Promise.reject(Object.assign(new Error(`${this.path}: device closed`), { code: "EBADF" }));
    const [file, args] = op === "discard" ? this.caps.discardCmd : this.caps.zeroCmd;
    const p = slots.run(async () => {
      // Requests queued behind the one that found the refusal need not find it again.
      if ((op === "discard" ? this.discard : this.writeZeroes) === undefined) return false;
      try {
        await this.run(file, [...args, "-o", String(offset), "-l", String(length), this.path]);
        return true;
      } catch (e) {
        if (refused(e)) {
          if (op === "discard") this.discard = undefined;
          else this.writeZeroes = undefined;
        }
        return false;
      }
    });
    this.running.add(p);
    return p.finally(() => this.running.delete(p));
  }
}

/**
 * `dev` (opened on a regular file or a block device) with discard and zeroing
 * where its backing store supports them; anything else gets neither.
 */
export async function withSpaceOps(dev: BlockDevice, run: ToolRunner = runTool): Promise<SpaceDevice> {
  const st = await stat(dev.path, { bigint: true });
  const caps = st.isBlockDevice() ? await blockCaps(st.rdev) : st.isFile() ? await fileCaps(dev.path, run) : NONE;
  return new SpaceDevice(dev, caps, run);
}
