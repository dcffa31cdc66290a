/**
 * vgck: checks VGs (all of them by default), or with --updatemetadata rewrites
 * them, which repairs stale or damaged copies, outdated PVs and PV headers.
 * Also home of forEachVg, lvm's process_each_vg loop for the PV/VG commands.
 */
import { EXIT, FormatError, LvmError } from "../../core/errors.ts";
import { isPvMissing } from "../../core/model/relations.ts";
import { validateVg } from "../../core/model/validate.ts";
import type { VolumeGroup } from "../../core/model/types.ts";
import type { LoadedVg, Session } from "../../metadata/session.ts";
import type { CommandContext } from "../context.ts";
import { skipDevDir, vgNotFound } from "../resolve.ts";

/**
 * Every VG in the order lvm processes them when none is named: lvm's cache lists
 * each VG ahead of those found before it, so the last one scanned comes first.
 */
export function vgsInScanOrder(session: Session): string[] {
  return [...new Set(session.scannedPvs().flatMap((pv) => (pv.vgName ? [pv.vgName] : [])))].reverse();
}

/**
 * Runs `fn` on each named VG (all VGs when none is named, see vgsInScanOrder). A VG
 * that is missing or whose `fn` throws LvmError prints lvm's messages and does
 * not stop the others; the result is the worst exit code.
 */
export async function forEachVg(
  ctx: CommandContext,
  session: Session,
  args: string[],
  opts: { lock: boolean },
  fn: (loaded: LoadedVg) => Promise<number>,
): Promise<number> {
  const names = args.length ? [...new Set(args.map((a) => skipDevDir(a, ctx.env.devDir)))] : vgsInScanOrder(session);
  let rc: number = EXIT.OK;
  for (const name of names) {
    try {
      if (opts.lock) await session.lockVg(name);
      const loaded = session.readVg(name);
      if (!loaded) throw vgNotFound(name);
      rc = Math.max(rc, await fn(loaded));
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      for (const line of e.lines) ctx.error(line);
      rc = Math.max(rc, e.exitCode);
    }
  }
  return rc;
}

export function missingPvCount(vg: VolumeGroup): number {
  return vg.pvs.filter((pv) => isPvMissing(vg, pv.id)).length;
}

export async function run(ctx: CommandContext): Promise<number> {
  const session = await ctx.session();
  if (ctx.has("updatemetadata"))
    return forEachVg(ctx, session, ctx.positional, { lock: true }, async (loaded) => {
      await session.writeVg(loaded, loaded.vg);
      return EXIT.OK;
    });
  return forEachVg(ctx, session, ctx.positional, { lock: false }, async (loaded) => {
    try {
      validateVg(loaded.vg);
    } catch (e) {
      if (e instanceof FormatError) throw new LvmError(e.message);
      throw e;
    }
    const missing = missingPvCount(loaded.vg);
    if (missing) throw new LvmError(`The volume group is missing ${missing} physical volumes.`);
    return EXIT.OK;
  });
}
