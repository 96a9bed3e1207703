// Data parallelism (config.replicas): d replicas of batch b train as one replica of batch d x b
// (the loss is the mean over the global batch, the gradients are averaged), TP and phantom alike;
// d = 1 is today's configuration; every rank's bytes equal the cost model's, per group.
import { validateTrainConfig } from "../config/config.ts";
import { predictCosts, predictDataParallel } from "../config/cost_model.ts";
import { configHash } from "../results/results.ts";
import { assert, assertEquals } from "../testing/asserts.ts";
import { backendTest } from "../testing/harness.ts";
import { summarizeRun } from "./run_summary.ts";
import { replicaRows, trainInProcess } from "./trainer.ts";

const BASE = {
  width: 32,
  layers: 2,
  inputWidth: 8,
  outputWidth: 4,
  seed: 5,
  steps: 12,
  optimizer: { name: "sgd", learningRate: 0.05 },
  task: { teacherWidth: 16, teacherLayers: 2, evalSize: 64, evalEvery: 4 },
};

/** Largest |a - b| / max(|b|, 1e-3) over two curves. */
function maxRelative(a: number[], b: number[]): number {
  assertEquals(a.length, b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]) / Math.max(Math.abs(b[i]), 1e-3)));
}

for (
  const [mode, extra] of [["tp", {}], ["phantom", { phantomWidth: 3 }], ["serial", {}]] as const
) {
  const ranks = mode === "serial" ? 1 : 2;
  backendTest(
    `${mode} x DP: 2 and 4 replicas of batch b train as 1 replica of batch d x b (SGD, 12 steps)`,
    async () => {
      for (const d of [2, 4]) {
        const one = validateTrainConfig({ ...BASE, ...extra, mode, ranks, batch: 4 * d });
        const many = validateTrainConfig({ ...BASE, ...extra, mode, ranks, batch: 4, replicas: d });
        const single = await trainInProcess(one);
        const grid = await trainInProcess(many);
        assertEquals(grid.length, d * ranks);
        assertEquals(grid.map((r) => r.rank), [...Array(d * ranks).keys()]);
        // Every rank of every replica saw the global batch's loss and the same held-out losses.
        for (const r of grid) {
          assertEquals(r.steps.map((s) => s.loss), grid[0].steps.map((s) => s.loss));
          assertEquals(r.evals.map((e) => e.loss), grid[0].evals.map((e) => e.loss));
        }
        // Summation differs (d partial sums, then their mean): float32 rounding, no more (measured 1e-7 to 1.8e-7).
        const train = maxRelative(
          grid[0].steps.map((s) => s.loss),
          single[0].steps.map((s) => s.loss),
        );
        const held = maxRelative(
          grid[0].evals.map((e) => e.loss),
          single[0].evals.map((e) => e.loss),
        );
        assert(train < 5e-7 && held < 5e-7, `d = ${d}: training ${train}, held-out ${held}`);
        // Bytes: each group's as predicted, every rank, every step.
        const summary = summarizeRun(many, grid, 1);
        assert(summary.bytesMatchPrediction, JSON.stringify(grid.map((r) => r.steps[0])));
        const dp = predictDataParallel(many, d).nats;
        assertEquals(summary.dataParallel!.bytesSentPerRankPerStep, dp.sentBytes);
        assertEquals(summary.dataParallel!.bytesReceivedPerRankPerStep, dp.receivedBytes);
        const mp = predictCosts(validateTrainConfig({ ...BASE, ...extra, mode, ranks, batch: 4 }));
        assertEquals(
          grid[0].steps[0].bytesSent,
          mp.bytesSentPerRankPerStep + dp.sentBytes,
          "model-parallel plus data-parallel bytes",
        );
        assertEquals(predictCosts(many).bytesSentPerRankPerStep, grid[0].steps[0].bytesSent);
        // Overlapped with the backward pass: the same buckets in the same order, so the same
        // numbers bit for bit; the step's data-parallel time is what it waited for.
        const overlapped = await trainInProcess({ ...many, overlap: true });
        assertEquals(
          overlapped.map((r) => r.steps.map((s) => [s.loss, s.bytesSent])),
          grid.map((r) => r.steps.map((s) => [s.loss, s.bytesSent])),
        );
        assert(overlapped[0].steps.every((s) => s.dataParallel!.commMs >= 0));
      }
    },
    { webgpu: false },
  );
}

backendTest(
  "d = 1 is today's run: the same configuration, hash and loss curve, bit for bit",
  async () => {
    const today = validateTrainConfig({
      ...BASE,
      mode: "phantom",
      phantomWidth: 3,
      ranks: 2,
      batch: 8,
    });
    const one = validateTrainConfig({ ...today, replicas: 1 });
    assertEquals(one, today);
    assert(!("replicas" in one), "no replicas field for d = 1");
    assertEquals(await configHash(one), await configHash(today));
    const [a] = await trainInProcess(today);
    const [b] = await trainInProcess(one);
    assertEquals(
      b.steps.map((s) => [s.loss, s.bytesSent]),
      a.steps.map((s) => [s.loss, s.bytesSent]),
    );
    assertEquals(b.steps[0].dataParallel, undefined);
  },
  { webgpu: false },
);

Deno.test("a replica's rows are its contiguous block of the global batch", () => {
  const batch = {
    rows: 6,
    x: Float32Array.from({ length: 12 }, (_, i) => i),
    y: Float32Array.from({ length: 6 }, (_, i) => 100 + i),
  };
  const r1 = replicaRows(batch, 1, 2);
  assertEquals([...r1.x], [4, 5, 6, 7]);
  assertEquals([...r1.y], [102, 103]);
  assertEquals(r1.rows, 2);
});

Deno.test("replicas: a positive integer, training only; named when wrong", () => {
  for (const [value, why] of [[0, "positive"], [1.5, "positive"], ["2", "positive"]] as const) {
    try {
      validateTrainConfig({ ...BASE, mode: "tp", ranks: 2, replicas: value });
      throw new Error(`replicas ${value} accepted`);
    } catch (error) {
      assert(String(error).includes(`replicas (`) && String(error).includes(why), String(error));
    }
  }
  for (
    const [extra, why] of [
      [{ overlap: true }, "overlap (true) applies with replicas"],
      [{ replicas: 2, overlap: "yes" }, 'overlap ("yes") must be true or false'],
      [{ placement: "dp-inner" }, 'placement ("dp-inner") applies with replicas'],
      [{ replicas: 2, placement: "rows" }, 'placement ("rows") must be one of'],
    ] as const
  ) {
    try {
      validateTrainConfig({ ...BASE, mode: "tp", ranks: 2, ...extra });
      throw new Error(`${JSON.stringify(extra)} accepted`);
    } catch (error) {
      assert(String(error).includes(why), String(error));
    }
  }
  try {
    validateTrainConfig({ ...BASE, mode: "tp", ranks: 2, replicas: 2, workload: "inference" });
    throw new Error("inference with replicas accepted");
  } catch (error) {
    assert(String(error).includes("applies to training only"), String(error));
  }
});
