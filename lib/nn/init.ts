/**
 * Deterministic initial weights of one rank, drawn in plain TypeScript from the seed.
 *
 * Dense weights (input, serial/TP hidden, output) are drawn one column (or output row) per random
 * stream, so a rank's slice is the same numbers whatever p is: TP with p ranks starts from exactly
 * the serial model's weights. A phantom rank's own block A_r is the diagonal block of that same
 * dense hidden weight (its own rows of its own columns), rescaled to the phantom fan-in; C_r and
 * D_r are drawn per rank and layer. At p = 1 the phantom fan-in is n, so phantom, TP and serial
 * start from the same weights bit for bit.
 *
 * Scales: He (2/fan-in) before a ReLU, 1/fan-in for the linear output and for the compression C,
 * whose ghosts then carry the variance of the activations they summarise. A phantom neuron's
 * fan-in is m own neurons plus (p-1)k ghosts. Biases start at zero.
 *
 * @module
 */

import type { ModelConfig } from "../config/config.ts";
import { deriveSeed, Rng } from "./rng.ts";

/** A row-major float32 matrix. */
export interface Matrix {
  /** Rows. */
  rows: number;
  /** Columns. */
  cols: number;
  /** rows x cols values, row-major. */
  data: Float32Array;
}

/** One hidden layer's initial weights on one rank. */
export interface HiddenWeights {
  /** Serial/TP: the columns W_r [n, m] of the dense weight. */
  W?: Matrix;
  /** Phantom: A_r [m, m]. */
  A?: Matrix;
  /** Phantom (p > 1): C_r [m, k]. */
  C?: Matrix;
  /** Phantom (p > 1): D_r [(p-1)k, m]. */
  D?: Matrix;
  /** Bias [1, m]. */
  b: Matrix;
}

/** All initial weights of one rank. */
export interface RankWeights {
  /** Input layer: W_in,r [d_in, m] and b [1, m]. */
  input: { W: Matrix; b: Matrix };
  /** L hidden layers. */
  hidden: HiddenWeights[];
  /** Output layer: W_out,r [m, d_out]; b [1, d_out] on rank 0 only. */
  output: { W: Matrix; b?: Matrix };
}

/**
 * Draws rank `rank`'s initial weights.
 *
 * @param config The model.
 * @param rank The rank, 0 <= rank < ranks.
 * @returns Its weights.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initRankWeights } from "./init.ts";
 * const base = { mode: "tp" as const, width: 8, layers: 1, batch: 2, inputWidth: 3, outputWidth: 2, seed: 5 };
 * const serial = initRankWeights({ ...base, mode: "serial", ranks: 1 }, 0);
 * const tp = initRankWeights({ ...base, ranks: 2 }, 1);
 * // Rank 1's first column is column 4 of the serial weight.
 * assert(tp.hidden[0].W!.data[0] === serial.hidden[0].W!.data[4]);
 * ```
 */
export function initRankWeights(config: ModelConfig, rank: number): RankWeights {
  const { ranks: p, width: n, seed } = config;
  const m = n / p;
  const first = rank * m;
  const hidden: HiddenWeights[] = [];
  for (let l = 0; l < config.layers; l++) {
    const b = zeros(1, m);
    if (config.mode === "phantom") {
      const k = config.phantomWidth ?? 0;
      const std = Math.sqrt(2 / (m + (p - 1) * k));
      const stream = (name: string) => new Rng(deriveSeed(seed, "hidden", l, name, rank));
      // The dense layer's own block, drawn from the same per-column streams as TP and serial.
      const A = denseBlock(seed, ["hidden", l], first, m, first, m, std);
      if (p === 1) {
        hidden.push({ A, b });
      } else {
        const C = normal(stream("C"), m, k, Math.sqrt(1 / m));
        const D = normal(stream("D"), (p - 1) * k, m, std);
        hidden.push({ A, C, D, b });
      }
    } else {
      hidden.push({ W: denseColumns(seed, ["hidden", l], n, first, m, Math.sqrt(2 / n)), b });
    }
  }
  const input = {
    W: denseColumns(seed, ["input"], config.inputWidth, first, m, Math.sqrt(2 / config.inputWidth)),
    b: zeros(1, m),
  };
  const outputW = denseRows(seed, ["output"], first, m, config.outputWidth, Math.sqrt(1 / n));
  const output = rank === 0 ? { W: outputW, b: zeros(1, config.outputWidth) } : { W: outputW };
  return { input, hidden, output };
}

/** Columns first .. first+count of a rows x N dense matrix, one stream per column. */
function denseColumns(
  seed: number,
  labels: (string | number)[],
  rows: number,
  first: number,
  count: number,
  std: number,
): Matrix {
  return denseBlock(seed, labels, 0, rows, first, count, std);
}

/** Rows of a dense column drawn from one stream; the next rows start a stream of their own. */
export const ROW_TILE = 1024;

/**
 * Rows rowFirst .. rowFirst+rowCount of columns colFirst .. colFirst+colCount of a dense matrix
 * drawn one stream per column and tile of {@linkcode ROW_TILE} rows (row i of a column is draw
 * i mod ROW_TILE of its tile's stream, whatever the block; tile 0 keeps the column's own stream,
 * so matrices of up to ROW_TILE rows are drawn as before tiles existed). A block starting at row
 * rowFirst skips at most ROW_TILE - 1 draws per column, so a phantom rank's diagonal block costs
 * O(m (m + ROW_TILE)) draws rather than O(n m).
 */
function denseBlock(
  seed: number,
  labels: (string | number)[],
  rowFirst: number,
  rowCount: number,
  colFirst: number,
  colCount: number,
  std: number,
): Matrix {
  const data = new Float32Array(rowCount * colCount);
  for (let j = 0; j < colCount; j++) {
    const col = colFirst + j;
    const tileStream = (tile: number) =>
      new Rng(
        tile === 0
          ? deriveSeed(seed, ...labels, "col", col)
          : deriveSeed(seed, ...labels, "col", col, "tile", tile),
      );
    let tile = Math.floor(rowFirst / ROW_TILE);
    let rng = tileStream(tile);
    for (let i = tile * ROW_TILE; i < rowFirst; i++) rng.normal();
    for (let i = 0; i < rowCount; i++) {
      const row = rowFirst + i;
      if (Math.floor(row / ROW_TILE) !== tile) rng = tileStream(++tile);
      data[i * colCount + j] = rng.normal() * std;
    }
  }
  return { rows: rowCount, cols: colCount, data };
}

/** Rows first .. first+count of an N x cols dense matrix, one stream per row. */
function denseRows(
  seed: number,
  labels: (string | number)[],
  first: number,
  count: number,
  cols: number,
  std: number,
): Matrix {
  const data = new Float32Array(count * cols);
  for (let i = 0; i < count; i++) {
    const rng = new Rng(deriveSeed(seed, ...labels, "row", first + i));
    for (let j = 0; j < cols; j++) data[i * cols + j] = rng.normal() * std;
  }
  return { rows: count, cols, data };
}

function normal(rng: Rng, rows: number, cols: number, std: number): Matrix {
  return { rows, cols, data: rng.normalArray(rows * cols, std) };
}

function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float32Array(rows * cols) };
}
