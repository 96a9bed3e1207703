/**
 * `deno task bench:compare FILE...`: how often `deno task compare` cries wolf, and how small a
 * slowdown it catches, on real results files of one configuration run again and again (the same
 * commit, the same command, separate invocations). For every pair of files it gives the verdict
 * of the old method (every step of every repeat pooled into one sample, a Mann-Whitney U test and
 * a 5% band) and of the current one (lib/report/compare.ts: a run's median as the sample, a
 * hierarchical bootstrap interval, a band from the repeats' spread); then, drawing disjoint sets
 * of runs from all files, it multiplies the current side by a slowdown and counts detections.
 *
 * @module
 */

import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { compareMetric, samplesOf } from "../lib/report/compare.ts";
import { mannWhitneyU } from "../lib/report/mann_whitney.ts";
import { METRICS, type MetricSpec } from "../lib/results/metrics.ts";
import { loadResults, ResultsError, type RunResult } from "../lib/results/results.ts";
import { median } from "../lib/results/stats.ts";
import { Rng } from "../lib/nn/rng.ts";

const FLAGS = {
  repeats: flag.intList({ default: [3, 5], help: "runs a side for the detection draws" }),
  slowdowns: flag.custom(
    (t, name) => {
      const v = t.split(",").map(Number);
      if (v.some((x) => !(x >= 1))) throw new ConfigError(name, t, "must be factors >= 1");
      return v;
    },
    "X[,X...]",
  )({
    default: [1, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.5],
    help: "factors applied to the current side",
  }),
  draws: flag.int({ default: 100, help: "random draws per point, repeats and slowdown" }),
};

const HELP = renderHelp(
  "deno task bench:compare FILE... [options]",
  "False-regression rate of the old (pooled steps, Mann-Whitney) and the current compare on " +
    "every pair of results files of one configuration, and the detection rate of slowdowns.",
  FLAGS,
);

/** The verdict of the method compare used before: steps pooled, U test, 5% band. */
function oldVerdict(b: number[][], c: number[][]): string {
  const [pb, pc] = [b.flat(), c.flat()];
  const change = 100 * (median(pc) - median(pb)) / median(pb);
  if (change === 0 || Math.abs(change) <= 5) return "noise";
  if (mannWhitneyU(pb, pc).pValue >= 0.05) return "noise";
  return change > 0 ? "regression" : "improvement";
}

function newVerdict(spec: MetricSpec, b: number[][], c: number[][], minRepeats: number): string {
  return compareMetric(spec, b, c, { minRepeats })?.verdict ?? "skipped";
}

/** A seeded shuffle (the suite's Rng), so every run of the benchmark draws the same sets. */
function shuffler(seed: number) {
  const rng = new Rng(seed);
  return <T>(xs: T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
}

const pct = (n: number, d: number) => (d ? `${(100 * n / d).toFixed(1)}%` : "–");

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args, { positionals: true });
  if (parsed === "help") return printHelp(HELP);
  const { values, positionals } = parsed;
  if (positionals.length < 2) {
    throw new ConfigError("FILE", positionals.join(" ") || "(none)", "must be two or more files");
  }
  const files = await Promise.all(positionals.map((p) => loadResults(p)));
  const points = [...new Set(files.flatMap((f) => f.runs.map((r) => r.point)))];
  const runsOf = (i: number, point: string): RunResult[] =>
    files[i].runs.filter((r) => r.point === point && r.status === "ok");
  console.log(
    `${files.length} files, ${points.length} points, ${
      files.length * (files.length - 1) / 2
    } pairs each`,
  );
  console.log("\nSame configuration, pairs of files (each a separate invocation):");
  console.log(
    "metric               pairs  old: regressions  flags   new: regressions  flags  no verdict",
  );
  for (const spec of METRICS.filter((m) => m.kind === "measured")) {
    const tally = { pairs: 0, oldReg: 0, oldFlag: 0, newReg: 0, newFlag: 0, open: 0 };
    for (const point of points) {
      for (let i = 0; i < files.length; i++) {
        for (let j = i + 1; j < files.length; j++) {
          const [b, c] = [samplesOf(runsOf(i, point), spec), samplesOf(runsOf(j, point), spec)];
          if (!b || !c || [...b, ...c].flat().every((x) => x === 0)) continue;
          tally.pairs++;
          const o = oldVerdict(b, c);
          const n = newVerdict(spec, b, c, Math.min(b.length, c.length, 3));
          tally.oldReg += Number(o === "regression");
          tally.oldFlag += Number(o === "regression" || o === "improvement");
          tally.newReg += Number(n === "regression");
          tally.newFlag += Number(n === "regression" || n === "improvement");
          tally.open += Number(n === "too-few-repeats");
        }
      }
    }
    console.log(
      `${spec.key.padEnd(20)} ${String(tally.pairs).padStart(5)}  ${
        pct(tally.oldReg, tally.pairs).padStart(16)
      }  ${pct(tally.oldFlag, tally.pairs).padStart(5)}   ${
        pct(tally.newReg, tally.pairs).padStart(16)
      }  ${pct(tally.newFlag, tally.pairs).padStart(5)}  ${
        pct(tally.open, tally.pairs).padStart(10)
      }`,
    );
  }
  const spec = METRICS.find((m) => m.key === "stepTimeMs")!;
  console.log(
    "\nDetection on pairs of files, every run of the second file slowed by the factor (step " +
      "time; at 1.00: false regressions):",
  );
  console.log(`         ${values.slowdowns.map((s) => `${s.toFixed(2)}x`.padStart(7)).join(" ")}`);
  const pairCells = values.slowdowns.map((s) => {
    let hits = 0;
    let pairs = 0;
    for (const point of points) {
      for (let i = 0; i < files.length; i++) {
        for (let j = 0; j < files.length; j++) {
          if (i === j) continue;
          const b = samplesOf(runsOf(i, point), spec);
          const c = samplesOf(runsOf(j, point), spec)?.map((r) => r.map((x) => x * s));
          if (!b || !c) continue;
          hits += Number(newVerdict(spec, b, c, Math.min(b.length, c.length)) === "regression");
          pairs++;
        }
      }
    }
    return pct(hits, pairs).padStart(7);
  });
  console.log(`  pairs  ${pairCells.join(" ")}`);
  console.log(
    `\nDetection: disjoint runs drawn from all files (${values.draws} draws per point), the ` +
      "current side slowed by the factor; share of draws the new method calls a regression " +
      "(at 1.00: false regressions):",
  );
  const shuffle = shuffler(0xc0ffee);
  console.log(`repeats  ${values.slowdowns.map((s) => `${s.toFixed(2)}x`.padStart(7)).join(" ")}`);
  for (const k of values.repeats) {
    const cells: string[] = [];
    for (const s of values.slowdowns) {
      let hits = 0;
      let draws = 0;
      for (const point of points) {
        const all = files.flatMap((_, i) => runsOf(i, point));
        if (all.length < 2 * k) continue;
        for (let d = 0; d < values.draws; d++) {
          const pick = shuffle(all);
          const b = samplesOf(pick.slice(0, k), spec)!;
          const c = samplesOf(pick.slice(k, 2 * k), spec)!.map((r) => r.map((x) => x * s));
          hits += Number(newVerdict(spec, b, c, k) === "regression");
          draws++;
        }
      }
      cells.push(pct(hits, draws).padStart(7));
    }
    console.log(`${String(k).padStart(7)}  ${cells.join(" ")}`);
  }
  return 0;
}

if (import.meta.main) await runMain(main, [ResultsError]);
