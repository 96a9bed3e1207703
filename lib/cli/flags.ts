/**
 * Declarative command-line flags: each command lists its flags once in a table (name, value
 * parser, default, help, group, environment fallback); {@linkcode parseFlags} parses with
 * `node:util` `parseArgs` (strict: an unknown flag or a missing value is an error naming it) and
 * {@linkcode renderHelp} writes `--help` from the same table, so help and parsing never disagree.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError } from "../config/config_error.ts";

/** A command-line mistake that is not about one flag's value (an unknown flag, a stray word). */
export class UsageError extends Error {
  /** @param message What is wrong, naming the flag or argument. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What every flag declares. */
export interface FlagOptions<T> {
  /** One line (or a few) of help. */
  help: string;
  /** Heading the flag is listed under in `--help`. @default "Options" */
  group?: string;
  /** The value used when the flag is absent. */
  default?: T;
  /** How the default reads in help when it is not a plain value (e.g. "min(ranks, cores)"). */
  defaultHelp?: string;
  /** Environment variable read when the flag is absent (before the default). */
  env?: string;
  /** Placeholder of the value in help. @default the parser's, e.g. "N" */
  arg?: string;
}

/** One flag. `HasDefault` records in the type whether a value is always present. */
export interface Flag<T, HasDefault extends boolean> extends FlagOptions<T> {
  /** `value` takes one value, `boolean` none, `multiple` may repeat (values collected). */
  readonly kind: "value" | "boolean" | "multiple";
  /** Turns the text into a value; throws {@linkcode ConfigError} naming the flag. */
  parse(text: string, flag: string): T;
  /** Phantom field carrying HasDefault. */
  readonly _hasDefault?: HasDefault;
}

/** A command's flags by name (without the leading dashes). */
// deno-lint-ignore no-explicit-any
export type FlagTable = Record<string, Flag<any, boolean>>;

/** The parsed values of a table: flags with a default are never undefined. */
export type FlagValues<F extends FlagTable> = {
  [K in keyof F]: F[K] extends Flag<infer T, infer D> ? (D extends true ? T : T | undefined)
    : never;
};

/** What {@linkcode parseFlags} returns. */
export interface ParsedFlags<F extends FlagTable> {
  /** Every flag's value. */
  values: FlagValues<F>;
  /** Words that are not flags (only where the command takes them). */
  positionals: string[];
  /** The flags given on the command line (not by default or environment). */
  given: Set<keyof F & string>;
}

type Parser<T> = (text: string, flag: string) => T;

function valueFlag<T>(parse: Parser<T>, arg: string) {
  function make(o: FlagOptions<T> & { default: T }): Flag<T, true>;
  function make(o: FlagOptions<T>): Flag<T, false>;
  function make(o: FlagOptions<T>): Flag<T, boolean> {
    return { arg, ...o, kind: "value", parse };
  }
  return make;
}

/**
 * Parses a positive integer.
 *
 * @param text The value.
 * @param flag The flag, for the error.
 * @returns The integer.
 * @throws {ConfigError} Naming the flag and value if it is not a positive integer.
 */
export function parsePositiveInt(text: string, flag: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1 || !Number.isSafeInteger(value)) {
    throw new ConfigError(flag, text, "must be a positive integer");
  }
  return value;
}

/**
 * Parses a non-negative integer (0 allowed).
 *
 * @param text The value.
 * @param flag The flag, for the error.
 * @returns The integer.
 * @throws {ConfigError} Naming the flag and value if it is not a whole number.
 */
export function parseCount(text: string, flag: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw new ConfigError(flag, text, "must be a whole number (0 or more)");
  }
  return value;
}

/**
 * Parses a comma-separated list of positive integers, dropping repeats (first occurrence kept).
 *
 * @param text The value, e.g. "1,2,4".
 * @param flag The flag, for the error.
 * @returns The integers.
 * @throws {ConfigError} Naming the flag and value if an entry is not a positive integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIntList } from "./flags.ts";
 * assert.deepEqual(parseIntList("4,1,4", "--ranks"), [4, 1]);
 * ```
 */
export function parseIntList(text: string, flag: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const out = parts.map(Number);
  if (parts.some((s) => !/^\d+$/.test(s)) || out.some((v) => v < 1 || !Number.isSafeInteger(v))) {
    throw new ConfigError(
      flag,
      text,
      "must be a positive integer or a comma-separated list of them",
    );
  }
  return [...new Set(out)];
}

/**
 * Parses a finite number.
 *
 * @param text The value.
 * @param flag The flag, for the error.
 * @returns The number.
 * @throws {ConfigError} Naming the flag and value if it is not finite.
 */
export function parseNumber(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new ConfigError(flag, text, "must be a finite number");
  }
  return value;
}

/**
 * Parses a byte size with an optional binary suffix: 512, 1K, 4M, 2G (or KiB/MiB/GiB).
 *
 * @param text The value.
 * @param flag The flag, for the error.
 * @returns Bytes.
 * @throws {ConfigError} Naming the flag and value if it does not parse.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBytes } from "./flags.ts";
 * assert(parseBytes("4M", "--size") === 4 * 1024 * 1024);
 * ```
 */
export function parseBytes(text: string, flag: string): number {
  const m = text.trim().match(/^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?$/i);
  if (!m) throw new ConfigError(flag, text, "must be a size like 4096, 64K, 16M or 2G");
  const unit = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase()]!;
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes < 1) throw new ConfigError(flag, text, "must be at least 1 byte");
  return bytes;
}

/**
 * A parser that accepts one of fixed names.
 *
 * @param allowed The names.
 * @returns The parser.
 */
export function oneOfParser<T extends string>(allowed: readonly T[]): Parser<T> {
  return (text, flag) => {
    if (!(allowed as readonly string[]).includes(text)) {
      throw new ConfigError(flag, text, `must be one of ${allowed.join(", ")}`);
    }
    return text as T;
  };
}

/**
 * A parser of a comma-separated list of fixed names (repeats dropped).
 *
 * @param allowed The names.
 * @returns The parser.
 */
export function listOfParser<T extends string>(allowed: readonly T[]): Parser<T[]> {
  return (text, flag) => {
    const parts = text.split(",").map((s) => s.trim());
    const bad = parts.find((p) => !(allowed as readonly string[]).includes(p));
    if (bad !== undefined) {
      throw new ConfigError(
        flag,
        text,
        `has "${bad}": each entry must be one of ${allowed.join(", ")}`,
      );
    }
    return [...new Set(parts)] as T[];
  };
}

/** Flag constructors, by the kind of value. */
export const flag = {
  /** Free text. */
  string: valueFlag((t) => t, "TEXT"),
  /** A positive integer. */
  int: valueFlag(parsePositiveInt, "N"),
  /** A whole number, 0 allowed. */
  count: valueFlag(parseCount, "N"),
  /** A finite number. */
  number: valueFlag(parseNumber, "X"),
  /** A comma-separated list of positive integers. */
  intList: valueFlag(parseIntList, "N[,N...]"),
  /** A byte size such as 16M. */
  bytes: valueFlag(parseBytes, "SIZE"),
  /** A file or folder path. */
  path: valueFlag((t) => t, "PATH"),
  /** Any value with its own parser. */
  custom: <T>(parse: Parser<T>, arg: string) => valueFlag(parse, arg),
  /** One of fixed names. */
  oneOf: <T extends string>(allowed: readonly T[]) =>
    valueFlag(oneOfParser(allowed), allowed.join("|")),
  /** A comma-separated list of fixed names. */
  listOf: <T extends string>(allowed: readonly T[]) =>
    valueFlag(listOfParser(allowed), `${allowed.join("|")}[,...]`),
  /** A switch; false unless given. */
  bool(o: Omit<FlagOptions<boolean>, "default" | "arg">): Flag<boolean, true> {
    return { ...o, default: false, kind: "boolean", parse: () => true };
  },
  /** A flag that may repeat; its values in order. */
  many<T>(parse: Parser<T>, arg: string, o: Omit<FlagOptions<T[]>, "default">): Flag<T[], true> {
    return { arg, ...o, default: [], kind: "multiple", parse: parse as unknown as Parser<T[]> };
  },
};

/** Options of {@linkcode parseFlags}. */
export interface ParseFlagsOptions {
  /** Whether the command takes positional arguments. @default false */
  positionals?: boolean;
  /** The environment for `env` fallbacks. @default Deno.env (read only for flags with `env`) */
  env?: Record<string, string | undefined>;
}

/**
 * Parses a command line against a flag table. `--help` is always accepted.
 *
 * @param table The command's flags.
 * @param args The arguments.
 * @param options Positionals, environment.
 * @returns The values, or "help" when --help was given.
 * @throws {UsageError} For an unknown flag, a flag without its value, or a stray argument.
 * @throws {ConfigError} For a value its parser rejects (naming the flag and value).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flag, parseFlags } from "./flags.ts";
 * const table = { ranks: flag.intList({ help: "ranks", default: [1] }), quick: flag.bool({ help: "fewer steps" }) };
 * const parsed = parseFlags(table, ["--ranks", "2,4"]);
 * assert(parsed !== "help" && parsed.values.ranks[1] === 4 && parsed.values.quick === false);
 * ```
 */
export function parseFlags<F extends FlagTable>(
  table: F,
  args: string[],
  options: ParseFlagsOptions = {},
): ParsedFlags<F> | "help" {
  const specs: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    help: { type: "boolean" },
  };
  for (const [name, f] of Object.entries(table)) {
    specs[name] = f.kind === "boolean"
      ? { type: "boolean" }
      : { type: "string", multiple: f.kind === "multiple" };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options: specs, strict: true, allowPositionals: true });
  } catch (error) {
    throw usageError(error);
  }
  const raw = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (raw.help) return "help";
  if (!options.positionals && parsed.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}" (see --help)`);
  }
  const fromEnv = (name: string) => options.env ? options.env[name] : Deno.env.get(name);
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [name, f] of Object.entries(table)) {
    const text = raw[name];
    const label = `--${name}`;
    if (text !== undefined) {
      given.add(name);
      values[name] = f.kind === "boolean"
        ? true
        : f.kind === "multiple"
        ? (text as string[]).map((t) => f.parse(t, label))
        : f.parse(text as string, label);
    } else if (f.env && fromEnv(f.env) !== undefined) {
      values[name] = f.parse(fromEnv(f.env)!, f.env);
    } else {
      values[name] = f.default;
    }
  }
  return {
    values: values as FlagValues<F>,
    positionals: parsed.positionals,
    given: given as Set<keyof F & string>,
  };
}

function usageError(error: unknown): Error {
  const e = error as { code?: string; message?: string };
  const m = String(e.message ?? error);
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return new UsageError(`unknown option ${m.match(/'([^']+)'/)?.[1] ?? m} (see --help)`);
  }
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const name = m.match(/'(--?[\w-]+)/)?.[1] ?? "an option";
    if (m.includes("does not take")) return new UsageError(`${name} takes no value`);
    return new UsageError(
      `${name} needs a value (write ${name}=VALUE for a value starting with "-")`,
    );
  }
  return error instanceof Error ? error : new UsageError(m);
}

/**
 * Renders `--help` from a flag table.
 *
 * @param usage The usage line(s), e.g. "deno task bench [options]".
 * @param description A paragraph on what the command does.
 * @param table The flags.
 * @returns The help text.
 */
export function renderHelp(usage: string, description: string, table: FlagTable): string {
  const groups = new Map<string, string[]>();
  for (const [name, f] of Object.entries(table)) {
    const head = `  --${name}${f.kind === "boolean" ? "" : ` ${f.arg}`}`;
    const def = f.defaultHelp ??
      (f.default === undefined || f.kind === "boolean" ||
          (Array.isArray(f.default) && f.default.length === 0)
        ? undefined
        : Array.isArray(f.default)
        ? f.default.join(",")
        : String(f.default));
    const text = [
      f.help,
      def === undefined ? "" : `(default: ${def})`,
      f.env ? `[env ${f.env}]` : "",
    ]
      .filter(Boolean).join(" ");
    const lines = wrap(text, 100 - 29);
    const first = head.length < 28
      ? `${head.padEnd(29)}${lines[0]}`
      : `${head}\n${" ".repeat(29)}${lines[0]}`;
    const entry = [first, ...lines.slice(1).map((l) => `${" ".repeat(29)}${l}`)].join("\n");
    const group = f.group ?? "Options";
    groups.set(group, [...(groups.get(group) ?? []), entry]);
  }
  const sections = [...groups].map(([g, entries]) => `${g}:\n${entries.join("\n")}`);
  sections.push(`  --help${" ".repeat(23)}this text`);
  return `Usage: ${usage}\n\n${wrap(description, 100).join("\n")}\n\n${sections.join("\n")}\n`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/**
 * Prints an entry point's help, for `if (parsed === "help") return printHelp(HELP);`.
 *
 * @param help The help text.
 * @returns 0, the exit code of --help.
 */
export function printHelp(help: string): number {
  console.log(help);
  return 0;
}
