/**
 * One rank's share of the FFN: input layer (local), L hidden layers (serial dense, TP or phantom),
 * and the output layer (partial products, one all-reduce). Parameters are named `input.W`,
 * `hidden.2.A`, `output.b`, and so on.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { ModelConfig } from "../config/config.ts";
import type { Communicator } from "../comm/communicator.ts";
import { DenseLayer } from "../nn/dense_layer.ts";
import { type HiddenWeights, initRankWeights, type Matrix, type RankWeights } from "../nn/init.ts";
import type { Layer, PassMode } from "../nn/layer.ts";
import { OutputLayer } from "./output_layer.ts";
import { PhantomLayer } from "./phantom_layer.ts";
import { TpLayer } from "./tp_layer.ts";

/**
 * A rank's model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { selectBackend } from "../nn/backend.ts";
 * import { createInProcessGroup } from "../comm/in_process_communicator.ts";
 * import { RankFfn } from "./ffn.ts";
 * await selectBackend("cpu");
 * const config = { mode: "phantom" as const, ranks: 2, width: 8, phantomWidth: 1, layers: 2, batch: 3, inputWidth: 4, outputWidth: 2, seed: 1 };
 * const models = createInProcessGroup(2).map((c) => RankFfn.create(config, c));
 * const ys = await Promise.all(models.map((m) => m.forward(tf.ones([3, 4]), "eval")));
 * assert(ys[0].dataSync()[5] === ys[1].dataSync()[5]);
 * ```
 */
export class RankFfn implements Disposable {
  readonly config: ModelConfig;
  readonly comm: Communicator;
  #layers: { name: string; layer: Layer }[];

  /**
   * @param config The model.
   * @param comm This rank's communicator.
   * @param weights Initial weights of this rank.
   */
  constructor(config: ModelConfig, comm: Communicator, weights: RankWeights) {
    this.config = config;
    this.comm = comm;
    this.#layers = [
      { name: "input", layer: new DenseLayer(matrix(weights.input.W), vector(weights.input.b)) },
      ...weights.hidden.map((w, l) => ({ name: `hidden.${l}`, layer: this.#hidden(l, w) })),
      {
        name: "output",
        layer: new OutputLayer(
          comm,
          matrix(weights.output.W),
          weights.output.b ? vector(weights.output.b) : undefined,
        ),
      },
    ];
  }

  /**
   * Builds a rank's model from seeded initial weights.
   *
   * @param config The model.
   * @param comm This rank's communicator (its rank and size must match the config).
   * @returns The model.
   * @throws {RangeError} If the communicator's size differs from `config.ranks`.
   */
  static create(config: ModelConfig, comm: Communicator): RankFfn {
    if (comm.size !== config.ranks) {
      throw new RangeError(
        `Cannot build rank model: communicator size (${comm.size}) must equal ranks (${config.ranks})`,
      );
    }
    return new RankFfn(config, comm, initRankWeights(config, comm.rank));
  }

  /** @returns Every parameter by its qualified name. */
  parameters(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const { name, layer } of this.#layers) {
      for (const [p, v] of Object.entries(layer.params)) out.set(`${name}.${p}`, v);
    }
    return out;
  }

  /**
   * Runs the forward pass (collectives included).
   *
   * @param x The replicated input [rows, d_in].
   * @param mode `train` keeps activations for {@linkcode RankFfn.backward}.
   * @param onLayer Called after each layer (e.g. to sample memory).
   * @returns Y [rows, d_out], identical on every rank.
   */
  async forward(x: tf.Tensor2D, mode: PassMode, onLayer?: () => void): Promise<tf.Tensor2D> {
    let h = x;
    for (const { layer } of this.#layers) {
      const next = await layer.forward(h, mode);
      if (h !== x) h.dispose();
      h = next;
      onLayer?.();
    }
    return h;
  }

  /**
   * Runs the backward pass of the last training forward pass.
   *
   * @param dY Gradient of the loss with respect to Y.
   * @param inputGrad Also return the gradient of X (tests; the model itself never needs it).
   * @param onLayer Called after each layer's backward pass with the layer's name and its gradients
   *   (e.g. to sample memory, or to start the layer's data-parallel all-reduce at once).
   * @returns Gradients by parameter name, and `x` when asked for (the caller disposes them).
   */
  async backward(
    dY: tf.Tensor2D,
    inputGrad = false,
    onLayer?: (layer: string, grads: [string, tf.Tensor][]) => void,
  ): Promise<Map<string, tf.Tensor>> {
    const grads = new Map<string, tf.Tensor>();
    let d = dY;
    for (let i = this.#layers.length - 1; i >= 0; i--) {
      const { name, layer } = this.#layers[i];
      const { grads: g, dInput } = await layer.backward(d, i > 0 || inputGrad);
      if (d !== dY) d.dispose();
      const entries = Object.entries(g).map(([p, t]): [string, tf.Tensor] => [`${name}.${p}`, t]);
      for (const [p, t] of entries) grads.set(p, t);
      if (dInput) d = dInput;
      onLayer?.(name, entries);
    }
    if (inputGrad) grads.set("x", d);
    return grads;
  }

  [Symbol.dispose](): void {
    for (const { layer } of this.#layers) layer[Symbol.dispose]();
  }

  #hidden(index: number, w: HiddenWeights): Layer {
    const b = vector(w.b);
    switch (this.config.mode) {
      case "serial":
        return new DenseLayer(matrix(need(w.W, "W")), b);
      case "tp":
        return new TpLayer(this.comm, index, matrix(need(w.W, "W")), b);
      case "phantom":
        return new PhantomLayer(this.comm, index, {
          A: matrix(need(w.A, "A")),
          C: w.C && matrix(w.C),
          D: w.D && matrix(w.D),
          b,
        });
    }
  }
}

function need(m: Matrix | undefined, name: string): Matrix {
  if (!m) throw new TypeError(`Cannot build hidden layer: weight ${name} is missing`);
  return m;
}

function matrix(m: Matrix): tf.Tensor2D {
  return tf.tensor2d(m.data, [m.rows, m.cols]);
}

function vector(m: Matrix): tf.Tensor1D {
  return tf.tensor1d(m.data);
}
