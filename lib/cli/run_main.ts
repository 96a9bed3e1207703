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
 * {@linkcode ConfigError} and {@linkcode UsageError}) print one line, `error: MESSAGE`, then the
 * hint, and exit 2 without a stack trace; anything else is a bug and keeps its stack.
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
    const user = [ConfigError, UsageError, ...userErrors].some((c) => error instanceof c);
    if (!user) throw error;
    console.error(`error: ${(error as Error).message.split("\n")[0]}`);
    const more = (error as Error).message.split("\n").slice(1).join("\n");
    if (more) console.error(more);
    if (hint) console.error(hint);
    Deno.exit(2);
  }
}
