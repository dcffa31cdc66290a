/** Checks shared by the tests that run ulvm and the real lvm2 side by side. */
import assert from "node:assert/strict";
import { lvmNoise, type RunResult } from "./env.ts";

/** lvm re-reads a VG several times in one command and repeats its warnings each time; ulvm warns once. */
export const once = (text: string): string => [...new Set(text.split("\n"))].join("\n");

/** A run with lvm's host noise dropped and repeated warning lines folded. */
export const cleanOnce = (r: RunResult): RunResult => ({ ...r, stderr: once(lvmNoise(r.stderr)) });

export function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  return r;
}
