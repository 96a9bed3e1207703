/**
 * Exports of a results file for existing dashboards: Bencher Metric Format (BMF) and
 * github-action-benchmark's `customSmallerIsBetter` / `customBiggerIsBetter` JSON. Benchmark
 * names are the run's point id, so repeats of a point report its first ok repeat.
 *
 * @module
 */

import { METRICS, metricSpec } from "../results/metrics.ts";
import type { ResultsFile, RunResult } from "../results/results.ts";
import { distribution } from "../results/stats.ts";

/** One BMF measure. */
export interface BencherMeasure {
  value: number;
  lower_value?: number;
  upper_value?: number;
}

/**
 * Bencher Metric Format: `{ point: { measure: { value, lower_value, upper_value } } }`, with
 * measures `step-time` (ms), `communication-time` (ms), `energy-per-step` (J; only where energy
 * was measured or modelled), `bytes-sent` (B per rank per step) and `throughput` (GFLOP/s).
 *
 * @param results A results file.
 * @returns The BMF object.
 */
export function toBencher(results: ResultsFile): Record<string, Record<string, BencherMeasure>> {
  const out: Record<string, Record<string, BencherMeasure>> = {};
  for (const run of firstOkRuns(results)) {
    const measures: Record<string, BencherMeasure> = {};
    // The measures the metric registry names (lib/results/metrics.ts), then the FLOP rate.
    for (const spec of METRICS) {
      const samples = spec.bencher ? spec.samples(run) : null;
      if (!spec.bencher || !samples?.length) continue;
      const d = distribution(samples);
      measures[spec.bencher] = spec.kind === "exact"
        ? { value: samples[0] }
        : { value: d.median, lower_value: d.p25, upper_value: d.p75 };
    }
    measures["throughput"] = { value: run.metrics!.achievedGflops };
    out[run.point] = measures;
  }
  return out;
}

/** One github-action-benchmark entry. */
export interface GithubBenchmarkEntry {
  name: string;
  unit: string;
  value: number;
  range?: string;
  extra?: string;
}

/**
 * github-action-benchmark custom JSON: `smaller` gives step time, energy per step (with its
 * method) and bytes (customSmallerIsBetter); `bigger` gives FLOP/s (customBiggerIsBetter).
 *
 * @param results A results file.
 * @param kind Which tool input.
 * @returns The entries.
 */
export function toGithubBenchmark(
  results: ResultsFile,
  kind: "smaller" | "bigger",
): GithubBenchmarkEntry[] {
  const entries: GithubBenchmarkEntry[] = [];
  for (const run of firstOkRuns(results)) {
    const m = run.metrics!;
    if (kind === "bigger") {
      entries.push({ name: `${run.point} throughput`, unit: "GFLOP/s", value: m.achievedGflops });
      continue;
    }
    const spread = (d: { p25: number; p75: number }) =>
      `p25-p75 ${d.p25.toPrecision(4)}-${d.p75.toPrecision(4)}`;
    for (const key of ["stepTimeMs", "joulesPerStep", "bytesSentPerRankPerStep"]) {
      const spec = metricSpec(key);
      const samples = spec.samples(run);
      if (!samples?.length) continue;
      const d = distribution(samples);
      entries.push({
        name: `${run.point} ${spec.label}`,
        unit: spec.unit,
        value: spec.kind === "exact" ? samples[0] : d.median,
        ...(spec.kind === "measured" ? { range: spread(d) } : {}),
        ...(key === "joulesPerStep" ? { extra: `method: ${m.energy.method}` } : {}),
      });
    }
  }
  return entries;
}

function firstOkRuns(results: ResultsFile): RunResult[] {
  const seen = new Set<string>();
  return results.runs.filter((r) => {
    if (r.status !== "ok" || seen.has(r.point)) return false;
    seen.add(r.point);
    return true;
  });
}
