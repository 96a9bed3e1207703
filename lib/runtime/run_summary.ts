/**
 * Reduces what the ranks of one run measured to the figures a result records: step and
 * communication time distributions after warm-up (a step is as slow as its slowest rank), measured
 * payload bytes next to the cost model's prediction, and the achieved FLOP rate.
 *
 * @module
 */

import type { TrainConfig } from "../config/config.ts";
import { predictCosts } from "../config/cost_model.ts";
import type { RunMetrics } from "../results/results.ts";
import { distribution, median } from "../results/stats.ts";
import type { RankRunResult } from "./trainer.ts";

/** The figures of a run that come from its ranks' step records (energy and loss come apart). */
export type RunSummary = Omit<RunMetrics, "energy" | "loss">;

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
  const predicted = predictCosts(config, { bytesPerElement });
  const all = ranks.flatMap((r) => r.steps);
  const stepMs: number[] = [];
  const commMs: number[] = [];
  const computeMs: number[] = [];
  for (let s = warmupSteps; s < steps; s++) {
    // A step is as slow as its slowest rank.
    const slowest = ranks.map((r) => r.steps[s]).reduce((a, b) => (b.stepMs > a.stepMs ? b : a));
    stepMs.push(slowest.stepMs);
    commMs.push(slowest.commMs);
    computeMs.push(slowest.stepMs - slowest.commMs);
  }
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
  };
}
