import { validateTrainConfig } from "../config/config.ts";
import { predictCosts } from "../config/cost_model.ts";
import { summarizeRun } from "./run_summary.ts";
import type { RankRunResult, StepRecord } from "./trainer.ts";
import { assertEquals, assertThrows } from "../testing/asserts.ts";

const config = validateTrainConfig({ mode: "tp", ranks: 2, width: 8, steps: 4 });
const predicted = predictCosts(config);

function rank(
  rank: number,
  stepMs: number[],
  bytesSent = predicted.bytesSentPerRankPerStep,
): RankRunResult {
  const steps: StepRecord[] = stepMs.map((ms, step) => ({
    step,
    stepMs: ms,
    commMs: ms / 4,
    forwardMs: ms / 3,
    bytesSent,
    bytesReceived: predicted.bytesReceivedPerRankPerStep,
    loss: 1,
  }));
  return {
    rank,
    steps,
    evals: [{ step: 0, trainMs: 0, loss: 2 }, { step: 4, trainMs: 10, loss: 1 }],
    memory: { peakTensorBytes: 1000 + rank, ranksOnEngine: 1, peakRssBytes: 5000, pid: 10 + rank },
  };
}

Deno.test("summary: timing uses the slowest rank per step after warm-up", () => {
  const m = summarizeRun(config, [rank(0, [100, 2, 4, 6]), rank(1, [1, 3, 2, 8])], 1);
  assertEquals(m.stepTimeMs.samples, [3, 4, 8]);
  assertEquals(m.stepTimeMs.median, 4);
  assertEquals(m.commTimeMs.samples, [0.75, 1, 2]);
  assertEquals(m.bytesMatchPrediction, true);
  assertEquals(m.computeTimeMs.samples, [2.25, 3, 6]);
  assertEquals(m.achievedGflops, (predicted.flopsPerRankPerStep * 2) / 4 / 1e6);
});

Deno.test("summary: a byte count off the prediction is flagged", () => {
  const m = summarizeRun(config, [rank(0, [1, 1]), rank(1, [1, 1], 1)], 0);
  assertEquals(m.bytesMatchPrediction, false);
});

Deno.test("summary: all-warm-up runs are refused", () => {
  assertThrows(() => summarizeRun(config, [rank(0, [1, 1])], 2), RangeError, "warm-up (2)");
});
