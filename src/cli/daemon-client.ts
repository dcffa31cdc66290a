/**
 * Commands talk to the daemon here. Reports only ask a running daemon (none
 * running means nothing is active); activating commands start one on demand.
 */
import { nodeNet, nodeChildProcess } from "../io/lazy-builtins.ts";
import { mkdirSync, openSync, closeSync } from "node:fs";
import { LvmError } from "../core/errors.ts";
import type { LogicalVolume } from "../core/model/types.ts";
import { activationKey, makePercent, type ActivationInfo, type ActivationMap } from "../core/report/view.ts";
import { controlSocket, logFile, type LvStatus, type Reply, type Request } from "../daemon/protocol.ts";
import type { CommandContext, Environment } from "./context.ts";

/** The reply, or undefined when no daemon answers on the run dir's control socket. */
export function request(env: Environment, req: Request): Promise<Reply | undefined> {
  return new Promise((resolve, reject) => {
    const socket = nodeNet().createConnection(controlSocket(env.runDir));
    let text = "";
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      f();
    };
    socket.on("error", (e: NodeJS.ErrnoException) =>
      settle(() => (e.code === "ENOENT" || e.code === "ECONNREFUSED" ? resolve(undefined) : reject(e))),
    );
    socket.once("connect", () => socket.write(`${JSON.stringify(req)}\n`));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      const nl = text.indexOf("\n");
      if (nl >= 0) settle(() => resolve(JSON.parse(text.slice(0, nl)) as Reply));
    });
    // A daemon that closes without answering is shutting down: as good as none.
    socket.once("close", () => settle(() => resolve(undefined)));
  });
}

/** lvm's global/activation = 0: commands act as if activation succeeded and touch nothing (test labs use it). */
export function activationEnabled(): boolean {
  return process.env.ULVM_ACTIVATION !== "0";
}

const START_TIMEOUT_MS = 15_000;

/** Starts `ulvm daemon` detached (logging to a file under the run dir) unless one answers already. */
export async function ensureDaemon(env: Environment): Promise<void> {
  if (await request(env, { op: "status" })) return;
  mkdirSync(env.runDir, { recursive: true, mode: 0o700 });
  const log = logFile(env.runDir);
  const fd = openSync(log, "a", 0o600);
  let exited = false;
  try {
    // The same program and loader flags this command runs under (the bundle, or tsx in development).
    const child = nodeChildProcess().spawn(process.execPath, [...process.execArgv, process.argv[1]!, "daemon"], {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { ...process.env, ULVM_SYSTEM_DIR: env.systemDir, ULVM_RUN_DIR: env.runDir, ULVM_DEV_DIR: env.devDir, ULVM_DAEMON_LOG: log },
    });
    child.once("exit", () => (exited = true));
    child.unref();
  } finally {
    closeSync(fd);
  }
  for (const deadline = Date.now() + START_TIMEOUT_MS; Date.now() < deadline && !exited; ) {
    await new Promise((r) => setTimeout(r, 50));
    if (await request(env, { op: "status" }).catch(() => undefined)) return;
  }
  throw new LvmError([`Failed to start the ulvm daemon in ${env.runDir} (see ${log}).`]);
}

/** Sends a request that must succeed; the daemon's warnings are printed, its errors thrown as lvm's. */
export async function mustRequest(ctx: CommandContext, req: Request): Promise<Reply & { ok: true }> {
  const reply = await request(ctx.env, req);
  if (!reply) throw new LvmError(`The ulvm daemon in ${ctx.env.runDir} is not running.`);
  if (!reply.ok) throw new LvmError(reply.error);
  for (const w of reply.warnings ?? []) ctx.warn(w);
  return reply;
}

/** What scan scope the command ran with, so the daemon reads the same devices. */
export function scanScope(ctx: CommandContext): { devices: string[]; devicesFile?: string } {
  return { devices: ctx.all<string>("devices").flatMap((d) => d.split(",")).filter(Boolean), devicesFile: ctx.opt<string>("devicesfile") };
}

/** Active LVs as the daemon sees them now; empty when none runs. */
export async function activeLvs(env: Environment): Promise<LvStatus[]> {
  if (!activationEnabled()) return [];
  const reply = await request(env, { op: "status" }).catch(() => undefined);
  return reply?.ok ? (reply.active ?? []) : [];
}

/**
 * What lvs reads of an LV the daemon lists, as lvm reads dm's info and status.
 * The sync ratio is in sectors, as dm-raid gives it, and gets libdm's
 * correction: while some but not all legs are still 'a', a full ratio with
 * the array idle or recovering is one sector short, so that it does not
 * show 100% before the kernel has started the recovery it owes.
 */
export function activationInfo(status: LvStatus): ActivationInfo {
  const info: ActivationInfo = { active: true, open: status.openCount > 0 };
  const raid = status.raid;
  if (!raid) return info;
  const total = Math.floor(raid.size / 512);
  let inSync = Math.floor(raid.syncBytes / 512);
  const recovering = [...raid.health].filter((c) => c === "a").length;
  if (inSync === total && recovering > 0 && recovering < raid.health.length && (raid.syncAction === "idle" || raid.syncAction === "recover"))
    inSync--;
  return { ...info, syncPercent: makePercent(inSync, total), syncAction: raid.syncAction, mismatchCount: raid.mismatchCount, health: raid.health };
}

/** Live state of the LVs the daemon lists; makeVgView derives their sub-LVs'. */
export function activationMapOf(statuses: LvStatus[]): ActivationMap {
  return new Map(statuses.map((s) => [activationKey(s.vg, s.lv), activationInfo(s)]));
}

export async function activationMap(env: Environment): Promise<ActivationMap> {
  return activationMapOf(await activeLvs(env));
}

/** After a commit that changed a VG: the daemon, if any runs, swaps the maps of its active LVs. */
export async function refreshVg(ctx: CommandContext, vg: string): Promise<void> {
  if (!activationEnabled()) return;
  const reply = await request(ctx.env, { op: "refresh", vg, scope: scanScope(ctx) });
  if (reply && !reply.ok) throw new LvmError(reply.error);
  for (const w of (reply?.ok && reply.warnings) || []) ctx.warn(w);
}

/** -an, -aln, -aen deactivate; every other value (y, ay, ey, ly, sy) activates. */
export function deactivates(value: string): boolean {
  return value.endsWith("n");
}

/** lvm skips LVs flagged -ky unless -K, without a message. */
export function skipsActivation(ctx: CommandContext, lv: LogicalVolume): boolean {
  return lv.flags.includes("ACTIVATION_SKIP") && !ctx.has("ignoreactivationskip");
}

/** Activates LVs of one VG, starting the daemon if need be. Errors are lvm's lines. */
export async function activateLvs(ctx: CommandContext, vg: string, lvs: string[]): Promise<void> {
  if (!activationEnabled() || !lvs.length) return;
  await ensureDaemon(ctx.env);
  await mustRequest(ctx, { op: "activate", vg, lvs, scope: scanScope(ctx) });
}

/** Deactivates LVs of one VG; with no daemon running nothing is active. */
export async function deactivateLvs(ctx: CommandContext, vg: string, lvs: string[]): Promise<void> {
  if (!activationEnabled() || !lvs.length) return;
  const reply = await request(ctx.env, { op: "deactivate", vg, lvs });
  if (reply && !reply.ok) throw new LvmError(reply.error);
}
