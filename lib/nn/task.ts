/**
 * The teacher-student regression task: a fixed, seeded teacher FFN (tanh hidden layers) maps
 * X ~ N(0, I) in d_in to targets in d_out. Batches and the held-out set are computed in plain
 * TypeScript (float64, stored as float32), so every backend and every rank sees identical data.
 *
 * @module
 */

import type { ModelConfig, TaskConfig } from "../config/config.ts";
import { deriveSeed, Rng } from "./rng.ts";

/** Inputs and targets, row-major float32. */
export interface Batch {
  /** Rows. */
  rows: number;
  /** X [rows, d_in]. */
  x: Float32Array;
  /** Targets [rows, d_out]. */
  y: Float32Array;
}

interface TeacherLayer {
  w: Float64Array;
  inWidth: number;
  outWidth: number;
  tanh: boolean;
}

/**
 * The task for one model configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TeacherTask } from "./task.ts";
 * const model = { inputWidth: 4, outputWidth: 2, seed: 3 };
 * const task = new TeacherTask(model, { teacherWidth: 8, teacherLayers: 2, evalSize: 16, evalEvery: 5 });
 * const a = task.batch(7, 4);
 * const b = new TeacherTask(model, { teacherWidth: 8, teacherLayers: 2, evalSize: 16, evalEvery: 5 }).batch(7, 4);
 * assert(a.y.every((v, i) => v === b.y[i]));
 * ```
 */
export class TeacherTask {
  readonly inputWidth: number;
  readonly outputWidth: number;
  readonly seed: number;
  readonly evalSize: number;
  #layers: TeacherLayer[] = [];
  /** What determines the teacher's draws (its shape and seed), for the batch cache. */
  #key: string;

  /**
   * @param model d_in, d_out and the seed.
   * @param task Teacher shape and held-out size.
   */
  constructor(
    model: Pick<ModelConfig, "inputWidth" | "outputWidth" | "seed">,
    task: TaskConfig,
  ) {
    this.inputWidth = model.inputWidth;
    this.outputWidth = model.outputWidth;
    this.seed = model.seed;
    this.evalSize = task.evalSize;
    this.#key = [
      model.seed,
      model.inputWidth,
      model.outputWidth,
      task.teacherWidth,
      task.teacherLayers,
    ].join(",");
    const widths = [model.inputWidth, ...Array(task.teacherLayers).fill(task.teacherWidth)];
    widths.push(model.outputWidth);
    for (let l = 0; l + 1 < widths.length; l++) {
      const [inWidth, outWidth] = [widths[l], widths[l + 1]];
      const rng = new Rng(deriveSeed(this.seed, "teacher", l));
      // Gain 1.5 keeps tanh units in their curved range; the output layer is linear.
      const last = l + 2 === widths.length;
      const std = (last ? 1 : 1.5) / Math.sqrt(inWidth);
      const w = Float64Array.from({ length: inWidth * outWidth }, () => rng.normal() * std);
      this.#layers.push({ w, inWidth, outWidth, tanh: !last });
    }
  }

  /**
   * The training batch of a step: the same on every rank and every run.
   *
   * @param step Step index.
   * @param rows Batch rows b.
   * @returns X and targets.
   */
  batch(step: number, rows: number): Batch {
    return this.#cached("batch", step, rows);
  }

  /**
   * A held-out batch for inference: drawn from a stream of its own, never trained on.
   *
   * @param step Batch index.
   * @param rows Rows.
   * @returns The batch.
   */
  heldOutBatch(step: number, rows: number): Batch {
    return this.#cached("held-out", step, rows);
  }

  /** @returns The fixed held-out set (evalSize rows). */
  evalSet(): Batch {
    return this.#sample(new Rng(deriveSeed(this.seed, "eval")), this.evalSize);
  }

  /**
   * Batches are the same on every rank: ranks of one thread (up to 128 at p = 256 here) share
   * one draw instead of each running the teacher. Callers must not write into a batch's arrays.
   */
  #cached(stream: "batch" | "held-out", step: number, rows: number): Batch {
    const key = `${this.#key}|${stream}|${step}|${rows}`;
    let batch = recentBatches.get(key);
    if (!batch) {
      batch = this.#sample(new Rng(deriveSeed(this.seed, stream, step)), rows);
      recentBatches.set(key, batch);
      // Ranks of a thread move in step (collectives), so a few recent batches are enough.
      if (recentBatches.size > RECENT_BATCHES) {
        recentBatches.delete(recentBatches.keys().next().value!);
      }
    }
    return batch;
  }

  #sample(rng: Rng, rows: number): Batch {
    const x = rng.normalArray(rows * this.inputWidth, 1);
    let h: Float64Array = Float64Array.from(x);
    for (const layer of this.#layers) h = applyLayer(layer, h, rows);
    return { rows, x, y: Float32Array.from(h) };
  }
}

/** Recent batches by teacher, stream, step and rows (insertion order: oldest first). */
const recentBatches = new Map<string, Batch>();
const RECENT_BATCHES = 8;

function applyLayer(layer: TeacherLayer, h: Float64Array, rows: number): Float64Array {
  const { w, inWidth, outWidth, tanh } = layer;
  const out = new Float64Array(rows * outWidth);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inWidth; i++) {
      const v = h[r * inWidth + i];
      if (v === 0) continue;
      const row = i * outWidth;
      for (let j = 0; j < outWidth; j++) out[r * outWidth + j] += v * w[row + j];
    }
  }
  if (tanh) { for (let i = 0; i < out.length; i++) out[i] = Math.tanh(out[i]); }
  return out;
}
