// One optimizer update on every backend against float64 (the formulas in docs/phantom.md,
// "Optimizers"), at tolerances that catch a constant rounded the wrong way: Adam's 1 - beta2
// computed in float32 from a float32 beta2 made every blas step 6.4e-6 too large.
import * as tf from "@tensorflow/tfjs-core";
import { createOptimizer } from "./optimizer.ts";
import { Rng } from "./rng.ts";
import { backendTest } from "../testing/harness.ts";
import { assert } from "../testing/asserts.ts";

const HYPER = { learningRate: 0.001, momentum: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
const N = 4096;

/** Gradients of one sign per element over the steps, so parameters from zero never cancel. */
function gradients(steps: number): Float32Array[] {
  const rng = new Rng(21);
  const base = Float32Array.from({ length: N }, () => rng.normal());
  return Array.from({ length: steps }, () => base.map((g) => g * (0.5 + 1.5 * rng.uniform())));
}

/**
 * Adam in float64 from zero parameters and moments, on the constants as the spec rounds them:
 * lr, beta and epsilon as float32 values, 1 - beta and 1 / c derived in double and rounded once.
 */
function adamF64(grads: Float32Array[]): Float64Array {
  const f = Math.fround;
  const { learningRate, beta1, beta2, epsilon } = HYPER;
  const [lr, b1, b2, eps] = [f(learningRate), f(beta1), f(beta2), f(epsilon)];
  const [a1, a2] = [f(1 - beta1), f(1 - beta2)];
  const [p, m, v] = [new Float64Array(N), new Float64Array(N), new Float64Array(N)];
  grads.forEach((g, i) => {
    const t = i + 1;
    const [k1, k2] = [f(1 / (1 - beta1 ** t)), f(1 / (1 - beta2 ** t))];
    for (let j = 0; j < N; j++) {
      m[j] = b1 * m[j] + a1 * g[j];
      v[j] = b2 * v[j] + a2 * g[j] * g[j];
      p[j] -= lr * (m[j] * k1) / (Math.sqrt(v[j] * k2) + eps);
    }
  });
  return p;
}

/** Largest |got - want| / scale, the scale |want| unless given per element. */
function maxRelative(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  scale: ArrayLike<number> = want,
): number {
  let worst = 0;
  for (let j = 0; j < want.length; j++) {
    worst = Math.max(worst, Math.abs(got[j] - want[j]) / Math.abs(scale[j]));
  }
  return worst;
}

/** Mean (got - want) / want: a bias shows here even where each element is within rounding. */
function meanRelative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let sum = 0;
  for (let j = 0; j < want.length; j++) sum += (got[j] - want[j]) / want[j];
  return sum / want.length;
}

async function train(
  name: "adam" | "sgd",
  grads: Float32Array[],
  start: Float32Array,
): Promise<Float32Array> {
  using opt = createOptimizer({ name, ...HYPER });
  const w = tf.variable(tf.tensor1d(start));
  for (const g of grads) {
    const gt = tf.tensor1d(g);
    opt.apply(new Map([["w", w]]), new Map([["w", gt]]));
    gt.dispose();
  }
  const out = Float32Array.from(await w.data());
  w.dispose();
  return out;
}

backendTest(
  "Adam: three updates from zero agree with float64 within float32 rounding, unbiased",
  async (backend) => {
    for (const steps of [1, 3]) {
      const grads = gradients(steps);
      const got = await train("adam", grads, new Float32Array(N));
      const want = adamF64(grads);
      const [worst, bias] = [maxRelative(got, want), meanRelative(got, want)];
      console.log(
        `${backend} Adam after ${steps}: max ${worst.toExponential(2)}, mean ${
          bias.toExponential(2)
        }`,
      );
      // A dozen float32 roundings on the way (each element within a few ulps); a wrong constant
      // moves every element alike, which the mean shows (the blas bug: +6.4e-6).
      assert(worst < 5e-7, `${backend}, ${steps} steps: max relative error ${worst}`);
      assert(Math.abs(bias) < 1e-7, `${backend}, ${steps} steps: mean relative error ${bias}`);
    }
  },
);

backendTest("SGD: one update agrees with float64 at 1e-7 of its operands", async (backend) => {
  const [g] = gradients(1);
  const rng = new Rng(3);
  const start = Float32Array.from({ length: N }, () => rng.normal());
  const got = await train("sgd", [g], start);
  const lr = Math.fround(HYPER.learningRate);
  const want = Float64Array.from(start, (p, j) => p - lr * g[j]);
  // Relative to the operands' scale: p - lr g may cancel to near zero.
  const worst = maxRelative(
    got,
    want,
    Float64Array.from(start, (p, j) => Math.abs(p) + lr * Math.abs(g[j])),
  );
  console.log(`${backend} SGD: max ${worst.toExponential(2)}`);
  assert(worst < 1e-7, `${backend}: max relative error ${worst}`);
});
