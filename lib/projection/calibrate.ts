/**
 * Calibration: a hardware profile fitted to measured results of one host (training and
 * inference runs of `deno task bench`), so that projections of that host can be checked against
 * what it measured, and so that a user's own cluster runs give a profile of their own.
 *
 * - Compute: each run's compute time per step against its matrix products: FLOPs at a peak rate
 *   plus a fixed time per product (so a product of size s runs at s / (s + s_1/2) of peak) plus an
 *   update time per parameter.
 * - Transport (the suite's NATS collectives): communication time per step = calls x host +
 *   messages x per-message cost + bytes received / bandwidth, fitted by non-negative least squares
 *   on relative error. Where ranks outnumber the host's cores they share them, and the per-message
 *   and per-byte work stretches with p / cores (both fits use the host's core count, recorded in
 *   its results).
 * - Power, where runs measured (or modelled) energy: energy per step = node static power x step
 *   time + busy power x utilisation x compute time x busy devices + waiting power x communication
 *   time x busy devices, the same non-negative fit.
 *
 * @module
 */

import { validateTrainConfig } from "../config/config.ts";
import { ConfigError } from "../config/config_error.ts";
import { matmulShapes, predictCosts } from "../config/cost_model.ts";
import type { ResultsFile, RunResult } from "../results/results.ts";
import { median } from "../results/stats.ts";
import { collectiveTime, natsConnections } from "./collectives.ts";
import type { HardwareProfile } from "./profile.ts";
import { projectStep } from "./step_model.ts";
import { stepCollectives } from "../config/collectives.ts";

/** A measured run reduced to what calibration uses. */
export interface MeasuredRun {
  id: string;
  config: ReturnType<typeof validateTrainConfig>;
  bytesPerElement: number;
  /** Medians over the timed steps, in s. */
  stepS: number;
  computeS: number;
  commS: number;
  /** Median J per step, where energy was measured or modelled. */
  energyJ: number | null;
  bytesSent: number;
  bytesReceived: number;
  /** The shaped link rate of an emulated network it ran on (config.link; null: unshaped). */
  link?: string | null;
  /** Runs with replicas: the median time of the data-parallel all-reduce, in s. */
  dataParallelS?: number;
}

/**
 * The runs of results files that can calibrate a profile (ok, measured, not projected).
 *
 * @param files Results files of one host.
 * @returns The runs and the host's core count.
 */
export function measuredRuns(files: ResultsFile[]): { runs: MeasuredRun[]; cores: number } {
  const byConfig = new Map<string, MeasuredRun[]>();
  let cores = 0;
  for (const f of files) {
    const env = f.environment as { cpu?: { cores?: number } };
    cores = Math.max(cores, env.cpu?.cores ?? 0);
    for (const r of f.runs) {
      if (r.status !== "ok" || !r.metrics || r.projected) continue;
      byConfig.set(r.configHash, [...(byConfig.get(r.configHash) ?? []), toMeasured(r)]);
    }
  }
  // Repeats of a configuration (in one file or several) become one run: the median of each figure.
  const runs = [...byConfig.values()].map((list) => {
    const mid = (f: (r: MeasuredRun) => number) => median(list.map(f));
    const energies = list.map((r) => r.energyJ).filter((e): e is number => e !== null);
    return {
      ...list[0],
      id: list.length > 1
        ? `${list[0].id.replace(/#\d+$/, "")} (median of ${list.length})`
        : list[0].id,
      stepS: mid((r) => r.stepS),
      computeS: mid((r) => r.computeS),
      commS: mid((r) => r.commS),
      ...(list[0].dataParallelS !== undefined
        ? { dataParallelS: mid((r) => r.dataParallelS!) }
        : {}),
      energyJ: energies.length === list.length ? median(energies) : null,
    };
  });
  return { runs, cores: cores || 1 };
}

/**
 * The training configuration a run recorded (its results-file fields: phantomWidth null outside
 * phantom, dtype, warm-up).
 *
 * @param r A run.
 * @returns The validated configuration.
 */
export function runConfig(r: RunResult) {
  const { phantomWidth, dtype: _d, warmup: _w, link: _l, ...rest } = r.config as Record<
    string,
    unknown
  >;
  return validateTrainConfig({ ...rest, ...(phantomWidth === null ? {} : { phantomWidth }) });
}

function toMeasured(r: RunResult): MeasuredRun {
  const m = r.metrics!;
  const config = runConfig(r);
  const dtype = String(r.config.dtype ?? "float32");
  return {
    id: r.id,
    config,
    bytesPerElement: dtype === "float32" ? 4 : 2,
    stepS: m.stepTimeMs.median / 1000,
    computeS: m.computeTimeMs.median / 1000,
    commS: m.commTimeMs.median / 1000,
    energyJ: m.energy.method === "unavailable" || m.energy.method === "projected"
      ? null
      : m.energy.joulesPerStep?.median ?? null,
    bytesSent: m.bytesSentPerRankPerStep,
    bytesReceived: m.bytesReceivedPerRankPerStep,
    ...(r.config.link !== undefined ? { link: r.config.link } : {}),
    ...(m.dataParallel ? { dataParallelS: m.dataParallel.commTimeMs.median / 1000 } : {}),
  };
}

/**
 * Non-negative least squares of a small system (active set: drop the most negative coefficient
 * and refit), each row weighted.
 *
 * @param rows Feature vectors.
 * @param y Targets.
 * @param w Weights.
 * @returns Coefficients, all >= 0.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nnls } from "./calibrate.ts";
 * const x = nnls([[1, 0], [0, 1], [1, 1]], [2, 3, 5], [1, 1, 1]);
 * assert(Math.abs(x[0] - 2) < 1e-9 && Math.abs(x[1] - 3) < 1e-9);
 * ```
 */
export function nnls(rows: number[][], y: number[], w: number[]): number[] {
  const k = rows[0]?.length ?? 0;
  let active = [...Array(k).keys()];
  while (true) {
    const x = solveLeastSquares(rows.map((r) => active.map((j) => r[j])), y, w);
    const full = Array(k).fill(0);
    active.forEach((j, i) => (full[j] = x[i]));
    const worst = active.reduce((a, j) => (full[j] < (a === -1 ? 0 : full[a]) ? j : a), -1);
    if (worst === -1) return full;
    active = active.filter((j) => j !== worst);
    if (active.length === 0) return Array(k).fill(0);
  }
}

function solveLeastSquares(rows: number[][], y: number[], w: number[]): number[] {
  const k = rows[0]?.length ?? 0;
  const a = Array.from({ length: k }, () => Array(k).fill(0));
  const b = Array(k).fill(0);
  rows.forEach((r, i) => {
    for (let p = 0; p < k; p++) {
      b[p] += w[i] * r[p] * y[i];
      for (let q = 0; q < k; q++) a[p][q] += w[i] * r[p] * r[q];
    }
  });
  // Gauss-Jordan with partial pivoting; a singular column gets 0.
  for (let c = 0; c < k; c++) {
    let piv = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r;
    [a[c], a[piv]] = [a[piv], a[c]];
    [b[c], b[piv]] = [b[piv], b[c]];
    if (Math.abs(a[c][c]) < 1e-300) continue;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      for (let q = c; q < k; q++) a[r][q] -= f * a[c][q];
      b[r] -= f * b[c];
    }
  }
  return b.map((v, i) => (Math.abs(a[i][i]) < 1e-300 ? 0 : v / a[i][i]));
}

/** Products of a run: FLOPs of one product and how many. */
/** A one-host profile on the suite's NATS transport (maxNodes 1; no power until fitted). */
function hostProfile(
  id: string,
  description: string,
  cores: number,
  compute: Partial<HardwareProfile["compute"]>,
  transport: { hostS: number } & NonNullable<HardwareProfile["collectives"]["nats"]>,
): HardwareProfile {
  const { hostS, ...nats } = transport;
  return {
    id,
    description,
    devicesPerNode: cores,
    devicesPerPowerDomain: 1,
    maxNodes: 1,
    compute: {
      precision: "fp32",
      peakFlops: { fp32: 1 },
      efficiency: [[1, 1]],
      hbmBytesPerS: 1e12,
      memoryBytes: 1e15,
      updateBytesPerParameter: 0,
      ...compute,
    },
    collectives: {
      algorithm: "nats",
      hostS,
      intra: { alphaS: 0, busBytesPerS: 1 },
      inter: { alphaS: 0, nicBytesPerSPerNode: 1, efficiency: 1 },
      nats,
    },
    power: null,
    bands: { optimistic: {}, pessimistic: {} },
    sources: {
      "compute":
        "calibrated: compute time per step = FLOPs / peak + products x per-product time + parameters x update time",
      "collectives":
        "calibrated: communication time per step = calls x host + messages x per-message time + bytes / bandwidth",
      "power":
        "calibrated: energy per step against step, compute and communication time, where energy was measured or modelled",
    },
  };
}

function products(run: MeasuredRun): { flops: number; count: number }[] {
  const inference = run.config.workload === "inference";
  return matmulShapes(run.config)
    .filter((s) => !inference || s.name.includes(".fwd"))
    .map((s) => ({ flops: 2 * s.rows * s.inner * s.cols, count: s.count }));
}

/**
 * Fits a profile to measured runs of one host. Runs on shaped links of an emulated network are
 * left out (their link time is the link model's, lib/projection/link_model.ts, not the host's),
 * and data-parallel runs (config.replicas), whose gradient traffic the step model lacks.
 *
 * @param measured The runs (see {@linkcode measuredRuns}).
 * @param cores The host's CPU cores: its devices.
 * @param id The profile's id.
 * @returns The profile.
 * @throws {ConfigError} Without runs to fit.
 */
export function calibrateProfile(
  measured: MeasuredRun[],
  cores: number,
  id = "calibrated",
): HardwareProfile {
  // Data-parallel runs are left out too: the step model has no data-parallel traffic yet.
  const runs = measured.filter((r) => !r.link && (r.config.replicas ?? 1) === 1);
  if (runs.length === 0) {
    throw new ConfigError(
      "RESULTS",
      "(no measured runs)",
      "must hold measured runs (status ok, not projected, not on shaped links) to calibrate",
    );
  }
  const sharing = (p: number) => Math.max(1, p / cores);
  // The local launcher: min(p, cores) processes of up to 8 worker threads, one connection each.
  const connectionsMax = cores * 8;
  // One joint fit of the step time: compute (F / R_inf + products x t0 + parameters x u: a
  // latency-bandwidth model of the products, Hockney's r_inf and n_1/2, so a product of size s runs
  // at s / (s + t0 R_inf) of peak) and communication (calls x host + messages x alpha + bytes /
  // B), the compute and per-message work stretched by sharing. Fitting the step rather than its
  // compute and communication parts apart matters on a shared host: there a rank's time "in a
  // collective" is mostly other ranks computing. Non-negative least squares on relative error.
  // Unit coefficients: the collective model then returns calls, messages and bytes themselves.
  const unit = hostProfile("unit", "", cores, {}, {
    hostS: 1,
    messageS: 1,
    bytesPerS: 1,
    assemblyBytesPerS: 1,
    connectionsMax,
  });
  const timed = runs.filter((r) => r.stepS > 0);
  const features = timed.map((r) => {
    const ps = products(r);
    const f = sharing(r.config.ranks);
    const update = r.config.workload === "inference" ? 0 : predictCosts(r.config).parametersPerRank;
    const stretch = Math.max(1, natsConnections(unit, r.config.ranks) / cores);
    let calls = 0, messages = 0, bytes = 0, assembled = 0;
    for (
      const c of stepCollectives(r.config, {
        bytesPerElement: r.bytesPerElement,
        workload: r.config.workload,
      })
    ) {
      const t = collectiveTime(unit, c.op, r.config.ranks, c.bytes);
      calls += c.count * t.hostS * f;
      messages += c.count * t.latencyS * stretch;
      bytes += c.count * t.bandwidthS * stretch;
      assembled += c.count * t.assemblyS * f;
    }
    return [
      f * ps.reduce((s, x) => s + x.flops * x.count, 0),
      f * ps.reduce((s, x) => s + x.count, 0),
      f * update,
      f,
      calls,
      messages,
      bytes,
      assembled,
    ];
  });
  const [perFlop, perProduct, perParameter, perStep, host, message, perByte, perAssembled] = nnls(
    features,
    timed.map((r) => r.stepS),
    timed.map((r) => 1 / r.stepS ** 2),
  );
  const peak = perFlop > 0 ? 1 / perFlop : 1e15;
  const half = perProduct * peak; // FLOPs at which a product reaches half of peak
  const efficiency: [number, number][] = [];
  for (let e = 2; e <= 13; e += 0.5) {
    const size = 10 ** e;
    efficiency.push([size, Math.max(1e-9, size / (size + half))]);
  }
  const base = hostProfile(
    id,
    `fitted by deno task project --calibrate to ${runs.length} measured runs on a host of ${cores} cores`,
    cores,
    {
      peakFlops: { fp32: peak },
      efficiency,
      updateBytesPerParameter: perParameter * 1e12,
      stepOverheadS: perStep,
    },
    {
      hostS: host,
      messageS: message,
      bytesPerS: perByte > 0 ? 1 / perByte : 1e15,
      assemblyBytesPerS: perAssembled > 0 ? 1 / perAssembled : 1e15,
      connectionsMax,
    },
  );
  // Power: static x step + busy x u x compute x devices + wait x comm x devices.
  const energyRuns = runs.filter((r) => r.energyJ !== null && r.energyJ > 0);
  if (energyRuns.length >= 3) {
    const rows = energyRuns.map((r) => {
      const s = projectStep(r.config, base, r.bytesPerElement);
      const devices = Math.min(r.config.ranks, cores);
      return [r.stepS, devices * s.utilisation * r.computeS, devices * r.commS];
    });
    const [staticW, busyW, waitW] = nnls(
      rows,
      energyRuns.map((r) => r.energyJ!),
      energyRuns.map((r) => 1 / r.energyJ! ** 2),
    );
    base.power = {
      busyW,
      idleW: 0,
      waitFraction: busyW > 0 ? waitW / busyW : 0,
      nodeStaticW: staticW,
    };
  }
  return base;
}
