// Gradient check of the float64 reference: every analytic gradient of every layer kind (the
// design's backward formulas) against central finite differences.
import { Rng } from "../nn/rng.ts";
import { assertAllClose } from "./asserts.ts";
import {
  denseBackward,
  denseForward,
  dot,
  finiteDifference,
  type Mat,
  phantomBackward,
  type PhantomF64,
  phantomForward,
  randomMat,
  tpBackward,
  type TpF64,
  tpForward,
} from "./f64.ts";

const TOL = { atol: 1e-7, rtol: 1e-6 };

function objective(outs: Mat[], weights: Mat[]): number {
  return outs.reduce((s, o, r) => s + dot(o.data, weights[r].data), 0);
}

function check(label: string, analytic: ArrayLike<number>, x: Float64Array, f: () => number) {
  assertAllClose(analytic, finiteDifference(x, f), TOL, label);
}

for (const useRelu of [true, false]) {
  Deno.test(`f64 dense layer (${useRelu ? "relu" : "linear"}): gradients match finite differences`, () => {
    const rng = new Rng(11);
    const x = randomMat(rng, 5, 4);
    const p = { W: randomMat(rng, 4, 3), b: new Float64Array(rng.normalArray(3, 1)) };
    const R = randomMat(rng, 5, 3);
    const f = () => objective([denseForward(x, p, useRelu)], [R]);
    const g = denseBackward(x, p, useRelu, R);
    check("dW", g.dW.data, p.W.data, f);
    check("db", g.db, p.b, f);
    check("dX", g.dX.data, x.data, f);
  });
}

Deno.test("f64 tensor-parallel layer: gradients match finite differences", () => {
  const rng = new Rng(12);
  const [P, m, b] = [3, 2, 4];
  const blocks = Array.from({ length: P }, () => randomMat(rng, b, m));
  const p: TpF64 = {
    W: Array.from({ length: P }, () => randomMat(rng, P * m, m)),
    b: Array.from({ length: P }, () => new Float64Array(rng.normalArray(m, 1))),
  };
  const R = Array.from({ length: P }, () => randomMat(rng, b, m));
  const f = () => objective(tpForward(blocks, p), R);
  const g = tpBackward(blocks, p, R);
  for (let r = 0; r < P; r++) {
    check(`dW_${r}`, g.dW[r].data, p.W[r].data, f);
    check(`db_${r}`, g.db[r], p.b[r], f);
    check(`dH_${r}`, g.dH[r].data, blocks[r].data, f);
  }
});

Deno.test("f64 phantom layer: gradients match finite differences", () => {
  const rng = new Rng(13);
  const [P, m, k, b] = [3, 3, 2, 4];
  const blocks = Array.from({ length: P }, () => randomMat(rng, b, m));
  const p: PhantomF64 = {
    A: Array.from({ length: P }, () => randomMat(rng, m, m)),
    C: Array.from({ length: P }, () => randomMat(rng, m, k)),
    D: Array.from({ length: P }, () => randomMat(rng, (P - 1) * k, m)),
    b: Array.from({ length: P }, () => new Float64Array(rng.normalArray(m, 1))),
  };
  const R = Array.from({ length: P }, () => randomMat(rng, b, m));
  const f = () => objective(phantomForward(blocks, p), R);
  const g = phantomBackward(blocks, p, R);
  for (let r = 0; r < P; r++) {
    check(`dA_${r}`, g.dA[r].data, p.A[r].data, f);
    check(`dC_${r}`, g.dC[r].data, p.C[r].data, f);
    check(`dD_${r}`, g.dD[r].data, p.D[r].data, f);
    check(`db_${r}`, g.db[r], p.b[r], f);
    check(`dH_${r}`, g.dH[r].data, blocks[r].data, f);
  }
});
