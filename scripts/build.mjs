// Bundles the CLI into one file, so start-up reads one module, not hundreds; esbuild's
// code splitting made dozens of small chunks per run without making start-up faster.
import { build } from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist");
const result = await build({
  absWorkingDir: root,
  entryPoints: { ulvm: "src/cli/main.ts" },
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});
// Written over in place, never emptied first, so a ulvm started meanwhile still finds its bundle;
// what earlier builds left (old chunks) goes afterwards.
const outputs = new Set(Object.keys(result.metafile.outputs).map((p) => resolve(root, p)));
for (const name of readdirSync(outdir)) {
  const path = join(outdir, name);
  if (!outputs.has(path)) rmSync(path, { recursive: true, force: true });
}
