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
import { timeGemm } from "./gemm_timing.ts";
import { tfjsNodeSetUp } from "../lib/nn/tensorflow_backend.ts";

const LAYOUTS = ["NN", "NT", "TN"] as const;

const FLAGS = {
  sizes: flag.intList({
    help: "square sizes M = N = K",
    defaultHelp: "1024,2048,4096,8192 on a GPU; 128,256,512 on a software adapter",
  }),
  layouts: flag.listOf(LAYOUTS)({ default: [...LAYOUTS], help: "A B, A B^T, A^T B" }),
  "budget-ms": flag.int({ default: 500, help: "time spent per measurement, in ms" }),
  tensorflow: flag.oneOf(["auto", "yes", "no"] as const)({
    default: "auto",
    help: "also time the products on the tensorflow backend, in a child process (it cannot " +
      "share one with WebGPU); auto: where scripts/setup-tensorflow has set it up",
  }),
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
  const tensorflow = values.tensorflow === "no" || values.tensorflow === "auto" && !tfjsNodeSetUp()
    ? undefined
    : await tensorflowGemm(sizes, values.layouts, values["budget-ms"]);
  console.log(
    "  size layout  tile     ours GFLOP/s  tfjs GFLOP/s  ours/tfjs  max |diff|  tensorflow GFLOP/s",
  );
  const rows = [];
  for (const n of sizes) {
    const a = tf.randomNormal([n, n]);
    const b = tf.randomNormal([n, n]);
    for (const layout of values.layouts) {
      const [ta, tb] = [layout === "TN", layout === "NT"];
      const ours = await timeGemm(() => tf.matMul(a, b, ta, tb), values["budget-ms"]);
      const theirs = await timeGemm(() => tfjsMatMul(a, b, ta, tb), values["budget-ms"]);
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
        tensorflowGflops: tensorflow?.find((r) => r.size === n && r.layout === layout)?.gflops ??
          null,
      };
      rows.push(row);
      console.log(
        `${String(n).padStart(6)} ${layout.padEnd(6)} ${row.tile.padEnd(8)}${
          row.oursGflops.toFixed(1).padStart(13)
        }${row.tfjsGflops.toFixed(1).padStart(14)}${
          (row.oursGflops / row.tfjsGflops).toFixed(2).padStart(11)
        }${diff.toExponential(1).padStart(12)}${
          (row.tensorflowGflops?.toFixed(1) ?? "-").padStart(20)
        }`,
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
        tensorflow: tensorflow ? tensorflowFlags : null,
        rows,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`results: ${path}`);
  return 0;
}

/** The tensorflow backend's description, as its child process reported it. */
let tensorflowFlags: unknown = null;

/**
 * Times the products on the tensorflow backend in a child process (bench/peers/tf_gemm.ts).
 *
 * @returns GFLOP/s per size and layout.
 * @throws {BackendUnavailableError} If the child cannot load it.
 */
async function tensorflowGemm(
  sizes: number[],
  layouts: readonly string[],
  budgetMs: number,
): Promise<{ size: number; layout: string; gflops: number }[]> {
  const script = new URL("./peers/tf_gemm.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      "--allow-ffi",
      script,
      JSON.stringify({ sizes, layouts, budgetMs }),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new BackendUnavailableError(
      "tensorflow",
      `bench:gemm: the tensorflow child process failed: ${
        new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)
      } (--tensorflow no leaves it out)`,
    );
  }
  const result = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    backend: unknown;
    rows: { size: number; layout: string; gflops: number }[];
  };
  tensorflowFlags = result.backend;
  return result.rows;
}

if (import.meta.main) await runMain(main, [BackendUnavailableError]);
