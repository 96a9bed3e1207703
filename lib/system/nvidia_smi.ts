/**
 * nvidia-smi's GPU table, asked for by field names: the one parser of its CSV output for the
 * environment record, the GPU choice per rank and the GPU check.
 *
 * @module
 */

/**
 * Queries `nvidia-smi --query-gpu=FIELDS --format=csv,noheader`.
 *
 * @param fields nvidia-smi field names, e.g. `["index", "name", "driver_version"]`.
 * @param run Runs nvidia-smi with the arguments and returns its stdout, or null where it is
 *   missing or fails. @default the real nvidia-smi
 * @returns One record per GPU keyed by the field names (values trimmed); empty where there is
 *   no nvidia-smi or no NVIDIA GPU.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { queryNvidiaSmi } from "./nvidia_smi.ts";
 * const fake = () => "0, NVIDIA H200, 580.159.04\n1, NVIDIA H200, 580.159.04\n";
 * const gpus = queryNvidiaSmi(["index", "name", "driver_version"], fake);
 * assert.deepEqual(gpus[1], { index: "1", name: "NVIDIA H200", driver_version: "580.159.04" });
 * assert.deepEqual(queryNvidiaSmi(["index"], () => null), []);
 * ```
 */
export function queryNvidiaSmi<K extends string>(
  fields: readonly K[],
  run: (args: string[]) => string | null = runNvidiaSmi,
): Record<K, string>[] {
  const out = run([`--query-gpu=${fields.join(",")}`, "--format=csv,noheader"]);
  if (out === null) return [];
  return out.trim().split("\n").filter((line) => line.trim()).map((line) => {
    const values = line.split(",").map((s) => s.trim());
    return Object.fromEntries(fields.map((f, i) => [f, values[i] ?? ""])) as Record<K, string>;
  });
}

function runNvidiaSmi(args: string[]): string | null {
  try {
    const out = new Deno.Command("nvidia-smi", { args, stdout: "piped", stderr: "null" })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null; // no nvidia-smi: no NVIDIA GPU here
  }
}
