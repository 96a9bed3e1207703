/**
 * `deno task compare BASELINE CURRENT`: regression tracking between two results files.
 * Prints a markdown summary (also written with --markdown FILE, e.g. $GITHUB_STEP_SUMMARY) and
 * exits 0 when nothing regressed, 1 on a regression (or a failed point), 2 on unusable input
 * (missing file, corrupt JSON, schema mismatch, a bad flag), 3 when no point could be compared
 * (with --strict also when any metric or point was left without a verdict). `deno task compare --export bencher|github-smaller|github-bigger RESULTS` writes a
 * results file in a dashboard's format instead.
 *
 * @module
 */

import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { compareResults, type ComparisonReport } from "../lib/report/compare.ts";
import { comparisonMarkdown, summaryLine } from "../lib/report/compare_markdown.ts";
import { METRICS } from "../lib/results/metrics.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { toBencher, toGithubBenchmark } from "../lib/report/exports.ts";
import { loadResults, ResultsError, type ResultsFile } from "../lib/results/results.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { toOutput } from "../lib/cli/output_path.ts";

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

function minRepeats(text: string, name: string): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 2) throw new ConfigError(name, text, "must be an integer >= 2");
  return v;
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
    help: "1 - confidence of the bootstrap interval of a change",
  }),
  "min-repeats": flag.custom(minRepeats, "N")({
    default: 3,
    help: "runs a side that a timing or energy verdict needs (fewer: 'not enough repeats')",
  }),
  strict: flag.bool({
    help: "exit 3 when any metric or point is left without a verdict (too few repeats, " +
      "incomparable, not matched)",
  }),
  "allow-setup-change": flag.bool({
    help: "compare timing and energy across a changed communicator, launcher, backend, CPU, " +
      "GPU or power backend",
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
  "Regression check between two results files: points matched by configuration (steps and " +
    "warm-up aside); time and energy judged over repeats (one sample per run, a hierarchical " +
    "bootstrap interval of the ratio, a band from the noise floor and the runs' spread); setup " +
    "changes named. Metrics: " +
    METRICS.map((m) => `${m.key} (${m.better} is better${m.kind === "exact" ? ", exact" : ""})`)
      .join(", ") +
    ". Exit codes: 0 no regression, 1 regression (or a point failed), 2 unusable input, " +
    "3 nothing compared (--strict: anything left without a verdict).",
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
  const options = {
    noisePct,
    noisePctFor,
    alpha,
    minRepeats: values["min-repeats"],
    allowSetupChange: values["allow-setup-change"],
  };
  const report = compareResults(baseline, current, options);
  const markdown = comparisonMarkdown(report, options);
  console.log(markdown);
  const summary = values.markdown;
  if (summary) {
    await toOutput(
      "--markdown",
      summary,
      () => Deno.writeTextFile(summary, markdown, { append: true }),
    );
  }
  const code = exitCode(report, values.strict);
  console.error(`compare: ${summaryLine(report)} Exit ${code}: ${EXIT_MEANING[code]}.`);
  return code;
}

const EXIT_MEANING: Record<number, string> = {
  0: "no regression",
  1: "a regression or a failed point",
  3: "nothing compared, or (--strict) something left without a verdict",
};

/** 1 regression; 3 nothing compared (--strict: anything without a verdict); else 0. */
function exitCode(report: ComparisonReport, strict: boolean): number {
  if (report.outcome === "regression") return 1;
  if (report.outcome === "nothing-compared") return 3;
  const open = report.counts["too-few-repeats"] + report.counts.incomparable +
    report.unmatched.length;
  return strict && open > 0 ? 3 : 0;
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
