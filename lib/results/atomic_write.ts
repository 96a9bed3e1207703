/**
 * Writes a file so that readers see either the old content or the new, never a torn file: the
 * data goes to a temporary file in the same folder, which is then renamed over the target. The
 * file gets the mode an ordinary write would give it (0644 under the usual umask 022), not the
 * temporary file's 0600: reports and results are meant to be served and shared.
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
 * assert(((await Deno.stat(`${dir}/a.json`)).mode! & 0o044) !== 0, "group and others may read");
 * ```
 */
export async function writeTextFileAtomic(path: string, text: string): Promise<void> {
  const temp = await Deno.makeTempFile({ dir: dirname(path), prefix: ".tmp-", suffix: ".tmp" });
  try {
    await Deno.writeTextFile(temp, text);
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o666 & ~(processUmask ??= umask()));
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

let processUmask: number | undefined;

/** The process's umask, read without changing it (022 where it cannot be read). */
function umask(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = status.match(/^Umask:\s*([0-7]+)/m);
    if (m) return parseInt(m[1], 8);
  } catch { /* not Linux */ }
  return 0o022;
}
