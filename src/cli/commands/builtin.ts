/**
 * `help` and `version`, the two commands that touch no metadata. `help` prints
 * lvm's command list and usage texts (rendered by ../help.ts from the command
 * table); `version` names ulvm and the LVM2 release whose formats and behaviour
 * it follows.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT } from "../../core/errors.ts";
import { LVM_VERSION_LINE } from "../../core/model/text.ts";
import { helpFor } from "../help.ts";
import type { CommandContext } from "../context.ts";

/** The package's own version: package.json sits above both src/ and the dist/ bundle. */
function ulvmVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "ulvm" && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) return "unknown";
  }
}

function help(ctx: CommandContext): number {
  const out = helpFor(ctx.parsed)!;
  ctx.io.stdout(out.stdout);
  // Complete already, lvm's usage hint included: printed here rather than thrown.
  for (const line of out.stderr) ctx.error(line);
  return out.exitCode;
}

function version(ctx: CommandContext): number {
  ctx.print(`ulvm version:    ${ulvmVersion()}`);
  ctx.print(`LVM version:     ${LVM_VERSION_LINE.replace(/^LVM2 version /, "")}`);
  return EXIT.OK;
}

export async function run(ctx: CommandContext): Promise<number> {
  return ctx.parsed.command === "help" ? help(ctx) : version(ctx);
}
