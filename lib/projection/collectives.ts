/**
 * Time of one collective call on a profile, split into host overhead, latency and bandwidth
 * terms (the report shows them apart: at 256 ranks the latency term, not bandwidth, is what
 * small phantom payloads pay). S is the whole buffer in bytes, as nccl-tests counts it.
 *
 * - `ring` (NCCL/RCCL): all-gather and reduce-scatter (p-1) alpha + ((p-1)/p) S/B, all-reduce twice
 *   that; inside a node alpha and B are the intra tier's, across nodes alpha_inter and
 *   min(B_intra, efficiency x NIC bandwidth per node) (a ring enters and leaves each node once).
 * - `hierarchical` (two-level, PCCL-style): across N nodes of g ranks, (N-1) alpha_inter +
 *   (g-1) alpha_intra + S [((N-1)/N) / (efficiency x NIC per node) + ((g-1)/g) / B_intra].
 * - `nats` (this suite's transport): ranks talk through H connections (one per rank on a
 *   cluster; on one host the worker threads, up to `connectionsMax`), ranks of a connection
 *   exchanging in memory. Per call a connection receives one message per other connection (more
 *   where a block exceeds the 256 KiB message size) and the bytes of the ranks on other
 *   connections; each message costs `messageS`, each byte 1/`bytesPerS`. The time is one
 *   connection's work (the step model stretches it where connections share cores).
 *
 * @module
 */

import type { CollectiveOp } from "../config/collectives.ts";

/** A collective the model times (every one but broadcast, which training never calls). */
export type TimedOp = Exclude<CollectiveOp, "broadcast">;
import type { HardwareProfile } from "./profile.ts";

/** The parts of a call's time, in s. */
export interface CollectiveTime {
  /** Per call and rank (software overhead). */
  hostS: number;
  /** Per ring step or per message. */
  latencyS: number;
  /** Bytes over the links or the wire. */
  bandwidthS: number;
  /** nats: a rank assembling what it received (copies, checks); 0 elsewhere. */
  assemblyS: number;
}

/**
 * NATS connections p ranks use on a profile.
 *
 * @param profile The machine.
 * @param p Ranks.
 * @returns min(p, connectionsMax), or p.
 */
export function natsConnections(profile: HardwareProfile, p: number): number {
  const max = profile.collectives.nats?.connectionsMax;
  return max == null ? p : Math.min(p, max);
}

/** The suite's largest NATS message (lib/nats: 256 KiB pieces). */
export const NATS_MESSAGE_BYTES = 256 * 1024;

/**
 * The time of one call.
 *
 * @param profile The machine.
 * @param op The collective.
 * @param p Ranks.
 * @param bytes S: the whole gathered or reduced buffer, in bytes.
 * @returns Host, latency and bandwidth terms.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectiveTime } from "./collectives.ts";
 * import { loadProfile } from "./profile.ts";
 * const dgx = await loadProfile("dgx-h100");
 * // 8 GPUs in a node, 1 MB gathered: 7 ring steps of 1.3 us, 7/8 MB at 360 GB/s.
 * const t = collectiveTime(dgx, "allGather", 8, 1e6);
 * assert(Math.abs(t.latencyS - 7 * 1.3e-6) < 1e-12);
 * assert(Math.abs(t.bandwidthS - (7 / 8) * 1e6 / 360e9) < 1e-15);
 * ```
 */
export function collectiveTime(
  profile: HardwareProfile,
  op: TimedOp,
  p: number,
  bytes: number,
): CollectiveTime {
  const c = profile.collectives;
  if (p <= 1) return { hostS: 0, latencyS: 0, bandwidthS: 0, assemblyS: 0 };
  const hostS = c.hostS;
  const twice = op === "allReduce" || op === "barrier" ? 2 : 1;
  const size = op === "barrier" ? 0 : bytes;
  if (c.algorithm === "nats") {
    const n = c.nats!;
    const h = natsConnections(profile, p);
    const assembled = op === "allReduce" ? (p - 1) * size : ((p - 1) / p) * size;
    const assemblyS = assembled / n.assemblyBytesPerS;
    if (h <= 1) return { hostS, latencyS: 0, bandwidthS: 0, assemblyS };
    // allReduce is every rank publishing its partial S; the others gather blocks of S / p.
    const perRank = op === "allReduce" ? size : size / p;
    const ranksPerConnection = p / h;
    const pieces = Math.max(1, Math.ceil((perRank * ranksPerConnection) / NATS_MESSAGE_BYTES));
    const received = (p - ranksPerConnection) * perRank;
    return {
      hostS,
      latencyS: (h - 1) * pieces * n.messageS,
      bandwidthS: received / n.bytesPerS,
      assemblyS,
    };
  }
  const g = Math.min(p, profile.devicesPerNode);
  const nodes = Math.ceil(p / profile.devicesPerNode);
  const nicB = c.inter.efficiency * c.inter.nicBytesPerSPerNode;
  if (nodes === 1) {
    return {
      hostS,
      latencyS: twice * (p - 1) * c.intra.alphaS,
      bandwidthS: twice * ((p - 1) / p) * size / c.intra.busBytesPerS,
      assemblyS: 0,
    };
  }
  if (c.algorithm === "ring") {
    return {
      hostS,
      latencyS: twice * (p - 1) * c.inter.alphaS,
      bandwidthS: twice * ((p - 1) / p) * size / Math.min(c.intra.busBytesPerS, nicB),
      assemblyS: 0,
    };
  }
  return {
    hostS,
    latencyS: twice * ((nodes - 1) * c.inter.alphaS + (g - 1) * c.intra.alphaS),
    bandwidthS: twice * size *
      (((nodes - 1) / nodes) / nicB + ((g - 1) / g) / c.intra.busBytesPerS),
    assemblyS: 0,
  };
}
