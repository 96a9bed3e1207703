/**
 * Matrix helpers that pick the fast formulation per backend: on the CPU backends (wasm, cpu) an
 * explicit transpose followed by a plain matMul is 10-60x faster than matMul's transpose flags
 * (measured: see the README, Backends); on GPU backends the flags avoid a copy.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { explicitTranspose } from "./backend.ts";

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
 * ReLU backward: the upstream gradient where the layer's output was positive, else 0.
 *
 * @param dOut Gradient of the layer's output.
 * @param out The layer's output relu(z); out > 0 exactly where z > 0.
 * @returns dOut * relu'(z).
 */
export function reluBackward(dOut: tf.Tensor2D, out: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.mul(dOut, tf.step(out)));
}

/**
 * Column sums, the gradient of a bias added to every row.
 *
 * @param delta Shape [b, m].
 * @returns Shape [m].
 */
export function columnSums(delta: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(delta, 0);
}
