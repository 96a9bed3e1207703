/**
 * Reduces what the ranks of one run measured to the figures a result records: step and
 * communication time distributions after warm-up, measured payload bytes next to the cost model's
 * prediction, achieved FLOP rate, and the held-out loss curve.
 *
 * @module
 */

import type { TrainConfig } from "../config/config.ts";
import { type CostPrediction, predictCosts } from "../config/cost_model.ts";
import { type Distribution, distribution, median } from "../results/stats.ts";
import type { RankRunResult } from "./trainer.ts";

/** The figures of one run. */
export interface RunMetrics {
  /** Steps excluded from the timing distributions. */
  warmupSteps: number;
  /** Wall time per step over the timed steps (the slowest rank per step), in ms. */
  stepTimeMs: Distribution;
  /** Time inside collectives per step (same rank and step as stepTimeMs), in ms. */
  commTimeMs: Distribution;
  /** Payload bytes each rank sent per training step (measured; the largest over ranks and steps). */
  bytesSentPerRankPerStep: number;
  /** Payload bytes each rank received per training step (measured; the largest). */
  bytesReceivedPerRankPerStep: number;
  /** Whether every rank's measured bytes in every step equal the prediction. */
  bytesMatchPrediction: boolean;
  /** Wire bytes (payload plus subjects, headers, chunking) sent per rank per step, the largest; null in process. */
  wireBytesSentPerRankPerStep: number | null;
  /** Wire bytes received per rank per step, the largest; null in process. */
  wireBytesReceivedPerRankPerStep: number | null;
  /** The cost model for this configuration. */
  predicted: Pick<
    CostPrediction,
    | "bytesSentPerRankPerStep"
    | "bytesReceivedPerRankPerStep"
    | "flopsPerRankPerStep"
    | "parametersPerRank"
    | "parametersTotal"
  >;
  /** Predicted FLOPs of all ranks per step divided by the median step time, in GFLOP/s. */
  achievedGflops: number;
  /** Held-out loss: [steps done, training time in ms, loss] at each evaluation. */
  lossCurve: [number, number, number][];
}

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
): RunMetrics {
  if (ranks.length === 0) throw new RangeError("Cannot summarise run: no rank results");
  const steps = ranks[0].steps.length;
  if (warmupSteps >= steps) {
    throw new RangeError(
      `Cannot summarise run: warm-up (${warmupSteps}) leaves none of ${steps} steps`,
    );
  }
  const predicted = predictCosts(config, { bytesPerElement });
  const all = ranks.flatMap((r) => r.steps);
  const stepMs: number[] = [];
  const commMs: number[] = [];
  for (let s = warmupSteps; s < steps; s++) {
    // A step is as slow as its slowest rank.
    const slowest = ranks.map((r) => r.steps[s]).reduce((a, b) => (b.stepMs > a.stepMs ? b : a));
    stepMs.push(slowest.stepMs);
    commMs.push(slowest.commMs);
  }
  const rank0 = ranks.find((r) => r.rank === 0) ?? ranks[0];
  return {
    warmupSteps,
    stepTimeMs: distribution(stepMs),
    commTimeMs: distribution(commMs),
    bytesSentPerRankPerStep: Math.max(...all.map((s) => s.bytesSent)),
    bytesReceivedPerRankPerStep: Math.max(...all.map((s) => s.bytesReceived)),
    wireBytesSentPerRankPerStep: all.every((s) => s.wireBytesSent !== undefined)
      ? Math.max(...all.map((s) => s.wireBytesSent!))
      : null,
    wireBytesReceivedPerRankPerStep: all.every((s) => s.wireBytesReceived !== undefined)
      ? Math.max(...all.map((s) => s.wireBytesReceived!))
      : null,
    bytesMatchPrediction: all.every((s) =>
      s.bytesSent === predicted.bytesSentPerRankPerStep &&
      s.bytesReceived === predicted.bytesReceivedPerRankPerStep
    ),
    predicted: {
      bytesSentPerRankPerStep: predicted.bytesSentPerRankPerStep,
      bytesReceivedPerRankPerStep: predicted.bytesReceivedPerRankPerStep,
      flopsPerRankPerStep: predicted.flopsPerRankPerStep,
      parametersPerRank: predicted.parametersPerRank,
      parametersTotal: predicted.parametersTotal,
    },
    achievedGflops: (predicted.flopsPerRankPerStep * config.ranks) / median(stepMs) / 1e6,
    lossCurve: rank0.evals.map((e) => [e.step, e.trainMs, e.loss]),
  };
}
