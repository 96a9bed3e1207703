import { initRankWeights } from "./init.ts";
import { assert, assertEquals } from "../testing/asserts.ts";

const base = { width: 16, layers: 2, batch: 2, inputWidth: 3, outputWidth: 2, seed: 9 };

for (const [width, p] of [[16, 4], [2560, 4], [3072, 6]]) {
  Deno.test(`init: phantom A_r is the dense weight's diagonal block, rescaled to the phantom fan-in (n = ${width}, p = ${p})`, () => {
    // n > ROW_TILE: the blocks cross row tiles, whose streams a rank starts without drawing the rows above.
    const base_ = { ...base, width, layers: width > 16 ? 1 : 2 };
    const serial = initRankWeights({ ...base_, mode: "serial", ranks: 1 }, 0);
    const [k, n] = [2, width];
    const m = n / p;
    // He scale of the dense layer (fan-in n) against the phantom neuron (m own + (p-1)k ghosts).
    const rescale = Math.sqrt(2 / (m + (p - 1) * k)) / Math.sqrt(2 / n);
    for (let rank = 0; rank < p; rank++) {
      const phantom = initRankWeights(
        { ...base_, mode: "phantom", ranks: p, phantomWidth: k },
        rank,
      );
      const tp = initRankWeights({ ...base_, mode: "tp", ranks: p }, rank);
      for (let l = 0; l < base_.layers; l++) {
        // TP's columns are the serial weight's columns too.
        assertEquals(tp.hidden[l].W!.data[m + 1], serial.hidden[l].W!.data[n + rank * m + 1]);
        const W = serial.hidden[l].W!;
        const A = phantom.hidden[l].A!;
        assertEquals([A.rows, A.cols], [m, m]);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < m; j++) {
            const dense = W.data[(rank * m + i) * n + rank * m + j];
            const got = A.data[i * m + j];
            assert(
              Math.abs(got - dense * rescale) <= 1e-6 * Math.abs(dense * rescale) + 1e-9,
              `${l} ${i} ${j}`,
            );
          }
        }
      }
    }
  });
}

Deno.test("init: at p = 1 phantom, TP and serial start from the same weights bit for bit", () => {
  const serial = initRankWeights({ ...base, mode: "serial", ranks: 1 }, 0);
  const tp = initRankWeights({ ...base, mode: "tp", ranks: 1 }, 0);
  const phantom = initRankWeights({ ...base, mode: "phantom", ranks: 1, phantomWidth: 4 }, 0);
  for (let l = 0; l < base.layers; l++) {
    assertEquals([...phantom.hidden[l].A!.data], [...serial.hidden[l].W!.data]);
    assertEquals([...tp.hidden[l].W!.data], [...serial.hidden[l].W!.data]);
  }
  assertEquals([...phantom.input.W.data], [...serial.input.W.data]);
  assertEquals([...phantom.output.W.data], [...serial.output.W.data]);
});
