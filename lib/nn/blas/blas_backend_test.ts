import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../backend.ts";
import { BlasUnavailableError, openCblas } from "./cblas.ts";
import { activeFusedKernels, BLAS_BACKEND, tensorArray } from "./blas_backend.ts";
import { Rng } from "../rng.ts";
import { assert, assertAllClose, assertEquals, assertRejects } from "../../testing/asserts.ts";
import { TEST_BACKENDS } from "../../testing/harness.ts";
import { runDeno } from "../../testing/run_deno.ts";

let blas: string | undefined;
try {
  openCblas();
} catch (error) {
  blas = (error as Error).message;
}
const test = (name: string, fn: () => Promise<void> | void) =>
  Deno.test({
    name: blas ? `${name} [skipped: ${blas.slice(0, 120)}]` : name,
    ignore: blas !== undefined || !TEST_BACKENDS.includes("blas"),
    fn,
  });

const rng = new Rng(11);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** op(A) op(B) in float64, A and B row-major as stored. */
function reference(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) {
        sum += a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
      }
      out[i * n + j] = sum;
    }
  }
  return out;
}

test("blas: matrix products in all four layouts, odd sizes, match a float64 reference", async () => {
  await selectBackend("blas");
  for (const [m, n, k] of [[1, 1, 1], [7, 13, 5], [33, 1, 64], [64, 70, 129], [2, 3, 0]]) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = rand(m * k);
        const b = rand(k * n);
        const A = tf.tensor2d(a, ta ? [k, m] : [m, k]);
        const B = tf.tensor2d(b, tb ? [n, k] : [k, n]);
        const C = tf.matMul(A, B, ta, tb);
        assertEquals(C.shape, [m, n]);
        assertAllClose(
          await C.data(),
          reference(a, b, m, n, k, ta, tb),
          { atol: 1e-4, rtol: 1e-4 },
          `${m}x${n}x${k} ${ta} ${tb}`,
        );
        tf.dispose([A, B, C]);
      }
    }
  }
});

test("blas: batched products broadcast a batch of one", async () => {
  await selectBackend("blas");
  const a = rand(3 * 4 * 5);
  const b = rand(5 * 2);
  const C = tf.matMul(tf.tensor3d(a, [3, 4, 5]), tf.tensor3d(b, [1, 5, 2]));
  assertEquals(C.shape, [3, 4, 2]);
  const got = await C.data();
  for (let i = 0; i < 3; i++) {
    const want = reference(a.subarray(i * 20, (i + 1) * 20), b, 4, 2, 5, false, false);
    assertAllClose(
      got.subarray(i * 8, (i + 1) * 8),
      want,
      { atol: 1e-4, rtol: 1e-4 },
      `batch ${i}`,
    );
  }
});

test("blas: fused products add a bias and apply relu or leakyrelu in one kernel", async () => {
  await selectBackend("blas");
  const [m, n, k] = [6, 9, 4];
  const a = rand(m * k);
  const b = rand(k * n);
  const bias = rand(n);
  const product = reference(a, b, m, n, k, false, false);
  const biased = product.map((v, i) => v + bias[i % n]);
  for (
    const [activation, f] of [
      ["linear", (v: number) => v],
      ["relu", (v: number) => Math.max(0, v)],
      ["leakyrelu", (v: number) => v < 0 ? 0.2 * v : v],
    ] as const
  ) {
    const y = tf.fused.matMul({
      a: tf.tensor2d(a, [m, k]),
      b: tf.tensor2d(b, [k, n]),
      bias: tf.tensor1d(bias),
      activation,
    });
    assertAllClose(await y.data(), biased.map(f), { atol: 1e-4, rtol: 1e-4 }, activation);
  }
  // A full-shape bias, and elu through the CPU backend's own kernel.
  const full = rand(m * n);
  const y = tf.fused.matMul({
    a: tf.tensor2d(a, [m, k]),
    b: tf.tensor2d(b, [k, n]),
    bias: tf.tensor2d(full, [m, n]),
  });
  assertAllClose(
    await y.data(),
    product.map((v, i) => v + full[i]),
    { atol: 1e-4, rtol: 1e-4 },
    "full bias",
  );
  const elu = tf.fused.matMul({
    a: tf.tensor2d(a, [m, k]),
    b: tf.tensor2d(b, [k, n]),
    activation: "elu",
  });
  assertAllClose(await elu.data(), product.map((v) => (v < 0 ? Math.exp(v) - 1 : v)), {
    atol: 1e-4,
    rtol: 1e-4,
  }, "elu");
});

test("blas: a tensor's array is writable in place only when nobody shares it", async () => {
  await selectBackend("blas");
  const t = tf.tensor1d([1, 2, 3]);
  assert(tensorArray(t, true) !== undefined);
  const alias = tf.clone(t); // shares the storage
  assertEquals(tensorArray(t, true), undefined);
  assert(tensorArray(t) !== undefined, "still readable");
  tf.dispose([t, alias]);
  assert(activeFusedKernels() !== undefined);
  assertEquals(tf.getBackend(), BLAS_BACKEND);
  await selectBackend("wasm");
  assertEquals(activeFusedKernels(), undefined);
  assertEquals(tensorArray(tf.tensor1d([1])), undefined);
});

test("blas: records the library, its configuration, the core type and the threads", async () => {
  const info = await selectBackend("blas");
  assertEquals(info.flags.gemm, "cblas_sgemm");
  assert(String(info.flags.blasLibrary).length > 0);
  assert(Number(info.flags.blasThreads) >= 1);
  assert(
    /^(native|typescript): /.test(String(info.flags.fusedKernels)),
    String(info.flags.fusedKernels),
  );
  assertEquals(info.flags.explicitTranspose, false);
});

Deno.test("blas: a library that is not there is an error saying what to do", async () => {
  const env = new Map([["PHANTOM_BLAS_LIB", "/nonexistent/libcblas.so"]]);
  const error = await assertRejects(
    () => Promise.resolve().then(() => openCblasFresh(env)),
    BlasUnavailableError,
    "/nonexistent/libcblas.so",
  );
  assert(error.message.includes("apt-get install libopenblas0-pthread"), error.message);
});

/** The loader with a given environment, in a fresh realm (it caches the library per realm). */
async function openCblasFresh(env: Map<string, string>): Promise<void> {
  const r = await runDeno([
    "eval",
    `import { openCblas } from "./lib/nn/blas/cblas.ts";
     const env = ${JSON.stringify(Object.fromEntries(env))};
     openCblas(1, { get: (k) => env[k] });`,
  ]);
  if (r.code !== 0) throw new BlasUnavailableError(r.stderr);
}

Deno.test("backend auto: blas where a CBLAS library loads, else wasm with the reason", async () => {
  const run = (lib?: string) =>
    runDeno(
      [
        "eval",
        `import { selectBackend } from "./lib/nn/backend.ts"; const i = await selectBackend("auto"); console.log(JSON.stringify([i.name, i.flags.autoFallback ?? ""]));`,
      ],
      lib ? { PHANTOM_BLAS_LIB: lib } : undefined,
    );
  const fallback = await run("/nonexistent/libcblas.so");
  const [name, why] = JSON.parse(fallback.stdout);
  assertEquals(name, "wasm");
  assert(why.includes("blas unavailable") && why.includes("/nonexistent/libcblas.so"), why);
  if (!blas) assertEquals(JSON.parse((await run()).stdout)[0], "blas");
});
