/**
 * Runs a telemetry tool and returns its standard output, turning a missing tool or a failure into
 * a {@linkcode TelemetryError} that names the command.
 *
 * @module
 */

import { TelemetryError } from "./power_sampler.ts";

/**
 * @param backend Backend name, for errors.
 * @param command Executable.
 * @param args Arguments.
 * @returns Standard output.
 * @throws {TelemetryError} If the tool is missing or exits non-zero.
 */
export async function runTool(backend: string, command: string, args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped", stdin: "null" })
      .output();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "not found on PATH" : String(error);
    throw new TelemetryError(backend, `cannot run ${command}: ${reason}`, { cause: error });
  }
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!out.success) {
    const err = decode(out.stderr).trim() || decode(out.stdout).trim();
    throw new TelemetryError(
      backend,
      `${command} ${args.join(" ")} exited with ${out.code}: ${err}`,
    );
  }
  return decode(out.stdout);
}
