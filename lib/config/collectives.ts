/**
 * The collective operations, and the collectives one training step (or inference batch) issues:
 * the one list from which the cost model's payload bytes (lib/config/cost_model.ts) and the
 * projection's step model (lib/projection/step_model.ts) both derive. The names are the ones every
 * transport, frame code and accounting uses (lib/comm, lib/nats).
 *
 * @module
 */

import type { ModelConfig } from "./config.ts";

/** The collective operations, in the order of their codes on the wire (lib/nats/frame.ts). */
export const COLLECTIVE_OPS = [
  "allGather",
  "reduceScatter",
  "allReduce",
  "broadcast",
  "barrier",
] as const;

/** A collective operation. */
export type CollectiveOp = typeof COLLECTIVE_OPS[number];

/** A collective a step calls (training never broadcasts; the barrier before a step is untimed). */
export type StepOp = Extract<CollectiveOp, "allGather" | "reduceScatter" | "allReduce">;

/** A collective of a step, with its count. */
export interface StepCollective {
  op: StepOp;
  /** S: the whole buffer in bytes, as nccl-tests counts it. */
  bytes: number;
  count: number;
}

/**
 * The collectives of one step, as the suite's layers issue them: per hidden layer an all-gather
 * forward (TP: each rank's b x m block; phantom: its b x k ghosts) and a reduce-scatter backward
 * (training only), and the output layer's all-reduce of b x d_out.
 *
 * @param config The model (mode, p, n, k, L, b, d_out).
 * @param options Wire bytes per element (default 4) and workload (default train).
 * @returns The calls (none at p = 1 or serial).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stepCollectives } from "./collectives.ts";
 * const c = { mode: "tp", ranks: 4, width: 1024, layers: 2, batch: 32, inputWidth: 32, outputWidth: 16, seed: 1 } as const;
 * assert.deepEqual(stepCollectives(c).map((x) => [x.op, x.bytes, x.count]), [
 *   ["allGather", 32 * 1024 * 4, 2], ["reduceScatter", 32 * 1024 * 4, 2], ["allReduce", 32 * 16 * 4, 1],
 * ]);
 * ```
 */
export function stepCollectives(
  config: ModelConfig,
  options: { bytesPerElement?: number; workload?: "train" | "inference" } = {},
): StepCollective[] {
  const bytesPerElement = options.bytesPerElement ?? 4;
  const { ranks: p, width: n, batch: b, layers: L, outputWidth: dOut } = config;
  if (p <= 1 || config.mode === "serial") return [];
  const phantom = config.mode === "phantom";
  // TP gathers b x m from every rank (S = b n); phantom b x k (S = b p k).
  const gathered = (phantom ? b * p * (config.phantomWidth ?? 0) : b * n) * bytesPerElement;
  const calls: StepCollective[] = [{ op: "allGather", bytes: gathered, count: L }];
  if (options.workload !== "inference") {
    calls.push({ op: "reduceScatter", bytes: gathered, count: L });
  }
  calls.push({ op: "allReduce", bytes: b * dOut * bytesPerElement, count: 1 });
  return calls;
}

/**
 * Payload one rank sends and receives in one call, by publish/subscribe accounting (a block every
 * other rank needs is sent once and received p - 1 times; lib/comm/accounting.ts counts the same).
 *
 * @param op The collective.
 * @param bytes S, the whole buffer.
 * @param p Ranks.
 * @returns Bytes sent and received by one rank.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { payloadPerRank } from "./collectives.ts";
 * assert.deepEqual(payloadPerRank("allGather", 400, 4), { sent: 100, received: 300 });
 * assert.deepEqual(payloadPerRank("allReduce", 64, 4), { sent: 64, received: 192 });
 * ```
 */
export function payloadPerRank(op: StepOp, bytes: number, p: number): {
  sent: number;
  received: number;
} {
  if (p <= 1) return { sent: 0, received: 0 };
  if (op === "allGather") return { sent: bytes / p, received: (p - 1) * bytes / p };
  if (op === "reduceScatter") return { sent: (p - 1) * bytes / p, received: (p - 1) * bytes / p };
  return { sent: bytes, received: (p - 1) * bytes };
}
