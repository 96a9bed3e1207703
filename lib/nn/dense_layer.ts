/**
 * The dense layer, out = act(x W + b), used as every rank's input layer (W_in: d_in x m, no
 * communication) and as the hidden layer of the serial reference FFN.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { ActivationCache, type Backward, type Layer, type PassMode, toVariables } from "./layer.ts";
import { columnSums, denseRelu, linear, matMulNT, matMulTN, reluDenseGrads } from "./ops.ts";

/** Element-wise activation of a layer. */
export type Activation = "relu" | "linear";

/**
 * A dense layer with private W [in, out] and b [out].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { selectBackend } from "./backend.ts";
 * import { DenseLayer } from "./dense_layer.ts";
 * await selectBackend("cpu");
 * using layer = new DenseLayer(tf.ones([2, 3]), tf.zeros([3]), "relu");
 * const out = await layer.forward(tf.ones([1, 2]), "eval");
 * assert(out.shape[1] === 3);
 * ```
 */
export class DenseLayer implements Layer {
  readonly params: Readonly<{ W: tf.Variable; b: tf.Variable }>;
  readonly activation: Activation;
  #cache = new ActivationCache<"input" | "output">();

  /**
   * @param weight W [in, out] (taken over).
   * @param bias b [out] (taken over).
   * @param activation `relu` (default) or `linear`.
   */
  constructor(weight: tf.Tensor, bias: tf.Tensor, activation: Activation = "relu") {
    this.params = toVariables({ W: weight, b: bias });
    this.activation = activation;
  }

  forward(input: tf.Tensor2D, mode: PassMode): Promise<tf.Tensor2D> {
    const { W, b } = this.params;
    const [w, bias] = [W as tf.Tensor2D, b as tf.Tensor1D];
    const out = this.activation === "relu" ? denseRelu(input, w, bias) : linear(input, w, bias);
    if (mode === "train") {
      this.#cache.keep("input", input);
      this.#cache.keep("output", out);
    }
    return Promise.resolve(out);
  }

  backward(dOutput: tf.Tensor2D, inputGrad: boolean): Promise<Backward> {
    const input = this.#cache.get<tf.Tensor2D>("input");
    const output = this.#cache.get<tf.Tensor2D>("output");
    const W = this.params.W as tf.Tensor2D;
    const result = this.activation === "relu"
      ? (() => {
        const g = reluDenseGrads(input, W, dOutput, output, inputGrad ? "direct" : "none");
        return g.dInput
          ? { grads: { W: g.dW, b: g.db }, dInput: g.dInput }
          : { grads: { W: g.dW, b: g.db } };
      })()
      : tf.tidy(() => {
        const grads = { W: matMulTN(input, dOutput), b: columnSums(dOutput) };
        const dInput = inputGrad ? matMulNT(dOutput, W) : undefined;
        return dInput ? { grads, dInput } : { grads };
      });
    this.#cache.clear();
    return Promise.resolve(result);
  }

  [Symbol.dispose](): void {
    this.#cache.clear();
    for (const v of Object.values(this.params)) v.dispose();
  }
}
