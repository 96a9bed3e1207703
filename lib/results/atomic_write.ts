/**
 * Writes a file so that readers see either the old content or the new, never a torn file: the
 * data goes to a temporary file in the same folder, which is then renamed over the target.
 *
 * @module
 */

import { dirname } from "node:path";

/**
 * @param path The target file.
 * @param text The content.
 * @throws {Deno.errors.NotFound} If the folder does not exist.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeTextFileAtomic } from "./atomic_write.ts";
 * const dir = await Deno.makeTempDir();
 * await writeTextFileAtomic(`${dir}/a.json`, "{}");
 * assert(await Deno.readTextFile(`${dir}/a.json`) === "{}");
 * ```
 */
export async function writeTextFileAtomic(path: string, text: string): Promise<void> {
  const temp = await Deno.makeTempFile({ dir: dirname(path), prefix: ".tmp-", suffix: ".tmp" });
  try {
    await Deno.writeTextFile(temp, text);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
