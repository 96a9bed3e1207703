/**
 * The one way every entry point runs: its main function's return value is the exit code; a
 * user's mistake prints one line and exits 2; a bug keeps its stack trace.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { UsageError } from "./flags.ts";

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs an entry point's main function and exits with its code. User errors (the given classes,
 * {@linkcode ConfigError} and {@linkcode UsageError}, and file-system errors on a path such as an
 * output folder that cannot be made) print one line, `error: MESSAGE`, then the hint, and exit 2
 * without a stack trace; anything else is a bug and keeps its stack.
 *
 * @param main The entry point's main function.
 * @param userErrors Further error classes that are the user's to fix.
 * @param hint A line printed after a user error (e.g. where --help is).
 */
export async function runMain(
  main: (args: string[]) => Promise<number>,
  userErrors: ErrorClass[] = [],
  hint?: string,
): Promise<never> {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    const user = [ConfigError, UsageError, ...userErrors].some((c) => error instanceof c) ||
      isPathError(error);
    if (!user) throw error;
    console.error(`error: ${(error as Error).message.split("\n")[0]}`);
    const more = (error as Error).message.split("\n").slice(1).join("\n");
    if (more) console.error(more);
    if (hint) console.error(hint);
    Deno.exit(2);
  }
}

/** File-system errors caused by a path the user gave (an output folder that is a file, say). */
const PATH_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.PermissionDenied,
  Deno.errors.AlreadyExists,
  Deno.errors.NotADirectory,
  Deno.errors.IsADirectory,
  Deno.errors.FilesystemLoop,
];

/**
 * @param error Anything thrown.
 * @returns Whether it is a file-system error naming its path (Deno's messages say the operation
 *   and the path, e.g. "Not a directory (os error 20): mkdir '/x/y'"), or a full, read-only or
 *   over-quota file system: the user's to fix, in one line.
 */
export function isPathError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return PATH_ERRORS.some((c) => error instanceof c) ||
    /\(os error (28|30|122)\)/.test(error.message);
}
