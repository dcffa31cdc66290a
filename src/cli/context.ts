/**
 * What a command gets to work with: its parsed command line, the environment's
 * directories, LVM-style output channels, prompts, and a lazily opened metadata
 * Session. Commands never print or read stdin directly, so they are testable.
 */
import { readSync } from "node:fs";
import type { ParsedCommand, OptionValue } from "./args.ts";
import type { Session } from "../metadata/session.ts";
import { openSession } from "../metadata/open-session.ts";
import { EXIT, LvmError } from "../core/errors.ts";

export interface Environment {
  systemDir: string;
  runDir: string;
  devDir: string;
}

export function environmentFromProcess(env = process.env): Environment {
  return {
    systemDir: env.ULVM_SYSTEM_DIR || "/etc/ulvm",
    runDir: env.ULVM_RUN_DIR || "/run/ulvm",
    devDir: env.ULVM_DEV_DIR || "/dev",
  };
}

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads one line of an answer; null on EOF (no terminal, </dev/null, scripts). */
  readLine(): string | null;
}

export const processIo: Io = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  readLine() {
    const buf = Buffer.alloc(1);
    let line = "";
    try {
      while (readSync(0, buf, 0, 1, null) === 1) {
        if (buf[0] === 10) return line;
        line += String.fromCharCode(buf[0]!);
      }
    } catch {
      return null;
    }
    return line.length ? line : null;
  },
};

export class CommandContext {
  private sessionPromise?: Promise<Session>;

  constructor(
    readonly parsed: ParsedCommand,
    readonly env: Environment,
    readonly io: Io,
    readonly commandLine: string,
  ) {}

  get positional(): string[] {
    return this.parsed.positional;
  }

  has(option: string): boolean {
    return this.parsed.options.has(option);
  }

  /** Number of times an option was given (-ff, -vvv). */
  count(option: string): number {
    return this.parsed.options.get(option)?.length ?? 0;
  }

  /** The last value given for an option, as lvm takes it. */
  opt<T extends OptionValue = OptionValue>(option: string): T | undefined {
    const values = this.parsed.options.get(option);
    return values?.[values.length - 1] as T | undefined;
  }

  all<T extends OptionValue = OptionValue>(option: string): T[] {
    return (this.parsed.options.get(option) ?? []) as T[];
  }

  /** A line on stdout, with LVM's two-space indent for messages. */
  print(line: string): void {
    this.io.stdout(`  ${line}\n`);
  }

  /** A line on stderr, with LVM's two-space prefix. */
  error(line: string): void {
    this.io.stderr(`  ${line}\n`);
  }

  warn(line: string): void {
    this.error(line);
  }

  /**
   * lvm's yes_no_prompt, on stderr like lvm's: `-y` answers yes; with no answer to
   * read (EOF) it prints `[n]` and answers no, so scripts never hang and never
   * destroy data by default. `ending` is lvm's: most prompts end in " [y/n]: ",
   * pvcreate's and pvremove's in " [y/n]? ".
   */
  confirm(question: string, ending = " [y/n]: "): boolean {
    if (this.has("yes")) return true;
    for (;;) {
      this.io.stderr(`${question}${ending}`);
      const answer = this.io.readLine();
      if (answer === null) {
        this.io.stderr("[n]\n");
        return false;
      }
      const a = answer.trim().toLowerCase();
      if (a === "y" || a === "yes") return true;
      if (a === "n" || a === "no") return false;
    }
  }

  session(): Promise<Session> {
    this.sessionPromise ??= openSession({
      systemDir: this.env.systemDir,
      runDir: this.env.runDir,
      devices: this.all<string>("devices").flatMap((d) => d.split(",")).filter(Boolean),
      devicesFile: this.opt<string>("devicesfile"),
      commandLine: this.commandLine,
      warn: (line) => this.warn(line),
    });
    return this.sessionPromise;
  }

  async close(): Promise<void> {
    if (this.sessionPromise) await (await this.sessionPromise).close();
  }
}

export type CommandHandler = (ctx: CommandContext) => Promise<number | void>;

/** An invalid command line (exit 3); the CLI adds lvm's "Run `CMD --help'" line. */
export function usageError(lines: string | string[]): LvmError {
  return new LvmError(lines, EXIT.INVALID_CMD_LINE);
}

export function fail(lines: string | string[]): never {
  throw new LvmError(lines, EXIT.FAILED);
}
