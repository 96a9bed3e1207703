/**
 * The error for invalid user input (a configuration field, a CLI flag). Entry points print its
 * message without a stack trace; everything else is a bug and keeps its stack.
 *
 * @module
 */

/**
 * Raised when a configuration value is invalid. The message names the field and the value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "./config_error.ts";
 * const error = new ConfigError("ranks", 3, "must divide width (64)");
 * assert(error.message === "Invalid config: ranks (3) must divide width (64)");
 * ```
 */
export class ConfigError extends Error {
  /** The configuration field at fault, e.g. `phantomWidth`. */
  readonly field: string;
  /** The offending value as given. */
  readonly value: unknown;

  /**
   * @param field The configuration field at fault.
   * @param value The offending value.
   * @param reason What is wrong with it, e.g. "must be a positive integer".
   */
  constructor(field: string, value: unknown, reason: string) {
    super(`Invalid config: ${field} (${formatValue(value)}) ${reason}`);
    this.name = "ConfigError";
    this.field = field;
    this.value = value;
  }
}

/** Most characters of a value shown in a message: a 50 MB field is not echoed whole. */
const MAX_SHOWN = 200;

function formatValue(value: unknown): string {
  const text = describeValue(value);
  return text.length > MAX_SHOWN
    ? `${text.slice(0, MAX_SHOWN)}… (${text.length} characters)`
    : text;
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) {
    return String(value);
  }
  if (value === undefined) return "missing";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
