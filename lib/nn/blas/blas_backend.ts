/**
 * The `blas` TensorFlow.js backend: the CPU backend's kernels and storage (plain Float32Arrays),
 * with matrix products done by the system CBLAS library through FFI (`cblas_sgemm` with native
 * transpose flags, on the tensors' own arrays: no copy), and optimizer updates done in place by
 * fused kernels (see fused_kernels.ts) instead of a dozen tensor passes over every weight.
 *
 * The CPU backend was chosen over wasm as the base because its tensors are ordinary arrays that
 * FFI reads and writes directly; wasm tensors live in the wasm heap, and wasm's own GEMM (25-30
 * GFLOP/s per core) is what this backend replaces.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { type Cblas, type CblasInfo, openCblas } from "./cblas.ts";
import { type FusedKernels, loadFusedKernels } from "./fused_kernels.ts";
import type { MatMulArgs } from "../kernels.ts";

/** The tfjs backend name. */
export const BLAS_BACKEND = "blas";

interface BlasState {
  cblas: Cblas;
  kernels: FusedKernels;
}

let state: BlasState | undefined;

/** What the blas backend runs on, for the results. */
export interface BlasDescription {
  /** The CBLAS library and its settings. */
  cblas: CblasInfo;
  /** The fused optimizer kernels: native or typescript, and where from. */
  fusedKernels: string;
}

/**
 * Registers the `blas` backend (once per realm): loads CBLAS and the fused kernels, copies the
 * CPU backend's kernels and replaces its matrix products.
 *
 * @param threads GEMM threads. @default PHANTOM_BLAS_THREADS, else the machine's cores
 * @returns What it runs on.
 * @throws {BlasUnavailableError} If no CBLAS library can be loaded.
 */
export async function registerBlasBackend(threads?: number): Promise<BlasDescription> {
  if (!state) {
    const cblas = openCblas(threads);
    const kernels = await loadFusedKernels();
    tf.registerBackend(BLAS_BACKEND, () => new MathBackendCPU(), 1);
    const replaced = new Set(["BatchMatMul", "_FusedMatMul"]);
    for (const k of tf.getKernelsForBackend("cpu")) {
      if (!replaced.has(k.kernelName)) tf.registerKernel({ ...k, backendName: BLAS_BACKEND });
    }
    tf.registerKernel({
      kernelName: "BatchMatMul",
      backendName: BLAS_BACKEND,
      kernelFunc: batchMatMul as tf.KernelFunc,
    });
    tf.registerKernel({
      kernelName: "_FusedMatMul",
      backendName: BLAS_BACKEND,
      kernelFunc: fusedMatMul as tf.KernelFunc,
    });
    state = { cblas, kernels };
  } else if (threads !== undefined) {
    openCblas(threads);
  }
  return {
    cblas: { ...state.cblas.info },
    fusedKernels: `${state.kernels.kind}: ${state.kernels.detail}`,
  };
}

/**
 * What worker processes of this machine need to run the blas backend as this process does: the
 * built fused kernels (so they never compile) and their share of the cores for GEMM threads (or
 * the PHANTOM_BLAS_THREADS this process was given).
 *
 * @param processes Worker processes on this machine.
 * @returns Variables for the workers' environment (empty before the backend was registered).
 */
export function blasWorkerEnvironment(processes: number): Record<string, string> {
  const cores = navigator.hardwareConcurrency ?? 1;
  // The user's own PHANTOM_BLAS_THREADS wins over the share (it is how one checks the share).
  const asked = Number(Deno.env.get("PHANTOM_BLAS_THREADS"));
  const share = Math.max(1, Math.floor(cores / Math.max(1, processes)));
  const env: Record<string, string> = {
    PHANTOM_BLAS_THREADS: String(Number.isInteger(asked) && asked > 0 ? asked : share),
  };
  if (state?.kernels.kind === "native") env.PHANTOM_FUSED_KERNELS = state.kernels.detail;
  const lib = Deno.env.get("PHANTOM_BLAS_LIB");
  if (lib) env.PHANTOM_BLAS_LIB = lib;
  return env;
}

/**
 * The fused kernels, while the blas backend is the active one.
 *
 * @returns The kernels, or undefined on any other backend.
 */
export function activeFusedKernels(): FusedKernels | undefined {
  return state && tf.getBackend() === BLAS_BACKEND ? state.kernels : undefined;
}

/**
 * A tensor's own float32 storage on the blas backend, for updates in place.
 *
 * @param t The tensor.
 * @param writable Only when no other tensor shares the storage (safe to write).
 * @returns The array, or undefined (another backend, another dtype, or shared storage).
 */
export function tensorArray(t: tf.Tensor, writable = false): Float32Array | undefined {
  if (tf.getBackend() !== BLAS_BACKEND || t.dtype !== "float32") return undefined;
  const backend = tf.backend() as MathBackendCPU;
  if (writable && backend.refCount(t.dataId) !== 1) return undefined;
  const values = backend.readSync(t.dataId);
  return values instanceof Float32Array ? values : undefined;
}

function floats(backend: MathBackendCPU, t: tf.TensorInfo): Float32Array {
  const values = backend.readSync(t.dataId);
  return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
}

/** op(A) op(B) for every batch entry, broadcasting batch dimensions of size 1. */
function batchMatMul({ inputs, backend, attrs }: MatMulArgs<MathBackendCPU>): tf.TensorInfo {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const [ra, rb] = [a.shape.length, b.shape.length];
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const k2 = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== k2) {
    throw new RangeError(
      `Cannot multiply [${a.shape}] by [${b.shape}]: inner sizes ${k} and ${k2} differ`,
    );
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = outer.reduce((x, y) => x * y, 1);
  const batchA = outerA.reduce((x, y) => x * y, 1);
  const batchB = outerB.reduce((x, y) => x * y, 1);
  const av = floats(backend, a);
  const bv = floats(backend, b);
  const out = new Float32Array(batch * m * n);
  const cblas = state!.cblas;
  for (let i = 0; i < batch; i++) {
    const ia = batchA === 1 ? 0 : i;
    const ib = batchB === 1 ? 0 : i;
    cblas.sgemm(
      av.subarray(ia * m * k, (ia + 1) * m * k),
      bv.subarray(ib * k * n, (ib + 1) * k * n),
      out.subarray(i * m * n, (i + 1) * m * n),
      m,
      n,
      k,
      transposeA,
      transposeB,
    );
  }
  return backend.makeTensorInfo([...outer, m, n], "float32", out);
}

/** Matrix product with bias and activation in one pass over the output. */
function fusedMatMul(args: MatMulArgs<MathBackendCPU>): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const activation = attrs.activation ?? "linear";
  const supported = ["linear", "relu", "relu6", "leakyrelu", "sigmoid"];
  if (!supported.includes(activation) || inputs.preluActivationWeights) {
    // Rare activations: the CPU backend's own kernel (its JavaScript GEMM) keeps them correct.
    return tf.getKernel("_FusedMatMul", "cpu")!.kernelFunc(
      args as unknown as tf.KernelConfig & never,
    ) as tf.TensorInfo;
  }
  const product = batchMatMul({ inputs: { a: inputs.a, b: inputs.b }, backend, attrs });
  const out = backend.readSync(product.dataId) as Float32Array;
  const n = product.shape[product.shape.length - 1];
  const bias = inputs.bias ? floats(backend, inputs.bias) : undefined;
  if ((!bias || bias.length === n) && (activation === "linear" || activation === "relu")) {
    state!.kernels.biasAct(out, bias, out.length / Math.max(n, 1), n, activation === "relu");
    return product;
  }
  if (inputs.bias) {
    const bias = floats(backend, inputs.bias);
    if (bias.length === n || bias.length === 1) {
      const step = bias.length === n ? 1 : 0;
      for (let i = 0; i < out.length; i += n) {
        for (let j = 0; j < n; j++) out[i + j] += bias[j * step];
      }
    } else if (bias.length === out.length) {
      for (let i = 0; i < out.length; i++) out[i] += bias[i];
    } else {
      throw new RangeError(
        `Cannot add a bias of ${bias.length} values to a [${product.shape}] product`,
      );
    }
  }
  applyActivation(out, activation, attrs.leakyreluAlpha ?? 0.2);
  return product;
}

function applyActivation(x: Float32Array, activation: string, alpha: number): void {
  switch (activation) {
    case "relu":
      for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] = 0; // NaN stays NaN, as in tf.relu
      return;
    case "relu6":
      for (let i = 0; i < x.length; i++) x[i] = Math.min(6, Math.max(0, x[i]));
      return;
    case "leakyrelu":
      for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] *= alpha;
      return;
    case "sigmoid":
      for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
      return;
  }
}
