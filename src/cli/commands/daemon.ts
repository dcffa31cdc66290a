/**
 * `ulvm daemon [--listen ADDR:PORT] [--tls off|on|require] [--tls-certificates DIR |
 * --tls-psk FILE] [--tls-verify-peer]` (TLS as nbdkit's): runs the daemon in the foreground until
 * SIGTERM, SIGINT or a shutdown request. Logs are pino's JSON lines on stderr
 * (the log file under the run dir when a command started it).
 */
import type { CommandContext } from "../context.ts";
import { EXIT, LvmError } from "../../core/errors.ts";
import { Daemon, type Log } from "../../daemon/daemon.ts";
import { TLS_MODES, loadTls, type NbdTls, type TlsMode } from "../../nbd/tls.ts";

// Left to runtime resolution: pino is CommonJS and loads Node built-ins with
// require(), which an ESM bundle cannot do.
const PINO = "pino";

type Pino = typeof import("pino").pino;

async function logger(): Promise<Log> {
  const pino = ((await import(PINO)) as { pino: Pino }).pino;
  const log: Log = pino({ name: "ulvmd" }, pino.destination({ fd: 2, sync: true }));
  return log;
}

function parseListen(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(":");
  return { host: value.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(value.slice(colon + 1)) };
}

async function tlsOption(ctx: CommandContext): Promise<NbdTls | undefined> {
  const mode = ctx.opt<string>("tls");
  if (mode !== undefined && !TLS_MODES.includes(mode as TlsMode))
    throw new LvmError([`Invalid argument for --tls: ${mode}`, "Error during parsing of command line."], EXIT.INVALID_CMD_LINE);
  try {
    return await loadTls({
      mode: mode as TlsMode | undefined,
      certificates: ctx.opt<string>("tlscertificates"),
      psk: ctx.opt<string>("tlspsk"),
      verifyPeer: ctx.has("tlsverifypeer"),
    });
  } catch (e) {
    throw new LvmError((e as Error).message);
  }
}

export async function run(ctx: CommandContext): Promise<number> {
  const listen = ctx.opt<string>("listen");
  const tls = await tlsOption(ctx);
  const daemon = await Daemon.start({ ...ctx.env, tcp: listen === undefined ? undefined : parseListen(listen), tls, log: await logger() });
  const stop = () => void daemon.stop();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  await daemon.stopped;
  process.off("SIGTERM", stop);
  process.off("SIGINT", stop);
  return 0;
}
