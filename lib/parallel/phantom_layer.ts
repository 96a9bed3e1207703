/**
 * The phantom-parallel hidden layer (docs/phantom.md). Rank r owns A_r [m, m] (own
 * neurons to own neurons), C_r [m, k] (compression into k ghost neurons) and D_r [(p-1)k, m]: the
 * blocks D_{s->r} [k, m] for every other rank s, stacked in ascending s.
 *
 * Forward: G_r = H_r C_r; all-gather the G_s; Z_r = H_r A_r + sum_{s != r} G_s D_{s->r} + b_r.
 * Backward: dA = H^T delta, dD = G_others^T delta (local); E_{r->s} = delta D_{s->r}^T is
 * reduce-scattered so rank s gets dG_s = sum_r E_{r->s}; then dC = H^T dG and
 * dH = delta A^T + dG C^T (local).
 *
 * With p = 1 there is no other rank: the layer has no C or D and is the dense layer H A + b.
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
import {
  add2d,
  addRelu,
  columnSums,
  denseRelu,
  linear,
  matMulNT,
  matMulTN,
  reluBackward,
  reluDenseGrads,
  transpose2d,
} from "../nn/ops.ts";
import { allGatherColumns, reduceScatterRows } from "./tensor_comm.ts";

/** Initial values of one rank's phantom layer (taken over by the layer). */
export interface PhantomWeights {
  /** A_r [m, m]. */
  A: tf.Tensor;
  /** C_r [m, k]; absent when p = 1. */
  C?: tf.Tensor;
  /** D_r [(p-1)k, m], blocks D_{s->r} in ascending s != r; absent when p = 1. */
  D?: tf.Tensor;
  /** b_r [m]. */
  b: tf.Tensor;
}

/**
 * One rank's share of a phantom hidden layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { selectBackend } from "../nn/backend.ts";
 * import { createInProcessGroup } from "../comm/in_process_communicator.ts";
 * import { PhantomLayer } from "./phantom_layer.ts";
 * await selectBackend("cpu");
 * const comms = createInProcessGroup(2); // m = 2, k = 1
 * const layers = comms.map((c) =>
 *   new PhantomLayer(c, 0, { A: tf.eye(2), C: tf.ones([2, 1]), D: tf.ones([1, 2]), b: tf.zeros([2]) })
 * );
 * const outs = await Promise.all(layers.map((l) => l.forward(tf.ones([1, 2]), "eval")));
 * assert(outs[1].dataSync()[0] === 3); // own 1 + ghost (1 + 1)
 * ```
 */
export class PhantomLayer implements Layer {
  readonly params: Readonly<Record<string, tf.Variable>>;
  #comm: Communicator;
  #index: number;
  #cache = new ActivationCache<"input" | "ghosts" | "output">();

  /**
   * @param comm The group.
   * @param index Layer index, for collective tags.
   * @param weights A, C, D, b (taken over).
   * @throws {TypeError} If C or D is missing for p > 1.
   */
  constructor(comm: Communicator, index: number, weights: PhantomWeights) {
    this.#comm = comm;
    this.#index = index;
    const { A, C, D, b } = weights;
    if (comm.size === 1) {
      tf.dispose([C, D].filter((t): t is tf.Tensor => t !== undefined));
      this.params = toVariables({ A, b });
    } else {
      if (!C || !D) {
        throw new TypeError(`Cannot build phantom layer ${index}: C and D are required for p > 1`);
      }
      this.params = toVariables({ A, C, D, b });
    }
  }

  async forward(input: tf.Tensor2D, mode: PassMode): Promise<tf.Tensor2D> {
    const { A, C, D, b } = this.params as Record<string, tf.Tensor2D>;
    let ghosts: tf.Tensor2D | undefined;
    if (this.#comm.size > 1) {
      const compressed: tf.Tensor2D = tf.matMul(input, C);
      const phase = mode === "train" ? "forward" : "eval";
      const tag = { phase, layer: this.#index };
      ghosts = await allGatherColumns(this.#comm, compressed, tag, false);
      compressed.dispose();
    }
    const bias = b as unknown as tf.Tensor1D;
    const out = ghosts
      ? tf.tidy(() => addRelu(linear(input, A, bias), tf.matMul(ghosts!, D)))
      : denseRelu(input, A, bias);
    if (mode === "train") {
      this.#cache.keep("input", input);
      this.#cache.keep("output", out);
      if (ghosts) this.#cache.keep("ghosts", ghosts);
    }
    ghosts?.dispose();
    return out;
  }

  async backward(dOutput: tf.Tensor2D, inputGrad: boolean): Promise<Backward> {
    const { A, C, D } = this.params as Record<string, tf.Tensor2D>;
    const input = this.#cache.get<tf.Tensor2D>("input");
    const output = this.#cache.get<tf.Tensor2D>("output");
    const p = this.#comm.size;
    if (p === 1) {
      // Alone, the phantom layer is the dense layer: the same gradients, the same way.
      const g = reluDenseGrads(input, A, dOutput, output, inputGrad ? "direct" : "none");
      this.#cache.clear();
      const grads = { A: g.dW, b: g.db };
      return g.dInput ? { grads, dInput: g.dInput } : { grads };
    }
    const ghosts = this.#cache.get<tf.Tensor2D>("ghosts");
    const k = C.shape[1];
    const { delta, local, stackedT } = tf.tidy(() => {
      const delta = reluBackward(dOutput, output);
      const local = { A: matMulTN(input, delta), D: matMulTN(ghosts, delta), b: columnSums(delta) };
      // E_{r->s}^T = D_{s->r} delta^T for every s != r, stacked: D_r delta^T [(p-1)k, b].
      const stackedT = matMulNT(D, delta);
      return { delta, local, stackedT };
    });
    const tag = { phase: "backward", layer: this.#index };
    const dGhostT = await reduceScatterRows(this.#comm, stackedT, k, false, tag);
    const result = tf.tidy(() => {
      const dGhost = transpose2d(dGhostT);
      const grads = { ...local, C: matMulTN(input, dGhost) };
      if (!inputGrad) return { grads };
      return { grads, dInput: add2d(matMulNT(delta, A), matMulNT(dGhost, C)) };
    });
    tf.dispose([delta, stackedT, dGhostT]);
    this.#cache.clear();
    return result;
  }

  [Symbol.dispose](): void {
    this.#cache.clear();
    for (const v of Object.values(this.params)) v.dispose();
  }
}
