/**
 * The metrics a results file's runs are compared and tracked by, in one table: key, label, unit,
 * which direction is better, whether the number is exact (bytes, steps: the same configuration
 * gives the same value, so any change is real) or measured (times, energy: it varies from run to
 * run, and a verdict needs repeats and statistics), and how to read it from a run. Compare,
 * trends and the dashboard exports read this table.
 *
 * @module
 */

import type { RunResult } from "./results.ts";

/** A metric of a run. */
export interface MetricSpec {
  /** Key, e.g. `stepTimeMs`. */
  key: string;
  /** Human label. */
  label: string;
  /** Unit. */
  unit: string;
  /** Which direction is better. */
  better: "lower" | "higher";
  /**
   * `exact`: equal configurations give equal values (bytes, steps to target); `measured`: the
   * value varies between runs (time, energy) and is judged over repeats.
   */
  kind: "exact" | "measured";
  /** Bencher Metric Format measure, where exported. */
  bencher?: string;
  /**
   * Per-step samples of one run (measured metrics) or its one value (exact metrics); null when
   * the run does not have the metric.
   */
  samples(run: RunResult): number[] | null;
}

/** The metrics compared and tracked, in report order. */
export const METRICS: readonly MetricSpec[] = [
  {
    key: "stepTimeMs",
    label: "step time",
    unit: "ms",
    better: "lower",
    kind: "measured",
    bencher: "step-time",
    samples: (r) => r.metrics?.stepTimeMs.samples ?? null,
  },
  {
    key: "commTimeMs",
    label: "communication time",
    unit: "ms",
    better: "lower",
    kind: "measured",
    bencher: "communication-time",
    samples: (r) => r.metrics?.commTimeMs.samples ?? null,
  },
  {
    key: "joulesPerStep",
    label: "energy per step",
    unit: "J",
    better: "lower",
    kind: "measured",
    bencher: "energy-per-step",
    samples: (r) => r.metrics?.energy.joulesPerStep?.samples ?? null,
  },
  {
    key: "bytesSentPerRankPerStep",
    label: "bytes sent per rank per step",
    unit: "B",
    better: "lower",
    kind: "exact",
    bencher: "bytes-sent",
    samples: (r) => (r.metrics ? [r.metrics.bytesSentPerRankPerStep] : null),
  },
  {
    key: "bytesReceivedPerRankPerStep",
    label: "bytes received per rank per step",
    unit: "B",
    better: "lower",
    kind: "exact",
    samples: (r) => (r.metrics ? [r.metrics.bytesReceivedPerRankPerStep] : null),
  },
  {
    key: "stepsToTarget",
    label: "steps to target",
    unit: "steps",
    better: "lower",
    kind: "exact",
    samples: (r) => r.metrics?.loss?.stepsToTarget == null ? null : [r.metrics.loss.stepsToTarget],
  },
];

/**
 * Looks a metric up by key.
 *
 * @param key The metric's key.
 * @returns Its spec.
 * @throws {RangeError} If no metric has that key.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metricSpec } from "./metrics.ts";
 * assert(metricSpec("stepTimeMs").better === "lower");
 * ```
 */
export function metricSpec(key: string): MetricSpec {
  const spec = METRICS.find((m) => m.key === key);
  if (!spec) {
    throw new RangeError(
      `Cannot find metric: ${JSON.stringify(key)} is none of ${
        METRICS.map((m) => m.key).join(", ")
      }`,
    );
  }
  return spec;
}
