import * as tf from "@tensorflow/tfjs-core";
import type { ModelConfig } from "../config/config.ts";
import { RankFfn } from "./ffn.ts";
import { createInProcessGroup } from "../comm/in_process_communicator.ts";
import { initRankWeights } from "../nn/init.ts";
import { mseLoss } from "../nn/loss.ts";
import { TeacherTask } from "../nn/task.ts";
import { assertAllClose, assertEquals, assertThrows } from "../testing/asserts.ts";
import { backendTest, values } from "../testing/harness.ts";

const TOL = { atol: 2e-5, rtol: 2e-4 };
const BASE = { width: 16, layers: 3, batch: 5, inputWidth: 3, outputWidth: 2, seed: 7 };
const TASK = { teacherWidth: 8, teacherLayers: 2, evalSize: 8, evalEvery: 1 };

interface StepOutcome {
  y: Float64Array;
  loss: number;
  grads: Map<string, Float64Array>;
}

/** One forward/backward on every rank; input gradient included. */
async function step(models: RankFfn[]): Promise<StepOutcome[]> {
  const batch = new TeacherTask(models[0].config, TASK).batch(0, BASE.batch);
  return await Promise.all(models.map(async (model) => {
    const x = tf.tensor2d(batch.x, [BASE.batch, BASE.inputWidth]);
    const target = tf.tensor2d(batch.y, [BASE.batch, BASE.outputWidth]);
    const y = await model.forward(x, "train");
    const { loss, dY } = await mseLoss(y, target);
    const grads = await model.backward(dY, true);
    const out = {
      y: await values(y),
      loss,
      grads: new Map(
        await Promise.all([...grads].map(async ([k, g]) => [k, await values(g)] as const)),
      ),
    };
    tf.dispose([x, target, y, dY, ...grads.values()]);
    model[Symbol.dispose]();
    return out;
  }));
}

function models(config: ModelConfig): RankFfn[] {
  return createInProcessGroup(config.ranks).map((c) => RankFfn.create(config, c));
}

/** Columns start..start+count of a row-major [rows, cols] array. */
function cols(a: Float64Array, width: number, start: number, count: number): Float64Array {
  const rows = a.length / width;
  const out = new Float64Array(rows * count);
  for (let i = 0; i < rows; i++) {
    out.set(a.subarray(i * width + start, i * width + start + count), i * count);
  }
  return out;
}

/** The serial reference, once per backend (the active one). */
const references = new Map<string, Promise<StepOutcome[]>>();
function serialReference(): Promise<StepOutcome[]> {
  const backend = tf.getBackend();
  if (!references.has(backend)) {
    references.set(backend, step(models({ ...BASE, mode: "serial", ranks: 1 })));
  }
  return references.get(backend)!;
}

for (const p of [1, 2, 4, 8]) {
  backendTest(`TP with p=${p} equals the serial FFN in outputs, loss and gradients`, async () => {
    const m = BASE.width / p;
    const [want] = await serialReference();
    const got = await step(models({ ...BASE, mode: "tp", ranks: p }));
    const dX = new Float64Array(want.grads.get("x")!.length);
    got.forEach((g, r) => {
      assertAllClose(g.y, want.y, TOL, `Y on rank ${r}`);
      assertEquals(g.loss, got[0].loss, "every rank computes the same loss");
      assertAllClose([g.loss], [want.loss], TOL, "loss");
      const wg = (name: string) => want.grads.get(name)!;
      assertAllClose(
        g.grads.get("input.W")!,
        cols(wg("input.W"), BASE.width, r * m, m),
        TOL,
        "input.W",
      );
      assertAllClose(
        g.grads.get("input.b")!,
        wg("input.b").subarray(r * m, r * m + m),
        TOL,
        "input.b",
      );
      for (let l = 0; l < BASE.layers; l++) {
        const W = g.grads.get(`hidden.${l}.W`)!;
        assertAllClose(W, cols(wg(`hidden.${l}.W`), BASE.width, r * m, m), TOL, `hidden.${l}.W`);
        const b = g.grads.get(`hidden.${l}.b`)!;
        assertAllClose(b, wg(`hidden.${l}.b`).subarray(r * m, r * m + m), TOL, `hidden.${l}.b`);
      }
      const outW = wg("output.W").subarray(
        r * m * BASE.outputWidth,
        (r + 1) * m * BASE.outputWidth,
      );
      assertAllClose(g.grads.get("output.W")!, outW, TOL, "output.W");
      assertEquals(g.grads.has("output.b"), r === 0);
      g.grads.get("x")!.forEach((v, i) => (dX[i] += v));
    });
    assertAllClose(got[0].grads.get("output.b")!, want.grads.get("output.b")!, TOL, "output.b");
    // Each rank's input gradient is its partial; their sum is the serial one.
    assertAllClose(dX, want.grads.get("x")!, TOL, "dX summed over ranks");
  });
}

backendTest("phantom with p=1 equals the serial FFN", async () => {
  const config: ModelConfig = { ...BASE, mode: "phantom", ranks: 1, phantomWidth: 2 };
  const weights = initRankWeights({ ...BASE, mode: "serial", ranks: 1 }, 0);
  weights.hidden = weights.hidden.map(({ W, b }) => ({ A: W, b }));
  const [comm] = createInProcessGroup(1);
  const [got] = await step([new RankFfn(config, comm, weights)]);
  const [want] = await serialReference();
  assertAllClose(got.y, want.y, { atol: 0, rtol: 0 }, "Y");
  for (const [name, g] of want.grads) {
    const phantomName = name.replace(/^(hidden\.\d+)\.W$/, "$1.A");
    assertAllClose(got.grads.get(phantomName)!, g, { atol: 0, rtol: 0 }, name);
  }
  assertEquals(got.grads.size, want.grads.size);
});

Deno.test("a rank model refuses a communicator of the wrong size", () => {
  const [comm] = createInProcessGroup(2);
  assertThrows(
    () => RankFfn.create({ ...BASE, mode: "tp", ranks: 4 }, comm),
    RangeError,
    "communicator size (2) must equal ranks (4)",
  );
});
