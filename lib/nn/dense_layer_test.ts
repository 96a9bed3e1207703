import { DenseLayer } from "./dense_layer.ts";
import { Rng } from "./rng.ts";
import { assertAllClose } from "../testing/asserts.ts";
import { denseBackward, denseForward, randomMat } from "../testing/f64.ts";
import { backendTest, runLayers, toTensor, toVector } from "../testing/harness.ts";

const TOL = { atol: 1e-5, rtol: 1e-4 };

for (const activation of ["relu", "linear"] as const) {
  backendTest(
    `dense layer (${activation}) matches the float64 reference in outputs and gradients`,
    async () => {
      const rng = new Rng(21);
      const x = randomMat(rng, 6, 5);
      const p = { W: randomMat(rng, 5, 4), b: new Float64Array(rng.normalArray(4, 1)) };
      const dOut = randomMat(rng, 6, 4);
      const { outcomes: [got] } = await runLayers(
        1,
        () => new DenseLayer(toTensor(p.W), toVector(p.b), activation),
        [x],
        [dOut],
      );
      const useRelu = activation === "relu";
      const want = denseBackward(x, p, useRelu, dOut);
      assertAllClose(got.out, denseForward(x, p, useRelu).data, TOL, "out");
      assertAllClose(got.grads.W, want.dW.data, TOL, "dW");
      assertAllClose(got.grads.b, want.db, TOL, "db");
      assertAllClose(got.dInput, want.dX.data, TOL, "dX");
    },
  );
}
