/**
 * The suite's WGSL GEMM: C = op(A) op(B) for the three products a training step needs (A B,
 * A B^T, A^T B), with a block tile per workgroup held in workgroup memory (A stored K-major so the
 * inner loop reads both operands along the block), a TM x TN register tile per thread (rows and
 * columns strided across the block, so neighbouring threads touch neighbouring addresses), the
 * register-tile loops unrolled in the generated code (Deno compiles shaders with runtime checks
 * on, which straight-line code keeps cheap; the K step stays a short constant loop), and
 * bounds-checked loads and stores, so any M, N, K work (1, primes, non-multiples of the tile).
 * Optional epilogue: + bias (per column), ReLU. Optional prologue: one operand multiplied by a
 * ReLU mask (mask > 0) while it is loaded, the ReLU backward fused into the gradient GEMMs.
 *
 * Pure: this module makes shader source and tile choices; lib/nn/webgpu/gemm_kernels.ts runs them.
 *
 * @module
 */

/** A tile configuration. */
export interface GemmTile {
  /** Block tile rows and columns (outputs per workgroup), and the K step. */
  bm: number;
  bn: number;
  bk: number;
  /** Register tile per thread. */
  tm: number;
  tn: number;
}

/** The tiles, largest first: threads = (bm / tm) (bn / tn) = 256 each. */
export const TILES: Record<"large" | "medium" | "small", GemmTile> = {
  large: { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
  medium: { bm: 64, bn: 64, bk: 8, tm: 4, tn: 4 },
  small: { bm: 32, bn: 32, bk: 16, tm: 2, tn: 2 },
};

/**
 * The tile for an output shape: the large tile where the output has at least 64 of its blocks
 * (enough workgroups to fill a GPU's multiprocessors), the medium one down to 64 x 64 outputs,
 * the small one below.
 *
 * @param m Output rows.
 * @param n Output columns.
 * @returns The tile's name and parameters.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseTile } from "./gemm_wgsl.ts";
 * assert.equal(chooseTile(8192, 8192).name, "large");
 * assert.equal(chooseTile(256, 256).name, "medium");
 * assert.equal(chooseTile(16, 1024).name, "small");
 * ```
 */
export function chooseTile(m: number, n: number): { name: keyof typeof TILES; tile: GemmTile } {
  if (Math.ceil(m / 128) * Math.ceil(n / 128) >= 64) return { name: "large", tile: TILES.large };
  if (m >= 64 && n >= 64) return { name: "medium", tile: TILES.medium };
  return { name: "small", tile: TILES.small };
}

/** What one generated kernel computes. */
export interface GemmVariant {
  tile: GemmTile;
  transA: boolean;
  transB: boolean;
  /** Add a bias per output column. */
  bias: boolean;
  /** Apply ReLU to the output. */
  relu: boolean;
  /** Multiply operand A or B, as loaded, by (mask > 0) (a tensor shaped like that operand as stored). */
  mask: "none" | "A" | "B";
}

/** The variant's cache key (tfjs caches pipelines by it). */
export function variantKey(v: GemmVariant): string {
  const t = v.tile;
  return `pbgemm_${t.bm}x${t.bn}x${t.bk}_${t.tm}x${t.tn}_${v.transA ? "T" : "N"}${
    v.transB ? "T" : "N"
  }_${v.bias ? "b" : ""}${v.relu ? "r" : ""}_m${v.mask}`;
}

/**
 * The WGSL of a variant, as a tfjs `WebGPUProgram` body: tfjs declares `result`, the inputs `A`,
 * `B` (then `Mask`, then `Bias`, in that order where present) as `array<f32>`, and the uniforms
 * `dimM`, `dimN`, `dimK`, `batchA`, `batchB` (1: broadcast over the batch); this is `fn main()`.
 *
 * @param v The variant.
 * @returns WGSL source.
 */
export function gemmSource(v: GemmVariant): string {
  const { bm, bn, bk, tm, tn } = v.tile;
  const threads = (bm / tm) * (bn / tn);
  const cols = bn / tn; // threads across a row of the block
  const rowStep = bm / tm;
  const loadsA = (bm * bk) / threads;
  const loadsB = (bn * bk) / threads;
  // Element (r, k) of op(A) for batch b: A is [M, K] row-major, or [K, M] when transposed.
  const aIndex = v.transA ? "aBase + k * dimM + r" : "aBase + r * dimK + k";
  const bIndex = v.transB ? "bBase + c * dimK + k" : "bBase + k * dimN + c";
  const maskA = v.mask === "A" ? ` * select(0.0, 1.0, Mask[${aIndex}] > 0.0)` : "";
  const maskB = v.mask === "B" ? ` * select(0.0, 1.0, Mask[${bIndex}] > 0.0)` : "";
  // Coalesced loads: consecutive threads read consecutive addresses of the stored operand.
  const loadA = (i: number) => {
    const [r, k] = v.transA ? [`e % ${bm}`, `e / ${bm}`] : [`e / ${bk}`, `e % ${bk}`];
    return `{ let e = tid + ${
      i * threads
    }; let rr = ${r}; let kk = ${k}; let r = row0 + rr; let k = k0 + kk;
      var x = 0.0; if (r < dimM && k < dimK) { x = A[${aIndex}]${maskA}; }
      As[kk * ${bm} + rr] = x; }`;
  };
  const loadB = (i: number) => {
    const [c, k] = v.transB ? [`e / ${bk}`, `e % ${bk}`] : [`e % ${bn}`, `e / ${bn}`];
    return `{ let e = tid + ${
      i * threads
    }; let cc = ${c}; let kk = ${k}; let c = col0 + cc; let k = k0 + kk;
      var x = 0.0; if (c < dimN && k < dimK) { x = B[${bIndex}]${maskB}; }
      Bs[kk * ${bn} + cc] = x; }`;
  };
  const lines: string[] = [];
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) lines.push(`var acc${i}_${j} = 0.0;`);
  // The K step is a loop with a constant bound (the GPU compiler may unroll it; unrolling it
  // here made the large tile's shader 8x longer and slow to compile on llvmpipe); the register
  // tile is unrolled, so private values are only ever indexed by constants.
  const step: string[] = [];
  for (let i = 0; i < tm; i++) step.push(`let a${i} = As[kk * ${bm} + ty + ${i * rowStep}];`);
  for (let j = 0; j < tn; j++) step.push(`let b${j} = Bs[kk * ${bn} + tx + ${j * cols}];`);
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) step.push(`acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`);
  }
  const inner = [`for (var kk = 0; kk < ${bk}; kk = kk + 1) {`, ...step.map((s) => `  ${s}`), "}"];
  const store: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) {
      store.push(`{ let r = row0 + ty + ${i * rowStep}; let c = col0 + tx + ${j * cols};
        if (r < dimM && c < dimN) { var x = acc${i}_${j};${v.bias ? " x = x + Bias[c];" : ""}${
        v.relu ? " x = max(x, 0.0);" : ""
      } result[cBase + r * dimN + c] = x; } }`);
    }
  }
  // Each K step of the unrolled body is a block; the K loop is the only loop.
  return `
var<workgroup> As : array<f32, ${bm * bk}>;
var<workgroup> Bs : array<f32, ${bn * bk}>;

fn main() {
  let tid = i32(localIndex);
  let tx = tid % ${cols};
  let ty = tid / ${cols};
  let dimM = uniforms.dimM;
  let dimN = uniforms.dimN;
  let dimK = uniforms.dimK;
  let batch = i32(workgroupId.z);
  let row0 = i32(workgroupId.y) * ${bm};
  let col0 = i32(workgroupId.x) * ${bn};
  let aBase = select(batch, 0, uniforms.batchA == 1) * dimM * dimK;
  let bBase = select(batch, 0, uniforms.batchB == 1) * dimK * dimN;
  let cBase = batch * dimM * dimN;
  ${lines.join("\n  ")}
  for (var k0 = 0; k0 < dimK; k0 = k0 + ${bk}) {
    ${Array.from({ length: loadsA }, (_, i) => loadA(i)).join("\n    ")}
    ${Array.from({ length: loadsB }, (_, i) => loadB(i)).join("\n    ")}
    workgroupBarrier();
    ${inner.join("\n    ")}
    workgroupBarrier();
  }
  ${store.join("\n  ")}
}
`;
}
