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
import { commHeadline, renderCommReport } from "../lib/report/comm_report.ts";
import { type CommResultsFile, validateCommResults } from "../lib/results/comm_results.ts";
import { buildTrends, renderTrends } from "../lib/report/trends.ts";
import {
  chartJsSource,
  resultsLatex,
  writeFigures,
  writeReport,
} from "../lib/report/write_report.ts";
import { ResultsError } from "../lib/results/results.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { toOutput } from "../lib/cli/output_path.ts";

const RESULTS_DIR = join("reports", "results");

/** Results files the suite writes: measurements (bench-), projections (projection-), comm-. */
const RESULTS_FILE = /^(bench|projection|comm)-.*\.json$/;

function resultsFiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)]
      .filter((e) => e.isFile && RESULTS_FILE.test(e.name))
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
        "holds no results file (bench-, projection- or comm-*.json) to publish",
      );
    }
    const site = values.site;
    await toOutput("--site", site, () => Deno.mkdir(site, { recursive: true }));
    const entries: SiteEntry[] = [];
    const all = [];
    let projected = 0;
    let comm = 0;
    for (const file of files) {
      const report = basename(file).replace(/\.json$/, ".html");
      const commFile = await readCommResults(file);
      if (commFile) {
        await writeTextFileAtomic(
          join(values.site, report),
          renderCommReport(commFile, `phantom-bench: collective benchmark (${commFile.createdAt})`),
        );
        comm++;
        entries.push({
          report,
          results: basename(file),
          sweep: "bench:comm",
          createdAt: commFile.createdAt,
          commit: "",
          host: "",
          runs: commFile.rows.length,
          failed: commFile.rows.filter((r) => !r.correct).length,
          headline: commHeadline(commFile),
        });
        continue;
      }
      const results = await writeReport(file, join(values.site, report), {
        trendsHref: "trends.html",
      });
      const env = results.environment;
      // Trends track measurements; a projection is a model, listed but never a trend point.
      if (results.runs.some((r) => r.projected)) projected++;
      else all.push({ results, report });
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
    const notTrended = [
      projected ? `${projected} projection${projected > 1 ? "s" : ""}` : "",
      comm ? `${comm} collective benchmark${comm > 1 ? "s" : ""}` : "",
    ].filter(Boolean);
    console.log(
      `site: ${join(values.site, "index.html")} (${entries.length} reports; trends.html over ` +
        `the ${all.length} measured${
          notTrended.length ? `; not in trends: ${notTrended.join(", ")}` : ""
        })`,
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
    await toOutput("--out", out, () => Deno.mkdir(join(out, ".."), { recursive: true }));
    const commFile = await readCommResults(file);
    if (commFile) {
      for (const name of ["figures", "latex"] as const) {
        if (values[name]) {
          throw new ConfigError(
            `--${name}`,
            values[name],
            "is for training results, not a comm file",
          );
        }
      }
      await toOutput("--out", out, () =>
        writeTextFileAtomic(
          out,
          renderCommReport(commFile, `phantom-bench: collective benchmark (${commFile.createdAt})`),
        ));
      console.log(`report: ${out}`);
      continue;
    }
    const results = await toOutput("--out", out, () => writeReport(file, out));
    console.log(`report: ${out}`);
    if (values.figures) {
      const figures = values.figures;
      const { files: written, omitted } = await toOutput(
        "--figures",
        figures,
        () => writeFigures(results, figures),
      );
      console.log(`figures: ${written.length} files in ${values.figures}`);
      for (const o of omitted) console.log(`  left out ${o}`);
    }
    if (values.latex) {
      const latex = values.latex;
      await toOutput("--latex", latex, () => writeTextFileAtomic(latex, resultsLatex(results)));
      console.log(`latex: ${values.latex}`);
    }
  }
  return 0;
}

/** A collective benchmark file (kind `comm`), loaded and checked; undefined for any other. */
async function readCommResults(path: string): Promise<CommResultsFile | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return undefined; // the results loader says why
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined; // the results loader says why
  }
  const kind = (json as { kind?: unknown } | null)?.kind;
  return kind === "comm" ? validateCommResults(json, path) : undefined;
}

if (import.meta.main) await runMain(main, [ResultsError]);
