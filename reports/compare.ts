/**
 * `deno task compare BASELINE CURRENT`: regression tracking between two results files.
 * Prints a markdown summary (also written with --markdown FILE, e.g. $GITHUB_STEP_SUMMARY) and
 * exits 1 on a regression, 0 otherwise, 2 on unusable input (missing file, corrupt JSON, schema
 * mismatch). `deno task compare --export bencher|github-smaller|github-bigger RESULTS` writes a
 * results file in a dashboard's format instead.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { compareResults, comparisonMarkdown, METRICS } from "../lib/report/compare.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { toBencher, toGithubBenchmark } from "../lib/report/exports.ts";
import { loadResults, ResultsError } from "../lib/results/results.ts";
import { runMain } from "../lib/cli/run_main.ts";

const HELP = `Usage:
  deno task compare BASELINE CURRENT [--noise PCT] [--noise-for METRIC=PCT]... [--alpha A] [--markdown FILE]
  deno task compare --export bencher|github-smaller|github-bigger RESULTS [--out FILE]

Exit codes: 0 no regression, 1 regression (or a point failed), 2 unusable input.
Metrics: ${
  METRICS.map((m) => `${m.key} (${m.better} is better${m.deterministic ? ", exact" : ""})`).join(
    ", ",
  )
}.
`;

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      noise: { type: "string", default: "5" },
      "noise-for": { type: "string", multiple: true, default: [] },
      alpha: { type: "string", default: "0.05" },
      markdown: { type: "string" },
      export: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.export) {
    if (positionals.length !== 1) {
      throw new ConfigError(
        "RESULTS",
        positionals.join(" "),
        "must be exactly one results file with --export",
      );
    }
    const results = await loadResults(positionals[0]);
    const data = values.export === "bencher"
      ? toBencher(results)
      : values.export === "github-smaller"
      ? toGithubBenchmark(results, "smaller")
      : values.export === "github-bigger"
      ? toGithubBenchmark(results, "bigger")
      : undefined;
    if (!data) {
      throw new ConfigError(
        "--export",
        values.export,
        "must be bencher, github-smaller or github-bigger",
      );
    }
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
  const noisePct = percent("--noise", values.noise);
  const noisePctFor: Record<string, number> = {};
  for (const item of values["noise-for"]) {
    const [metric, pct] = item.split("=");
    if (!METRICS.some((m) => m.key === metric) || pct === undefined) {
      throw new ConfigError(
        "--noise-for",
        item,
        `must be METRIC=PCT with METRIC one of ${METRICS.map((m) => m.key).join(", ")}`,
      );
    }
    noisePctFor[metric] = percent("--noise-for", pct);
  }
  const alpha = Number(values.alpha);
  if (!(alpha > 0 && alpha < 1)) {
    throw new ConfigError("--alpha", values.alpha, "must be between 0 and 1");
  }
  const [baseline, current] = await Promise.all(positionals.map((p) => loadResults(p)));
  const options = { noisePct, noisePctFor, alpha };
  const report = compareResults(baseline, current, options);
  const markdown = comparisonMarkdown(report, options);
  console.log(markdown);
  if (values.markdown) await Deno.writeTextFile(values.markdown, markdown, { append: true });
  return report.regressed ? 1 : 0;
}

function percent(flag: string, text: string): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v) || v < 0) {
    throw new ConfigError(flag, text, "must be a non-negative percentage");
  }
  return v;
}

if (import.meta.main) await runMain(main, [ResultsError]);
