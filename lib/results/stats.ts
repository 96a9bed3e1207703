/**
 * Order statistics of timing samples.
 *
 * @module
 */

/** Median and quartiles of a sample, with the sample itself. */
export interface Distribution {
  /** 50th percentile. */
  median: number;
  /** 25th percentile. */
  p25: number;
  /** 75th percentile. */
  p75: number;
  /** The samples, in measurement order. */
  samples: number[];
}

/**
 * Linear-interpolated percentile (the "R-7" / NumPy default definition).
 *
 * @param values Samples (not modified).
 * @param q Quantile in [0, 1].
 * @returns The percentile; NaN for no samples.
 * @throws {RangeError} If q is outside [0, 1].
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percentile } from "./stats.ts";
 * assert(percentile([1, 2, 3, 4], 0.5) === 2.5);
 * ```
 */
export function percentile(values: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) {
    throw new RangeError(`Cannot compute percentile: q (${q}) must be in [0, 1]`);
  }
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/**
 * @param values Samples (not modified).
 * @returns The median.
 */
export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

/**
 * @param samples Samples (kept, in order).
 * @returns Median, quartiles and the samples.
 */
export function distribution(samples: readonly number[]): Distribution {
  return {
    median: median(samples),
    p25: percentile(samples, 0.25),
    p75: percentile(samples, 0.75),
    samples: [...samples],
  };
}
