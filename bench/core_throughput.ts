/**
 * Core throughput benchmark (`deno task bench:core`): one training step of TP and phantom on one
 * backend (wasm by default), for n in {1024, 2048, 4096} and p in {1, 4} (all p ranks in this
 * process, one thread), against the plain matMul throughput of exactly the step's products
 * measured in the same run. Target: the step reaches at least 60% of that matMul throughput.
 *
 * Usage: deno task bench:core [--backend wasm] [--widths 1024,2048,4096] [--ranks 1,4]
 *   [--batch 256] [--layers 2] [--phantom-width 16] [--repeats 3] [--json FILE]
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { flag, parseFlags, renderHelp } from "../lib/cli/flags.ts";
import { BackendUnavailableError, selectBackend } from "../lib/nn/backend.ts";
import { validateTrainConfig } from "../lib/config/config.ts";
import { matmulShapes, predictCosts } from "../lib/config/cost_model.ts";
import { trainInProcess } from "../lib/runtime/trainer.ts";
import { median } from "../lib/results/stats.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { BACKENDS } from "../lib/config/config.ts";

interface Row {
  mode: string;
  ranks: number;
  width: number;
  stepMs: number;
  stepGflops: number;
  matmulMs: number;
  matmulGflops: number;
  ratio: number;
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
  backend: flag.oneOf(BACKENDS)({ default: "wasm", help: "TensorFlow.js backend" }),
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
  "Times one training step of TP and phantom (SGD) per width and rank count, next to the " +
    "plain matMul throughput of exactly the step's products measured in the same run.",
  FLAGS,
);

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args);
  if (parsed === "help") {
    console.log(HELP);
    return 0;
  }
  const { values } = parsed;
  const backend = await selectBackend(values.backend);
  const { widths, ranks: rankList, batch, layers, repeats } = values;
  const k = values["phantom-width"];
  console.log(
    `backend ${backend.name} ${JSON.stringify(backend.flags)}; b=${batch} L=${layers} k=${k}`,
  );
  console.log("mode     p      n   step ms  step GFLOP/s  matMul ms  matMul GFLOP/s  step/matMul");
  const rows: Row[] = [];
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
          optimizer: { name: "sgd", learningRate: 1e-3 },
          task: { evalEvery: 1_000_000, evalSize: 1 },
        });
        const flops = predictCosts(config).flopsPerRankPerStep * ranks;
        const [rank0] = await trainInProcess(config);
        const stepMs = median(rank0.steps.slice(1).map((s) => s.stepMs)); // step 0 is warm-up
        const matmulMs = await timeMatmuls(config, repeats);
        const row: Row = {
          mode,
          ranks,
          width,
          stepMs,
          stepGflops: flops / stepMs / 1e6,
          matmulMs,
          matmulGflops: flops / matmulMs / 1e6,
          ratio: matmulMs / stepMs,
        };
        rows.push(row);
        console.log(
          `${mode.padEnd(8)} ${String(ranks).padStart(1)} ${String(width).padStart(6)} ${
            stepMs.toFixed(0).padStart(9)
          } ${row.stepGflops.toFixed(1).padStart(13)} ${matmulMs.toFixed(0).padStart(10)} ${
            row.matmulGflops.toFixed(1).padStart(15)
          } ${(100 * row.ratio).toFixed(0).padStart(11)}%`,
        );
      }
    }
  }
  if (values.json) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify({ backend, batch, layers, k, rows }, null, 2),
    );
  }
  return 0;
}

if (import.meta.main) await runMain(main, [BackendUnavailableError]);
