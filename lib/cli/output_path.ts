/**
 * Writing to a path the user named (--out, --site, --figures, --latex, --markdown): a failure is
 * one line naming the flag, the path and the reason, never a stack trace.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { isPathError } from "./run_main.ts";

/**
 * Runs a write to a user's path.
 *
 * @param flag The flag that named it, e.g. `--latex`.
 * @param path The path.
 * @param write The writing.
 * @returns What `write` returns.
 * @throws {ConfigError} Naming flag and path when the file system refuses (missing folder, a
 *   file where a folder should be, no permission, a full disk).
 */
export async function toOutput<T>(flag: string, path: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isPathError(error)) throw error;
    throw new ConfigError(flag, path, `cannot be written: ${(error as Error).message}`);
  }
}
