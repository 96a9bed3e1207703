/**
 * The lines that close a sweep on the terminal (nccl-tests ends with one summary line; a sweep
 * ends with its verdict): phantom against TP per matching point, as the report states it.
 *
 * @module
 */

import type { RunResult } from "../results/results.ts";
import type { Finding } from "./findings.ts";

/**
 * The lines that close a sweep on the terminal: per matching point, phantom against TP (the
 * report's sentence, with intervals where there are repeats and the p = 1 caveat), the caveat
 * where ranks shared devices, and one hint where no run had energy.
 *
 * @param found The findings of the results file.
 * @param runs Its runs.
 * @param sharing The caveat where ranks outnumbered their node's devices, if any.
 * @param hybrid Phantom x DP against TP x DP at each G (lib/report/hybrid.ts), if any.
 * @returns The lines (none where there is nothing to say).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { verdictLines } from "./verdict_lines.ts";
 * assert.deepEqual(verdictLines([], [], null), []);
 * ```
 */
export function verdictLines(
  found: Finding[],
  runs: RunResult[],
  sharing: string | null,
  hybrid: string[] = [],
): string[] {
  const lines: string[] = [];
  if (found.length) lines.push("", "phantom against TP:");
  // Each sentence carries its own caveats (p = 1 is the same dense model on both sides).
  for (const f of found) lines.push(`  ${f.sentence}`);
  if (hybrid.length) lines.push("", "phantom x DP against TP x DP, the best layout of each:");
  for (const h of hybrid) lines.push(`  ${h}`);
  if (sharing && (found.length || hybrid.length)) lines.push(`  ${sharing}`);
  const ok = runs.filter((r) => r.metrics);
  if (ok.length && ok.every((r) => !r.metrics!.energy.joulesPerStep)) {
    const backend = ok[0].metrics!.energy.backend;
    lines.push(
      `J/step n/a: no power telemetry here (power backend ${backend}); ` +
        "--power-model IDLE_W,WATTS_PER_BUSY_CORE gives modelled energy",
    );
  }
  return lines;
}
