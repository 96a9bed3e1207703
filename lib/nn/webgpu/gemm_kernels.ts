/**
 * The suite's WGSL GEMM (lib/nn/webgpu/gemm_wgsl.ts) registered as the webgpu backend's
 * `BatchMatMul` and `_FusedMatMul` kernels (tfjs's `registerKernel` replaces an entry), run
 * through the backend's own `runWebGPUProgram`, so tfjs keeps owning buffers, pipelines, command
 * batching and readbacks: nothing is read back to the CPU inside a step. Shapes the kernels do
 * not cover (ranks above 3, batch broadcasting other than 1 x B, prelu or leaky-relu epilogues, a
 * bias that is not one value per column) fall through to tfjs's own kernel. Also the masked
 * products of the fused ReLU backward ({@linkcode maskedMatMul}).
 *
 * Why registered kernels rather than a WebGPU engine of our own: the FFN needs a dozen element-wise
 * ops tfjs-webgpu already does well; only its matmul is slow (a 32 x 32 tile, single-buffered,
 * scalar whenever B is transposed). Replacing the two kernels fixes what matters and keeps
 * everything else, including every test that already runs on webgpu.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { WebGPUBackend, WebGPUProgram } from "@tensorflow/tfjs-backend-webgpu";
import { type MatMulArgs, registerAccelerations } from "../kernels.ts";
import { chooseTile, gemmSource, type GemmVariant, TILES, variantKey } from "./gemm_wgsl.ts";

/** What the kernel set is, for the results (backend flags). */
export const GEMM_KERNELS = "phantom-bench-wgsl-v1";

type KernelFunc = tf.KernelConfig["kernelFunc"];

let originals: { batchMatMul: KernelFunc; fusedMatMul: KernelFunc } | undefined;

/** How many products ran on the suite's kernels and how many fell through to tfjs's (tests, benches). */
export const gemmCounters = { ours: 0, tfjs: 0 };

/**
 * Runs one product on the suite's kernel.
 *
 * @param backend The webgpu backend.
 * @param a A as stored ([M, K], or [K, M] transposed; rank 2 or 3).
 * @param b B as stored.
 * @param options Transposes, bias, ReLU, mask.
 * @returns C, or undefined where the shapes are not covered.
 */
function runGemm(
  backend: WebGPUBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  options: {
    transA: boolean;
    transB: boolean;
    bias?: tf.TensorInfo;
    relu?: boolean;
    mask?: { tensor: tf.TensorInfo; of: "A" | "B" };
  },
): tf.TensorInfo | undefined {
  const rank = a.shape.length;
  if (
    rank !== b.shape.length || (rank !== 2 && rank !== 3) || a.dtype !== "float32" ||
    b.dtype !== "float32"
  ) return;
  const [batchA, batchB] = rank === 3 ? [a.shape[0], b.shape[0]] : [1, 1];
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return;
  const batch = Math.max(batchA, batchB);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, k] = options.transA ? [ac, ar] : [ar, ac];
  const [k2, n] = options.transB ? [bc, br] : [br, bc];
  if (k !== k2) return;
  if (options.bias && tf.util.sizeFromShape(options.bias.shape) !== n) return;
  const { tile } = chooseTile(m, n);
  const variant: GemmVariant = {
    tile,
    transA: options.transA,
    transB: options.transB,
    bias: Boolean(options.bias),
    relu: Boolean(options.relu),
    mask: options.mask?.of ?? "none",
  };
  const inputs = [
    a,
    b,
    ...(options.mask ? [options.mask.tensor] : []),
    ...(options.bias ? [options.bias] : []),
  ];
  const program: WebGPUProgram = {
    variableNames: ["A", "B", ...(options.mask ? ["Mask"] : []), ...(options.bias ? ["Bias"] : [])],
    outputShape: rank === 3 ? [batch, m, n] : [m, n],
    dispatchLayout: rank === 3 ? { x: [2], y: [1], z: [0] } : { x: [1], y: [0] },
    dispatch: [Math.ceil(n / tile.bn), Math.ceil(m / tile.bm), batch],
    workgroupSize: [(tile.bm / tile.tm) * (tile.bn / tile.tn), 1, 1],
    shaderKey: variantKey(variant),
    uniforms: "dimM : i32, dimN : i32, dimK : i32, batchA : i32, batchB : i32,",
    getUserCode: () => gemmSource(variant),
  };
  gemmCounters.ours++;
  // One entry per uniform field, in the order of program.uniforms.
  const uniforms = [m, n, k, batchA, batchB].map((v) => ({ type: "int32", data: [v] }));
  return backend.runWebGPUProgram(program, inputs, "float32", uniforms);
}

/**
 * Registers the kernels on the webgpu backend (once; later calls return the same description).
 *
 * @returns The kernel set and its tiles, for the backend flags.
 */
export function registerGemmKernels(): Record<string, string> {
  if (!originals) {
    const batch = tf.getKernel("BatchMatMul", "webgpu");
    const fused = tf.getKernel("_FusedMatMul", "webgpu");
    if (!batch || !fused) {
      throw new Error("Cannot register GEMM kernels: the webgpu backend is not loaded");
    }
    originals = { batchMatMul: batch.kernelFunc, fusedMatMul: fused.kernelFunc };
    const warn = console.warn;
    console.warn = () => {}; // tfjs warns that it overwrites the entries: that is the point
    try {
      tf.registerKernel({
        kernelName: "BatchMatMul",
        backendName: "webgpu",
        kernelFunc: (args) => {
          const { inputs, attrs, backend } = args as unknown as MatMulArgs<WebGPUBackend>;
          const out = runGemm(backend, inputs.a, inputs.b, {
            transA: attrs.transposeA,
            transB: attrs.transposeB,
          });
          if (out) return out;
          gemmCounters.tfjs++;
          return originals!.batchMatMul(args);
        },
      });
      tf.registerKernel({
        kernelName: "_FusedMatMul",
        backendName: "webgpu",
        kernelFunc: (args) => {
          const { inputs, attrs, backend } = args as unknown as MatMulArgs<WebGPUBackend>;
          const activation = attrs.activation ?? "linear";
          const covered = !inputs.preluActivationWeights &&
            (activation === "linear" || activation === "relu");
          const out = covered
            ? runGemm(backend, inputs.a, inputs.b, {
              transA: attrs.transposeA,
              transB: attrs.transposeB,
              bias: inputs.bias ?? undefined,
              relu: activation === "relu",
            })
            : undefined;
          if (out) return out;
          gemmCounters.tfjs++;
          return originals!.fusedMatMul(args);
        },
      });
    } finally {
      console.warn = warn;
    }
  }
  registerAccelerations("webgpu", { maskedMatMul });
  return {
    gemm: GEMM_KERNELS,
    gemmTiles: Object.entries(TILES).map(([name, t]) =>
      `${name} ${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}`
    ).join(", "),
  };
}

/**
 * tfjs's own matmul kernel on webgpu, as the baseline of bench:gemm.
 *
 * @param a A.
 * @param b B.
 * @param transA Transpose A.
 * @param transB Transpose B.
 * @returns C.
 */
export function tfjsMatMul(
  a: tf.Tensor,
  b: tf.Tensor,
  transA: boolean,
  transB: boolean,
): tf.Tensor {
  if (!originals) throw new Error("Cannot run tfjs's matmul: the GEMM kernels are not registered");
  const backend = tf.backend() as unknown as WebGPUBackend;
  const info = originals.batchMatMul(
    {
      inputs: { a, b },
      attrs: { transposeA: transA, transposeB: transB },
      backend,
    } as unknown as Parameters<KernelFunc>[0],
  ) as tf.TensorInfo;
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * A product with one operand multiplied, as loaded, by a ReLU mask: op(A ⊙ [mask > 0]) op(B) or
 * op(A) op(B ⊙ [mask > 0]), the ReLU backward fused into a gradient GEMM (delta is never
 * written to memory). The mask has the shape of the operand as stored.
 *
 * @param a A.
 * @param b B.
 * @param mask The activation whose sign gates the operand.
 * @param of Which operand it gates.
 * @param transA Transpose A.
 * @param transB Transpose B.
 * @returns C.
 * @throws {RangeError} Off the webgpu backend, or for shapes the kernel does not cover.
 */
export function maskedMatMul(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  mask: tf.Tensor2D,
  of: "A" | "B",
  transA: boolean,
  transB: boolean,
): tf.Tensor2D {
  if (tf.getBackend() !== "webgpu") {
    throw new RangeError("maskedMatMul runs on the webgpu backend only");
  }
  const backend = tf.backend() as unknown as WebGPUBackend;
  const out = runGemm(backend, a, b, { transA, transB, mask: { tensor: mask, of } });
  if (!out) throw new RangeError(`maskedMatMul does not cover shapes ${a.shape} x ${b.shape}`);
  return tf.engine().makeTensorFromTensorInfo(out) as tf.Tensor2D;
}
