/**
 * The time a step's collectives spend on the shaped links of an emulated network
 * (`bench --emulate-hosts N --link RATE`, lib/runtime/emulated_run.ts): the bench's nats-server
 * runs on host 0 and every rank on the other hosts, each rank with a connection of its own, so
 * every byte a rank publishes enters host 0 over its link and every byte a rank receives leaves
 * host 0 over it (a star through the server). Per call:
 *
 *   t = (max(sum of bytes sent, sum of bytes received) + 2 x piece) / (rate x efficiency)
 *
 * The two directions of host 0's link run at once, so the busier one bounds the call; the server
 * forwards a message only once it has all of it, and the last one still crosses its receiver's
 * link: one piece (the largest message a rank sends in the call: its block, capped at the NATS
 * piece size) more each way. `efficiency` is the payload per byte on the link (TCP/IP and
 * Ethernet headers: 1448 of 1514). The transport's own per-byte work (copies through the server
 * and clients) goes on while the bytes cross the link, so per call the step model takes the
 * longer of the two; compute and the per-message work add to it (collectives block).
 *
 * @module
 */

import { payloadPerRank, type StepCollective } from "../config/collectives.ts";
import { NATS_MESSAGE_BYTES } from "./collectives.ts";

/** Payload per byte on an Ethernet link with TCP timestamps: 1448 / 1514. */
export const TCP_EFFICIENCY = 1448 / 1514;

/** A host's shaped link. */
export interface LinkProfile {
  /** Rate, bytes/s, each way. */
  bytesPerS: number;
  /** Payload per byte on the link. */
  efficiency: number;
}

/**
 * The time one call spends on the links.
 *
 * @param link The links.
 * @param call The collective (S and count).
 * @param p Ranks.
 * @returns Seconds for all `call.count` calls.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkTime } from "./link_model.ts";
 * // 4 ranks gather 4 x 1 MB blocks: 12 MB leave the server host, plus a block each way.
 * const t = linkTime({ bytesPerS: 1e6, efficiency: 1 }, { op: "allGather", bytes: 4e6, count: 1 }, 4);
 * assert(Math.abs(t - (12e6 + 2 * 262144) / 1e6) < 1e-9);
 * ```
 */
export function linkTime(link: LinkProfile, call: StepCollective, p: number): number {
  if (p <= 1) return 0;
  const { sent, received } = payloadPerRank(call.op, call.bytes, p);
  // The largest message of a rank: its block (allGather), a piece for one rank (reduceScatter),
  // its whole partial (allReduce), split at the NATS piece size.
  const block = call.op === "allReduce" ? call.bytes : call.bytes / p;
  const piece = Math.min(block, NATS_MESSAGE_BYTES);
  const busier = Math.max(p * sent, p * received);
  return (call.count * (busier + 2 * piece)) / (link.bytesPerS * link.efficiency);
}
