import { OutputLayer } from "./output_layer.ts";
import { Rng } from "../nn/rng.ts";
import { assertAllClose, assertEquals } from "../testing/asserts.ts";
import {
  colBlock,
  denseBackward,
  denseForward,
  hcat,
  randomMat,
  rowBlock,
  vcat,
} from "../testing/f64.ts";
import { backendTest, runLayers, toTensor, toVector } from "../testing/harness.ts";

const TOL = { atol: 1e-5, rtol: 1e-4 };

for (const P of [1, 3]) {
  backendTest(
    `output layer, p=${P}: equals the linear dense layer over all ranks' blocks`,
    async () => {
      const rng = new Rng(40 + P);
      const [m, b, dOutW] = [3, 4, 2];
      const blocks = Array.from({ length: P }, () => randomMat(rng, b, m));
      const W = Array.from({ length: P }, () => randomMat(rng, m, dOutW));
      const bias = new Float64Array(rng.normalArray(dOutW, 1));
      const dY = randomMat(rng, b, dOutW);
      const { outcomes } = await runLayers(
        P,
        (c, r) => new OutputLayer(c, toTensor(W[r]), r === 0 ? toVector(bias) : undefined),
        blocks,
        Array(P).fill(dY),
      );
      const dense = { W: vcat(W), b: bias };
      const x = hcat(blocks);
      const y = denseForward(x, dense, false);
      const want = denseBackward(x, dense, false, dY);
      outcomes.forEach((got, r) => {
        assertAllClose(got.out, y.data, TOL, `Y on rank ${r}`);
        assertAllClose(got.grads.W, rowBlock(want.dW, r * m, m).data, TOL, `dW_${r}`);
        assertAllClose(got.dInput, colBlock(want.dX, r * m, m).data, TOL, `dH_${r}`);
        assertEquals("b" in got.grads, r === 0);
      });
      assertAllClose(outcomes[0].grads.b, want.db, TOL, "db on rank 0");
    },
  );
}
