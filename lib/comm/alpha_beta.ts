/**
 * The alpha-beta (Hockney) model of a collective's time, t(S) = alpha + S / B, fitted by least
 * squares to measured (size, time) points: alpha is the latency term (per call, whatever the
 * size), B the bandwidth the call achieves on large messages. The collective benchmark reports
 * both so that a projection can be calibrated from it.
 *
 * @module
 */

/** A measured point. */
export interface SizeTime {
  /** Message size S, in bytes. */
  bytes: number;
  /** Time per call, in ms. */
  timeMs: number;
}

/** A fitted alpha-beta model. */
export interface AlphaBeta {
  /** Latency term per call, in microseconds. */
  alphaUs: number;
  /** Bandwidth term: bytes per second of S (algbw on large messages), in GB/s. */
  algbwGBs: number;
  /** Coefficient of determination of the fit, on log times (1 is a perfect fit). */
  r2: number;
  /** Points the fit used. */
  points: number;
}

/**
 * Fits t = alpha + S / B by least squares on relative errors (each point weighted by 1/t^2), so
 * that sizes spanning five orders of magnitude all count: small messages fix alpha, large ones
 * B. A negative alpha (noise on tiny times) is clamped to 0 and B refitted with alpha = 0.
 *
 * @param points At least two points of different sizes.
 * @returns The fit.
 * @throws {RangeError} With fewer than two distinct sizes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitAlphaBeta } from "./alpha_beta.ts";
 * // 50 us per call plus 1 GB/s: 1 MB takes 1.05 ms.
 * const fit = fitAlphaBeta([{ bytes: 1e3, timeMs: 0.051 }, { bytes: 1e6, timeMs: 1.05 }, { bytes: 1e7, timeMs: 10.05 }]);
 * assert(Math.abs(fit.alphaUs - 50) < 0.5 && Math.abs(fit.algbwGBs - 1) < 1e-3);
 * ```
 */
export function fitAlphaBeta(points: readonly SizeTime[]): AlphaBeta {
  if (new Set(points.map((p) => p.bytes)).size < 2) {
    throw new RangeError("Cannot fit alpha-beta: need at least two message sizes");
  }
  // Weighted normal equations for t = a + b S with weights w = 1/t^2.
  let sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const p of points) {
    const w = 1 / Math.max(p.timeMs, 1e-9) ** 2;
    sw += w;
    sx += w * p.bytes;
    sy += w * p.timeMs;
    sxx += w * p.bytes * p.bytes;
    sxy += w * p.bytes * p.timeMs;
  }
  let slope = (sw * sxy - sx * sy) / (sw * sxx - sx * sx); // ms per byte
  let intercept = (sy - slope * sx) / sw;
  if (intercept < 0) {
    intercept = 0;
    slope = sxy / sxx;
  }
  const predicted = (p: SizeTime) => intercept + slope * p.bytes;
  const mean = points.reduce((s, p) => s + Math.log(p.timeMs), 0) / points.length;
  const ssTot = points.reduce((s, p) => s + (Math.log(p.timeMs) - mean) ** 2, 0);
  const ssRes = points.reduce((s, p) => s + (Math.log(p.timeMs) - Math.log(predicted(p))) ** 2, 0);
  return {
    alphaUs: intercept * 1000,
    algbwGBs: slope > 0 ? 1 / slope / 1e6 : Infinity,
    r2: ssTot > 0 ? 1 - ssRes / ssTot : 1,
    points: points.length,
  };
}

/**
 * The time the model predicts for a size.
 *
 * @param fit The model.
 * @param bytes Message size, in bytes.
 * @returns Time per call, in ms.
 */
export function predictTimeMs(fit: Pick<AlphaBeta, "alphaUs" | "algbwGBs">, bytes: number): number {
  return fit.alphaUs / 1000 + bytes / (fit.algbwGBs * 1e6);
}
