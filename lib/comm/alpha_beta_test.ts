import { fitAlphaBeta, predictTimeMs } from "./alpha_beta.ts";
import { assert, assertThrows } from "../testing/asserts.ts";
import { Rng } from "../nn/rng.ts";

Deno.test("alpha-beta: recovers a known latency and bandwidth from noisy points within 2%", () => {
  const truth = { alphaUs: 120, algbwGBs: 0.3 };
  const rng = new Rng(3);
  const points = [1e3, 4e3, 16e3, 64e3, 256e3, 1e6, 4e6, 16e6].map((bytes) => ({
    bytes,
    timeMs: predictTimeMs(truth, bytes) * (1 + 0.01 * (2 * rng.uniform() - 1)),
  }));
  const fit = fitAlphaBeta(points);
  assert(Math.abs(fit.algbwGBs / truth.algbwGBs - 1) < 0.02, JSON.stringify(fit));
  assert(Math.abs(fit.alphaUs / truth.alphaUs - 1) < 0.1, JSON.stringify(fit));
  assert(fit.r2 > 0.999);
});

Deno.test("alpha-beta: a negative intercept is clamped to zero latency", () => {
  const fit = fitAlphaBeta([{ bytes: 1e6, timeMs: 0.9 }, { bytes: 2e6, timeMs: 2.1 }]);
  assert(fit.alphaUs === 0 && fit.algbwGBs > 0, JSON.stringify(fit));
  assertThrows(() => fitAlphaBeta([{ bytes: 1, timeMs: 1 }]), RangeError, "two message sizes");
});
