/**
 * What the active backend offers the layers beyond tfjs's own kernels, and the one type of the
 * arguments tfjs passes a matrix-product kernel. A leaf: a backend registers its accelerations
 * here when it loads (lib/nn/webgpu/gemm_kernels.ts: the masked GEMM of the fused ReLU backward),
 * and the layers (lib/nn/ops.ts) look them up by the active backend's name, so neither imports the
 * other and no import cycle runs through the backend loader.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";

/** The arguments of tfjs's `BatchMatMul` and `_FusedMatMul` kernels on backend type B. */
export interface MatMulArgs<B> {
  inputs: {
    a: tf.TensorInfo;
    b: tf.TensorInfo;
    bias?: tf.TensorInfo;
    preluActivationWeights?: tf.TensorInfo;
  };
  attrs: { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };
  backend: B;
}

/**
 * op(A ⊙ [mask > 0]) op(B), or op(A) op(B ⊙ [mask > 0]): a gradient GEMM with the ReLU backward
 * applied as the gated operand loads.
 */
export type MaskedMatMul = (
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  mask: tf.Tensor2D,
  of: "A" | "B",
  transA: boolean,
  transB: boolean,
) => tf.Tensor2D;

/** A backend's accelerations (each absent where it has none). */
export interface Accelerations {
  /** The masked product (webgpu with the suite's GEMM kernels). */
  maskedMatMul?: MaskedMatMul;
}

const registered = new Map<string, Accelerations>();

/**
 * Records what a backend offers (called as its kernels are registered).
 *
 * @param backend The tfjs backend's name.
 * @param offered Its accelerations.
 */
export function registerAccelerations(backend: string, offered: Accelerations): void {
  registered.set(backend, { ...registered.get(backend), ...offered });
}

/**
 * @param backend The tfjs backend's name (`tf.getBackend()`).
 * @returns What it offers; empty where it registered nothing.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { accelerations } from "./kernels.ts";
 * assert.equal(accelerations("no-such-backend").maskedMatMul, undefined);
 * ```
 */
export function accelerations(backend: string): Accelerations {
  return registered.get(backend) ?? {};
}
