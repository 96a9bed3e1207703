/**
 * Numbers with units, as results, tables and messages print them.
 *
 * @module
 */

/**
 * Bytes with a binary unit.
 *
 * @param bytes A byte count.
 * @returns E.g. "32.0 MiB", "100 B".
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./units.ts";
 * assert.equal(formatBytes(32 * 2 ** 20), "32.0 MiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    [value, unit] = [value / 1024, unit + 1];
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
