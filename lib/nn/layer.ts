/**
 * The contract of every layer kind of a rank's FFN: an explicit forward and backward pass (tfjs's
 * gradient registry is not used; tfjs-core does not even register one) over rank-private
 * parameters held in tfjs Variables.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** Whether a forward pass keeps what its backward pass needs. */
export type PassMode = "train" | "eval";

/** What a backward pass returns. */
export interface Backward {
  /** Gradient of the layer's input block, when asked for. */
  dInput?: tf.Tensor2D;
  /** Gradient of every parameter, keyed like {@linkcode Layer.params}. */
  grads: Record<string, tf.Tensor>;
}

/** One layer on one rank. */
export interface Layer extends Disposable {
  /** Parameters by name (`W`, `b`, `A`, `C`, `D`). */
  readonly params: Readonly<Record<string, tf.Variable>>;
  /**
   * @param input This rank's input block [b, in].
   * @param mode `train` keeps activations for {@linkcode Layer.backward}.
   * @returns This rank's output block (the caller disposes it).
   */
  forward(input: tf.Tensor2D, mode: PassMode): Promise<tf.Tensor2D>;
  /**
   * Consumes the activations kept by the last training forward pass.
   *
   * @param dOutput Gradient of the output block.
   * @param inputGrad Whether to compute the input gradient.
   * @returns Parameter gradients and, if asked, the input gradient (the caller disposes them).
   */
  backward(dOutput: tf.Tensor2D, inputGrad: boolean): Promise<Backward>;
}

/**
 * Holds tensors kept from a forward pass for the backward pass, and disposes them once used.
 */
export class ActivationCache<K extends string> {
  #tensors: Partial<Record<K, tf.Tensor>> = {};

  /**
   * Keeps a reference (a clone shares the data; the caller may dispose its own handle).
   *
   * @param key Name.
   * @param t Tensor.
   */
  keep(key: K, t: tf.Tensor): void {
    this.#tensors[key]?.dispose();
    this.#tensors[key] = tf.clone(t);
  }

  /**
   * @param key Name.
   * @returns The kept tensor.
   * @throws {Error} If backward is called without a training forward pass.
   */
  get<T extends tf.Tensor>(key: K): T {
    const t = this.#tensors[key];
    if (!t) throw new Error(`Cannot run backward: no activation "${key}" kept by a forward pass`);
    return t as T;
  }

  /** Disposes everything kept. */
  clear(): void {
    for (const t of Object.values(this.#tensors) as tf.Tensor[]) t.dispose();
    this.#tensors = {};
  }
}

/**
 * Wraps initial values as trainable variables with unique engine names.
 *
 * @param values Tensors by name (taken over: they are disposed).
 * @returns Variables by name.
 */
export function toVariables<K extends string>(
  values: Record<K, tf.Tensor>,
): Record<K, tf.Variable> {
  const out = {} as Record<K, tf.Variable>;
  for (const [k, v] of Object.entries(values) as [K, tf.Tensor][]) {
    out[k] = tf.variable(v, true);
    v.dispose();
  }
  return out;
}
