import { open, rename } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Replaces a file so that a reader, or a crash, sees the old or the new content
 * and never half of one: write a temporary file, sync it, rename it over, sync the
 * directory so the rename itself is durable.
 */
export async function writeFileAtomic(path: string, text: string, opts: { tmp: string; mode: number }): Promise<void> {
  const handle = await open(opts.tmp, "w", opts.mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(opts.tmp, path);
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
