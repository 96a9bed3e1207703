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
