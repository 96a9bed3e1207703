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
