import { assertEquals } from "../testing/asserts.ts";
import { Rng } from "../nn/rng.ts";
import { assertAllClose } from "../testing/asserts.ts";
import { randomMat, tpBackward, type TpF64, tpForward } from "../testing/f64.ts";
import { backendTest, runLayers, toTensor, toVector } from "../testing/harness.ts";
import { TpLayer } from "./tp_layer.ts";

const TOL = { atol: 1e-5, rtol: 1e-4 };

for (const P of [1, 2, 3, 4]) {
  backendTest(`TP layer, p=${P}: outputs and gradients match the float64 reference`, async () => {
    const rng = new Rng(30 + P);
    const [m, b] = [3, 5];
    const blocks = Array.from({ length: P }, () => randomMat(rng, b, m));
    const p: TpF64 = {
      W: Array.from({ length: P }, () => randomMat(rng, P * m, m)),
      b: Array.from({ length: P }, () => new Float64Array(rng.normalArray(m, 1))),
    };
    const dOut = Array.from({ length: P }, () => randomMat(rng, b, m));
    const { outcomes, comms } = await runLayers(
      P,
      (c, r) => new TpLayer(c, 0, toTensor(p.W[r]), toVector(p.b[r])),
      blocks,
      dOut,
    );
    const want = tpBackward(blocks, p, dOut);
    const outs = tpForward(blocks, p);
    outcomes.forEach((got, r) => {
      assertAllClose(got.out, outs[r].data, TOL, `out_${r}`);
      assertAllClose(got.grads.W, want.dW[r].data, TOL, `dW_${r}`);
      assertAllClose(got.grads.b, want.db[r], TOL, `db_${r}`);
      assertAllClose(got.dInput, want.dH[r].data, TOL, `dH_${r}`);
      // One all-gather of b x m, one reduce-scatter of p-1 blocks of b x m.
      const s = comms[r].stats();
      assertEquals(s.bytesSent, 4 * ((P > 1 ? b * m : 0) + (P - 1) * b * m));
      assertEquals(s.bytesReceived, 4 * 2 * (P - 1) * b * m);
    });
  });
}
