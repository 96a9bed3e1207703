/**
 * Small helpers shared by the bench entry points.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";

/**
 * Parses a comma-separated list of positive integers from a flag.
 *
 * @param flag The flag name, for the error.
 * @param text The flag's value.
 * @returns The integers.
 * @throws {ConfigError} Naming the flag and value if any entry is not a positive integer.
 */
export function parseIntList(flag: string, text: string | undefined): number[] {
  const parts = (text ?? "").split(",").map((s) => s.trim());
  const out = parts.map(Number);
  if (parts.some((s) => !/^\d+$/.test(s)) || out.some((v) => v < 1 || !Number.isSafeInteger(v))) {
    throw new ConfigError(
      flag,
      text,
      "must be a positive integer or a comma-separated list of them",
    );
  }
  return out;
}

/**
 * Parses one positive integer from a flag.
 *
 * @param flag The flag name, for the error.
 * @param text The flag's value.
 * @returns The integer.
 * @throws {ConfigError} Naming the flag and value if it is not a positive integer.
 */
export function parseInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1 || !Number.isSafeInteger(value)) {
    throw new ConfigError(flag, text, "must be a positive integer");
  }
  return value;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs an entry point's main function and exits with its code. User errors (the given classes,
 * ConfigError, and node:util parseArgs errors) print one line, `error: MESSAGE`, and exit 2
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
    const parse = error instanceof TypeError && "code" in error &&
      String(error.code).startsWith("ERR_PARSE_ARGS");
    const user = parse || [ConfigError, ...userErrors].some((c) => error instanceof c);
    if (!user) throw error;
    console.error(`error: ${(error as Error).message}`);
    if (hint) console.error(hint);
    Deno.exit(2);
  }
}
