/**
 * LVM's exit codes. ECMD_PROCESSED (1) is mapped to 0 by lvm itself, so it never
 * reaches the shell; it is not listed.
 */
export const EXIT = {
  OK: 0,
  NO_SUCH_COMMAND: 2,
  INVALID_CMD_LINE: 3,
  INIT_FAILED: 4,
  FAILED: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * An error whose message lines are printed to stderr exactly as given (the CLI adds
 * LVM's two-space prefix) and whose exit code is LVM's.
 */
export class LvmError extends Error {
  readonly lines: string[];
  constructor(
    lines: string | string[],
    readonly exitCode: ExitCode = EXIT.FAILED,
  ) {
    const all = Array.isArray(lines) ? lines : [lines];
    super(all.join("\n"));
    this.lines = all;
  }
}

/** Bad on-disk or text input: a clear reason, never a crash, nothing written. */
export class FormatError extends Error {}
