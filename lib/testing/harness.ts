/**
 * Test helpers: the backend under test (env `PHANTOM_TEST_BACKEND`, default wasm), conversions
 * between float64 reference matrices and tensors, and a runner that drives one layer per rank of
 * an in-process group through forward and backward.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../nn/backend.ts";
import type { Communicator } from "../comm/communicator.ts";
import { createInProcessGroup } from "../comm/in_process_communicator.ts";
import type { Layer } from "../nn/layer.ts";
import type { Mat } from "./f64.ts";

/**
 * The backends the numerical tests run on (a matrix, not copies of tests):
 * `PHANTOM_TEST_BACKENDS` as a comma-separated list, or wasm, blas and webgpu (on this machine the
 * software adapter, llvmpipe: tests too long for it opt out of webgpu unless the list is given).
 * tensorflow runs in processes of its own (tests/tensorflow_test.ts): libtensorflow and the WebGPU
 * software adapter cannot share one.
 */
export const TEST_BACKENDS: readonly string[] =
  (Deno.env.get("PHANTOM_TEST_BACKENDS") ?? "wasm,blas,webgpu")
    .split(",").map((s) => s.trim()).filter(Boolean);

/** Why a backend of the matrix cannot run here, by name (absent: it can). */
const unavailable = new Map<string, string>();
for (const name of TEST_BACKENDS) {
  try {
    await selectBackend(name);
  } catch (error) {
    unavailable.set(name, (error as Error).message.split("\n")[0]);
  }
}

/**
 * Registers a test once per backend of {@linkcode TEST_BACKENDS}, named `[backend] name`, with that
 * backend selected; where a backend cannot run here its test is ignored with the reason in its name.
 *
 * @param name The test name.
 * @param fn The test; it gets the backend's name.
 * @param options `webgpu: false` for tests too long for the software adapter (run them on webgpu
 *   with PHANTOM_TEST_BACKENDS=webgpu).
 */
export function backendTest(
  name: string,
  fn: (backend: string) => Promise<void> | void,
  options: { webgpu?: boolean } = {},
): void {
  for (const backend of TEST_BACKENDS) {
    if (
      backend === "webgpu" && options.webgpu === false && !Deno.env.get("PHANTOM_TEST_BACKENDS")
    ) continue;
    const why = unavailable.get(backend);
    Deno.test({
      name: why ? `[${backend}] ${name} [skipped: ${why}]` : `[${backend}] ${name}`,
      ignore: why !== undefined,
      fn: async () => {
        await selectBackend(backend);
        await fn(backend);
      },
    });
  }
}

/** @returns A float32 tensor of the matrix. */
export function toTensor(m: Mat): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(m.data), [m.rows, m.cols]);
}

/** @returns A float32 vector tensor. */
export function toVector(v: ArrayLike<number>): tf.Tensor1D {
  return tf.tensor1d(Float32Array.from(v));
}

/** @returns The tensor's values as float64 (read asynchronously: GPU backends have no dataSync here). */
export async function values(t: tf.Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

/** What one rank's layer produced. */
export interface RankOutcome {
  /** Forward output. */
  out: Float64Array;
  /** Input gradient. */
  dInput: Float64Array;
  /** Parameter gradients by name. */
  grads: Record<string, Float64Array>;
}

/**
 * Runs forward (train) and backward on one layer per rank of a fresh in-process group.
 *
 * @param p Ranks.
 * @param make Builds rank r's layer.
 * @param inputs Input block per rank.
 * @param dOut Output gradient per rank.
 * @returns Per-rank outputs and gradients, plus the communicators (for byte counts).
 */
export async function runLayers(
  p: number,
  make: (comm: Communicator, rank: number) => Layer,
  inputs: Mat[],
  dOut: Mat[],
): Promise<{ outcomes: RankOutcome[]; comms: Communicator[] }> {
  const comms = createInProcessGroup(p, { timeoutMs: 10_000 });
  const outcomes = await Promise.all(comms.map(async (comm, r) => {
    using layer = make(comm, r);
    const x = toTensor(inputs[r]);
    const out = await layer.forward(x, "train");
    const dy = toTensor(dOut[r]);
    const { grads, dInput } = await layer.backward(dy, true);
    const gradValues = await Promise.all(
      Object.entries(grads).map(async ([k, g]) => [k, await values(g)] as const),
    );
    const outcome: RankOutcome = {
      out: await values(out),
      dInput: dInput ? await values(dInput) : new Float64Array(),
      grads: Object.fromEntries(gradValues),
    };
    tf.dispose([x, out, dy, ...(dInput ? [dInput] : []), ...Object.values(grads)]);
    return outcome;
  }));
  return { outcomes, comms };
}
