import { Rng } from "../nn/rng.ts";
import { mannWhitneyU, normalCdf } from "./mann_whitney.ts";
import { assert, assertEquals } from "../testing/asserts.ts";

const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol;

Deno.test("Mann-Whitney: exact p-values of small samples (known answers)", () => {
  // Completely separated 3 vs 3: U = 0, p = 2/20 = 0.1.
  const sep = mannWhitneyU([1, 2, 3], [4, 5, 6]);
  assertEquals(sep.u, 0);
  assert(close(sep.pValue, 0.1, 1e-12), String(sep.pValue));
  // 4 vs 4 separated: p = 2/70.
  assert(close(mannWhitneyU([1, 2, 3, 4], [5, 6, 7, 8]).pValue, 2 / 70, 1e-12));
  // Interleaved: U = 4.5 is not possible without ties; 1,3,5 vs 2,4,6 gives U = 3, p = 0.7.
  const mixed = mannWhitneyU([1, 3, 5], [2, 4, 6]);
  assertEquals(mixed.u, 3);
  assert(close(mixed.pValue, 0.7, 1e-12), String(mixed.pValue));
});

Deno.test("Mann-Whitney: normal approximation with ties (scipy.stats.mannwhitneyu: U=22.5, p=0.0046155)", () => {
  const a = [1.1, 2.2, 2.2, 3.3, 4.4, 5.5, 6.6, 7.7, 8.8, 9.9, 10.1, 11.2];
  const b = [5.5, 6.6, 7.7, 8.8, 9.9, 12.3, 13.4, 14.5, 15.6, 16.7, 17.8, 18.9];
  const r = mannWhitneyU(a, b);
  assertEquals(r.u, 22.5);
  // Normal approximation with tie and continuity correction, as scipy computes it.
  assert(close(r.pValue, 0.0046155, 1e-6), String(r.pValue));
  assertEquals(mannWhitneyU(a, a).pValue, 1);
  assertEquals(mannWhitneyU([], [1]).pValue, 1);
});

Deno.test("Mann-Whitney: same distribution rarely significant; shifted often", () => {
  const rng = new Rng(7);
  const rand = () => rng.uniform();
  let falsePositives = 0;
  let detections = 0;
  for (let trial = 0; trial < 200; trial++) {
    const x = Array.from({ length: 20 }, rand);
    const y = Array.from({ length: 20 }, rand);
    if (mannWhitneyU(x, y).pValue < 0.05) falsePositives++;
    if (mannWhitneyU(x, y.map((v) => v + 0.5)).pValue < 0.05) detections++;
  }
  assert(falsePositives <= 20, `${falsePositives} false positives of 200`);
  assert(detections >= 190, `${detections} detections of 200`);
});

Deno.test("normal CDF: known values", () => {
  assert(close(normalCdf(0), 0.5, 1e-7));
  assert(close(normalCdf(1.959964), 0.975, 1e-6));
  assert(close(normalCdf(-1), 0.158655, 1e-6));
});
