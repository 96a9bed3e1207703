/**
 * Mean squared error over b x d_out, computed identically on every rank (each holds the same
 * all-reduced Y and the same targets).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/**
 * MSE loss and its gradient.
 *
 * @param y Predictions [b, d_out].
 * @param target Targets [b, d_out].
 * @returns The loss value and dL/dy = 2 (y - target) / (b d_out) (the caller disposes it).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { selectBackend } from "./backend.ts";
 * import { mseLoss } from "./loss.ts";
 * await selectBackend("cpu");
 * const { loss } = await mseLoss(tf.tensor2d([[1, 2]]), tf.tensor2d([[0, 0]]));
 * assert(loss === 2.5);
 * ```
 */
export async function mseLoss(
  y: tf.Tensor2D,
  target: tf.Tensor2D,
): Promise<{ loss: number; dY: tf.Tensor2D }> {
  const { value, dY } = tf.tidy(() => {
    const diff = tf.sub(y, target);
    return { value: tf.mean(tf.square(diff)), dY: tf.mul(diff, 2 / diff.size) as tf.Tensor2D };
  });
  const loss = (await value.data())[0];
  value.dispose();
  return { loss, dY };
}

/**
 * The MSE loss value only (evaluation).
 *
 * @param y Predictions [b, d_out].
 * @param target Targets [b, d_out].
 * @returns mean((y - target)^2).
 */
export async function mseValue(y: tf.Tensor2D, target: tf.Tensor2D): Promise<number> {
  const value = tf.tidy(() => tf.mean(tf.square(tf.sub(y, target))));
  const loss = (await value.data())[0];
  value.dispose();
  return loss;
}
