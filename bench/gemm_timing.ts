/**
 * Timing of one GEMM on any tfjs backend, shared by bench:gemm and its tensorflow child process.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { median } from "../lib/results/stats.ts";

/**
 * Times f (which returns a tensor) until the budget is spent; median ms per call. A sample runs f
 * back to back enough times to take ~20 ms and then reads one element of the last result: the
 * readback waits for every queued product, and C itself (256 MiB at n = 8192) is never copied
 * to the CPU, which would time the host link rather than the kernel.
 *
 * @param f The product.
 * @param budgetMs Time to spend.
 * @returns Median ms per call.
 */
export async function timeGemm(f: () => tf.Tensor, budgetMs: number): Promise<number> {
  const once = async (reps: number) => {
    const t = performance.now();
    let c = f();
    for (let i = 1; i < reps; i++) {
      c.dispose();
      c = f();
    }
    const corner = tf.slice(c, [0, 0], [1, 1]);
    await corner.data();
    tf.dispose([c, corner]);
    return (performance.now() - t) / reps;
  };
  const first = await once(1); // compiles and warms up
  const reps = Math.max(1, Math.min(64, Math.ceil(20 / Math.max(first, 1e-3))));
  const samples: number[] = [];
  const end = performance.now() + budgetMs;
  while (samples.length < 3 || (performance.now() < end && samples.length < 50)) {
    samples.push(await once(reps));
  }
  return median(samples);
}
