// The suite's WGSL GEMM on whatever WebGPU adapter is here (llvmpipe on the build machines:
// slow, but it runs WGSL), against a float64 reference: every layout, awkward shapes, the fused
// epilogues and the masked products of the fused ReLU backward; and a training point on webgpu
// against wasm.
import * as tf from "@tensorflow/tfjs-core";
import { validateTrainConfig } from "../../config/config.ts";
import { trainInProcess } from "../../runtime/trainer.ts";
import { assert, assertEquals } from "../../testing/asserts.ts";
import { selectBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { gemmCounters, maskedMatMul } from "./gemm_kernels.ts";
import { chooseTile } from "./gemm_wgsl.ts";
import { webgpuTest } from "../../testing/webgpu.ts";

const test = webgpuTest;

function random(rows: number, cols: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: rows * cols }, () => 2 * rng.uniform() - 1);
}

/** C = op(A) op(B) in float64; A stored rows x cols as given. */
function reference(
  a: Float64Array,
  aShape: [number, number],
  b: Float64Array,
  bShape: [number, number],
  transA: boolean,
  transB: boolean,
): Float64Array {
  const [m, k] = transA ? [aShape[1], aShape[0]] : aShape;
  const n = transB ? bShape[0] : bShape[1];
  const at = (i: number, p: number) => (transA ? a[p * aShape[1] + i] : a[i * aShape[1] + p]);
  const bt = (p: number, j: number) => (transB ? b[j * bShape[1] + p] : b[p * bShape[1] + j]);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j);
      c[i * n + j] = s;
    }
  }
  return c;
}

function close(got: Float32Array, want: Float64Array, k: number, what: string) {
  assertEquals(got.length, want.length, what);
  const tol = 1e-5 * Math.sqrt(k) + 1e-6;
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i] - want[i]) > tol * Math.max(1, Math.abs(want[i]))) {
      throw new Error(`${what}: element ${i} is ${got[i]}, float64 says ${want[i]}`);
    }
  }
}

// (m, k, n): ones, primes, non-multiples of every tile, k = 1 (a phantom width), 4096 in one
// dimension, and one shape big enough for the large tile.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 17, 1],
  [7, 5, 3],
  [13, 31, 37],
  [130, 33, 257],
  [64, 1, 96],
  [4096, 3, 5],
  [3, 4096, 2],
  [1024, 8, 1040],
];

test("WGSL GEMM: A B, A B^T and A^T B match float64 for awkward shapes", async () => {
  assertEquals(chooseTile(1024, 1040).name, "large");
  const before = { ...gemmCounters };
  let seed = 1;
  for (const [m, k, n] of SHAPES) {
    for (const [transA, transB] of [[false, false], [false, true], [true, false]] as const) {
      const aShape: [number, number] = transA ? [k, m] : [m, k];
      const bShape: [number, number] = transB ? [n, k] : [k, n];
      const a = random(...aShape, seed++);
      const b = random(...bShape, seed++);
      const c = tf.tidy(() =>
        tf.matMul(
          tf.tensor2d(Float32Array.from(a), aShape),
          tf.tensor2d(Float32Array.from(b), bShape),
          transA,
          transB,
        )
      );
      close(
        await c.data() as Float32Array,
        reference(a, aShape, b, bShape, transA, transB),
        k,
        `${m}x${k}x${n} ${transA}${transB}`,
      );
      c.dispose();
    }
  }
  assertEquals(
    gemmCounters.ours - before.ours,
    SHAPES.length * 3,
    "every product ran on the suite's kernel",
  );
  assertEquals(gemmCounters.tfjs, before.tfjs);
});

test("WGSL GEMM: the fused epilogues (bias, bias + ReLU) of _FusedMatMul match float64", async () => {
  let seed = 100;
  for (const [m, k, n] of [[5, 7, 9], [130, 33, 70]] as const) {
    const [a, b, bias] = [random(m, k, seed++), random(k, n, seed++), random(1, n, seed++)];
    const base = reference(a, [m, k], b, [k, n], false, false);
    for (const activation of ["linear", "relu"] as const) {
      const c = tf.tidy(() =>
        tf.fused.matMul({
          a: tf.tensor2d(Float32Array.from(a), [m, k]),
          b: tf.tensor2d(Float32Array.from(b), [k, n]),
          bias: tf.tensor1d(Float32Array.from(bias)),
          activation,
        })
      );
      const want = base.map((v, i) => {
        const x = v + bias[i % n];
        return activation === "relu" ? Math.max(x, 0) : x;
      });
      close(await c.data() as Float32Array, want, k, `${m}x${k}x${n} ${activation}`);
      c.dispose();
    }
  }
});

test("WGSL GEMM: masked products (ReLU backward fused into the gradient GEMMs) match float64", async () => {
  const [b, n, k] = [37, 21, 19];
  const x = random(b, k, 7);
  const w = random(k, n, 8);
  const dOut = random(b, n, 9);
  const out = random(b, n, 10); // the sign is what matters
  const delta = dOut.map((v, i) => (out[i] > 0 ? v : 0));
  const t = (d: Float64Array, s: [number, number]) => tf.tensor2d(Float32Array.from(d), s);
  const [tx, tw, td, to] = [t(x, [b, k]), t(w, [k, n]), t(dOut, [b, n]), t(out, [b, n])];
  const dW = maskedMatMul(tx, td, to, "B", true, false); // x^T delta
  close(await dW.data() as Float32Array, reference(x, [b, k], delta, [b, n], true, false), b, "dW");
  const dX = maskedMatMul(td, tw, to, "A", false, true); // delta W^T
  close(await dX.data() as Float32Array, reference(delta, [b, n], w, [k, n], false, true), n, "dX");
  tf.dispose([tx, tw, td, to, dW, dX]);
});

test("a training point on webgpu matches wasm's loss within 2% after 15 steps", async () => {
  const config = validateTrainConfig({
    mode: "phantom",
    ranks: 2,
    width: 64,
    phantomWidth: 4,
    batch: 16,
    layers: 2,
    steps: 15,
    task: { evalEvery: 15, evalSize: 32 },
  });
  const gpu = (await trainInProcess(config))[0];
  await selectBackend("wasm");
  const wasm = (await trainInProcess(config))[0];
  const [a, b] = [gpu.evals.at(-1)!.loss, wasm.evals.at(-1)!.loss];
  assert(Math.abs(a - b) / b < 0.02, `webgpu ${a} vs wasm ${b}`);
  assert(gpu.steps.at(-1)!.loss < gpu.steps[0].loss, "it trains");
});
