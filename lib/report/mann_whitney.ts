/**
 * The Mann-Whitney U test (two-sided), for deciding whether two samples of a benchmark metric
 * differ by more than chance: U from midranks, a normal approximation with tie correction and
 * continuity correction, exact enumeration for small samples without ties.
 *
 * @module
 */

/** Result of {@linkcode mannWhitneyU}. */
export interface MannWhitneyResult {
  /** U of the first sample. */
  u: number;
  /** Two-sided p-value. */
  pValue: number;
}

/**
 * @param a First sample.
 * @param b Second sample.
 * @returns U and the two-sided p-value (1 when either sample is empty).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mannWhitneyU } from "./mann_whitney.ts";
 * const { pValue } = mannWhitneyU([1, 2, 3, 4, 5, 6, 7, 8], [11, 12, 13, 14, 15, 16, 17, 18]);
 * assert(pValue < 0.001);
 * ```
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitneyResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { u: NaN, pValue: 1 };
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) =>
    x.v - y.v
  );
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const r1 = all.reduce((s, x, i) => s + (x.g === 0 ? ranks[i] : 0), 0);
  const u = r1 - (n1 * (n1 + 1)) / 2;
  if (tieTerm === 0 && n1 + n2 <= 20) return { u, pValue: exactPValue(u, n1, n2) };
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0 || Math.abs(u - mean) <= 0.5) return { u, pValue: 1 };
  const z = (Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return { u, pValue: Math.min(1, 2 * (1 - normalCdf(Math.max(0, z)))) };
}

/** Exact two-sided p-value by counting U over all splits (small samples, no ties). */
function exactPValue(u: number, n1: number, n2: number): number {
  // counts[i][j][k]: arrangements of i from the first and j from the second sample with U = k.
  const maxU = n1 * n2;
  let prev: number[][] = Array.from({ length: n2 + 1 }, () => new Array(maxU + 1).fill(0));
  for (let j = 0; j <= n2; j++) prev[j][0] = 1;
  for (let i = 1; i <= n1; i++) {
    const cur: number[][] = Array.from({ length: n2 + 1 }, () => new Array(maxU + 1).fill(0));
    cur[0][0] = 1;
    for (let j = 1; j <= n2; j++) {
      for (let k = 0; k <= maxU; k++) {
        // The largest value is from the first sample (adds j to U) or from the second.
        cur[j][k] = (k >= j ? prev[j][k - j] : 0) + cur[j - 1][k];
      }
    }
    prev = cur;
  }
  const counts = prev[n2];
  const total = counts.reduce((s, c) => s + c, 0);
  const low = Math.min(u, maxU - u);
  let tail = 0;
  for (let k = 0; k <= Math.floor(low); k++) tail += counts[k];
  return Math.min(1, (2 * tail) / total);
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(z) / Math.SQRT2);
  const poly = t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
