/**
 * Statistics over repeats, for regression verdicts. The unit that varies between two results
 * files is the run (one repeat: its own process start, warm caches, machine state), not the step:
 * steps of one run are correlated, so a test that pools steps as independent samples calls any
 * shift between runs "significant" and hides real shifts behind within-run spread. Here each run
 * gives its median step, a side's value is the median of its runs' medians, and the uncertainty of
 * current/baseline comes from a hierarchical bootstrap: resample runs with replacement, then steps
 * within each chosen run, and take the ratio of the two sides' medians of run medians.
 *
 * @module
 */

import { Rng } from "../nn/rng.ts";
import { median } from "../results/stats.ts";

/** Options of {@linkcode hierarchicalBootstrapRatio}. */
export interface BootstrapOptions {
  /** Resamples. @default 2000 */
  iterations?: number;
  /** 1 - confidence of the interval. @default 0.05 */
  alpha?: number;
  /** Seed of the resampling (results are reproducible). @default 0x5eed */
  seed?: number;
}

/** current/baseline with its bootstrap interval. */
export interface RatioInterval {
  /** median of current run medians / median of baseline run medians. */
  ratio: number;
  /** Lower and upper bounds of the (1 - alpha) percentile interval. */
  low: number;
  high: number;
}

/**
 * The median of each run's samples.
 *
 * @param runs Per run, its samples.
 * @returns Per run, its median.
 */
export function runMedians(runs: readonly (readonly number[])[]): number[] {
  return runs.map((r) => median(r));
}

/**
 * The ratio current/baseline of the medians of run medians, with a hierarchical bootstrap
 * interval (runs resampled, then steps within each resampled run).
 *
 * @param baseline Per baseline run, its per-step samples (at least one run, one sample each).
 * @param current Per current run, its per-step samples.
 * @param options Resamples, alpha, seed.
 * @returns The ratio and its interval.
 * @throws {RangeError} If a side has no run or a run has no sample.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hierarchicalBootstrapRatio } from "./repeat_stats.ts";
 * const base = [[10, 10.2, 9.9], [10.1, 10, 10.3], [9.8, 10, 10.1]];
 * const slow = base.map((run) => run.map((x) => x * 1.3));
 * const r = hierarchicalBootstrapRatio(base, slow);
 * assert(Math.abs(r.ratio - 1.3) < 1e-9 && r.low > 1.2 && r.high < 1.4);
 * ```
 */
export function hierarchicalBootstrapRatio(
  baseline: readonly (readonly number[])[],
  current: readonly (readonly number[])[],
  options: BootstrapOptions = {},
): RatioInterval {
  const iterations = options.iterations ?? 2000;
  const alpha = options.alpha ?? 0.05;
  const sides = [baseline, current].map((runs, i) => {
    if (runs.length === 0) {
      throw new RangeError(`Cannot bootstrap: the ${i ? "current" : "baseline"} side has no run`);
    }
    return runs.map((r) => {
      if (r.length === 0) throw new RangeError("Cannot bootstrap: a run has no sample");
      return Float64Array.from(r).sort();
    });
  });
  const random = new Rng(options.seed ?? 0x5eed);
  const rng = () => random.uniform();
  const scratch = new Int32Array(Math.max(...sides.flat().map((r) => r.length)));
  // The inner level once per run: a bank of medians of resampled steps that each outer resample
  // draws from (a two-stage Monte Carlo; far cheaper than resampling steps in every iteration).
  const banks = sides.map((runs) =>
    runs.map((r) => Float64Array.from({ length: INNER }, () => resampledMedian(r, rng, scratch)))
  );
  const chosen = new Float64Array(Math.max(baseline.length, current.length));
  const ratios = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const [b, c] = banks.map((runs) => {
      for (let j = 0; j < runs.length; j++) {
        chosen[j] = runs[Math.floor(rng() * runs.length)][Math.floor(rng() * INNER)];
      }
      return medianOf(chosen, runs.length);
    });
    ratios[i] = ratioOf(c, b);
  }
  ratios.sort();
  const at = (q: number) =>
    ratios[Math.min(iterations - 1, Math.max(0, Math.floor(q * iterations)))];
  const ratio = ratioOf(median(runMedians(current)), median(runMedians(baseline)));
  return { ratio, low: at(alpha / 2), high: at(1 - alpha / 2) };
}

/**
 * The noise band that the spread between repeats sets: two robust standard deviations of the log
 * run medians, as a percentage change. The deviation of each run from its own side's median is
 * pooled over both sides and its median scaled by 1.4826 (the MAD, which one outlying run in three
 * does not inflate); a side's median run itself (deviation zero by construction) is left out.
 *
 * @param baseline Run medians of the baseline.
 * @param current Run medians of the current side.
 * @returns The band in percent; 0 where there is no spread to estimate (identical runs, one run a
 *   side) or a median is not positive.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { repeatSpreadBandPct } from "./repeat_stats.ts";
 * assert(repeatSpreadBandPct([100, 100, 100], [100, 100, 100]) === 0);
 * const band = repeatSpreadBandPct([95, 100, 105], [95, 100, 105]);
 * assert(band > 14 && band < 17, String(band));
 * ```
 */
export function repeatSpreadBandPct(
  baseline: readonly number[],
  current: readonly number[],
): number {
  if ([...baseline, ...current].some((x) => !(x > 0))) return 0;
  const deviations: number[] = [];
  for (const side of [baseline, current]) {
    const logs = side.map(Math.log);
    const center = median(logs);
    for (const l of logs) if (l !== center) deviations.push(Math.abs(l - center));
  }
  if (deviations.length === 0) return 0;
  return 100 * (Math.exp(2 * 1.4826 * median(deviations)) - 1);
}

/** Resampled medians kept per run for the inner level. */
const INNER = 200;

function ratioOf(num: number, den: number): number {
  if (den === 0) return num === 0 ? 1 : Infinity;
  return num / den;
}

/** The median of a with-replacement resample of `sorted`, in O(n) by counting indices. */
function resampledMedian(sorted: Float64Array, rng: () => number, counts: Int32Array): number {
  const n = sorted.length;
  counts.fill(0, 0, n);
  for (let k = 0; k < n; k++) counts[Math.floor(rng() * n)]++;
  // Order statistics lo and hi (equal for odd n) of the resample.
  const lo = (n - 1) >> 1;
  const hi = n >> 1;
  let seen = 0;
  let low = NaN;
  for (let idx = 0; idx < n; idx++) {
    seen += counts[idx];
    if (Number.isNaN(low) && seen > lo) low = sorted[idx];
    if (seen > hi) return (low + sorted[idx]) / 2;
  }
  return low;
}

/** The median of values[0..n): an insertion sort in place (n is a handful of runs). */
function medianOf(values: Float64Array, n: number): number {
  for (let i = 1; i < n; i++) {
    const x = values[i];
    let j = i - 1;
    while (j >= 0 && values[j] > x) {
      values[j + 1] = values[j];
      j--;
    }
    values[j + 1] = x;
  }
  return n % 2 ? values[n >> 1] : (values[n / 2 - 1] + values[n / 2]) / 2;
}
