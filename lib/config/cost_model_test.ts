import type { ModelConfig } from "./config.ts";
import {
  matmulShapes,
  phantomCommunicationRatio,
  predictCosts,
  predictDataParallel,
  predictMemory,
} from "./cost_model.ts";
import { RankFfn } from "../parallel/ffn.ts";
import { createInProcessGroup } from "../comm/in_process_communicator.ts";
import { validateTrainConfig } from "./config.ts";
import { trainInProcess } from "../runtime/trainer.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";
import { backendTest } from "../testing/harness.ts";

Deno.test("cost model: hand-computed TP and phantom figures", () => {
  // p = 4, n = 64 (m = 16), k = 2, L = 3, b = 8, d_in = 5, d_out = 3.
  const base = { ranks: 4, width: 64, layers: 3, batch: 8, inputWidth: 5, outputWidth: 3, seed: 1 };
  const tp = predictCosts({ ...base, mode: "tp" });
  // Hidden: L (b m + 2 (p-1) b m) sent... per layer sent b m + (p-1) b m, received 2 (p-1) b m.
  const hiddenSent = 3 * (8 * 16 + 3 * 8 * 16);
  const hiddenReceived = 3 * (2 * 3 * 8 * 16);
  assertEquals(tp.bytesSentPerRankPerStep, 4 * (hiddenSent + 8 * 3));
  assertEquals(tp.bytesReceivedPerRankPerStep, 4 * (hiddenReceived + 3 * 8 * 3));
  // FLOPs: input 2 b d_in m (x2 with backward), hidden 6 b n m, output 6 b m d_out.
  assertEquals(tp.flopsPerRankPerStep, 2 * 2 * 8 * 5 * 16 + 3 * 6 * 8 * 64 * 16 + 6 * 8 * 16 * 3);
  assertEquals(tp.parametersPerRank, 5 * 16 + 16 + 3 * (64 * 16 + 16) + 16 * 3 + 3);

  const ph = predictCosts({ ...base, mode: "phantom", phantomWidth: 2 });
  assertEquals(ph.bytesSentPerRankPerStep, 4 * (3 * (8 * 2 + 3 * 8 * 2) + 8 * 3));
  assertEquals(ph.bytesReceivedPerRankPerStep, 4 * (3 * 2 * 3 * 8 * 2 + 3 * 8 * 3));
  const hiddenFlops = 6 * 8 * 16 * (16 + 4 * 2);
  assertEquals(ph.flopsPerRankPerStep, 2 * 2 * 8 * 5 * 16 + 3 * hiddenFlops + 6 * 8 * 16 * 3);
  assertEquals(
    ph.parametersPerRank,
    5 * 16 + 16 + 3 * (16 * 16 + 16 * 2 + 3 * 2 * 16 + 16) + 16 * 3 + 3,
  );
  assertEquals(phantomCommunicationRatio({ ...base, mode: "phantom", phantomWidth: 2 }), 2 / 16);
});

Deno.test("cost model: one rank sends and receives nothing", () => {
  const base = { ranks: 1, width: 32, layers: 2, batch: 4, inputWidth: 3, outputWidth: 2, seed: 1 };
  for (
    const c of [{ ...base, mode: "serial" }, { ...base, mode: "tp" }, {
      ...base,
      mode: "phantom",
      phantomWidth: 3,
    }] as ModelConfig[]
  ) {
    const cost = predictCosts(c);
    assertEquals([cost.bytesSentPerRankPerStep, cost.bytesReceivedPerRankPerStep], [0, 0], c.mode);
  }
  assertEquals(predictCosts({ ...base, mode: "tp" }).bytesPerElement, 4);
  assertEquals(
    predictCosts({ ...base, mode: "tp", ranks: 2 }, { bytesPerElement: 2 })
      .bytesSentPerRankPerStep * 2,
    predictCosts({ ...base, mode: "tp", ranks: 2 }).bytesSentPerRankPerStep,
  );
});

const CASES: Record<string, unknown>[] = [
  { mode: "tp", ranks: 2, width: 32, layers: 1, batch: 4 },
  { mode: "tp", ranks: 4, width: 64, layers: 3, batch: 6 },
  { mode: "tp", ranks: 8, width: 64, layers: 2, batch: 3 },
  { mode: "phantom", ranks: 2, width: 32, phantomWidth: 3, layers: 2, batch: 5 },
  { mode: "phantom", ranks: 4, width: 64, phantomWidth: 1, layers: 4, batch: 4 },
  { mode: "phantom", ranks: 8, width: 128, phantomWidth: 7, layers: 1, batch: 2 },
  { mode: "phantom", ranks: 1, width: 16, phantomWidth: 4, layers: 2, batch: 3 },
  { mode: "serial", ranks: 1, width: 16, layers: 2, batch: 3 },
];

for (const c of CASES) {
  const label = Object.entries(c).map(([k, v]) => `${k}=${v}`).join(" ");
  backendTest(
    `measured payload bytes per rank per step equal the cost model: ${label}`,
    async () => {
      const config = validateTrainConfig({
        ...c,
        steps: 2,
        inputWidth: 5,
        outputWidth: 3,
        task: { evalEvery: 1, evalSize: 4 },
      });
      const predicted = predictCosts(config);
      const results = await trainInProcess(config);
      for (const { rank, steps } of results) {
        for (const s of steps) {
          assertEquals(
            s.bytesSent,
            predicted.bytesSentPerRankPerStep,
            `sent, rank ${rank} step ${s.step}`,
          );
          assertEquals(
            s.bytesReceived,
            predicted.bytesReceivedPerRankPerStep,
            `received, rank ${rank}`,
          );
        }
      }
    },
  );

  backendTest(`parameter count of the built model equals the cost model: ${label}`, () => {
    const config = validateTrainConfig({ ...c, inputWidth: 5, outputWidth: 3 });
    const predicted = predictCosts(config);
    let total = 0;
    for (const comm of createInProcessGroup(config.ranks)) {
      using model = RankFfn.create(config, comm);
      const count = [...model.parameters().values()].reduce((s, v) => s + v.size, 0);
      if (comm.rank === 0) assertEquals(count, predicted.parametersPerRank);
      total += count;
    }
    assertEquals(total, predicted.parametersTotal);
  });
}

Deno.test("the step's matrix products add up to the predicted FLOPs", () => {
  for (const c of CASES) {
    const config = validateTrainConfig({ ...c, inputWidth: 5, outputWidth: 3 });
    const flops = matmulShapes(config).reduce(
      (s, x) => s + 2 * x.rows * x.inner * x.cols * x.count,
      0,
    );
    assertEquals(flops, predictCosts(config).flopsPerRankPerStep, JSON.stringify(c));
  }
});

backendTest(
  "data parallelism: gradient bytes per rank are the built model's parameters, per transport",
  () => {
    const base = { ranks: 4, width: 256, layers: 2, batch: 8, inputWidth: 5, outputWidth: 3 };
    for (const extra of [{ mode: "tp" }, { mode: "phantom", phantomWidth: 8 }]) {
      const config = validateTrainConfig({ ...base, ...extra });
      const comms = createInProcessGroup(config.ranks);
      for (const comm of comms) {
        using model = RankFfn.create(config, comm);
        // What a data-parallel group all-reduces: every gradient element the rank owns (rank 0
        // alone holds the output bias), and the replica's loss.
        const owned = [...model.parameters().values()].reduce((s, v) => s + v.size, 0);
        for (const d of [1, 2, 4, 32]) {
          const dp = predictDataParallel(config, d, 4, comm.rank);
          assertEquals(dp.parametersPerRank, owned);
          assertEquals(dp.nats.sentBytes, d > 1 ? 4 * (owned + 1) : 0);
          assertEquals(dp.nats.receivedBytes, (d - 1) * 4 * (owned + 1));
          assertEquals(dp.ring.sentBytes, (2 * (d - 1) / d) * 4 * owned);
        }
      }
    }
    // The hidden layers' share shrinks as (m + p k)/n: n = 4096, p = 8, k = 16 gives 0.156.
    const big = {
      ranks: 8,
      width: 4096,
      layers: 4,
      batch: 8,
      inputWidth: 8,
      outputWidth: 8,
      seed: 1,
    };
    const ratio =
      predictDataParallel({ ...big, mode: "phantom", phantomWidth: 16 }, 8).ring.sentBytes /
      predictDataParallel({ ...big, mode: "tp" }, 8).ring.sentBytes;
    assert(Math.abs(ratio - (512 + 8 * 16) / 4096) < 0.01, `phantom/TP gradient bytes ${ratio}`);
    assertThrows(() => predictDataParallel({ ...big, mode: "tp" }, 0), RangeError);
  },
  { webgpu: false },
);

Deno.test("memory with replicas: the gradient all-reduce's host buffers, one layer or all with overlap", () => {
  const base = validateTrainConfig({ mode: "tp", ranks: 4, width: 256, layers: 2, batch: 8 });
  const opt = base.optimizer;
  const costs = predictCosts(base);
  const param = (kind: string) => costs.layers.find((l) => l.kind === kind)!.parameters;
  assertEquals(predictMemory(base, opt).gradientBufferBytes, 0);
  const dp = predictMemory({ ...base, replicas: 2 }, opt);
  assertEquals(
    dp.gradientBufferBytes,
    12 * Math.max(param("input"), param("hidden"), param("output") + 1),
  );
  assertEquals(
    predictMemory({ ...base, replicas: 2, overlap: true }, opt).gradientBufferBytes,
    12 * (costs.parametersPerRank + 1),
  );
  // Tensor memory is unchanged: the averaged gradients replace the local ones one for one.
  assertEquals(dp.peakBytes, predictMemory(base, opt).peakBytes);
});
