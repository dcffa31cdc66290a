/**
 * `ulvm COMMAND ...`: parse with lvm's rules, run the command, map failures to
 * lvm's messages and exit codes.
 */
import { EXIT, LvmError, FormatError } from "../core/errors.ts";
import { parseCommandLine, CommandLineError } from "./args.ts";
import { helpFor, shortUsage } from "./help.ts";
import { CommandContext, environmentFromProcess, processIo, type Io } from "./context.ts";
import { handlers } from "./commands/index.ts";

export async function run(argv: string[], io: Io = processIo, env = environmentFromProcess()): Promise<number> {
  let ctx: CommandContext | undefined;
  try {
    const parsed = parseCommandLine(argv);
    const help = helpFor(parsed);
    if (help) {
      io.stdout(help.stdout);
      for (const line of help.stderr) io.stderr(`  ${line}\n`);
      return help.exitCode;
    }
    // lvm answers `CMD --version` like `lvm version`, whatever the command.
    if (parsed.options.has("version")) parsed.command = "version";
    const handler = handlers[parsed.command];
    if (!handler) throw new LvmError("No such command.  Try 'lvm help'.", EXIT.NO_SUCH_COMMAND);
    ctx = new CommandContext(parsed, env, io, argv.join(" "));
    const rc = (await handler(ctx)) ?? EXIT.OK;
    return rc;
  } catch (e) {
    if (e instanceof CommandLineError) {
      for (const line of e.rawLines ?? []) io.stderr(`${line}\n`);
      for (const line of e.lines) io.stderr(`  ${line}\n`);
      io.stdout(e.stdout);
      return e.exitCode;
    }
    if (e instanceof LvmError) {
      for (const line of e.lines) io.stderr(`  ${line}\n`);
      // lvm_run_command ends every invalid command line with the short usage.
      if (e.exitCode === EXIT.INVALID_CMD_LINE && ctx) io.stderr(`  ${shortUsage(ctx.parsed.command)}\n`);
      return e.exitCode;
    }
    if (e instanceof FormatError) {
      io.stderr(`  ${e.message}\n`);
      return EXIT.FAILED;
    }
    io.stderr(`  Internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT.FAILED;
  } finally {
    await ctx?.close().catch(() => undefined);
  }
}

const entry = process.argv[1] ?? "";
if (/ulvm(\.mjs|\.ts)?$|main\.ts$/.test(entry)) {
  run(process.argv.slice(2)).then((rc) => {
    process.exitCode = rc;
  });
}
