/**
 * Reduces what the ranks of one run measured to the figures a result records: step and
 * communication time distributions after warm-up (a step is as slow as its slowest rank), measured
 * payload bytes next to the cost model's prediction, and the achieved FLOP rate.
 *
 * @module
 */

import type { TrainConfig } from "../config/config.ts";
import { predictCosts, predictDataParallel, predictMemory } from "../config/cost_model.ts";
import type { RunMetrics } from "../results/results.ts";
import { distribution, median, percentile } from "../results/stats.ts";
import type { RankRunResult } from "./trainer.ts";

/** The figures of a run that come from its ranks' step records (energy, loss, inference's energy come apart). */
export type RunSummary = Omit<RunMetrics, "energy" | "loss" | "inference">;

/**
 * Summarises a run.
 *
 * @param config The run's configuration.
 * @param ranks Every rank's measurements.
 * @param warmupSteps Leading steps to leave out of the timing distributions.
 * @param bytesPerElement Wire bytes per element, for the predicted bytes. @default 4
 * @returns The metrics.
 * @throws {RangeError} If no rank result is given or every step is warm-up.
 */
export function summarizeRun(
  config: TrainConfig,
  ranks: RankRunResult[],
  warmupSteps: number,
  bytesPerElement = 4,
): RunSummary {
  if (ranks.length === 0) throw new RangeError("Cannot summarise run: no rank results");
  const steps = ranks[0].steps.length;
  if (warmupSteps >= steps) {
    throw new RangeError(
      `Cannot summarise run: warm-up (${warmupSteps}) leaves none of ${steps} steps`,
    );
  }
  const predicted = predictCosts(config, { bytesPerElement, workload: config.workload });
  const all = ranks.flatMap((r) => r.steps);
  const stepMs: number[] = [];
  const commMs: number[] = [];
  const computeMs: number[] = [];
  const dataMs: number[] = [];
  for (let s = warmupSteps; s < steps; s++) {
    // A step is as slow as its slowest rank.
    const slowest = ranks.map((r) => r.steps[s]).reduce((a, b) => (b.stepMs > a.stepMs ? b : a));
    stepMs.push(slowest.stepMs);
    commMs.push(slowest.commMs);
    computeMs.push(slowest.stepMs - slowest.commMs);
    dataMs.push(slowest.dataParallel?.commMs ?? 0);
  }
  // With replicas a rank's data-parallel bytes depend on its model rank (rank 0 alone holds the
  // output bias): each rank is held against its own prediction.
  const replicas = config.replicas ?? 1;
  const dp = (rank: number) =>
    replicas > 1
      ? predictDataParallel(config, replicas, bytesPerElement, rank % config.ranks).nats
      : { sentBytes: 0, receivedBytes: 0 };
  const expected = (rank: number) => ({
    sent: predicted.bytesSentPerRankPerStep - predicted.dataParallelBytesSentPerRankPerStep +
      dp(rank).sentBytes,
    received: predicted.bytesReceivedPerRankPerStep -
      predicted.dataParallelBytesReceivedPerRankPerStep + dp(rank).receivedBytes,
  });
  const rank0Data = ranks[0].steps.map((s) => s.dataParallel).filter((d) => d !== undefined);
  return {
    warmupSteps,
    stepTimeMs: distribution(stepMs),
    commTimeMs: distribution(commMs),
    computeTimeMs: distribution(computeMs),
    bytesSentPerRankPerStep: Math.max(...all.map((s) => s.bytesSent)),
    bytesReceivedPerRankPerStep: Math.max(...all.map((s) => s.bytesReceived)),
    wireBytesSentPerRankPerStep: all.every((s) => s.wireBytesSent !== undefined)
      ? Math.max(...all.map((s) => s.wireBytesSent!))
      : null,
    wireBytesReceivedPerRankPerStep: all.every((s) => s.wireBytesReceived !== undefined)
      ? Math.max(...all.map((s) => s.wireBytesReceived!))
      : null,
    localBytesReceivedPerRankPerStep: all.every((s) => s.localBytesReceived !== undefined)
      ? Math.max(...all.map((s) => s.localBytesReceived!))
      : null,
    bytesMatchPrediction: ranks.every((r) => {
      const e = expected(r.rank);
      return r.steps.every((s) => s.bytesSent === e.sent && s.bytesReceived === e.received);
    }),
    ...(replicas > 1
      ? {
        dataParallel: {
          replicas,
          commTimeMs: distribution(dataMs),
          bytesSentPerRankPerStep: Math.max(0, ...rank0Data.map((d) => d.bytesSent)),
          bytesReceivedPerRankPerStep: Math.max(0, ...rank0Data.map((d) => d.bytesReceived)),
          predictedBytesSentPerRankPerStep: predicted.dataParallelBytesSentPerRankPerStep,
          predictedBytesReceivedPerRankPerStep: predicted.dataParallelBytesReceivedPerRankPerStep,
          predictedBufferBytesPerRank: predictMemory(config, config.optimizer, config.workload)
            .gradientBufferBytes,
        },
      }
      : {}),
    predicted: {
      bytesSentPerRankPerStep: predicted.bytesSentPerRankPerStep,
      bytesReceivedPerRankPerStep: predicted.bytesReceivedPerRankPerStep,
      flopsPerRankPerStep: predicted.flopsPerRankPerStep,
      parametersPerRank: predicted.parametersPerRank,
      parametersTotal: predicted.parametersTotal,
      memoryBytesPerRank: predictMemory(config, config.optimizer, config.workload).peakBytes,
    },
    achievedGflops: (predicted.flopsPerRankPerStep * config.ranks * replicas) / median(stepMs) /
      1e6,
    memory: summarizeMemory(ranks),
  };
}

/**
 * Memory of a run: the most loaded rank's peak tensor bytes, every rank's, and each process's
 * peak resident set (ranks of one process report the same).
 *
 * @param ranks Every rank's measurements.
 * @returns The memory figures.
 */
export function summarizeMemory(ranks: RankRunResult[]): NonNullable<RunMetrics["memory"]> {
  const perRank = ranks.map((r) => r.memory.peakTensorBytes);
  const processes = new Map<number, number>();
  for (const r of ranks) {
    processes.set(r.memory.pid, Math.max(processes.get(r.memory.pid) ?? 0, r.memory.peakRssBytes));
  }
  return {
    peakTensorBytesPerRank: Math.max(...perRank),
    tensorBytesPerRank: perRank,
    ranksPerEngine: Math.max(...ranks.map((r) => r.memory.ranksOnEngine)),
    peakRssBytes: [...processes].map(([pid, bytes]) => ({ pid, bytes })),
    deviceBytesPerRank: null,
  };
}

/**
 * Inference figures: batch latency (the slowest rank per batch) with its 99th percentile,
 * samples per second at the median, and energy per sample.
 *
 * @param config The run's configuration.
 * @param ranks Every rank's measurements.
 * @param warmupSteps Leading batches to leave out.
 * @param joulesPerBatch Median joules per batch, or null.
 * @returns The figures.
 */
export function summarizeInference(
  config: TrainConfig,
  ranks: RankRunResult[],
  warmupSteps: number,
  joulesPerBatch: number | null,
): NonNullable<RunMetrics["inference"]> {
  const latency: number[] = [];
  for (let s = warmupSteps; s < ranks[0].steps.length; s++) {
    latency.push(Math.max(...ranks.map((r) => r.steps[s].stepMs)));
  }
  const d = distribution(latency);
  return {
    latencyMs: { ...d, p99: percentile(latency, 0.99) },
    samplesPerSecond: config.batch / (d.median / 1000),
    energyPerSampleJ: joulesPerBatch === null ? null : joulesPerBatch / config.batch,
  };
}
