/**
 * Regression tracking between two results files.
 *
 * - Points are matched by their configuration without `steps` and `warmup`: a point that differs
 *   only in how long it ran is compared (timing per step) and says so; steps to target are then
 *   not compared.
 * - Measured metrics (time, energy) are judged over repeats: a run's median step is one sample,
 *   and a verdict needs at least `minRepeats` runs a side (else "too-few-repeats", neither pass
 *   nor regression). The ratio current/baseline of the medians of run medians gets a hierarchical
 *   bootstrap interval (lib/report/repeat_stats.ts); a change is a regression or an improvement
 *   when the interval excludes 1 and the change exceeds the band: the larger of the noise floor
 *   (`noisePct`) and the spread between the files' own repeats.
 * - Exact metrics (payload bytes, steps to target) are compared exactly; a change beyond the
 *   noise floor counts.
 * - Setup changes the hashes do not cover are named (lib/report/setup_changes.ts); one that
 *   changes the transport, backend, hardware or power backend makes timing and energy
 *   "incomparable" unless allowed.
 * - A point that failed in the current file counts as a regression; points that could not be
 *   matched are listed with the reason; when no point could be compared the outcome says so.
 *
 * @module
 */

import {
  canonicalJson,
  flattenJson,
  type ResultsFile,
  type RunResult,
} from "../results/results.ts";
import { METRICS, type MetricSpec } from "../results/metrics.ts";
import { median } from "../results/stats.ts";
import { hierarchicalBootstrapRatio, repeatSpreadBandPct, runMedians } from "./repeat_stats.ts";
import { type SetupChange, setupChanges } from "./setup_changes.ts";

/** Options of {@linkcode compareResults}. */
export interface CompareOptions {
  /** Noise floor in percent: no change within it is flagged. @default 5 */
  noisePct?: number;
  /** Noise floor per metric key, in percent. */
  noisePctFor?: Record<string, number>;
  /** 1 - confidence of the bootstrap interval. @default 0.05 */
  alpha?: number;
  /** Runs a side that a timing or energy verdict needs. @default 3 */
  minRepeats?: number;
  /** Compare timing and energy across a changed communicator, backend, hardware or power. */
  allowSetupChange?: boolean;
}

/** What a metric of a point came to. */
export type Verdict =
  | "regression"
  | "improvement"
  | "noise"
  | "unchanged"
  | "incomparable"
  | "too-few-repeats";

/** One metric of one point. */
export interface MetricComparison {
  point: string;
  configHash: string;
  metric: string;
  unit: string;
  /** Baseline value: the median of its runs' medians (exact metrics: the value). */
  baseline: number;
  current: number;
  /** (current - baseline) / baseline, in percent. */
  changePct: number;
  /** Measured metrics: runs a side and the range of their medians. */
  runs: { baseline: RunSpread; current: RunSpread } | null;
  /** The bootstrap interval of current/baseline; null for exact metrics and without a verdict. */
  interval: [number, number] | null;
  /** The band a change had to exceed, in percent; null where no verdict was reached. */
  bandPct: number | null;
  verdict: Verdict;
  /** Why, where not obvious (too few repeats, a setup change). */
  note?: string;
}

/** The runs of one side of a measured metric. */
export interface RunSpread {
  count: number;
  min: number;
  max: number;
}

/** A point that was not compared, and why. */
export interface Unmatched {
  point: string;
  side: "baseline" | "current";
  why: string;
}

/** The comparison of two files. */
export interface ComparisonReport {
  rows: MetricComparison[];
  /** Setup differences between the files. */
  setup: SetupChange[];
  /** Points compared (matched, with ok runs on both sides). */
  compared: number;
  /** Points not compared, with the reason. */
  unmatched: Unmatched[];
  /** Points whose current runs failed (counted as regressions). */
  failed: { point: string; error: string }[];
  /** Matched points whose steps or warm-up differ. */
  scheduleNotes: { point: string; note: string }[];
  /** regression: something regressed or failed; nothing-compared: no point could be compared. */
  outcome: "regression" | "pass" | "nothing-compared";
  /** Rows per verdict. */
  counts: Record<Verdict, number>;
}

/**
 * Compares two results files.
 *
 * @param baseline The reference.
 * @param current The candidate.
 * @param options Noise floor, alpha, repeats needed, setup changes allowed.
 * @returns Rows per point and metric, setup changes, unmatched points, failures, the outcome.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixtureResults } from "../testing/results_fixture.ts";
 * import { compareResults } from "./compare.ts";
 * const runs = (stepMs: number) => [0, 1, 2].map((repeat) => ({ point: "tp-p2", stepMs, repeat }));
 * const report = compareResults(fixtureResults(runs(100)), fixtureResults(runs(130)));
 * assert.equal(report.outcome, "regression");
 * ```
 */
export function compareResults(
  baseline: ResultsFile,
  current: ResultsFile,
  options: CompareOptions = {},
): ComparisonReport {
  const setup = setupChanges(baseline, current);
  const blocking = setup.filter((c) => c.blocksTiming);
  const timingBlock = blocking.length && !options.allowSetupChange
    ? `setup changed: ${blocking.map((c) => c.field).join(", ")}`
    : undefined;
  const base = group(baseline.runs);
  const cur = group(current.runs);
  const rows: MetricComparison[] = [];
  const failed: ComparisonReport["failed"] = [];
  const unmatched: Unmatched[] = [];
  const scheduleNotes: ComparisonReport["scheduleNotes"] = [];
  let compared = 0;
  for (const [key, curRuns] of cur) {
    const point = curRuns[0].point;
    const baseRuns = base.get(key);
    if (!baseRuns) {
      unmatched.push({ point, side: "current", why: whyUnmatched(curRuns[0], baseline.runs) });
      continue;
    }
    const bad = curRuns.find((r) => r.status !== "ok");
    if (bad) {
      failed.push({
        point,
        error: bad.status === "failed" ? bad.error ?? "failed" : `${bad.status}: ${bad.error}`,
      });
      continue;
    }
    const okBase = baseRuns.filter((r) => r.status === "ok");
    if (okBase.length === 0) {
      unmatched.push({
        point,
        side: "current",
        why: `no ok run in the baseline (${baseRuns[0].status}: ${baseRuns[0].error ?? ""})`,
      });
      continue;
    }
    compared++;
    const schedule = scheduleDifference(okBase[0], curRuns[0]);
    if (schedule) scheduleNotes.push({ point, note: schedule });
    for (const spec of METRICS) {
      if (schedule && spec.key === "stepsToTarget") continue;
      const row = compareRuns(spec, okBase, curRuns, options, timingBlock);
      if (row) rows.push({ point, configHash: curRuns[0].configHash, ...row });
    }
  }
  for (const [key, runs] of base) {
    if (!cur.has(key)) {
      unmatched.push({
        point: runs[0].point,
        side: "baseline",
        why: whyUnmatched(runs[0], current.runs),
      });
    }
  }
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const r of rows) counts[r.verdict]++;
  const outcome = failed.length > 0 || counts.regression > 0
    ? "regression"
    : compared === 0
    ? "nothing-compared"
    : "pass";
  return { rows, setup, compared, unmatched, failed, scheduleNotes, outcome, counts };
}

const VERDICTS: readonly Verdict[] = [
  "regression",
  "improvement",
  "noise",
  "unchanged",
  "incomparable",
  "too-few-repeats",
];

/** What matches points across files: the configuration less how long it ran. */
function matchKey(run: RunResult): string {
  const { steps: _steps, warmup: _warmup, ...rest } = run.config;
  return canonicalJson(rest);
}

function group(runs: RunResult[]): Map<string, RunResult[]> {
  const out = new Map<string, RunResult[]>();
  for (const r of runs) {
    const key = matchKey(r);
    out.set(key, [...(out.get(key) ?? []), r]);
  }
  return out;
}

function scheduleDifference(base: RunResult, cur: RunResult): string | undefined {
  const parts = (["steps", "warmup"] as const).filter((k) => base.config[k] !== cur.config[k])
    .map((k) => `${k} ${base.config[k]} -> ${cur.config[k]}`);
  return parts.length
    ? `${parts.join(", ")}: timing compared per step, steps to target not compared`
    : undefined;
}

/** Why a run's configuration has no partner among `others`: the fields where the nearest differs. */
function whyUnmatched(run: RunResult, others: RunResult[]): string {
  const mine = flattenJson(run.config);
  let best: string[] | undefined;
  for (const o of others) {
    const theirs = flattenJson(o.config);
    const keys = [...new Set([...Object.keys(mine), ...Object.keys(theirs)])]
      .filter((k) => k !== "steps" && k !== "warmup" && mine[k] !== theirs[k]);
    if (!best || keys.length < best.length) {
      best = keys.map((k) => `${k} ${theirs[k] ?? "(none)"} vs ${mine[k] ?? "(none)"}`);
    }
  }
  if (!best) return "the other file has no runs";
  return `no point with this configuration on the other side; nearest differs in ${
    best.slice(0, 3).join(", ")
  }${best.length > 3 ? ` and ${best.length - 3} more` : ""}`;
}

/**
 * One metric of one point over the runs of each side: {@linkcode compareMetric}, then
 * "incomparable" where the setup changed (timing and energy) or the energy methods differ.
 *
 * @param spec The metric.
 * @param baseRuns The baseline's ok runs of the point.
 * @param curRuns The current side's ok runs of the point.
 * @param options Noise floor, alpha, repeats needed.
 * @param timingBlock Why timing is incomparable (a setup change), if it is.
 * @returns The row; null where a side lacks the metric or nothing was measured (all zero).
 */
export function compareRuns(
  spec: MetricSpec,
  baseRuns: RunResult[],
  curRuns: RunResult[],
  options: CompareOptions,
  timingBlock: string | undefined,
): Omit<MetricComparison, "point" | "configHash"> | null {
  const b = samplesOf(baseRuns, spec);
  const c = samplesOf(curRuns, spec);
  if (!b || !c) return null;
  const row = compareMetric(spec, b, c, options);
  if (!row) return null;
  if (spec.kind === "measured" && timingBlock) {
    return { ...row, verdict: "incomparable", interval: null, bandPct: null, note: timingBlock };
  }
  if (spec.key === "joulesPerStep") {
    const methods = new Set([...baseRuns, ...curRuns].map((r) => r.metrics!.energy.method));
    if (methods.size > 1) {
      return {
        ...row,
        verdict: "incomparable",
        interval: null,
        bandPct: null,
        note: `energy methods differ (${[...methods].join(", ")})`,
      };
    }
  }
  return row;
}

/**
 * Per run, the metric's samples; null when a run lacks the metric.
 *
 * @param runs The runs of one side.
 * @param spec The metric.
 * @returns One array of samples per run, or null.
 */
export function samplesOf(runs: RunResult[], spec: MetricSpec): number[][] | null {
  const out: number[][] = [];
  for (const r of runs) {
    const s = spec.samples(r);
    if (!s || s.length === 0) return null;
    out.push(s);
  }
  return out.length ? out : null;
}

/**
 * Compares one metric of one point: the verdict compareResults gives it.
 *
 * @param spec The metric.
 * @param baseline Per baseline run, its samples.
 * @param current Per current run, its samples.
 * @param options Noise floor, alpha, repeats needed.
 * @returns Values, change, interval, band and verdict; null for a measured metric that is zero in
 *   every sample of both sides (nothing was measured, e.g. communication time at p = 1).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metricSpec } from "../results/metrics.ts";
 * import { compareMetric } from "./compare.ts";
 * const base = [[100, 101, 99], [102, 100, 101], [98, 99, 100]];
 * const row = compareMetric(metricSpec("stepTimeMs"), base, base.map((r) => r.map((x) => 1.3 * x)))!;
 * assert.equal(row.verdict, "regression");
 * assert.equal(compareMetric(metricSpec("stepTimeMs"), base.slice(0, 2), base)!.verdict, "too-few-repeats");
 * ```
 */
export function compareMetric(
  spec: MetricSpec,
  baseline: number[][],
  current: number[][],
  options: CompareOptions = {},
): Omit<MetricComparison, "point" | "configHash"> | null {
  const floor = options.noisePctFor?.[spec.key] ?? options.noisePct ?? 5;
  const worse = (changePct: number) => spec.better === "lower" ? changePct > 0 : changePct < 0;
  const judge = (changePct: number, band: number, significant: boolean): Verdict =>
    changePct === 0 && spec.kind === "exact"
      ? "unchanged"
      : Math.abs(changePct) <= band || !significant
      ? "noise"
      : worse(changePct)
      ? "regression"
      : "improvement";
  const row = (
    b: number,
    c: number,
    rest: Pick<MetricComparison, "runs" | "interval" | "bandPct">,
  ) => {
    const changePct = percentChange(b, c);
    return { metric: spec.key, unit: spec.unit, baseline: b, current: c, changePct, ...rest };
  };
  if (spec.kind === "exact") {
    const r = row(baseline[0][0], current[0][0], { runs: null, interval: null, bandPct: floor });
    return { ...r, verdict: judge(r.changePct, floor, true) };
  }
  const [mb, mc] = [runMedians(baseline), runMedians(current)];
  if ([...mb, ...mc].every((x) => x === 0)) return null;
  const runs = { baseline: spread(mb), current: spread(mc) };
  const minRepeats = options.minRepeats ?? 3;
  if (mb.length < minRepeats || mc.length < minRepeats) {
    return {
      ...row(median(mb), median(mc), { runs, interval: null, bandPct: null }),
      verdict: "too-few-repeats",
      note: `${mb.length} and ${mc.length} runs; a verdict needs ${minRepeats} a side`,
    };
  }
  const ci = hierarchicalBootstrapRatio(baseline, current, { alpha: options.alpha ?? 0.05 });
  const bandPct = Math.max(floor, repeatSpreadBandPct(mb, mc));
  const r = row(median(mb), median(mc), { runs, interval: [ci.low, ci.high], bandPct });
  return { ...r, verdict: judge(r.changePct, bandPct, ci.low > 1 || ci.high < 1) };
}

function percentChange(b: number, c: number): number {
  return b === 0 ? (c === 0 ? 0 : Infinity) : (100 * (c - b)) / Math.abs(b);
}

function spread(medians: number[]): RunSpread {
  return { count: medians.length, min: Math.min(...medians), max: Math.max(...medians) };
}
