/**
 * Writes the HTML report of a results file: loads and validates it, renders the page with
 * Chart.js inlined, and writes it atomically.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { writeTextFileAtomic } from "../results/atomic_write.ts";
import { loadResults, type ResultsFile } from "../results/results.ts";
import { renderReport } from "./report_html.ts";

/**
 * The Chart.js UMD build shipped in node_modules (npm package chart.js).
 *
 * @returns Its source.
 * @throws {ConfigError} If node_modules lacks it (npm ci was not run).
 */
export function chartJsSource(): string {
  const path = new URL("../../node_modules/chart.js/dist/chart.umd.min.js", import.meta.url);
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw new ConfigError(
      "chart.js",
      path.pathname,
      `cannot be read (run npm ci): ${(error as Error).message}`,
    );
  }
}

/**
 * Writes the report of one results file.
 *
 * @param resultsPath The results file.
 * @param outPath The HTML file.
 * @returns The loaded results (for an index).
 * @throws {ResultsError} If the results file is missing or invalid.
 */
export async function writeReport(resultsPath: string, outPath: string): Promise<ResultsFile> {
  const results = await loadResults(resultsPath);
  const title = `phantom-bench: ${results.sweep.id} (${results.createdAt})`;
  await writeTextFileAtomic(outPath, renderReport(results, chartJsSource(), title));
  return results;
}
