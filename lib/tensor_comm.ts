/**
 * Collectives on tfjs tensors: the bridge between a layer's tensors and the
 * {@linkcode Communicator}'s Float32Arrays. With one rank nothing leaves the device.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { CollectiveTag, Communicator } from "./communicator.ts";

/**
 * Gathers every rank's [rows, cols] block.
 *
 * @param comm The communicator.
 * @param block This rank's block.
 * @param tag Label of the call.
 * @returns The p blocks in rank order (new tensors the caller disposes).
 */
export async function allGatherTensor(
  comm: Communicator,
  block: tf.Tensor2D,
  tag: CollectiveTag,
): Promise<tf.Tensor2D[]> {
  if (comm.size === 1) return [tf.clone(block)];
  const [rows, cols] = block.shape;
  const arrays = await comm.allGather(await floats(block), tag);
  return arrays.map((a) => tf.tensor2d(a, [rows, cols]));
}

/**
 * Sums chunk s over ranks and returns this rank's sum.
 *
 * @param comm The communicator.
 * @param chunks p tensors; chunk s goes to rank s (this rank's own chunk is added locally).
 * @param tag Label of the call.
 * @returns The sum for this rank, shaped like `chunks[comm.rank]`.
 */
export async function reduceScatterTensor(
  comm: Communicator,
  chunks: tf.Tensor2D[],
  tag: CollectiveTag,
): Promise<tf.Tensor2D> {
  const own = chunks[comm.rank];
  if (comm.size === 1) return tf.clone(own);
  const arrays = await Promise.all(chunks.map(floats));
  return tf.tensor2d(await comm.reduceScatter(arrays, tag), own.shape);
}

/**
 * Sums a tensor over ranks; bit-identical on every rank.
 *
 * @param comm The communicator.
 * @param t This rank's partial.
 * @param tag Label of the call.
 * @returns The sum (a new tensor).
 */
export async function allReduceTensor(
  comm: Communicator,
  t: tf.Tensor2D,
  tag: CollectiveTag,
): Promise<tf.Tensor2D> {
  if (comm.size === 1) return tf.clone(t);
  return tf.tensor2d(await comm.allReduce(await floats(t), tag), t.shape);
}

async function floats(t: tf.Tensor): Promise<Float32Array> {
  const data = await t.data();
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`Cannot send tensor: dtype (${t.dtype}) must be float32`);
  }
  return data;
}
