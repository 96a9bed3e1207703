/**
 * `deno task compare BASELINE CURRENT`: regression tracking between two results files.
 * Prints a markdown summary (also written with --markdown FILE, e.g. $GITHUB_STEP_SUMMARY) and
 * exits 1 on a regression, 0 otherwise, 2 on unusable input (missing file, corrupt JSON, schema
 * mismatch). `deno task compare --export bencher|github-smaller|github-bigger RESULTS` writes a
 * results file in a dashboard's format instead.
 *
 * @module
 */

import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { compareResults, comparisonMarkdown, METRICS } from "../lib/report/compare.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { toBencher, toGithubBenchmark } from "../lib/report/exports.ts";
import { loadResults, ResultsError, type ResultsFile } from "../lib/results/results.ts";
import { runMain } from "../lib/cli/run_main.ts";

function percent(text: string, name: string): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v) || v < 0) {
    throw new ConfigError(name, text, "must be a non-negative percentage");
  }
  return v;
}

function noiseFor(text: string, name: string): [string, number] {
  const [metric, pct] = text.split("=");
  if (!METRICS.some((m) => m.key === metric) || pct === undefined) {
    throw new ConfigError(
      name,
      text,
      `must be METRIC=PCT with METRIC one of ${METRICS.map((m) => m.key).join(", ")}`,
    );
  }
  return [metric, percent(pct, name)];
}

function alpha(text: string, name: string): number {
  const v = Number(text);
  if (!(v > 0 && v < 1)) throw new ConfigError(name, text, "must be between 0 and 1");
  return v;
}

const FLAGS = {
  noise: flag.custom(percent, "PCT")({ default: 5, help: "noise band, in percent" }),
  "noise-for": flag.many(noiseFor, "METRIC=PCT", { help: "noise band of one metric (repeatable)" }),
  alpha: flag.custom(alpha, "A")({
    default: 0.05,
    help: "significance level of the Mann-Whitney U test",
  }),
  markdown: flag.path({
    arg: "FILE",
    help: "append the markdown summary here (e.g. $GITHUB_STEP_SUMMARY)",
  }),
  export: flag.oneOf(["bencher", "github-smaller", "github-bigger"] as const)({
    help: "write RESULTS in a dashboard's format instead of comparing",
  }),
  out: flag.path({
    arg: "FILE",
    help: "with --export: the output file",
    defaultHelp: "standard output",
  }),
};

const HELP = renderHelp(
  "deno task compare BASELINE CURRENT [options] | deno task compare --export FORMAT RESULTS",
  "Regression check between two results files: runs matched by configuration hash, a change " +
    "flagged only beyond the noise band and, for measured metrics, significant by a two-sided " +
    "Mann-Whitney U test. Metrics: " +
    METRICS.map((m) => `${m.key} (${m.better} is better${m.deterministic ? ", exact" : ""})`)
      .join(", ") +
    ". Exit codes: 0 no regression, 1 regression (or a point failed), 2 unusable input.",
  FLAGS,
);

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args, { positionals: true });
  if (parsed === "help") return printHelp(HELP);
  const { values, positionals } = parsed;
  if (values.export) {
    if (positionals.length !== 1) {
      throw new ConfigError(
        "RESULTS",
        positionals.join(" "),
        "must be exactly one results file with --export",
      );
    }
    const results = await loadResults(positionals[0]);
    refuseProjected(results, positionals[0]);
    const data = values.export === "bencher"
      ? toBencher(results)
      : toGithubBenchmark(results, values.export === "github-smaller" ? "smaller" : "bigger");
    const text = JSON.stringify(data, null, 2) + "\n";
    if (values.out) await Deno.writeTextFile(values.out, text);
    else console.log(text);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new ConfigError(
      "BASELINE CURRENT",
      positionals.join(" ") || "(none)",
      "must be two results files",
    );
  }
  const noisePct = values.noise;
  const noisePctFor = Object.fromEntries(values["noise-for"]);
  const alpha = values.alpha;
  const [baseline, current] = await Promise.all(positionals.map((p) => loadResults(p)));
  refuseProjected(baseline, positionals[0]);
  refuseProjected(current, positionals[1]);
  const options = { noisePct, noisePctFor, alpha };
  const report = compareResults(baseline, current, options);
  const markdown = comparisonMarkdown(report, options);
  console.log(markdown);
  if (values.markdown) await Deno.writeTextFile(values.markdown, markdown, { append: true });
  return report.regressed ? 1 : 0;
}

/** Projections are models: they never stand in for a baseline or a current measurement. */
function refuseProjected(results: ResultsFile, path: string): void {
  const n = results.runs.filter((r) => r.projected).length;
  if (n > 0) {
    throw new ConfigError(
      "RESULTS",
      path,
      `holds ${n} projected runs (deno task project): compare and the exports take measurements only`,
    );
  }
}

if (import.meta.main) await runMain(main, [ResultsError]);
