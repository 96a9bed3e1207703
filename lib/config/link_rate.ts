/**
 * Link rates in tc's notation (`25mbit`, `1gbit`, `500kbit`, `1.5gbit`): the form `--link`, the
 * `network` sweep's `link` axis and the namespace hosts take, and its value in bits per second.
 * Prefixes are decimal, as tc reads them (1mbit = 10^6 bit/s).
 *
 * @module
 */

/** A link rate as this suite takes it. */
export const LINK_RATE = /^(\d+(?:\.\d+)?)(k|m|g)?bit$/;

const PREFIX: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9 };

/**
 * A rate in bits per second.
 *
 * @param rate E.g. "25mbit".
 * @returns Bits per second, or undefined when `rate` is not a rate.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkBitsPerS } from "./link_rate.ts";
 * assert.equal(linkBitsPerS("25mbit"), 25e6);
 * assert.equal(linkBitsPerS("1.5gbit"), 1.5e9);
 * assert.equal(linkBitsPerS("fast"), undefined);
 * ```
 */
export function linkBitsPerS(rate: string): number | undefined {
  const m = LINK_RATE.exec(rate);
  if (!m) return undefined;
  const bits = Number(m[1]) * PREFIX[m[2] ?? ""];
  return bits > 0 ? bits : undefined;
}
