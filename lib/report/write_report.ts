/**
 * Writes the HTML report of a results file: loads and validates it, renders the page with
 * Chart.js inlined, and writes it atomically.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { writeTextFileAtomic } from "../results/atomic_write.ts";
import { loadResults, type ResultsFile } from "../results/results.ts";
import { chartSvgs, loadFigureRenderer } from "./figures.ts";
import { tableLatex } from "./latex.ts";
import { renderReport } from "./report_html.ts";
import { reportCharts } from "./charts.ts";
import { reportPlan } from "./report_plan.ts";

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
 * Writes the report of one results file, with every chart also drawn as SVG for download (where
 * the canvas library loads).
 *
 * @param resultsPath The results file.
 * @param outPath The HTML file.
 * @param options A link to the site's trends page.
 * @returns The loaded results (for an index).
 * @throws {ResultsError} If the results file is missing or invalid.
 */
export async function writeReport(
  resultsPath: string,
  outPath: string,
  options: { trendsHref?: string } = {},
): Promise<ResultsFile> {
  const results = await loadResults(resultsPath);
  const profile = results.runs.find((r) => r.projected)?.projected?.profile;
  const title = results.runs.length && results.runs.every((r) => r.projected)
    ? `phantom-bench projection: ${results.sweep.id} on ${profile} (${results.createdAt})`
    : `phantom-bench: ${results.sweep.id} (${results.createdAt})`;
  const figures = await chartSvgs(reportCharts(results));
  const html = renderReport(results, chartJsSource(), {
    title,
    ...("svgs" in figures ? { svgs: figures.svgs } : { svgUnavailable: figures.error }),
    trendsHref: options.trendsHref,
  });
  await writeTextFileAtomic(outPath, html);
  return results;
}

/**
 * Writes publication figures of a results file: every drawable chart as PNG (print resolution)
 * and SVG, named by chart id.
 *
 * @param results The results.
 * @param dir The folder (created).
 * @returns The files written, and the charts left out with the reason.
 * @throws {ConfigError} If the canvas library cannot load here.
 */
export async function writeFigures(
  results: ResultsFile,
  dir: string,
): Promise<{ files: string[]; omitted: string[] }> {
  const renderer = await loadFigureRenderer();
  if ("error" in renderer) {
    throw new ConfigError("--figures", dir, `cannot be drawn: ${renderer.error}`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const files: string[] = [];
  const omitted: string[] = [];
  for (const chart of reportCharts(results)) {
    if (!("config" in chart)) {
      omitted.push(`${chart.id}: ${chart.omitted}`);
      continue;
    }
    const base = `${dir}/${chart.id.replace(/^chart-/, "")}`;
    await Deno.writeFile(`${base}.png`, await renderer.png(chart.config));
    await Deno.writeTextFile(`${base}.svg`, renderer.svg(chart.config));
    files.push(`${base}.png`, `${base}.svg`);
  }
  return { files, omitted };
}

/**
 * The report's tables for a paper, as LaTeX booktabs tables: every table of the sections the
 * report plan marks for papers (lib/report/report_plan.ts; the same tables the HTML page shows,
 * without failures and provenance), each section's title as a comment.
 *
 * @param results The results.
 * @returns LaTeX source (needs \usepackage{booktabs}).
 */
export function resultsLatex(results: ResultsFile): string {
  const parts = [
    `% phantom-bench: ${results.sweep.id} (${results.createdAt}); needs \\usepackage{booktabs}`,
  ];
  for (const section of reportPlan(results)) {
    if (!section.paper || section.absent || section.tables.length === 0) continue;
    parts.push(`% ${section.title}${section.projected ? " (projected by a model)" : ""}`);
    parts.push(...section.tables.map((table) => tableLatex(table)));
  }
  return parts.join("\n");
}
