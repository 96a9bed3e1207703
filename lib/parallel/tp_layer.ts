/**
 * The tensor-parallel hidden layer (the baseline): rank r owns the columns W_r [n, m] of the dense
 * n x n weight that produce its m neurons.
 * Forward: all-gather the input blocks into H [b, n]; out_r = relu(H W_r + b_r).
 * Backward: dW_r = H^T delta_r locally; the partial input gradient delta_r W_r^T [b, n] is
 * reduce-scattered so each rank gets its own block's sum (sent transposed, see backward).
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
import { denseRelu, reluDenseGrads, transpose2d } from "../nn/ops.ts";
import { allGatherColumns, reduceScatterRows } from "./tensor_comm.ts";

/**
 * One rank's share of a TP hidden layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { selectBackend } from "../nn/backend.ts";
 * import { createInProcessGroup } from "../comm/in_process_communicator.ts";
 * import { TpLayer } from "./tp_layer.ts";
 * await selectBackend("cpu");
 * const comms = createInProcessGroup(2); // n = 4, m = 2
 * const layers = comms.map((c) => new TpLayer(c, 0, tf.ones([4, 2]), tf.zeros([2])));
 * const outs = await Promise.all(layers.map((l, r) => l.forward(tf.fill([1, 2], r + 1), "eval")));
 * assert(outs[0].dataSync()[0] === 6); // 1 + 1 + 2 + 2
 * ```
 */
export class TpLayer implements Layer {
  readonly params: Readonly<{ W: tf.Variable; b: tf.Variable }>;
  #comm: Communicator;
  #index: number;
  #cache = new ActivationCache<"gathered" | "output">();

  /**
   * @param comm The group.
   * @param index Layer index, for collective tags.
   * @param weight W_r [n, m] (taken over).
   * @param bias b_r [m] (taken over).
   */
  constructor(comm: Communicator, index: number, weight: tf.Tensor, bias: tf.Tensor) {
    this.#comm = comm;
    this.#index = index;
    this.params = toVariables({ W: weight, b: bias });
  }

  async forward(input: tf.Tensor2D, mode: PassMode): Promise<tf.Tensor2D> {
    const phase = mode === "train" ? "forward" : "eval";
    const gathered = await allGatherColumns(this.#comm, input, { phase, layer: this.#index });
    const out = denseRelu(gathered, this.params.W as tf.Tensor2D, this.params.b as tf.Tensor1D);
    if (mode === "train") {
      this.#cache.keep("gathered", gathered);
      this.#cache.keep("output", out);
    }
    gathered.dispose();
    return out;
  }

  async backward(dOutput: tf.Tensor2D, inputGrad: boolean): Promise<Backward> {
    const gathered = this.#cache.get<tf.Tensor2D>("gathered");
    const output = this.#cache.get<tf.Tensor2D>("output");
    const m = this.params.b.shape[0];
    const W = this.params.W as tf.Tensor2D;
    const alone = this.#comm.size === 1;
    // Alone, the input gradient is delta W^T. Otherwise it is produced transposed,
    // W_r delta_r^T [n, b], so that rank s's block is rows s*m .. (s+1)*m, contiguous.
    const g = reluDenseGrads(
      gathered,
      W,
      dOutput,
      output,
      !inputGrad ? "none" : alone ? "direct" : "transposed",
    );
    const grads = { W: g.dW, b: g.db };
    const [direct, partialT] = alone ? [g.dInput, undefined] : [undefined, g.dInput];
    this.#cache.clear();
    if (direct) return { grads, dInput: direct };
    if (!partialT) return { grads };
    const tag = { phase: "backward", layer: this.#index };
    const dInputT = await reduceScatterRows(this.#comm, partialT, m, true, tag);
    const dInput = transpose2d(dInputT);
    tf.dispose([partialT, dInputT]);
    return { grads, dInput };
  }

  [Symbol.dispose](): void {
    this.#cache.clear();
    for (const v of Object.values(this.params)) v.dispose();
  }
}
