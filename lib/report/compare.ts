/**
 * Regression tracking between two results files. Runs are matched by configuration hash (repeats
 * pool their samples). For each metric the suite knows which direction is better; a change is a
 * regression only when it exceeds a noise band (default 5%, settable per metric) AND, for
 * measured metrics, is statistically significant over the samples by a two-sided Mann-Whitney U
 * test (alpha 0.05). Deterministic metrics (payload bytes, steps to target) need no test: any
 * change beyond the band counts. Points on one side only, and runs that failed, are listed.
 *
 * @module
 */

import { mannWhitneyU } from "./mann_whitney.ts";
import type { ResultsFile, RunResult } from "../results/results.ts";
import { median } from "../results/stats.ts";

/** A metric the comparison knows. */
export interface MetricSpec {
  /** Key, e.g. `stepTimeMs`. */
  key: string;
  /** Human label. */
  label: string;
  /** Unit. */
  unit: string;
  /** Which direction is better. */
  better: "lower" | "higher";
  /** Exact metrics are compared without a significance test. */
  deterministic: boolean;
  /** Samples of one run, or null when the run does not have the metric. */
  samples(run: RunResult): number[] | null;
}

/** The metrics compared, in report order. */
export const METRICS: readonly MetricSpec[] = [
  {
    key: "stepTimeMs",
    label: "step time",
    unit: "ms",
    better: "lower",
    deterministic: false,
    samples: (r) => r.metrics?.stepTimeMs.samples ?? null,
  },
  {
    key: "commTimeMs",
    label: "communication time",
    unit: "ms",
    better: "lower",
    deterministic: false,
    samples: (r) => r.metrics?.commTimeMs.samples ?? null,
  },
  {
    key: "joulesPerStep",
    label: "energy per step",
    unit: "J",
    better: "lower",
    deterministic: false,
    samples: (r) => r.metrics?.energy.joulesPerStep?.samples ?? null,
  },
  {
    key: "bytesSentPerRankPerStep",
    label: "bytes sent per rank per step",
    unit: "B",
    better: "lower",
    deterministic: true,
    samples: (r) => (r.metrics ? [r.metrics.bytesSentPerRankPerStep] : null),
  },
  {
    key: "bytesReceivedPerRankPerStep",
    label: "bytes received per rank per step",
    unit: "B",
    better: "lower",
    deterministic: true,
    samples: (r) => (r.metrics ? [r.metrics.bytesReceivedPerRankPerStep] : null),
  },
  {
    key: "stepsToTarget",
    label: "steps to target",
    unit: "steps",
    better: "lower",
    deterministic: true,
    samples: (
      r,
    ) => (r.metrics?.loss?.stepsToTarget == null ? null : [r.metrics.loss.stepsToTarget]),
  },
];

/** Options of {@linkcode compareResults}. */
export interface CompareOptions {
  /** Noise band in percent. @default 5 */
  noisePct?: number;
  /** Noise band per metric key, in percent. */
  noisePctFor?: Record<string, number>;
  /** Significance level of the Mann-Whitney U test. @default 0.05 */
  alpha?: number;
}

/** One metric of one point. */
export interface MetricComparison {
  point: string;
  configHash: string;
  metric: string;
  unit: string;
  baseline: number;
  current: number;
  /** (current - baseline) / baseline, in percent. */
  changePct: number;
  /** Mann-Whitney p-value; null for deterministic metrics. */
  pValue: number | null;
  verdict: "regression" | "improvement" | "noise" | "unchanged" | "incomparable";
  /** Why, when not obvious (e.g. energy methods differ). */
  note?: string;
}

/** The comparison of two files. */
export interface ComparisonReport {
  rows: MetricComparison[];
  /** Points only in the baseline. */
  baselineOnly: string[];
  /** Points only in the current file. */
  currentOnly: string[];
  /** Points whose current runs failed (counted as regressions). */
  failed: { point: string; error: string }[];
  /** Whether anything regressed (a failed point included). */
  regressed: boolean;
}

/**
 * Compares two results files.
 *
 * @param baseline The reference.
 * @param current The candidate.
 * @param options Noise bands and alpha.
 * @returns Rows per point and metric, missing points, failures.
 */
export function compareResults(
  baseline: ResultsFile,
  current: ResultsFile,
  options: CompareOptions = {},
): ComparisonReport {
  const alpha = options.alpha ?? 0.05;
  const base = group(baseline.runs);
  const cur = group(current.runs);
  const rows: MetricComparison[] = [];
  const failed: ComparisonReport["failed"] = [];
  for (const [hash, curRuns] of cur) {
    const baseRuns = base.get(hash);
    if (!baseRuns) continue;
    const point = curRuns[0].point;
    const bad = curRuns.find((r) => r.status !== "ok");
    if (bad) {
      failed.push({
        point,
        error: bad.status === "failed" ? bad.error ?? "failed" : `${bad.status}: ${bad.error}`,
      });
      continue;
    }
    const okBase = baseRuns.filter((r) => r.status === "ok");
    if (okBase.length === 0) continue;
    for (const spec of METRICS) {
      const b = pool(okBase, spec);
      const c = pool(curRuns, spec);
      if (!b || !c) continue;
      const row = compareMetric(
        spec,
        b,
        c,
        options.noisePctFor?.[spec.key] ?? options.noisePct ?? 5,
        alpha,
      );
      if (spec.key === "joulesPerStep") {
        const [mb, mc] = [okBase[0].metrics!.energy.method, curRuns[0].metrics!.energy.method];
        if (mb !== mc) {
          row.verdict = "incomparable";
          row.note = `energy method changed from ${mb} to ${mc}`;
        }
      }
      rows.push({ point, configHash: hash, ...row });
    }
  }
  const names = (m: Map<string, RunResult[]>, other: Map<string, RunResult[]>) =>
    [...m].filter(([h]) => !other.has(h)).map(([, runs]) => runs[0].point);
  const baselineOnly = names(base, cur);
  const currentOnly = names(cur, base);
  return {
    rows,
    baselineOnly,
    currentOnly,
    failed,
    regressed: failed.length > 0 || rows.some((r) => r.verdict === "regression"),
  };
}

function group(runs: RunResult[]): Map<string, RunResult[]> {
  const out = new Map<string, RunResult[]>();
  for (const r of runs) out.set(r.configHash, [...(out.get(r.configHash) ?? []), r]);
  return out;
}

/**
 * The samples of a metric over runs of one configuration (repeats pooled).
 *
 * @param runs The runs.
 * @param spec The metric.
 * @returns The samples, or null when a run lacks the metric.
 */
export function pool(runs: RunResult[], spec: MetricSpec): number[] | null {
  const all: number[] = [];
  for (const r of runs) {
    const s = spec.samples(r);
    if (!s) return null;
    all.push(...s);
  }
  return all.length ? all : null;
}

/**
 * Compares one metric's samples: the verdict compareResults gives a point.
 *
 * @param spec The metric.
 * @param b Baseline samples.
 * @param c Current samples.
 * @param noisePct Noise band in percent.
 * @param alpha Significance level.
 * @returns Medians, change, p-value and verdict.
 */
export function compareMetric(
  spec: MetricSpec,
  b: number[],
  c: number[],
  noisePct: number,
  alpha: number,
): Omit<MetricComparison, "point" | "configHash"> {
  const baseline = median(b);
  const current = median(c);
  const changePct = baseline === 0
    ? (current === 0 ? 0 : Infinity)
    : (100 * (current - baseline)) / Math.abs(baseline);
  const worse = spec.better === "lower" ? changePct > 0 : changePct < 0;
  const pValue = spec.deterministic ? null : mannWhitneyU(b, c).pValue;
  let verdict: MetricComparison["verdict"];
  if (changePct === 0) verdict = "unchanged";
  else if (Math.abs(changePct) <= noisePct) verdict = "noise";
  else if (pValue !== null && pValue >= alpha) verdict = "noise";
  else verdict = worse ? "regression" : "improvement";
  return { metric: spec.key, unit: spec.unit, baseline, current, changePct, pValue, verdict };
}

/**
 * A markdown summary for a CI job summary or a pull-request comment.
 *
 * @param report The comparison.
 * @param options The bands and alpha used (stated in the text).
 * @returns Markdown.
 */
export function comparisonMarkdown(report: ComparisonReport, options: CompareOptions = {}): string {
  const lines: string[] = [];
  const flagged = report.rows.filter((r) =>
    r.verdict === "regression" || r.verdict === "improvement"
  );
  lines.push(report.regressed ? "## phantom-bench: regression" : "## phantom-bench: no regression");
  lines.push("");
  lines.push(
    `Noise band ${options.noisePct ?? 5}%${
      options.noisePctFor && Object.keys(options.noisePctFor).length
        ? ` (${Object.entries(options.noisePctFor).map(([k, v]) => `${k} ${v}%`).join(", ")})`
        : ""
    }; measured metrics must also differ by a two-sided Mann-Whitney U test at alpha ` +
      `${options.alpha ?? 0.05}; payload bytes and steps to target are compared exactly.`,
  );
  lines.push("");
  const table = (rows: MetricComparison[]) => {
    lines.push("| point | metric | baseline | current | change | p | verdict |");
    lines.push("| --- | --- | --- | --- | --- | --- | --- |");
    for (const r of rows) {
      lines.push(
        `| ${r.point} | ${r.metric} | ${fmt(r.baseline)} ${r.unit} | ${
          fmt(r.current)
        } ${r.unit} | ${r.changePct >= 0 ? "+" : ""}${r.changePct.toFixed(1)}% | ${
          r.pValue === null ? "exact" : r.pValue.toPrecision(2)
        } | ${r.verdict}${r.note ? ` (${r.note})` : ""} |`,
      );
    }
    lines.push("");
  };
  if (flagged.length) {
    lines.push("### Changes beyond noise");
    lines.push("");
    table(flagged);
  }
  if (report.failed.length) {
    lines.push("### Failed in the current run");
    lines.push("");
    for (const f of report.failed) lines.push(`- ${f.point}: ${f.error}`);
    lines.push("");
  }
  if (report.baselineOnly.length || report.currentOnly.length) {
    lines.push("### Not compared");
    lines.push("");
    for (const p of report.baselineOnly) lines.push(`- only in the baseline: ${p}`);
    for (const p of report.currentOnly) lines.push(`- only in the current run: ${p}`);
    lines.push("");
  }
  lines.push("<details><summary>All metrics</summary>");
  lines.push("");
  table(report.rows);
  lines.push("</details>");
  return lines.join("\n") + "\n";
}

function fmt(v: number): string {
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4);
}
