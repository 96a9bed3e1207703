/**
 * Projected results: a sweep's points on a hardware profile (lib/projection/step_model.ts), as
 * runs in the suite's results schema, each marked `projected` (profile, band, the breakdown of
 * the step time, the optimistic and pessimistic bands) with energy method `projected`, so a
 * report labels every number and `deno task compare` refuses to mix them with measurements.
 * Time and energy to a target loss come from a measured loss curve of the same model where one
 * is given (TP's curve does not depend on p; phantom's does), and the phantom width k that
 * minimises projected energy to target can be searched with measured steps to target.
 *
 * @module
 */

import type { TrainConfig } from "../config/config.ts";
import { predictCosts } from "../config/cost_model.ts";
import type { SweepPoint } from "../config/sweep.ts";
import { configHash, type ResultsFile, type RunResult } from "../results/results.ts";
import { distribution } from "../results/stats.ts";
import { formatBytes } from "../results/units.ts";
import { runConfig } from "./calibrate.ts";
import { type HardwareProfile, withBand } from "./profile.ts";
import { projectStep, type StepProjection } from "./step_model.ts";

/** A measured loss curve and where it comes from. */
export interface LossCurve {
  /** The measured run's id (and file). */
  from: string;
  config: TrainConfig;
  /** Steps to the target and the target, as measured. */
  stepsToTarget: number | null;
  target: NonNullable<NonNullable<RunResult["metrics"]>["loss"]>["target"];
  /** [steps, loss] of the held-out evaluations. */
  curve: [number, number][];
}

/**
 * The loss curves of measured results files.
 *
 * @param files Results files.
 * @returns One curve per measured training run.
 */
export function lossCurves(files: { name: string; results: ResultsFile }[]): LossCurve[] {
  const out: LossCurve[] = [];
  for (const { name, results } of files) {
    for (const r of results.runs) {
      const l = r.metrics?.loss;
      if (r.status !== "ok" || !l || r.projected) continue;
      out.push({
        from: `${name}: ${r.id}`,
        config: runConfig(r),
        stepsToTarget: l.stepsToTarget,
        target: l.target,
        curve: l.curve.map((c) => [c[0], c[3]]),
      });
    }
  }
  return out;
}

/** Whether a measured curve trains the same model (TP and serial: any p; phantom: the same p). */
export function sameModel(a: TrainConfig, b: TrainConfig): boolean {
  const fields: (keyof TrainConfig)[] = [
    "mode",
    "width",
    "layers",
    "batch",
    "inputWidth",
    "outputWidth",
    "seed",
  ];
  if (fields.some((f) => a[f] !== b[f])) return false;
  if (a.mode === "phantom" && (a.ranks !== b.ranks || a.phantomWidth !== b.phantomWidth)) {
    return false;
  }
  return JSON.stringify(a.optimizer) === JSON.stringify(b.optimizer) &&
    JSON.stringify(a.task) === JSON.stringify(b.task);
}

/** Options of {@linkcode projectRun}. */
export interface ProjectOptions {
  profile: HardwareProfile;
  /** Wire bytes per element. @default 4 */
  bytesPerElement?: number;
  /** Measured loss curves (time and energy to target where one matches). */
  curves?: LossCurve[];
}

const ms = (s: number) => s * 1000;

/**
 * Projects one point.
 *
 * @param point The point.
 * @param options Profile, element size, loss curves.
 * @returns A run marked projected (out-of-memory where the model does not fit the device).
 */
export async function projectRun(point: SweepPoint, options: ProjectOptions): Promise<RunResult> {
  const c = point.config;
  const bpe = options.bytesPerElement ?? 4;
  const { workload, ...fields } = c;
  const config = {
    ...fields,
    ...(workload === "inference" ? { workload } : {}),
    phantomWidth: c.phantomWidth ?? null,
    dtype: bpe === 4 ? "float32" : "float16",
    warmup: 0,
  };
  const base = {
    id: `${point.id}#0`,
    point: point.id,
    repeat: 0,
    configHash: await configHash(config),
    config,
  };
  const nominal = projectStep(c, options.profile, bpe);
  const band = (b: "optimistic" | "pessimistic") => {
    const s = projectStep(c, withBand(options.profile, b), bpe);
    return { stepTimeMs: ms(s.stepS), joulesPerStep: s.energyJ };
  };
  const curve = options.curves?.find((x) => sameModel(x.config, c));
  const projected = {
    profile: options.profile.id,
    band: "nominal",
    breakdown: {
      computeMs: ms(nominal.computeS),
      hostMs: ms(nominal.hostS),
      latencyMs: ms(nominal.latencyS),
      bandwidthMs: ms(nominal.bandwidthS),
      ...(nominal.dataParallelS > 0 ? { dataParallelMs: ms(nominal.dataParallelS) } : {}),
    },
    bands: { optimistic: band("optimistic"), pessimistic: band("pessimistic") },
    fitsMemory: nominal.fitsMemory,
    nodes: nominal.nodes,
    devicesCharged: nominal.devicesCharged,
    lossCurveFrom: curve?.from ?? null,
  };
  if (!nominal.fitsMemory) {
    return {
      ...base,
      status: "out-of-memory",
      error: `projected ${formatBytes(nominal.memoryBytes)} per rank does not fit the ${
        formatBytes(options.profile.compute.memoryBytes)
      } of a ${options.profile.id} device`,
      predictedMemoryBytesPerRank: nominal.memoryBytes,
      memoryCapBytes: options.profile.compute.memoryBytes,
      projected,
    };
  }
  return {
    ...base,
    status: "ok",
    metrics: metrics(c, nominal, options.profile, bpe, curve),
    projected,
  };
}

function metrics(
  c: TrainConfig,
  s: StepProjection,
  profile: HardwareProfile,
  bpe: number,
  curve: LossCurve | undefined,
): NonNullable<RunResult["metrics"]> {
  const costs = predictCosts(c, { bytesPerElement: bpe, workload: c.workload });
  const one = (v: number) => distribution([v]);
  const commS = s.hostS + s.latencyS + s.bandwidthS + s.dataParallelS;
  const energy = s.energyJ;
  const inference = c.workload === "inference";
  return {
    warmupSteps: 0,
    stepTimeMs: one(ms(s.stepS)),
    commTimeMs: one(ms(commS)),
    computeTimeMs: one(ms(s.computeS)),
    bytesSentPerRankPerStep: costs.bytesSentPerRankPerStep,
    bytesReceivedPerRankPerStep: costs.bytesReceivedPerRankPerStep,
    wireBytesSentPerRankPerStep: null,
    wireBytesReceivedPerRankPerStep: null,
    localBytesReceivedPerRankPerStep: null,
    bytesMatchPrediction: true,
    predicted: {
      bytesSentPerRankPerStep: costs.bytesSentPerRankPerStep,
      bytesReceivedPerRankPerStep: costs.bytesReceivedPerRankPerStep,
      flopsPerRankPerStep: costs.flopsPerRankPerStep,
      parametersPerRank: costs.parametersPerRank,
      parametersTotal: costs.parametersTotal,
      memoryBytesPerRank: s.memoryBytes,
    },
    ...(s.dataParallelS > 0
      ? {
        dataParallel: {
          replicas: c.replicas!,
          commTimeMs: one(ms(s.dataParallelS)),
          bytesSentPerRankPerStep: costs.dataParallelBytesSentPerRankPerStep,
          bytesReceivedPerRankPerStep: costs.dataParallelBytesReceivedPerRankPerStep,
          predictedBytesSentPerRankPerStep: costs.dataParallelBytesSentPerRankPerStep,
          predictedBytesReceivedPerRankPerStep: costs.dataParallelBytesReceivedPerRankPerStep,
        },
      }
      : {}),
    achievedGflops: (costs.flopsPerRankPerStep * c.ranks * (c.replicas ?? 1)) / s.stepS / 1e9,
    energy: {
      method: energy === null ? "unavailable" : "projected",
      backend: `projected: ${profile.id}`,
      joulesPerStep: energy === null ? null : one(energy),
      aboveIdleJoulesPerStep: null,
      perPhase: null,
      averageW: energy === null ? null : energy / s.stepS,
      shortWindows: 0,
      ...(energy === null
        ? { unavailableReason: `the profile ${profile.id} has no power figures` }
        : {}),
    },
    memory: {
      peakTensorBytesPerRank: s.memoryBytes,
      tensorBytesPerRank: Array(c.ranks).fill(s.memoryBytes),
      ranksPerEngine: 1,
      peakRssBytes: [],
      deviceBytesPerRank: null,
    },
    ...(inference
      ? {
        inference: {
          latencyMs: { ...one(ms(s.stepS)), p99: ms(s.stepS) },
          samplesPerSecond: c.batch / s.stepS,
          energyPerSampleJ: energy === null ? null : energy / c.batch,
        },
      }
      : curve
      ? {
        loss: {
          curve: curve.curve.map(([step, loss]) =>
            [step, ms(step * s.stepS), energy === null ? null : step * energy, loss] as [
              number,
              number,
              number | null,
              number,
            ]
          ),
          target: curve.target,
          stepsToTarget: curve.stepsToTarget,
          timeToTargetMs: curve.stepsToTarget === null ? null : ms(curve.stepsToTarget * s.stepS),
          energyToTargetJ: curve.stepsToTarget === null || energy === null
            ? null
            : curve.stepsToTarget * energy,
        },
      }
      : {}),
  };
}

/** One candidate of the phantom-width search. */
export interface KCandidate {
  point: string;
  k: number;
  /** Steps to target measured at small scale, and where. */
  stepsToTarget: number | null;
  from: string | null;
  /** Projected at the point's scale. */
  stepTimeMs: number;
  joulesPerStep: number | null;
  energyToTargetJ: number | null;
  timeToTargetMs: number | null;
  fitsMemory: boolean;
}

/**
 * For a phantom point, the projected energy to target of each candidate k: steps to target from
 * the measured phantom run with that k (same depth, batch, optimizer and task; the widest
 * measured, as the nearest to the point's scale), assumed to carry over to the point's width
 * and rank count, times the projected energy per step at the point's scale.
 *
 * @param point A phantom point.
 * @param ks Candidate phantom widths.
 * @param options Profile and measured curves.
 * @returns One row per k (k not below n/p is left out), best first.
 */
export function searchPhantomWidth(
  point: SweepPoint,
  ks: number[],
  options: ProjectOptions,
): KCandidate[] {
  const c = point.config;
  const m = c.width / c.ranks;
  const rows: KCandidate[] = [];
  for (const k of ks.filter((k) => k >= 1 && k < m)) {
    const config = { ...c, phantomWidth: k };
    const s = projectStep(config, options.profile, options.bytesPerElement ?? 4);
    const measured = (options.curves ?? [])
      .filter((x) =>
        x.config.mode === "phantom" && x.config.phantomWidth === k &&
        x.config.layers === c.layers &&
        x.config.batch === c.batch &&
        JSON.stringify(x.config.optimizer) === JSON.stringify(c.optimizer)
      )
      .sort((a, b) => b.config.width - a.config.width)[0];
    const steps = measured?.stepsToTarget ?? null;
    rows.push({
      point: point.id,
      k,
      stepsToTarget: steps,
      from: measured?.from ?? null,
      stepTimeMs: ms(s.stepS),
      joulesPerStep: s.energyJ,
      energyToTargetJ: steps === null || s.energyJ === null ? null : steps * s.energyJ,
      timeToTargetMs: steps === null ? null : ms(steps * s.stepS),
      fitsMemory: s.fitsMemory,
    });
  }
  const key = (r: KCandidate) => r.energyToTargetJ ?? Infinity;
  return rows.sort((a, b) => key(a) - key(b));
}
