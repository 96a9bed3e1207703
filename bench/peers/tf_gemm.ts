/**
 * The tensorflow side of bench:gemm, in a process of its own (libtensorflow cannot share one with
 * the WebGPU adapter): times n x n products per layout on the tensorflow backend and prints
 * `{ backend, rows: [{ size, layout, gflops }] }` as JSON. Argument: `{ sizes, layouts, budgetMs }`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../../lib/nn/backend.ts";
import { timeGemm } from "../gemm_timing.ts";

const { sizes, layouts, budgetMs } = JSON.parse(Deno.args[0]) as {
  sizes: number[];
  layouts: string[];
  budgetMs: number;
};
const info = await selectBackend("tensorflow");
const rows = [];
for (const n of sizes) {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  for (const layout of layouts) {
    const [ta, tb] = [layout === "TN", layout === "NT"];
    const ms = await timeGemm(() => tf.matMul(a, b, ta, tb), budgetMs);
    rows.push({ size: n, layout, gflops: (2 * n ** 3) / (ms * 1e6) });
  }
  tf.dispose([a, b]);
}
console.log(JSON.stringify({ backend: info.flags, rows }));
