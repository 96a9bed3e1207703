/**
 * Validation of the projection on what can be measured: leave one rank count out. For every rank
 * count p in the measured runs, a profile is calibrated on the runs at the other rank counts and
 * predicts the runs at p; the table compares predicted and measured step time, communication time
 * and bytes per point. The last line is the median absolute error of the step time, in percent.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { predictCosts } from "../config/cost_model.ts";
import { median } from "../results/stats.ts";
import { calibrateProfile, type MeasuredRun } from "./calibrate.ts";
import { projectStep } from "./step_model.ts";

/** One held-out run, predicted. */
export interface ValidationRow {
  id: string;
  ranks: number;
  measuredStepMs: number;
  predictedStepMs: number;
  measuredCommMs: number;
  predictedCommMs: number;
  measuredBytes: number;
  predictedBytes: number;
  /** |predicted - measured| / measured of the step time, in percent. */
  errorPct: number;
}

/** The validation. */
export interface Validation {
  rows: ValidationRow[];
  /** Median of the rows' step-time errors, in percent. */
  medianAbsErrorPct: number;
  /** Bytes predicted exactly for every run. */
  bytesExact: boolean;
}

/**
 * Leave-one-rank-count-out validation.
 *
 * @param runs Measured runs of one host.
 * @param cores Its cores.
 * @returns Per-run predictions and the median absolute error.
 * @throws {ConfigError} With fewer than two rank counts.
 */
export function validateProjection(runs: MeasuredRun[], cores: number): Validation {
  const ranks = [...new Set(runs.map((r) => r.config.ranks))].sort((a, b) => a - b);
  if (ranks.length < 2) {
    throw new ConfigError(
      "--validate",
      `${runs.length} runs`,
      `hold ${ranks.length} rank count: leaving one out needs two or more`,
    );
  }
  const rows: ValidationRow[] = [];
  for (const p of ranks) {
    const profile = calibrateProfile(
      runs.filter((r) => r.config.ranks !== p),
      cores,
      `without-p${p}`,
    );
    for (const r of runs.filter((x) => x.config.ranks === p)) {
      const s = projectStep(r.config, profile, r.bytesPerElement);
      const predictedBytes =
        predictCosts(r.config, { bytesPerElement: r.bytesPerElement, workload: r.config.workload })
          .bytesSentPerRankPerStep;
      rows.push({
        id: r.id,
        ranks: p,
        measuredStepMs: r.stepS * 1000,
        predictedStepMs: s.stepS * 1000,
        measuredCommMs: r.commS * 1000,
        predictedCommMs: (s.hostS + s.latencyS + s.bandwidthS) * 1000,
        measuredBytes: r.bytesSent,
        predictedBytes,
        errorPct: (100 * Math.abs(s.stepS - r.stepS)) / r.stepS,
      });
    }
  }
  return {
    rows,
    medianAbsErrorPct: median(rows.map((r) => r.errorPct)),
    bytesExact: rows.every((r) => r.measuredBytes === r.predictedBytes),
  };
}
