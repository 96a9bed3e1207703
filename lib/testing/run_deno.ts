/**
 * Runs `deno ARGS` (the same Deno binary as the tests) in the repository root, as a user would
 * run an entry point, and collects its exit code and output.
 *
 * @module
 */

/** The repository root. */
export const ROOT: string = new URL("../..", import.meta.url).pathname;

/** What a run printed and how it ended. */
export interface DenoRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * @param args Arguments after `deno`, e.g. `["run", "-A", "bench/main.ts", "--help"]`.
 * @param env Variables to set (e.g. a PATH without some tool).
 * @returns Exit code, stdout and stderr.
 */
export async function runDeno(args: string[], env?: Record<string, string>): Promise<DenoRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

let tasks: Record<string, unknown> | undefined;

/**
 * The arguments after `deno` that run a task as `deno task NAME` would, with the permissions
 * deno.json gives it (its command's `deno run` flags) and nothing more, for tests that spawn a
 * long-running child themselves.
 *
 * @param task The task's name in deno.json, e.g. "bench".
 * @param args Arguments after the task's command.
 * @returns `["run", ...flags, entry, ...args]`.
 * @throws {RangeError} If deno.json has no such task or it is not a `deno run` command.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { taskArgs } from "./run_deno.ts";
 * const argv = taskArgs("compare", ["a.json", "b.json"]);
 * assert.deepEqual(argv.slice(-3), ["reports/compare.ts", "a.json", "b.json"]);
 * assert(!argv.includes("-A") && !argv.includes("--allow-all"));
 * ```
 */
export function taskArgs(task: string, args: string[] = []): string[] {
  tasks ??= JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).tasks ?? {};
  const command: unknown = tasks![task];
  const words = typeof command === "string" ? command.trim().split(/\s+/) : [];
  if (words[0] !== "deno" || words[1] !== "run") {
    throw new RangeError(`Cannot run task ${task}: deno.json has no "deno run" task of that name`);
  }
  return [...words.slice(1), ...args];
}

/**
 * Runs a deno task as `deno task NAME` would, with the permissions deno.json gives it, so a test
 * holds the task to what users run and no more.
 *
 * @param task The task's name in deno.json, e.g. "compare".
 * @param args Arguments after the task's command.
 * @param env Variables to set.
 * @returns Exit code, stdout and stderr.
 * @throws {RangeError} If deno.json has no such task or it is not a `deno run` command.
 */
export function runTask(
  task: string,
  args: string[],
  env?: Record<string, string>,
): Promise<DenoRun> {
  return runDeno(taskArgs(task, args), env);
}
