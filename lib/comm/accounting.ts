/**
 * What every {@linkcode Communicator} implementation shares: rank-order summation (so every
 * implementation and every rank obtains bit-identical sums) and the payload a collective moves for
 * one rank under publish/subscribe accounting (a block every other rank needs is sent once and
 * received p-1 times; a block for one rank is sent to that rank only). Transports count their
 * wire bytes on their own; payload bytes come from here, so they equal the cost model whatever
 * the transport does underneath.
 *
 * @module
 */

import type { CollectiveOp } from "../config/collectives.ts";
import type { CommStats } from "./communicator.ts";

/**
 * Adds arrays element-wise in the order given, rounding to float32 after each addition.
 *
 * @param arrays Equal-length arrays.
 * @param into Where to write the sum. @default a new array
 * @returns Their sum.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sumInRankOrder } from "./accounting.ts";
 * assert.deepEqual([...sumInRankOrder([new Float32Array([1, 2]), new Float32Array([3, 4])])], [4, 6]);
 * ```
 */
export function sumInRankOrder(arrays: readonly Float32Array[], into?: Float32Array): Float32Array {
  const out = into ?? new Float32Array(arrays[0].length);
  out.set(arrays[0]);
  for (let r = 1; r < arrays.length; r++) addInto(out, arrays[r]);
  return out;
}

/**
 * out += a, element-wise (float32 rounding, as {@linkcode sumInRankOrder}).
 *
 * @param out The accumulator.
 * @param a The addend, as long as `out`.
 */
export function addInto(out: Float32Array, a: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] += a[i];
}

/** The lengths a rank passes to one collective. */
export interface CollectiveShape {
  /** The operation. */
  op: CollectiveOp;
  /** Ranks in the group. */
  size: number;
  /** This rank. */
  rank: number;
  /** Elements of the block (allGather, allReduce, broadcast on the root and result elsewhere). */
  elements?: number;
  /** Elements of each chunk, by destination rank (reduceScatter). */
  chunks?: readonly number[];
  /** The root (broadcast). */
  root?: number;
}

/**
 * Payload elements one rank sends and receives in one collective.
 *
 * @param c The collective's shape on this rank.
 * @returns Elements sent and received.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectivePayload } from "./accounting.ts";
 * assert.deepEqual(collectivePayload({ op: "allGather", size: 4, rank: 0, elements: 10 }), { sent: 10, received: 30 });
 * ```
 */
export function collectivePayload(c: CollectiveShape): { sent: number; received: number } {
  const others = c.size - 1;
  const fanOut = (n: number) => (c.size > 1 ? n : 0);
  const elements = c.elements ?? 0;
  switch (c.op) {
    case "allGather":
    case "allReduce":
      return { sent: fanOut(elements), received: others * elements };
    case "reduceScatter": {
      const chunks = c.chunks ?? [];
      const sent = chunks.reduce((n, len, s) => n + (s === c.rank ? 0 : len), 0);
      return { sent, received: others * (chunks[c.rank] ?? 0) };
    }
    case "broadcast":
      return c.rank === c.root
        ? { sent: fanOut(elements), received: 0 }
        : { sent: 0, received: elements };
    case "barrier":
      return { sent: 0, received: 0 };
  }
}

/**
 * Adds one collective's payload to a rank's counters.
 *
 * @param stats The counters (updated in place).
 * @param c The collective's shape.
 * @param bytesPerElement Bytes per element on the wire.
 */
export function countCollective(
  stats: CommStats,
  c: CollectiveShape,
  bytesPerElement: number,
): void {
  const { sent, received } = collectivePayload(c);
  stats.bytesSent += sent * bytesPerElement;
  stats.bytesReceived += received * bytesPerElement;
  stats.collectives++;
}
