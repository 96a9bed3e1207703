/**
 * The output layer, the same for TP and phantom: rank r holds W_out,r [m, d_out] and computes a
 * partial Y_r = H_r W_out,r; one all-reduce (sum) gives Y [b, d_out] on every rank. The output bias
 * lives on rank 0 only, so every parameter stays private to one rank. Backward needs no
 * communication: dH_r = dY W_out,r^T.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Communicator } from "../comm/communicator.ts";
import {
  ActivationCache,
  type Backward,
  type Layer,
  type PassMode,
  toVariables,
} from "../nn/layer.ts";
import { columnSums, linear, matMulNT, matMulTN } from "../nn/ops.ts";
import { allReduceTensor } from "./tensor_comm.ts";

/**
 * One rank's share of the output layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { selectBackend } from "../nn/backend.ts";
 * import { createInProcessGroup } from "../comm/in_process_communicator.ts";
 * import { OutputLayer } from "./output_layer.ts";
 * await selectBackend("cpu");
 * const comms = createInProcessGroup(2);
 * const layers = comms.map((c) => new OutputLayer(c, tf.ones([1, 1]), c.rank === 0 ? tf.ones([1]) : undefined));
 * const ys = await Promise.all(layers.map((l) => l.forward(tf.ones([1, 1]), "eval")));
 * assert(ys[1].dataSync()[0] === 3); // 1 + 1 + bias 1
 * ```
 */
export class OutputLayer implements Layer {
  readonly params: Readonly<Record<string, tf.Variable>>;
  #comm: Communicator;
  #cache = new ActivationCache<"input">();

  /**
   * @param comm The group.
   * @param weight W_out,r [m, d_out] (taken over).
   * @param bias b_out [d_out] on rank 0, undefined elsewhere (taken over).
   */
  constructor(comm: Communicator, weight: tf.Tensor, bias: tf.Tensor | undefined) {
    this.#comm = comm;
    this.params = bias ? toVariables({ W: weight, b: bias }) : toVariables({ W: weight });
  }

  async forward(input: tf.Tensor2D, mode: PassMode): Promise<tf.Tensor2D> {
    const { W, b } = this.params as Record<string, tf.Tensor2D>;
    const partial: tf.Tensor2D = b
      ? linear(input, W, b as unknown as tf.Tensor1D)
      : tf.matMul(input, W);
    if (mode === "train") this.#cache.keep("input", input);
    const phase = mode === "train" ? "forward" : "eval";
    const out = await allReduceTensor(this.#comm, partial, { phase, layer: -1 });
    partial.dispose();
    return out;
  }

  backward(dOutput: tf.Tensor2D, inputGrad: boolean): Promise<Backward> {
    const input = this.#cache.get<tf.Tensor2D>("input");
    const { W, b } = this.params as Record<string, tf.Tensor2D>;
    const result = tf.tidy(() => {
      const grads: Record<string, tf.Tensor> = { W: matMulTN(input, dOutput) };
      if (b) grads.b = columnSums(dOutput);
      return inputGrad ? { grads, dInput: matMulNT(dOutput, W) } : { grads };
    });
    this.#cache.clear();
    return Promise.resolve(result);
  }

  [Symbol.dispose](): void {
    this.#cache.clear();
    for (const v of Object.values(this.params)) v.dispose();
  }
}
