/**
 * `deno task report [RESULTS...] [--out FILE] [--site DIR] [--figures DIR] [--latex FILE]`:
 * self-contained HTML reports of results files (lib/report/report_html.ts). Without RESULTS it
 * reports the newest file in reports/results. `--site DIR` writes a report for every results file
 * (given, or all in reports/results), an index page and a trends page across them, ready to
 * publish as static files. `--figures DIR` writes every chart as PNG and SVG without a browser;
 * `--latex FILE` writes the report's tables for a paper as LaTeX booktabs tables.
 * Exits 2 on unusable input (missing, corrupt or other-schema files).
 *
 * @module
 */

import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { basename, join } from "node:path";
import { ConfigError } from "../lib/config/config_error.ts";
import { writeTextFileAtomic } from "../lib/results/atomic_write.ts";
import { renderSiteIndex, type SiteEntry } from "../lib/report/report_html.ts";
import { headlineFinding } from "../lib/report/findings.ts";
import { buildTrends, renderTrends } from "../lib/report/trends.ts";
import {
  chartJsSource,
  resultsLatex,
  writeFigures,
  writeReport,
} from "../lib/report/write_report.ts";
import { ResultsError } from "../lib/results/results.ts";
import { runMain } from "../lib/cli/run_main.ts";

const RESULTS_DIR = join("reports", "results");

function resultsFiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)]
      .filter((e) => e.isFile && e.name.startsWith("bench-") && e.name.endsWith(".json"))
      .map((e) => join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}

const FLAGS = {
  out: flag.path({
    arg: "FILE",
    help: "the report of one results file",
    defaultHelp: "reports/out/NAME.html",
  }),
  site: flag.path({
    arg: "DIR",
    help: "write a report for every results file (given, or all in reports/results), an " +
      "index page and trends.html across them: a static site to publish",
  }),
  figures: flag.path({
    arg: "DIR",
    help: "also write every chart of the (one) results file as PNG (print resolution) and SVG",
  }),
  latex: flag.path({
    arg: "FILE",
    help:
      "also write the report tables of the (one) results file for a paper, as LaTeX booktabs tables",
  }),
};

const HELP = renderHelp(
  "deno task report [RESULTS...] [options]",
  "Writes a self-contained HTML report (no requests; Chart.js inlined) of each results file; " +
    "without RESULTS, of the newest in reports/results. Exit codes: 0 written, 2 unusable input.",
  FLAGS,
);

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args, { positionals: true });
  if (parsed === "help") return printHelp(HELP);
  const { values, positionals } = parsed;
  if (values.site) {
    const files = positionals.length ? positionals : resultsFiles(RESULTS_DIR);
    if (files.length === 0) {
      throw new ConfigError(
        "RESULTS",
        RESULTS_DIR,
        "holds no results file (bench-*.json) to publish",
      );
    }
    await Deno.mkdir(values.site, { recursive: true });
    const entries: SiteEntry[] = [];
    const all = [];
    for (const file of files) {
      const report = basename(file).replace(/\.json$/, ".html");
      const results = await writeReport(file, join(values.site, report), {
        trendsHref: "trends.html",
      });
      const env = results.environment;
      all.push({ results, report });
      entries.push({
        report,
        results: basename(file),
        sweep: results.sweep.id,
        createdAt: results.createdAt,
        commit: env.gitCommit ?? "",
        host: env.hostname ?? "",
        runs: results.runs.length,
        failed: results.runs.filter((r) => r.status !== "ok").length,
        headline: headlineFinding(results)?.sentence ??
          "no point with p > 1 ran both TP and phantom",
      });
    }
    entries.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    await writeTextFileAtomic(
      join(values.site, "trends.html"),
      renderTrends(buildTrends(all), chartJsSource()),
    );
    await writeTextFileAtomic(
      join(values.site, "index.html"),
      renderSiteIndex(entries, "trends.html"),
    );
    console.log(
      `site: ${join(values.site, "index.html")} (${entries.length} reports, trends.html)`,
    );
    return 0;
  }
  const files = positionals.length ? positionals : resultsFiles(RESULTS_DIR).slice(-1);
  if (files.length === 0) {
    throw new ConfigError(
      "RESULTS",
      RESULTS_DIR,
      "holds no results file: run deno task bench first",
    );
  }
  for (const name of ["out", "figures", "latex"] as const) {
    if (values[name] && files.length > 1) {
      throw new ConfigError(
        `--${name}`,
        values[name],
        "takes one results file; use --site for several",
      );
    }
  }
  for (const file of files) {
    const out = values.out ?? join("reports", "out", basename(file).replace(/\.json$/, ".html"));
    await Deno.mkdir(join(out, ".."), { recursive: true });
    const results = await writeReport(file, out);
    console.log(`report: ${out}`);
    if (values.figures) {
      const { files: written, omitted } = await writeFigures(results, values.figures);
      console.log(`figures: ${written.length} files in ${values.figures}`);
      for (const o of omitted) console.log(`  left out ${o}`);
    }
    if (values.latex) {
      await writeTextFileAtomic(values.latex, resultsLatex(results));
      console.log(`latex: ${values.latex}`);
    }
  }
  return 0;
}

if (import.meta.main) await runMain(main, [ResultsError]);
