/**
 * An independent float64 implementation of every layer kind in plain TypeScript, written straight
 * from the formulas of docs/phantom.md (whole layers over all ranks, no communicator, no
 * tfjs). Tests check it against central finite differences, then check the tfjs implementation
 * against it.
 *
 * @module
 */

import type { Rng } from "../nn/rng.ts";

/** A row-major float64 matrix. */
export class Mat {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;

  /**
   * @param rows Rows.
   * @param cols Columns.
   * @param data rows x cols values (zeros if absent).
   */
  constructor(rows: number, cols: number, data?: ArrayLike<number>) {
    this.rows = rows;
    this.cols = cols;
    this.data = data ? Float64Array.from(data) : new Float64Array(rows * cols);
    if (this.data.length !== rows * cols) {
      throw new RangeError(`Cannot build Mat: ${this.data.length} values for ${rows} x ${cols}`);
    }
  }

  /**
   * @param i Row.
   * @param j Column.
   * @returns The element.
   */
  at(i: number, j: number): number {
    return this.data[i * this.cols + j];
  }

  /** @returns A deep copy. */
  clone(): Mat {
    return new Mat(this.rows, this.cols, this.data);
  }
}

/**
 * @param rng Generator.
 * @param rows Rows.
 * @param cols Columns.
 * @param std Standard deviation. @default 1
 * @returns A normal random matrix whose values are exactly representable in float32.
 */
export function randomMat(rng: Rng, rows: number, cols: number, std = 1): Mat {
  return new Mat(rows, cols, rng.normalArray(rows * cols, std));
}

/** @returns a b. */
export function matmul(a: Mat, b: Mat): Mat {
  if (a.cols !== b.rows) throw new RangeError(`matmul ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  const out = new Mat(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let r = 0; r < a.cols; r++) {
      const v = a.data[i * a.cols + r];
      for (let j = 0; j < b.cols; j++) out.data[i * b.cols + j] += v * b.data[r * b.cols + j];
    }
  }
  return out;
}

/** @returns a^T. */
export function transpose(a: Mat): Mat {
  const out = new Mat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.at(i, j);
  }
  return out;
}

/** @returns a + b element-wise. */
export function add(a: Mat, b: Mat): Mat {
  return new Mat(a.rows, a.cols, a.data.map((v, i) => v + b.data[i]));
}

/** @returns a with the vector added to every row. */
export function addRow(a: Mat, bias: ArrayLike<number>): Mat {
  return new Mat(a.rows, a.cols, a.data.map((v, i) => v + bias[i % a.cols]));
}

/** @returns max(a, 0). */
export function relu(a: Mat): Mat {
  return new Mat(a.rows, a.cols, a.data.map((v) => (v > 0 ? v : 0)));
}

/** @returns d where z > 0, else 0. */
export function reluGrad(d: Mat, z: Mat): Mat {
  return new Mat(d.rows, d.cols, d.data.map((v, i) => (z.data[i] > 0 ? v : 0)));
}

/** @returns The column sums. */
export function colSums(a: Mat): Float64Array {
  const out = new Float64Array(a.cols);
  for (let i = 0; i < a.data.length; i++) out[i % a.cols] += a.data[i];
  return out;
}

/** @returns The matrices side by side. */
export function hcat(mats: Mat[]): Mat {
  const cols = mats.reduce((s, m) => s + m.cols, 0);
  const out = new Mat(mats[0].rows, cols);
  let offset = 0;
  for (const m of mats) {
    for (let i = 0; i < m.rows; i++) {
      for (let j = 0; j < m.cols; j++) out.data[i * cols + offset + j] = m.at(i, j);
    }
    offset += m.cols;
  }
  return out;
}

/** @returns The matrices stacked vertically. */
export function vcat(mats: Mat[]): Mat {
  const data = mats.flatMap((m) => [...m.data]);
  return new Mat(data.length / mats[0].cols, mats[0].cols, data);
}

/** @returns Columns start .. start+count. */
export function colBlock(a: Mat, start: number, count: number): Mat {
  const out = new Mat(a.rows, count);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < count; j++) out.data[i * count + j] = a.at(i, start + j);
  }
  return out;
}

/** @returns Rows start .. start+count. */
export function rowBlock(a: Mat, start: number, count: number): Mat {
  return new Mat(count, a.cols, a.data.subarray(start * a.cols, (start + count) * a.cols));
}

/** @returns sum(a * b), the inner product. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

// ---- dense layer: out = act(x W + b) -------------------------------------------------------

/** Parameters of a dense layer. */
export interface DenseF64 {
  /** W [in, out]. */
  W: Mat;
  /** b [out]. */
  b: Float64Array;
}

/** @returns act(x W + b). */
export function denseForward(x: Mat, p: DenseF64, useRelu: boolean): Mat {
  const z = addRow(matmul(x, p.W), p.b);
  return useRelu ? relu(z) : z;
}

/** @returns dW = x^T delta, db = colsum delta, dX = delta W^T. */
export function denseBackward(x: Mat, p: DenseF64, useRelu: boolean, dOut: Mat) {
  const delta = useRelu ? reluGrad(dOut, addRow(matmul(x, p.W), p.b)) : dOut;
  return { dW: matmul(transpose(x), delta), db: colSums(delta), dX: matmul(delta, transpose(p.W)) };
}

// ---- tensor-parallel hidden layer over p ranks ------------------------------------------------

/** Per-rank parameters of a TP layer: W_r [n, m], b_r [m]. */
export interface TpF64 {
  /** W_r by rank. */
  W: Mat[];
  /** b_r by rank. */
  b: Float64Array[];
}

/** @returns Each rank's output block relu(H W_r + b_r), H the gathered input. */
export function tpForward(blocks: Mat[], p: TpF64): Mat[] {
  const H = hcat(blocks);
  return p.W.map((W, r) => relu(addRow(matmul(H, W), p.b[r])));
}

/** @returns dW_r = H^T delta_r, db_r, and dH_s = sum_r (delta_r W_r^T) block s. */
export function tpBackward(blocks: Mat[], p: TpF64, dOut: Mat[]) {
  const H = hcat(blocks);
  const m = blocks[0].cols;
  const deltas = p.W.map((W, r) => reluGrad(dOut[r], addRow(matmul(H, W), p.b[r])));
  const partials = deltas.map((d, r) => matmul(d, transpose(p.W[r])));
  const dH = blocks.map((_, s) =>
    partials.map((P) => colBlock(P, s * m, m)).reduce((acc, b) => add(acc, b))
  );
  return {
    dW: deltas.map((d) => matmul(transpose(H), d)),
    db: deltas.map(colSums),
    dH,
  };
}

// ---- phantom hidden layer over p ranks --------------------------------------------------------

/** Per-rank parameters of a phantom layer. D[r] stacks D_{s->r} for s != r in ascending s. */
export interface PhantomF64 {
  /** A_r [m, m]. */
  A: Mat[];
  /** C_r [m, k]. */
  C: Mat[];
  /** D_r [(p-1)k, m]. */
  D: Mat[];
  /** b_r [m]. */
  b: Float64Array[];
}

/** @returns D_{s->r} [k, m]. */
export function dBlock(p: PhantomF64, s: number, r: number): Mat {
  const k = p.C[0].cols;
  return rowBlock(p.D[r], (s < r ? s : s - 1) * k, k);
}

function phantomPre(blocks: Mat[], p: PhantomF64) {
  const G = blocks.map((H, r) => matmul(H, p.C[r]));
  const Z = blocks.map((H, r) => {
    let z = matmul(H, p.A[r]);
    for (let s = 0; s < blocks.length; s++) if (s !== r) z = add(z, matmul(G[s], dBlock(p, s, r)));
    return addRow(z, p.b[r]);
  });
  return { G, Z };
}

/** @returns Each rank's output relu(H_r A_r + sum_{s != r} G_s D_{s->r} + b_r). */
export function phantomForward(blocks: Mat[], p: PhantomF64): Mat[] {
  return phantomPre(blocks, p).Z.map(relu);
}

/** @returns The gradients of every parameter and input block (docs/phantom.md, backward 1-4). */
export function phantomBackward(blocks: Mat[], p: PhantomF64, dOut: Mat[]) {
  const P = blocks.length;
  const { G, Z } = phantomPre(blocks, p);
  const delta = Z.map((z, r) => reluGrad(dOut[r], z));
  const dA = blocks.map((H, r) => matmul(transpose(H), delta[r]));
  const dD = delta.map((d, r) =>
    vcat([...Array(P).keys()].filter((s) => s !== r).map((s) => matmul(transpose(G[s]), d)))
  );
  // dG_s = sum over r != s of E_{r->s} = delta_r D_{s->r}^T
  const dG = blocks.map((_, s) => {
    let acc = new Mat(blocks[0].rows, p.C[0].cols);
    for (let r = 0; r < P; r++) {
      if (r !== s) acc = add(acc, matmul(delta[r], transpose(dBlock(p, s, r))));
    }
    return acc;
  });
  const dC = blocks.map((H, r) => matmul(transpose(H), dG[r]));
  const dH = blocks.map((_, r) =>
    add(matmul(delta[r], transpose(p.A[r])), matmul(dG[r], transpose(p.C[r])))
  );
  return { dA, dC, dD, db: delta.map(colSums), dH };
}

/**
 * The dense n x n matrix a phantom layer equals: diagonal block (r, r) = A_r, off-diagonal block
 * (s, r) = C_s D_{s->r}.
 *
 * @param p The phantom parameters.
 * @returns W_eq [n, n].
 */
export function phantomDenseEquivalent(p: PhantomF64): Mat {
  const P = p.A.length;
  const m = p.A[0].rows;
  const n = P * m;
  const W = new Mat(n, n);
  for (let s = 0; s < P; s++) {
    for (let r = 0; r < P; r++) {
      const block = s === r ? p.A[r] : matmul(p.C[s], dBlock(p, s, r));
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) W.data[(s * m + i) * n + r * m + j] = block.at(i, j);
      }
    }
  }
  return W;
}

/**
 * Central finite difference of a scalar function with respect to every element of `x`.
 *
 * @param x The variable (perturbed in place and restored).
 * @param f The function.
 * @param eps Step. @default 1e-6
 * @returns df/dx element-wise.
 */
export function finiteDifference(x: Float64Array, f: () => number, eps = 1e-6): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + eps;
    const plus = f();
    x[i] = v - eps;
    const minus = f();
    x[i] = v;
    out[i] = (plus - minus) / (2 * eps);
  }
  return out;
}
