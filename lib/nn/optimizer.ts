/**
 * SGD (with optional momentum) and Adam, applied per rank to its private parameters: no gradient
 * is ever shared between ranks, so no all-reduce is needed.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { OptimizerConfig } from "../config/config.ts";
import { activeFusedKernels, tensorArray } from "./blas/blas_backend.ts";

/** Updates parameters in place from their gradients. */
export interface Optimizer extends Disposable {
  /**
   * Applies one step.
   *
   * @param params Variables by name.
   * @param grads Gradients by the same names (not disposed).
   * @throws {TypeError} If a parameter has no gradient.
   */
  apply(params: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>): void;
}

/**
 * Creates the configured optimizer.
 *
 * @param config Name and hyper-parameters.
 * @returns A fresh optimizer (its state starts empty).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { selectBackend } from "./backend.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * await selectBackend("cpu");
 * using opt = createOptimizer({ name: "sgd", learningRate: 0.5, momentum: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
 * const w = tf.variable(tf.scalar(1));
 * opt.apply(new Map([["w", w]]), new Map([["w", tf.scalar(2)]]));
 * assert(w.dataSync()[0] === 0);
 * ```
 */
export function createOptimizer(config: OptimizerConfig): Optimizer {
  return config.name === "adam" ? new Adam(config) : new Sgd(config);
}

function gradOf(grads: ReadonlyMap<string, tf.Tensor>, name: string): tf.Tensor {
  const g = grads.get(name);
  if (!g) throw new TypeError(`Cannot apply optimizer: no gradient for parameter "${name}"`);
  return g;
}

/** A non-trainable zero variable; tidy frees the temporary it is made from. */
function zerosVariable(like: tf.Tensor): tf.Variable {
  return tf.tidy(() => tf.variable(tf.zerosLike(like), false));
}

class Sgd implements Optimizer {
  #lr: number;
  #momentum: number;
  #velocity = new Map<string, tf.Variable>();

  constructor(config: OptimizerConfig) {
    this.#lr = config.learningRate;
    this.#momentum = config.momentum;
  }

  apply(params: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>): void {
    const fused = activeFusedKernels();
    for (const [name, p] of params) {
      const g = gradOf(grads, name);
      if (fused) {
        // One pass in place over the weight (blas backend), instead of three tensor passes.
        const v = this.#momentum > 0
          ? tensorArray(this.#state(name, p), true)
          : new Float32Array(0);
        const [pv, gv] = [tensorArray(p, true), tensorArray(g)];
        if (pv && gv && v) {
          fused.sgd(pv, gv, v, this.#lr, this.#momentum);
          continue;
        }
      }
      tf.tidy(() => {
        let step = g;
        if (this.#momentum > 0) {
          const v = this.#state(name, p);
          v.assign(tf.add(tf.mul(v, this.#momentum), g));
          step = v;
        }
        p.assign(tf.sub(p, tf.mul(step, this.#lr)));
      });
    }
  }

  #state(name: string, like: tf.Tensor): tf.Variable {
    let v = this.#velocity.get(name);
    if (!v) {
      v = zerosVariable(like);
      this.#velocity.set(name, v);
    }
    return v;
  }

  [Symbol.dispose](): void {
    for (const v of this.#velocity.values()) v.dispose();
    this.#velocity.clear();
  }
}

class Adam implements Optimizer {
  #config: OptimizerConfig;
  #t = 0;
  #moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();

  constructor(config: OptimizerConfig) {
    this.#config = config;
  }

  apply(params: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>): void {
    const { learningRate: lr, beta1, beta2, epsilon } = this.#config;
    this.#t++;
    const c1 = 1 - beta1 ** this.#t;
    const c2 = 1 - beta2 ** this.#t;
    const fused = activeFusedKernels();
    for (const [name, p] of params) {
      const g = gradOf(grads, name);
      const { m, v } = this.#state(name, p);
      if (fused) {
        // One pass in place (blas backend): Adam is a dozen tensor passes over every weight.
        const arrays = [
          tensorArray(p, true),
          tensorArray(g),
          tensorArray(m, true),
          tensorArray(v, true),
        ];
        if (arrays.every((a) => a !== undefined)) {
          const [pv, gv, mv, vv] = arrays as Float32Array[];
          fused.adam(pv, gv, mv, vv, lr, beta1, beta2, epsilon, c1, c2);
          continue;
        }
      }
      tf.tidy(() => {
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const mHat = tf.div(m, c1);
        const vHat = tf.div(v, c2);
        p.assign(tf.sub(p, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)), lr)));
      });
    }
  }

  #state(name: string, like: tf.Tensor): { m: tf.Variable; v: tf.Variable } {
    let s = this.#moments.get(name);
    if (!s) {
      s = { m: zerosVariable(like), v: zerosVariable(like) };
      this.#moments.set(name, s);
    }
    return s;
  }

  [Symbol.dispose](): void {
    for (const { m, v } of this.#moments.values()) tf.dispose([m, v]);
    this.#moments.clear();
  }
}
