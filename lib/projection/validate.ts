/**
 * Validation of the projection on what can be measured: leave one rank count out. For every rank
 * count p in the measured runs, a profile is calibrated on the runs at the other rank counts and
 * predicts the runs at p; the table compares predicted and measured step time, communication time
 * and bytes per point. The last line is the median absolute error of the step time, in percent.
 *
 * Runs of the `network` sweep (emulated hosts, `config.link`) are validated another way: a
 * profile calibrated on the unshaped runs, given each shaped run's link (its rate, the TCP payload
 * fraction: lib/projection/link_model.ts), predicts the shaped runs' step time; the error is
 * reported per link rate too. Runs with replicas (`config.replicas`) likewise: a profile calibrated
 * on the runs without replicas predicts those with, the data-parallel all-reduce from the
 * transport's model alone; the error is reported per d too.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { predictCosts } from "../config/cost_model.ts";
import { median } from "../results/stats.ts";
import { calibrateProfile, type MeasuredRun } from "./calibrate.ts";
import { projectStep } from "./step_model.ts";
import { linkBitsPerS } from "../config/link_rate.ts";
import { TCP_EFFICIENCY } from "./link_model.ts";
import type { HardwareProfile } from "./profile.ts";

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
  /** The shaped link rate it ran on (network sweep). */
  link?: string;
  /** Runs with replicas: the data-parallel all-reduce's time per step (part of the comm time). */
  measuredDataParallelMs?: number;
  predictedDataParallelMs?: number;
}

/** The validation. */
export interface Validation {
  rows: ValidationRow[];
  /** Median of the rows' step-time errors, in percent. */
  medianAbsErrorPct: number;
  /** Bytes predicted exactly for every run. */
  bytesExact: boolean;
  /** Network sweep: the median absolute error per link rate, in percent. */
  byLink?: Record<string, number>;
  /** Runs with replicas: the median absolute error per d, in percent. */
  byReplicas?: Record<string, number>;
  /** Runs with replicas: the median absolute error of the data-parallel term alone, in percent. */
  dataParallelErrorPct?: number;
}

function row(r: MeasuredRun, profile: HardwareProfile): ValidationRow {
  const s = projectStep(r.config, profile, r.bytesPerElement);
  const predictedBytes =
    predictCosts(r.config, { bytesPerElement: r.bytesPerElement, workload: r.config.workload })
      .bytesSentPerRankPerStep;
  return {
    id: r.id,
    ranks: r.config.ranks,
    measuredStepMs: r.stepS * 1000,
    predictedStepMs: s.stepS * 1000,
    measuredCommMs: r.commS * 1000,
    predictedCommMs: (s.hostS + s.latencyS + s.bandwidthS + s.dataParallelS) * 1000,
    measuredBytes: r.bytesSent,
    predictedBytes,
    errorPct: (100 * Math.abs(s.stepS - r.stepS)) / r.stepS,
    ...(r.link ? { link: r.link } : {}),
    ...(r.dataParallelS !== undefined
      ? {
        measuredDataParallelMs: r.dataParallelS * 1000,
        predictedDataParallelMs: s.dataParallelS * 1000,
      }
      : {}),
  };
}

/** The rows with their median step-time error and whether every run's bytes were exact. */
function summary(rows: ValidationRow[]): Validation {
  return {
    rows,
    medianAbsErrorPct: median(rows.map((r) => r.errorPct)),
    bytesExact: rows.every((r) => r.measuredBytes === r.predictedBytes),
  };
}

/** The median step-time error of the rows in each group (the key of a row and its index). */
function medianErrorBy(
  rows: ValidationRow[],
  key: (r: ValidationRow, i: number) => string | number,
): Record<string, number> {
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const k = String(key(r, i));
    groups.set(k, [...(groups.get(k) ?? []), r.errorPct]);
  });
  return Object.fromEntries([...groups].map(([k, errors]) => [k, median(errors)]));
}

/**
 * The network sweep's validation: calibrated on the unshaped runs, each shaped run predicted with
 * its link.
 *
 * @param runs Measured runs, some on shaped links.
 * @param cores The host's cores.
 * @returns One row per shaped run, the median error overall and per rate.
 * @throws {ConfigError} Without unshaped runs to calibrate on.
 */
export function validateLinks(runs: MeasuredRun[], cores: number): Validation {
  const unshaped = runs.filter((r) => !r.link);
  if (unshaped.length === 0) {
    throw new ConfigError(
      "--validate",
      `${runs.length} runs`,
      "are all on shaped links: the link model is checked against a profile calibrated on " +
        "unshaped runs of the same sweep (link none)",
    );
  }
  const profile = calibrateProfile(unshaped, cores, "unshaped-links");
  const rows = runs.filter((r) => r.link).map((r) =>
    row(r, {
      ...profile,
      collectives: {
        ...profile.collectives,
        link: { bytesPerS: linkBitsPerS(r.link!)! / 8, efficiency: TCP_EFFICIENCY, rate: r.link! },
      },
    })
  );
  return { ...summary(rows), byLink: medianErrorBy(rows, (r) => r.link!) };
}

/**
 * Runs with replicas: calibrated on the runs without, each run with replicas predicted.
 *
 * @param runs Measured runs, some with replicas.
 * @param cores The host's cores.
 * @returns One row per run with replicas, the median error overall and per d.
 * @throws {ConfigError} Without runs without replicas to calibrate on.
 */
export function validateReplicas(runs: MeasuredRun[], cores: number): Validation {
  const d = (r: MeasuredRun) => r.config.replicas ?? 1;
  if (!runs.some((r) => d(r) === 1)) {
    throw new ConfigError(
      "--validate",
      `${runs.length} runs`,
      "all have replicas: the data-parallel term is checked against a profile calibrated on " +
        "runs without replicas (d = 1) of the same sweep",
    );
  }
  const profile = calibrateProfile(runs, cores, "without-replicas");
  const replicated = runs.filter((r) => d(r) > 1);
  const rows = replicated.map((r) => row(r, profile));
  const dataParallel = rows.filter((r) => r.measuredDataParallelMs! > 0).map((r) =>
    (100 * Math.abs(r.predictedDataParallelMs! - r.measuredDataParallelMs!)) /
    r.measuredDataParallelMs!
  );
  return {
    ...summary(rows),
    byReplicas: medianErrorBy(rows, (_, i) => d(replicated[i])),
    ...(dataParallel.length ? { dataParallelErrorPct: median(dataParallel) } : {}),
  };
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
  if (runs.some((r) => r.link)) return validateLinks(runs, cores);
  if (runs.some((r) => (r.config.replicas ?? 1) > 1)) return validateReplicas(runs, cores);
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
    for (const r of runs.filter((x) => x.config.ranks === p)) rows.push(row(r, profile));
  }
  return summary(rows);
}
