// Memory per rank and the inference workload against the cost model: the peak tensor bytes a rank
// holds (the engine's buffers, counted once each) against predictMemory, and an inference batch's
// bytes against the forward-only prediction, exactly.
import { validateTrainConfig } from "../config/config.ts";
import { predictCosts, predictMemory } from "../config/cost_model.ts";
import { assert, assertEquals } from "../testing/asserts.ts";
import { backendTest } from "../testing/harness.ts";
import { trainInProcess } from "./trainer.ts";

const POINTS = [
  { mode: "serial", ranks: 1, width: 128 },
  { mode: "tp", ranks: 1, width: 256 },
  { mode: "tp", ranks: 2, width: 256 },
  { mode: "tp", ranks: 4, width: 256 },
  { mode: "phantom", ranks: 2, width: 256, phantomWidth: 8 },
  { mode: "phantom", ranks: 4, width: 256, phantomWidth: 4 },
] as const;

const OPTIMIZERS = [{ name: "adam" }, { name: "sgd", momentum: 0.9 }, { name: "sgd", momentum: 0 }];

for (const workload of ["train", "inference"] as const) {
  backendTest(
    `${workload}: every rank's peak tensor bytes match the predicted memory per rank (within 10%)`,
    async () => {
      for (const point of POINTS) {
        for (const optimizer of workload === "train" ? OPTIMIZERS : OPTIMIZERS.slice(0, 1)) {
          const config = validateTrainConfig({
            ...point,
            workload,
            batch: 16,
            layers: 2,
            steps: 2,
            optimizer,
            task: { evalEvery: 2, evalSize: 32 },
          });
          const predicted = predictMemory(config, config.optimizer, workload).peakBytes;
          const ranks = await trainInProcess(config);
          for (const r of ranks) {
            // Ranks in one process share an engine: each is its share (the group is symmetric
            // but for rank 0's output bias, so the shares are close).
            assertEquals(r.memory.ranksOnEngine, point.ranks);
            const error = Math.abs(r.memory.peakTensorBytes - predicted) / predicted;
            assert(
              error < 0.1,
              `${JSON.stringify(point)} ${optimizer.name}: rank ${r.rank} measured ` +
                `${r.memory.peakTensorBytes} B, predicted ${predicted} B`,
            );
            assert(r.memory.peakRssBytes > r.memory.peakTensorBytes);
          }
        }
      }
    },
    { webgpu: false },
  );
}

backendTest(
  "inference: forward passes only, bytes as the forward-only prediction, exactly",
  async () => {
    for (const point of POINTS) {
      const config = validateTrainConfig({ ...point, workload: "inference", batch: 8, steps: 3 });
      const predicted = predictCosts(config, { workload: "inference" });
      const training = predictCosts(config);
      const ranks = await trainInProcess(config);
      for (const r of ranks) {
        assertEquals(r.evals, []);
        for (const s of r.steps) {
          assertEquals(s.bytesSent, predicted.bytesSentPerRankPerStep);
          assertEquals(s.bytesReceived, predicted.bytesReceivedPerRankPerStep);
          assertEquals(s.forwardMs, s.stepMs);
        }
      }
      if (point.ranks > 1) {
        assert(predicted.bytesReceivedPerRankPerStep < training.bytesReceivedPerRankPerStep);
      }
      assertEquals(predicted.backwardFlopsPerRankPerStep, 0);
    }
  },
  { webgpu: false },
);
