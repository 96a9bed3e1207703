/**
 * `deno task bench:gemm`: GEMM GFLOP/s per shape and layout on the webgpu backend, the suite's
 * WGSL kernels (lib/nn/webgpu) beside tfjs-webgpu's own in the same run, on whatever adapter is
 * present (the software one here; a GPU when there is one). Writes a JSON results file.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { BackendUnavailableError, selectBackend } from "../lib/nn/backend.ts";
import { chooseTile } from "../lib/nn/webgpu/gemm_wgsl.ts";
import { tfjsMatMul } from "../lib/nn/webgpu/gemm_kernels.ts";
import { writeTextFileAtomic } from "../lib/results/atomic_write.ts";
import { median } from "../lib/results/stats.ts";

const LAYOUTS = ["NN", "NT", "TN"] as const;

const FLAGS = {
  sizes: flag.intList({
    help: "square sizes M = N = K",
    defaultHelp: "1024,2048,4096,8192 on a GPU; 128,256,512 on a software adapter",
  }),
  layouts: flag.listOf(LAYOUTS)({ default: [...LAYOUTS], help: "A B, A B^T, A^T B" }),
  "budget-ms": flag.int({ default: 500, help: "time spent per measurement, in ms" }),
  json: flag.path({
    arg: "FILE",
    help: "results file",
    defaultHelp: "reports/results/gemm-TIME.json",
  }),
};

const HELP = renderHelp(
  "deno task bench:gemm [options]",
  "GEMM GFLOP/s of the suite's WGSL kernels and tfjs-webgpu's own, per shape and layout, in one " +
    "run on the WebGPU adapter present. Exit codes: 0 done, 2 bad options or no adapter.",
  FLAGS,
);

/**
 * Times f (which returns a tensor) until the budget is spent; median ms per call. A sample runs f
 * back to back enough times to take ~20 ms and then reads one element of the last result: the
 * readback waits for every queued product, and C itself (256 MiB at n = 8192) is never copied
 * to the CPU, which would time the host link rather than the kernel.
 */
async function time(f: () => tf.Tensor, budgetMs: number): Promise<number> {
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

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args);
  if (parsed === "help") return printHelp(HELP);
  const { values } = parsed;
  const info = await selectBackend("webgpu");
  const software = Boolean(info.flags.isFallbackAdapter);
  const sizes = values.sizes ?? (software ? [128, 256, 512] : [1024, 2048, 4096, 8192]);
  console.log(
    `adapter: ${info.flags.adapterDescription} (${
      software ? "software" : "GPU"
    }); kernels ${info.flags.gemm}`,
  );
  console.log("  size layout  tile     ours GFLOP/s  tfjs GFLOP/s  ours/tfjs  max |diff|");
  const rows = [];
  for (const n of sizes) {
    const a = tf.randomNormal([n, n]);
    const b = tf.randomNormal([n, n]);
    for (const layout of values.layouts) {
      const [ta, tb] = [layout === "TN", layout === "NT"];
      const ours = await time(() => tf.matMul(a, b, ta, tb), values["budget-ms"]);
      const theirs = await time(() => tfjsMatMul(a, b, ta, tb), values["budget-ms"]);
      const [x, y] = [tf.matMul(a, b, ta, tb), tfjsMatMul(a, b, ta, tb)];
      const diff = (await tf.max(tf.abs(tf.sub(x, y))).data())[0];
      tf.dispose([x, y]);
      const gflops = (ms: number) => (2 * n ** 3) / (ms * 1e6);
      const row = {
        size: n,
        layout,
        tile: chooseTile(n, n).name,
        oursMs: ours,
        tfjsMs: theirs,
        oursGflops: gflops(ours),
        tfjsGflops: gflops(theirs),
        maxAbsDiff: diff,
      };
      rows.push(row);
      console.log(
        `${String(n).padStart(6)} ${layout.padEnd(6)} ${row.tile.padEnd(8)}${
          row.oursGflops.toFixed(1).padStart(13)
        }${row.tfjsGflops.toFixed(1).padStart(14)}${
          (row.oursGflops / row.tfjsGflops).toFixed(2).padStart(11)
        }${diff.toExponential(1).padStart(12)}`,
      );
    }
    tf.dispose([a, b]);
  }
  const path = values.json ??
    join("reports", "results", `gemm-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await writeTextFileAtomic(
    path,
    JSON.stringify(
      {
        schemaVersion: 1,
        kind: "gemm",
        createdAt: new Date().toISOString(),
        backend: info.flags,
        rows,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`results: ${path}`);
  return 0;
}

if (import.meta.main) await runMain(main, [BackendUnavailableError]);
