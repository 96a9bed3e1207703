/**
 * Core throughput benchmark (`deno task bench:core`): one training step of TP and phantom on one
 * backend (the default CPU backend: blas where a CBLAS library is found, else wasm), for n in
 * {1024, 2048, 4096} and p in {1, 4} (all p ranks in this process), next to two ceilings measured
 * in the same run: the backend's own matMul throughput on exactly the step's products, and
 * numpy's on the same products with the same BLAS thread count (a reference no one can tune to).
 * Targets: step >= 60% of the backend's matMul, and, for blas, >= 60% of numpy's.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { BACKENDS, OPTIMIZERS, validateTrainConfig } from "../lib/config/config.ts";
import { type MatMulShape, matmulShapes, predictCosts } from "../lib/config/cost_model.ts";
import { AUTO_BACKEND, BackendUnavailableError, selectBackend } from "../lib/nn/backend.ts";
import { median } from "../lib/results/stats.ts";
import { trainInProcess } from "../lib/runtime/trainer.ts";

interface Row {
  mode: string;
  ranks: number;
  width: number;
  stepMs: number;
  stepGflops: number;
  matmulMs: number;
  matmulGflops: number;
  ratio: number;
  numpyGflops: number | null;
  ratioToNumpy: number | null;
}

/** Times the same products in numpy (bench/peers/numpy_gemm.py) with the same BLAS threads. */
async function numpyGflops(shapes: MatMulShape[], ranks: number, threads: number, repeats: number) {
  const script = new URL("./peers/numpy_gemm.py", import.meta.url).pathname;
  const env = Object.fromEntries(
    ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"].map((k) => [k, String(threads)]),
  );
  const child = new Deno.Command("python3", {
    args: [script],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const writer = child.stdin.getWriter();
  const all = shapes.map((s) => ({ ...s, count: s.count * ranks }));
  await writer.write(new TextEncoder().encode(JSON.stringify({ threads, repeats, shapes: all })));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).trim().split("\n").at(-1));
  return JSON.parse(new TextDecoder().decode(out.stdout)) as {
    gflops: number;
    numpy: string;
    blas: string;
  };
}

/** Times the step's products alone, with distinct operands per rank as in the step itself. */
async function timeMatmuls(config: ReturnType<typeof validateTrainConfig>, repeats: number) {
  const shapes = matmulShapes(config);
  const operands = Array.from(
    { length: config.ranks },
    () =>
      shapes.map((s) => [tf.randomNormal([s.rows, s.inner]), tf.randomNormal([s.inner, s.cols])]),
  );
  const once = async () => {
    const start = performance.now();
    for (const rankOperands of operands) {
      shapes.forEach((s, i) => {
        for (let c = 0; c < s.count; c++) {
          const out = tf.matMul(rankOperands[i][0], rankOperands[i][1]);
          out.dataSync();
          out.dispose();
        }
      });
    }
    await Promise.resolve();
    return performance.now() - start;
  };
  await once(); // warm-up
  const times = [];
  for (let i = 0; i < repeats; i++) times.push(await once());
  tf.dispose(operands.flat(2));
  return median(times);
}

const FLAGS = {
  backend: flag.listOf([AUTO_BACKEND, ...BACKENDS])({
    default: [AUTO_BACKEND],
    help: "TensorFlow.js backends, one after the other in this run, e.g. blas,tensorflow " +
      "(auto: blas where a CBLAS library is found, else wasm)",
  }),
  optimizer: flag.oneOf(OPTIMIZERS)({ default: "adam", help: "optimizer of the step" }),
  numpy: flag.oneOf(["yes", "no"] as const)({
    default: "yes",
    help: "also time the step's products in numpy (python3 with numpy)",
  }),
  widths: flag.intList({ default: [1024, 2048, 4096], help: "hidden widths n" }),
  ranks: flag.intList({ default: [1, 4], help: "ranks p (all in this process)" }),
  batch: flag.int({ default: 256, help: "mini-batch rows" }),
  layers: flag.int({ default: 2, help: "hidden-to-hidden layers" }),
  "phantom-width": flag.int({ default: 16, arg: "K", help: "ghost neurons per rank" }),
  repeats: flag.int({ default: 3, help: "timed steps per point" }),
  json: flag.path({ arg: "FILE", help: "also write the rows as JSON" }),
};

const HELP = renderHelp(
  "deno task bench:core [options]",
  "Times one training step of TP and phantom per width and rank count, next to the plain " +
    "matMul throughput of exactly the step's products on the same backend and in numpy with " +
    "the same BLAS threads, measured in the same run.",
  FLAGS,
);

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args);
  if (parsed === "help") return printHelp(HELP);
  const { values } = parsed;
  const { widths, ranks: rankList, batch, layers, repeats } = values;
  const k = values["phantom-width"];
  const rows: (Row & { backend: string })[] = [];
  const described: unknown[] = [];
  // numpy's rate of each point's products, measured once and set beside every backend's.
  const numpyRates = new Map<string, { gflops: number } | undefined>();
  let threads = navigator.hardwareConcurrency ?? 1;
  for (const name of values.backend) {
    const backend = await selectBackend(name);
    described.push(backend);
    threads = Number(backend.flags.blasThreads ?? threads);
    console.log(
      `backend ${backend.name} ${JSON.stringify(backend.flags)}; b=${batch} L=${layers} k=${k}`,
    );
    console.log(
      "mode     p      n   step ms  step GFLOP/s  matMul GFLOP/s  step/matMul  numpy GFLOP/s  step/numpy",
    );
    for (const width of widths) {
      for (const ranks of rankList) {
        for (const mode of ["tp", "phantom"] as const) {
          const config = validateTrainConfig({
            mode,
            ranks,
            width,
            phantomWidth: mode === "phantom" ? k : undefined,
            layers,
            batch,
            steps: 1 + repeats,
            backend: backend.name,
            optimizer: { name: values.optimizer, learningRate: 1e-3 },
            task: { evalEvery: 1_000_000, evalSize: 1 },
          });
          const flops = predictCosts(config).flopsPerRankPerStep * ranks;
          const [rank0] = await trainInProcess(config);
          const stepMs = median(rank0.steps.slice(1).map((s) => s.stepMs)); // step 0 is warm-up
          const matmulMs = await timeMatmuls(config, repeats);
          const key = `${mode}/${ranks}/${width}`;
          if (values.numpy === "yes" && !numpyRates.has(key)) {
            numpyRates.set(key, await numpyGflops(matmulShapes(config), ranks, threads, repeats));
          }
          const numpy = numpyRates.get(key);
          const stepGflops = flops / stepMs / 1e6;
          const row = {
            backend: backend.name,
            mode,
            ranks,
            width,
            stepMs,
            stepGflops,
            matmulMs,
            matmulGflops: flops / matmulMs / 1e6,
            ratio: matmulMs / stepMs,
            numpyGflops: numpy?.gflops ?? null,
            ratioToNumpy: numpy ? stepGflops / numpy.gflops : null,
          };
          rows.push(row);
          const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(0)}%`);
          console.log(
            `${mode.padEnd(8)} ${String(ranks).padStart(1)} ${String(width).padStart(6)} ${
              stepMs.toFixed(0).padStart(9)
            } ${stepGflops.toFixed(1).padStart(13)} ${row.matmulGflops.toFixed(1).padStart(15)} ${
              pct(row.ratio).padStart(12)
            } ${(row.numpyGflops?.toFixed(1) ?? "-").padStart(14)} ${
              pct(row.ratioToNumpy).padStart(11)
            }`,
          );
        }
      }
    }
  }
  if (values.json) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify(
        { backends: described, batch, layers, k, optimizer: values.optimizer, threads, rows },
        null,
        2,
      ),
    );
  }
  return 0;
}

if (import.meta.main) await runMain(main, [BackendUnavailableError]);
