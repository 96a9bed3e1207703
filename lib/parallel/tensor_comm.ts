/**
 * Collectives on tfjs tensors: the bridge between a layer's tensors and the
 * {@linkcode Communicator}'s Float32Arrays. With one rank nothing leaves the device.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { CollectiveTag, Communicator } from "../comm/communicator.ts";

/**
 * Gathers every rank's [rows, cols] block side by side: [rows, p cols] in rank order, or
 * [rows, (p-1) cols] without this rank's own block. The matrix is assembled in memory and made
 * into one tensor (no tensor per block, no concat: at p = 256 those cost more than the exchange).
 *
 * @param comm The communicator.
 * @param block This rank's block.
 * @param tag Label of the call.
 * @param includeOwn Whether this rank's own block is part of the result.
 * @returns The gathered matrix (a new tensor the caller disposes).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { selectBackend } from "../nn/backend.ts";
 * import { createInProcessGroup } from "../comm/in_process_communicator.ts";
 * import { allGatherColumns } from "./tensor_comm.ts";
 * await selectBackend("cpu");
 * const comms = createInProcessGroup(2);
 * const out = await Promise.all(comms.map((c) =>
 *   allGatherColumns(c, tf.tensor2d([[c.rank], [10 + c.rank]]), {}, c.rank === 0)));
 * assert.deepEqual(await out[0].array(), [[0, 1], [10, 11]]); // rank 0 keeps its own block
 * assert.deepEqual(await out[1].array(), [[0], [10]]); // rank 1 gets the others' only
 * ```
 */
export async function allGatherColumns(
  comm: Communicator,
  block: tf.Tensor2D,
  tag: CollectiveTag,
  includeOwn = true,
): Promise<tf.Tensor2D> {
  const [rows, cols] = block.shape;
  if (comm.size === 1) return includeOwn ? tf.clone(block) : tf.zeros([rows, 0]);
  const blocks = await comm.allGather(await floats(block), tag);
  const sources = includeOwn ? blocks : blocks.filter((_, s) => s !== comm.rank);
  const width = sources.length * cols;
  const out = new Float32Array(rows * width);
  sources.forEach((b, j) => {
    if (cols === 1) {
      for (let i = 0; i < rows; i++) out[i * width + j] = b[i];
      return;
    }
    for (let i = 0; i < rows; i++) {
      out.set(b.subarray(i * cols, (i + 1) * cols), i * width + j * cols);
    }
  });
  return tf.tensor2d(out, [rows, width]);
}

/**
 * Reduce-scatter of a row-stacked tensor: row block s (contiguous in memory, so no copy is made to
 * cut it) goes to rank s. Layers stack their outgoing blocks transposed for this reason.
 *
 * @param comm The communicator.
 * @param stacked [sum of the blocks' rows, cols]; blocks in rank order, this rank's own block
 *   omitted when `withOwn` is false (it then contributes nothing to its own sum).
 * @param blockRows Rows per block (every block has the same count).
 * @param withOwn Whether `stacked` contains a block for this rank.
 * @param tag Label of the call.
 * @returns The sum over ranks of their block for this rank, [blockRows, cols].
 */
export async function reduceScatterRows(
  comm: Communicator,
  stacked: tf.Tensor2D,
  blockRows: number,
  withOwn: boolean,
  tag: CollectiveTag,
): Promise<tf.Tensor2D> {
  const cols = stacked.shape[1];
  const size = blockRows * cols;
  const data = await floats(stacked);
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (let s = 0; s < comm.size; s++) {
    if (s === comm.rank && !withOwn) {
      chunks.push(new Float32Array(size));
      continue;
    }
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  if (offset !== data.length) {
    throw new RangeError(
      `Cannot reduce-scatter: ${stacked.shape[0]} rows are not ${comm.size} blocks of ${blockRows}`,
    );
  }
  if (comm.size === 1) return tf.tensor2d(chunks[0], [blockRows, cols]);
  return tf.tensor2d(await comm.reduceScatter(chunks, tag), [blockRows, cols]);
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
