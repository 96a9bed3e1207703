/**
 * How a number of joules was obtained, best first: a hardware energy counter, integrated power
 * samples, a declared model of this host, projected to another machine (lib/projection), or not
 * at all. A total over devices or windows is only as good as
 * its weakest part.
 *
 * @module
 */

/** The methods, best first. */
export const ENERGY_METHODS = [
  "counter",
  "integrated",
  "modelled",
  "projected",
  "unavailable",
] as const;

/** How a number of joules was obtained. */
export type EnergyMethod = typeof ENERGY_METHODS[number];

/**
 * The weakest of several methods (what a sum of their numbers can claim).
 *
 * @param methods At least one method.
 * @returns The one latest in {@linkcode ENERGY_METHODS}.
 * @throws {RangeError} If the list is empty.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { weakestMethod } from "./energy_method.ts";
 * assert(weakestMethod(["counter", "integrated", "counter"]) === "integrated");
 * ```
 */
export function weakestMethod(methods: readonly EnergyMethod[]): EnergyMethod {
  if (methods.length === 0) throw new RangeError("Cannot combine energy methods: none given");
  return methods.reduce((a, b) => (ENERGY_METHODS.indexOf(b) > ENERGY_METHODS.indexOf(a) ? b : a));
}
