import {
  buildNativeKernels,
  type FusedKernels,
  openNativeKernels,
  TYPESCRIPT_KERNELS,
} from "./fused_kernels.ts";
import { Rng } from "../rng.ts";
import { assert, assertAllClose, assertRejects } from "../../testing/asserts.ts";
import { C_COMPILER, systemTest } from "../../testing/system.ts";

const rng = new Rng(5);
const rand = (n: number, scale = 1) => Float32Array.from({ length: n }, () => rng.normal() * scale);

/** Runs every kernel on copies of the same inputs. */
function exercise(k: FusedKernels) {
  const n = 1003;
  const seed = new Rng(9);
  const r = (len: number) => Float32Array.from({ length: len }, () => seed.normal());
  const [p, g, m, v] = [r(n), r(n), r(n).map(Math.abs), r(n).map((x) => x * x)];
  k.adam(p, g, m, v, 0.01, 0.9, 0.999, 1e-8, 0.1, 0.01);
  const [q, h, w] = [r(n), r(n), r(n)];
  k.sgd(q, h, w, 0.05, 0.9);
  const [q0, h0] = [r(n), r(n)];
  k.sgd(q0, h0, new Float32Array(0), 0.05, 0);
  const [rows, cols] = [17, 59];
  const x = r(rows * cols);
  const bias = r(cols);
  k.biasAct(x, bias, rows, cols, true);
  const y = r(rows * cols);
  k.biasAct(y, undefined, rows, cols, false);
  const [a, b] = [r(n), r(n)];
  const ar = new Float32Array(n);
  k.addRelu(ar, a, b);
  const sum = new Float32Array(n);
  k.add(sum, a, b);
  const delta = new Float32Array(n);
  k.reluBackward(delta, a, b);
  const sums = new Float32Array(cols);
  k.columnSums(sums, x, rows, cols);
  const t = new Float32Array(rows * cols);
  k.transpose(t, y, rows, cols);
  return { p, m, v, q, w, q0, x, y, ar, sum, delta, sums, t };
}

Deno.test("fused kernels in TypeScript: Adam, SGD, bias and relu, relu backward, column sums, transpose", () => {
  const k = TYPESCRIPT_KERNELS;
  const p = Float32Array.from([1, -1]);
  k.adam(
    p,
    Float32Array.from([0.5, -0.5]),
    new Float32Array(2),
    new Float32Array(2),
    0.1,
    0.9,
    0.999,
    1e-8,
    0.1,
    0.001,
  );
  // First Adam step moves every weight by lr against its gradient's sign.
  assertAllClose(p, [0.9, -0.9], { atol: 1e-6 });
  const x = Float32Array.from([1, -2, 3, -4]);
  k.biasAct(x, Float32Array.from([1, 1]), 2, 2, true);
  assertAllClose(x, [2, 0, 4, 0]);
  const sums = new Float32Array(2);
  k.columnSums(sums, Float32Array.from([1, 2, 3, 4]), 2, 2);
  assertAllClose(sums, [4, 6]);
  const t = new Float32Array(6);
  k.transpose(t, Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3);
  assertAllClose(t, [1, 4, 2, 5, 3, 6]);
  const d = new Float32Array(3);
  k.reluBackward(d, Float32Array.from([5, 6, 7]), Float32Array.from([0, 1, -1]));
  assertAllClose(d, [0, 6, 0]);
  void rand;
});

systemTest([C_COMPILER], {
  name: "fused kernels: native code agrees with the TypeScript loops on every kernel",
  fn: async () => {
    const native = openNativeKernels(await buildNativeKernels());
    assert(native.kind === "native");
    const a = exercise(native);
    const b = exercise(TYPESCRIPT_KERNELS);
    for (const key of Object.keys(a) as (keyof typeof a)[]) {
      assertAllClose(a[key], b[key], { atol: 1e-7, rtol: 1e-6 }, key);
    }
  },
});

systemTest([C_COMPILER], {
  name: "fused kernels: built once, then found in the cache by source, compiler and CPU",
  fn: async () => {
    const first = await buildNativeKernels();
    const before = Deno.statSync(first).mtime;
    assert((await buildNativeKernels()) === first);
    assert(Deno.statSync(first).mtime?.getTime() === before?.getTime(), "rebuilt");
  },
});

Deno.test("fused kernels: a missing compiler is an error the loader turns into the TypeScript loops", async () => {
  await assertRejects(
    () => buildNativeKernels("/nonexistent/cc"),
    Error,
    "/nonexistent/cc not found",
  );
});
