/** Checks shared by the tests that run ulvm and the real lvm2 side by side. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { lvmNoise, type RunResult } from "./env.ts";

/** lvm re-reads a VG several times in one command and repeats its warnings each time; ulvm warns once. */
export const once = (text: string): string => [...new Set(text.split("\n"))].join("\n");

/** A run with lvm's host noise dropped and repeated warning lines folded. */
export const cleanOnce = (r: RunResult): RunResult => ({ ...r, stderr: once(lvmNoise(r.stderr)) });

export function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  return r;
}

/**
 * Runs a client program without blocking this process, so an NBD server living in
 * the test process keeps serving while the client talks to it (and the test's own
 * polling goes on). With `input`, that is written to its stdin, which is then
 * closed: a prompt gets its answer, or EOF.
 */
export function runAsync(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 300_000,
  opts: { input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}
