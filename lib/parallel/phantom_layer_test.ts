import * as tf from "@tensorflow/tfjs-core";
import { DenseLayer } from "../nn/dense_layer.ts";
import { PhantomLayer } from "./phantom_layer.ts";
import { Rng } from "../nn/rng.ts";
import { assertAllClose, assertEquals, assertThrows } from "../testing/asserts.ts";
import {
  add,
  colBlock,
  dBlock,
  denseBackward,
  denseForward,
  hcat,
  Mat,
  matmul,
  phantomBackward,
  phantomDenseEquivalent,
  type PhantomF64,
  phantomForward,
  randomMat,
  rowBlock,
  transpose,
  vcat,
} from "../testing/f64.ts";
import { backendTest, runLayers, toTensor, toVector } from "../testing/harness.ts";
import { TpLayer } from "./tp_layer.ts";
import { createInProcessGroup } from "../comm/in_process_communicator.ts";
import type { Communicator } from "../comm/communicator.ts";

const TOL = { atol: 1e-5, rtol: 1e-4 };

function randomPhantom(rng: Rng, P: number, m: number, k: number): PhantomF64 {
  return {
    A: Array.from({ length: P }, () => randomMat(rng, m, m)),
    C: Array.from({ length: P }, () => randomMat(rng, m, k)),
    D: Array.from({ length: P }, () => randomMat(rng, (P - 1) * k, m)),
    b: Array.from({ length: P }, () => new Float64Array(rng.normalArray(m, 1))),
  };
}

function phantomLayers(p: PhantomF64) {
  return (c: Communicator, r: number) =>
    new PhantomLayer(c, 0, {
      A: toTensor(p.A[r]),
      C: toTensor(p.C[r]),
      D: toTensor(p.D[r]),
      b: toVector(p.b[r]),
    });
}

for (const P of [2, 3, 4]) {
  backendTest(
    `phantom layer, p=${P}: outputs and gradients match the float64 reference`,
    async () => {
      const rng = new Rng(50 + P);
      const [m, k, b] = [4, 2, 5];
      const blocks = Array.from({ length: P }, () => randomMat(rng, b, m));
      const p = randomPhantom(rng, P, m, k);
      const dOut = Array.from({ length: P }, () => randomMat(rng, b, m));
      const { outcomes, comms } = await runLayers(P, phantomLayers(p), blocks, dOut);
      const outs = phantomForward(blocks, p);
      const want = phantomBackward(blocks, p, dOut);
      outcomes.forEach((got, r) => {
        assertAllClose(got.out, outs[r].data, TOL, `out_${r}`);
        assertAllClose(got.grads.A, want.dA[r].data, TOL, `dA_${r}`);
        assertAllClose(got.grads.C, want.dC[r].data, TOL, `dC_${r}`);
        assertAllClose(got.grads.D, want.dD[r].data, TOL, `dD_${r}`);
        assertAllClose(got.grads.b, want.db[r], TOL, `db_${r}`);
        assertAllClose(got.dInput, want.dH[r].data, TOL, `dH_${r}`);
        // All-gather of b x k ghosts, reduce-scatter of p-1 blocks of b x k.
        const s = comms[r].stats();
        assertEquals(s.bytesSent, 4 * (b * k + (P - 1) * b * k));
        assertEquals(s.bytesReceived, 4 * 2 * (P - 1) * b * k);
      });
    },
  );
}

backendTest(
  "phantom layer equals its dense-equivalent matrix in outputs and gradients",
  async () => {
    const rng = new Rng(60);
    const [P, m, k, b] = [3, 4, 2, 6];
    const blocks = Array.from({ length: P }, () => randomMat(rng, b, m));
    const p = randomPhantom(rng, P, m, k);
    const dOut = Array.from({ length: P }, () => randomMat(rng, b, m));
    const { outcomes } = await runLayers(P, phantomLayers(p), blocks, dOut);

    const n = P * m;
    const dense = {
      W: phantomDenseEquivalent(p),
      b: Float64Array.from(p.b.flatMap((v) => [...v])),
    };
    const x = hcat(blocks);
    const y = denseForward(x, dense, true);
    const g = denseBackward(x, dense, true, hcat(dOut));
    const wBlock = (s: number, r: number) => colBlock(rowBlock(g.dW, s * m, m), r * m, m);
    outcomes.forEach((got, r) => {
      assertAllClose(got.out, colBlock(y, r * m, m).data, TOL, `out_${r}`);
      assertAllClose(got.dInput, colBlock(g.dX, r * m, m).data, TOL, `dH_${r}`);
      assertAllClose(got.grads.A, wBlock(r, r).data, TOL, `dA_${r} = dW_eq(r, r)`);
      // dD_{s->r} = C_s^T dW_eq(s, r), stacked over s != r.
      const dD = vcat(
        [...Array(P).keys()].filter((s) => s !== r).map((s) =>
          matmul(transpose(p.C[s]), wBlock(s, r))
        ),
      );
      assertAllClose(got.grads.D, dD.data, TOL, `dD_${r}`);
      // dC_r = sum over t != r of dW_eq(r, t) D_{r->t}^T.
      let dC = new Mat(m, k);
      for (let t = 0; t < P; t++) {
        if (t !== r) dC = add(dC, matmul(wBlock(r, t), transpose(dBlock(p, r, t))));
      }
      assertAllClose(got.grads.C, dC.data, TOL, `dC_${r}`);
    });
    assertEquals(dense.W.rows, n);
  },
);

backendTest("phantom with k = m, C = I and D copied from W computes what TP computes", async () => {
  const rng = new Rng(61);
  const [P, m, b] = [4, 3, 5];
  const n = P * m;
  const W = randomMat(rng, n, n);
  const bias = Array.from({ length: P }, () => new Float64Array(rng.normalArray(m, 1)));
  const blocks = Array.from({ length: P }, () => randomMat(rng, b, m));
  const dOut = Array.from({ length: P }, () => randomMat(rng, b, m));
  const eye = new Mat(m, m, Array.from({ length: m * m }, (_, i) => (i % (m + 1) === 0 ? 1 : 0)));
  const block = (s: number, r: number) => colBlock(rowBlock(W, s * m, m), r * m, m);
  const p: PhantomF64 = {
    A: bias.map((_, r) => block(r, r)),
    C: bias.map(() => eye),
    D: bias.map((_, r) =>
      vcat([...Array(P).keys()].filter((s) => s !== r).map((s) => block(s, r)))
    ),
    b: bias,
  };
  const phantom = await runLayers(P, phantomLayers(p), blocks, dOut);
  const tp = await runLayers(
    P,
    (c, r) => new TpLayer(c, 0, toTensor(colBlock(W, r * m, m)), toVector(bias[r])),
    blocks,
    dOut,
  );
  phantom.outcomes.forEach((got, r) => {
    assertAllClose(got.out, tp.outcomes[r].out, TOL, `out_${r}`);
    assertAllClose(got.dInput, tp.outcomes[r].dInput, TOL, `dH_${r}`);
  });
});

backendTest("phantom layer with p = 1 is the dense layer", async () => {
  const rng = new Rng(62);
  const [m, b] = [5, 4];
  const x = randomMat(rng, b, m);
  const A = randomMat(rng, m, m);
  const bias = new Float64Array(rng.normalArray(m, 1));
  const dOut = randomMat(rng, b, m);
  const phantom = await runLayers(
    1,
    (c) => new PhantomLayer(c, 0, { A: toTensor(A), b: toVector(bias) }),
    [x],
    [dOut],
  );
  const dense = await runLayers(1, () => new DenseLayer(toTensor(A), toVector(bias)), [x], [dOut]);
  const [got, want] = [phantom.outcomes[0], dense.outcomes[0]];
  assertEquals(Object.keys(got.grads).sort(), ["A", "b"]);
  assertAllClose(got.out, want.out, { atol: 0, rtol: 0 }, "out");
  assertAllClose(got.grads.A, want.grads.W, { atol: 0, rtol: 0 }, "dA");
  assertAllClose(got.dInput, want.dInput, { atol: 0, rtol: 0 }, "dH");
});

backendTest("phantom layer refuses p > 1 without C and D", () => {
  const [comm] = createInProcessGroup(2);
  assertThrows(
    () => new PhantomLayer(comm, 3, { A: tf.zeros([2, 2]), b: tf.zeros([2]) }),
    TypeError,
    "phantom layer 3",
  );
});

backendTest(
  "phantom x DP: gradients averaged over 2 replicas (each on its half, its own mean) equal the dense equivalent's on the whole batch",
  async () => {
    const rng = new Rng(62);
    const [P, m, k, b, d] = [3, 4, 2, 6, 2];
    const blocks = Array.from({ length: P }, () => randomMat(rng, b, m));
    const p = randomPhantom(rng, P, m, k);
    // dOut of the global batch's mean loss; a replica's own mean over its b/d rows is d times it.
    const dOut = Array.from({ length: P }, () => randomMat(rng, b, m));
    const half = (a: Mat, i: number) => rowBlock(a, (i * b) / d, b / d);
    const scaled = (a: Mat) => new Mat(a.rows, a.cols, a.data.map((v) => v * d));
    const replicas: Awaited<ReturnType<typeof runLayers>>["outcomes"][] = [];
    for (let i = 0; i < d; i++) {
      replicas.push(
        (await runLayers(
          P,
          phantomLayers(p),
          blocks.map((x) => half(x, i)),
          dOut.map((g) => scaled(half(g, i))),
        )).outcomes,
      );
    }
    // The data-parallel mean, as the trainer takes it: the sum over replicas, divided by d.
    const mean = (r: number, name: string) => {
      const sums = new Float64Array(replicas[0][r].grads[name].length);
      for (const rep of replicas) rep[r].grads[name].forEach((v, j) => (sums[j] += v));
      return sums.map((v) => v / d);
    };
    const dense = {
      W: phantomDenseEquivalent(p),
      b: Float64Array.from(p.b.flatMap((v) => [...v])),
    };
    const g = denseBackward(hcat(blocks), dense, true, hcat(dOut));
    const wBlock = (s: number, r: number) => colBlock(rowBlock(g.dW, s * m, m), r * m, m);
    for (let r = 0; r < P; r++) {
      assertAllClose(mean(r, "A"), wBlock(r, r).data, TOL, `dA_${r}`);
      const dD = vcat(
        [...Array(P).keys()].filter((s) => s !== r).map((s) =>
          matmul(transpose(p.C[s]), wBlock(s, r))
        ),
      );
      assertAllClose(mean(r, "D"), dD.data, TOL, `dD_${r}`);
      let dC = new Mat(m, k);
      for (let t = 0; t < P; t++) {
        if (t !== r) dC = add(dC, matmul(wBlock(r, t), transpose(dBlock(p, r, t))));
      }
      assertAllClose(mean(r, "C"), dC.data, TOL, `dC_${r}`);
    }
  },
);
