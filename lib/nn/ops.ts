/**
 * The matrix and element-wise steps of the layers, each in the fastest formulation the active
 * backend offers: on wasm and cpu an explicit transpose followed by a plain matMul is 10-60x
 * faster than matMul's transpose flags (measured: see the README, Backends), while blas and GPU
 * backends take the flags natively; bias and ReLU ride on the product where the backend fuses
 * them; and on blas the element-wise steps are single loops over the tensors' arrays (the CPU
 * backend's generic kernels broadcast and transpose index by index).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { explicitTranspose } from "./backend.ts";
import { activeFusedKernels, tensorArray } from "./blas/blas_backend.ts";
import { accelerations } from "./kernels.ts";

/**
 * a^T b. On CPU backends it transposes whichever is smaller: a (r i elements), or b and the
 * result, computing (b^T a)^T (r j + i j elements).
 *
 * @param a Shape [r, i].
 * @param b Shape [r, j].
 * @returns Shape [i, j].
 */
export function matMulTN(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!explicitTranspose(tf.getBackend())) return tf.matMul(a, b, true, false);
  const [r, i] = a.shape;
  const j = b.shape[1];
  return tf.tidy(() =>
    r * i <= r * j + i * j
      ? tf.matMul(tf.transpose(a), b)
      : tf.transpose(tf.matMul(tf.transpose(b), a))
  );
}

/**
 * a b^T. On CPU backends it transposes whichever is smaller: b (j r elements), or a and the
 * result, computing (b a^T)^T (i r + i j elements).
 *
 * @param a Shape [i, r].
 * @param b Shape [j, r].
 * @returns Shape [i, j].
 */
export function matMulNT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!explicitTranspose(tf.getBackend())) return tf.matMul(a, b, false, true);
  const [i, r] = a.shape;
  const j = b.shape[0];
  return tf.tidy(() =>
    j * r <= i * r + i * j
      ? tf.matMul(a, tf.transpose(b))
      : tf.transpose(tf.matMul(b, tf.transpose(a)))
  );
}

/**
 * x W + b, in one kernel where the backend fuses it.
 *
 * @param x Shape [r, i].
 * @param w Shape [i, j].
 * @param b Shape [j], or undefined.
 * @returns Shape [r, j].
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D;
}

/**
 * relu(x W + b), in one kernel where the backend fuses it.
 *
 * @param x Shape [r, i].
 * @param w Shape [i, j].
 * @param b Shape [j].
 * @returns Shape [r, j].
 */
export function denseRelu(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: w, bias: b, activation: "relu" }) as tf.Tensor2D;
}

/**
 * a + b of two equal-shaped matrices (one pass on blas: tfjs's CPU add goes through a
 * broadcasting closure per element, 9 ns each, 10% of a phantom step at p = 4 in one process).
 *
 * @param a Shape [r, j].
 * @param b Shape [r, j].
 * @returns Shape [r, j].
 */
export function add2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [av, bv, k] = [tensorArray(a), tensorArray(b), activeFusedKernels()];
  if (!av || !bv || !k || av.length !== bv.length) return tf.add(a, b);
  const out = new Float32Array(av.length);
  k.add(out, av, bv);
  return tf.tensor2d(out, a.shape);
}

/**
 * relu(a + b) of two equal-shaped matrices (one pass on blas).
 *
 * @param a Shape [r, j].
 * @param b Shape [r, j].
 * @returns Shape [r, j].
 */
export function addRelu(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [av, bv, k] = [tensorArray(a), tensorArray(b), activeFusedKernels()];
  if (!av || !bv || !k) return tf.tidy(() => tf.relu(tf.add(a, b)));
  const out = new Float32Array(av.length);
  k.addRelu(out, av, bv);
  return tf.tensor2d(out, a.shape);
}

/**
 * ReLU backward: the upstream gradient where the layer's output was positive, else 0.
 *
 * @param dOut Gradient of the layer's output.
 * @param out The layer's output relu(z); out > 0 exactly where z > 0.
 * @returns dOut * relu'(z).
 */
export function reluBackward(dOut: tf.Tensor2D, out: tf.Tensor2D): tf.Tensor2D {
  const [dv, ov, k] = [tensorArray(dOut), tensorArray(out), activeFusedKernels()];
  if (!dv || !ov || !k) return tf.tidy(() => tf.mul(dOut, tf.step(out)));
  const delta = new Float32Array(dv.length);
  k.reluBackward(delta, dv, ov);
  return tf.tensor2d(delta, dOut.shape);
}

/**
 * The gradients of a ReLU dense layer y = relu(x W + b): dW = x^T delta, db = column sums of
 * delta, and the input gradient (delta W^T, or W delta^T when `transposedInput`), with delta =
 * dOut * relu'(z). On webgpu delta is never materialised: the ReLU mask is applied while the
 * gradient GEMMs load dOut (lib/nn/webgpu/gemm_kernels.ts), and the bias gradient is a masked
 * product with a row of ones. Elsewhere delta is computed once and shared.
 *
 * @param x The layer's input [b, k].
 * @param w Its weight [k, m].
 * @param dOut Gradient of its output [b, m].
 * @param out Its output relu(z) [b, m].
 * @param input `none`, `direct` (delta W^T [b, k]) or `transposed` (W delta^T [k, b]).
 * @returns dW, db and the input gradient if asked for.
 */
export function reluDenseGrads(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  dOut: tf.Tensor2D,
  out: tf.Tensor2D,
  input: "none" | "direct" | "transposed",
): { dW: tf.Tensor2D; db: tf.Tensor1D; dInput?: tf.Tensor2D } {
  const mm = accelerations(tf.getBackend()).maskedMatMul;
  if (mm) {
    return tf.tidy(() => {
      const dW = mm(x, dOut, out, "B", true, false);
      const db = tf.reshape(
        mm(tf.ones([1, dOut.shape[0]]) as tf.Tensor2D, dOut, out, "B", false, false),
        [
          dOut.shape[1],
        ],
      ) as tf.Tensor1D;
      const dInput = input === "direct"
        ? mm(dOut, w, out, "A", false, true)
        : input === "transposed"
        ? mm(w, dOut, out, "B", false, true)
        : undefined;
      return dInput ? { dW, db, dInput } : { dW, db };
    });
  }
  return tf.tidy(() => {
    const delta = reluBackward(dOut, out);
    const dW = matMulTN(x, delta);
    const db = columnSums(delta);
    const dInput = input === "direct"
      ? matMulNT(delta, w)
      : input === "transposed"
      ? matMulNT(w, delta)
      : undefined;
    return dInput ? { dW, db, dInput } : { dW, db };
  });
}

/**
 * Column sums, the gradient of a bias added to every row.
 *
 * @param delta Shape [b, m].
 * @returns Shape [m].
 */
export function columnSums(delta: tf.Tensor2D): tf.Tensor1D {
  const [dv, k] = [tensorArray(delta), activeFusedKernels()];
  if (!dv || !k) return tf.sum(delta, 0);
  const [rows, cols] = delta.shape;
  const sums = new Float32Array(cols);
  k.columnSums(sums, dv, rows, cols);
  return tf.tensor1d(sums);
}

/**
 * The transpose of a matrix (a tiled copy on blas; the CPU backend's generic transpose walks
 * indices one by one).
 *
 * @param x Shape [r, c].
 * @returns Shape [c, r].
 */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  const [xv, k] = [tensorArray(x), activeFusedKernels()];
  if (!xv || !k) return tf.transpose(x);
  const [rows, cols] = x.shape;
  const out = new Float32Array(xv.length);
  k.transpose(out, xv, rows, cols);
  return tf.tensor2d(out, [cols, rows]);
}
