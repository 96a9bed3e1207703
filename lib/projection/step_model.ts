/**
 * The projected cost of one training step (or inference batch) of a configuration on a hardware
 * profile, from the cost model: compute (every matrix product at the profile's size-dependent
 * efficiency, plus the optimizer update at memory bandwidth), communication (the step's
 * collectives, lib/projection/collectives.ts; collectives block, as in the suite, so nothing
 * overlaps), energy (busy devices at idle + u (busy - idle) with u the FLOP fraction achieved,
 * waiting devices at idle + waitFraction (busy - idle), whole power domains charged, plus node
 * static power) and memory per rank (predictMemory, against the device's capacity). Where a
 * profile describes one host (`maxNodes`) and the ranks outnumber its devices, they share them:
 * compute and the transport's per-message and per-byte work stretch by p / devices.
 *
 * Data parallelism (`replicas` d > 1, G = d p ranks): after the backward pass each rank
 * all-reduces its gradients (and loss) with the d - 1 ranks of its model rank
 * ({@linkcode dataParallelTime}): on the suite's transport as the nats model times an
 * all-reduce; on a cluster as a ring, inside a node on the intra tier when the whole grid fits
 * one, else across nodes, where the model-parallel groups packed on a node (mp-inner) run their
 * rings at once and share the node's NIC. Devices, nodes and power count all G ranks.
 *
 * @module
 */

import { type TrainConfig, worldSize } from "../config/config.ts";
import {
  matmulShapes,
  predictCosts,
  predictDataParallel,
  predictMemory,
} from "../config/cost_model.ts";
import { collectiveTime, natsConnections } from "./collectives.ts";
import { stepCollectives } from "../config/collectives.ts";
import type { HardwareProfile } from "./profile.ts";
import { linkTime } from "./link_model.ts";

/** A projected step. */
export interface StepProjection {
  /** Matrix products and the optimizer update, in s. */
  computeS: number;
  /** Collectives: host overhead, latency and bandwidth terms, in s. */
  hostS: number;
  latencyS: number;
  /**
   * The bandwidth term: per call the transport's per-byte work or, on the shaped links of an
   * emulated network, the link time where that is longer (they overlap).
   */
  bandwidthS: number;
  /** The time on the shaped links of an emulated network (profile `collectives.link`), in s. */
  linkS: number;
  /** The data-parallel gradient all-reduce (replicas > 1; 0 without), in s. */
  dataParallelS: number;
  /** computeS + the collectives. */
  stepS: number;
  /** Achieved fraction of peak FLOPs during compute (u). */
  utilisation: number;
  /** Energy per step over every charged device and node, in J; null without power figures. */
  energyJ: number | null;
  /** Peak tensor memory per rank, in bytes, and whether it fits the device. */
  memoryBytes: number;
  fitsMemory: boolean;
  /** Nodes used, devices charged for power (whole power domains). */
  nodes: number;
  devicesCharged: number;
  /** Ranks per device where they share one (1 on a cluster). */
  sharing: number;
}

/**
 * The profile's efficiency at a product size, interpolated linearly on log FLOPs, flat beyond the
 * table's ends.
 *
 * @param profile The machine.
 * @param flops FLOPs of one product.
 * @returns The fraction of peak.
 */
export function efficiencyAt(profile: HardwareProfile, flops: number): number {
  const t = profile.compute.efficiency;
  if (flops <= t[0][0]) return t[0][1];
  if (flops >= t[t.length - 1][0]) return t[t.length - 1][1];
  const i = t.findIndex(([f]) => f >= flops);
  const [[f0, e0], [f1, e1]] = [t[i - 1], t[i]];
  const x = (Math.log(flops) - Math.log(f0)) / (Math.log(f1) - Math.log(f0));
  return e0 + x * (e1 - e0);
}

/**
 * Projects one step.
 *
 * @param config The configuration.
 * @param profile The machine.
 * @param bytesPerElement Wire bytes per element. @default 4
 * @returns The projection.
 */
export function projectStep(
  config: TrainConfig,
  profile: HardwareProfile,
  bytesPerElement = 4,
): StepProjection {
  const p = config.ranks;
  const world = worldSize(config);
  const inference = config.workload === "inference";
  const peak = profile.compute.peakFlops[profile.compute.precision];
  const capacity = profile.maxNodes === null ? Infinity : profile.devicesPerNode * profile.maxNodes;
  const sharing = Math.max(1, world / capacity);
  let flopsTotal = 0;
  let productS = 0;
  for (const s of matmulShapes(config)) {
    if (inference && !s.name.includes(".fwd")) continue;
    const flops = 2 * s.rows * s.inner * s.cols;
    flopsTotal += flops * s.count;
    productS += (s.count * flops) / (peak * efficiencyAt(profile, flops));
  }
  const params = predictCosts(config).parametersPerRank;
  const updateS = inference
    ? 0
    : (params * profile.compute.updateBytesPerParameter) / profile.compute.hbmBytesPerS;
  const computeS = (productS + updateS + (profile.compute.stepOverheadS ?? 0)) * sharing;
  let hostS = 0, latencyS = 0, bandwidthS = 0;
  // On a shared host connections do their message work in turn, and ranks their own.
  const nats = profile.collectives.algorithm === "nats";
  const perConnection = nats ? Math.max(1, natsConnections(profile, p) / capacity) : 1;
  const perRank = nats ? sharing : 1;
  let linkS = 0;
  const link = profile.collectives.link;
  for (const call of stepCollectives(config, { bytesPerElement, workload: config.workload })) {
    const t = collectiveTime(profile, call.op, p, call.bytes);
    hostS += call.count * (t.hostS + t.assemblyS) * perRank;
    latencyS += call.count * t.latencyS * perConnection;
    // On shaped links the transport's per-byte work goes on while the bytes cross the link:
    // the slower of the two bounds the call.
    const bytesS = call.count * t.bandwidthS * perConnection;
    const onLink = link ? linkTime(link, call, p) : 0;
    linkS += onLink;
    bandwidthS += Math.max(bytesS, onLink);
  }
  const dataParallelS = (config.replicas ?? 1) > 1 && !inference
    ? dataParallelTime(profile, config, bytesPerElement) * (nats ? sharing : 1)
    : 0;
  const stepS = computeS + hostS + latencyS + bandwidthS + dataParallelS;
  const utilisation = productS > 0 ? Math.min(1, flopsTotal / (peak * productS)) : 0;
  const nodes = Math.ceil(Math.min(world, capacity) / profile.devicesPerNode);
  const busyDevices = Math.min(world, capacity);
  const domain = profile.devicesPerPowerDomain;
  const devicesCharged = Math.ceil(busyDevices / domain) * domain;
  const pw = profile.power;
  const energyJ = pw
    // Where ranks share devices, every device is busy for the whole (stretched) compute time.
    ? devicesCharged * (
          (pw.idleW + utilisation * (pw.busyW - pw.idleW)) * computeS +
          (pw.idleW + pw.waitFraction * (pw.busyW - pw.idleW)) *
            (hostS + latencyS + bandwidthS + dataParallelS)
        ) + nodes * pw.nodeStaticW * stepS
    : null;
  const memoryBytes = predictMemory(config, config.optimizer, config.workload).peakBytes;
  return {
    computeS,
    hostS,
    latencyS,
    bandwidthS,
    linkS,
    dataParallelS,
    stepS,
    utilisation,
    energyJ,
    memoryBytes,
    fitsMemory: memoryBytes <= profile.compute.memoryBytes,
    nodes,
    devicesCharged,
    sharing,
  };
}

/**
 * The data-parallel all-reduce of one step: rank 0's gradients and loss (S bytes) over its d
 * replicas. nats: the suite's transport (each rank publishes S, receives (d - 1) S). ring and
 * hierarchical: a ring, 2 (d - 1) steps and 2 (d - 1)/d S each way; on the intra tier when all
 * G ranks fit one node, else across nodes at the NIC rate shared by the model ranks a node holds
 * (mp-inner: min(p, devices per node) rings cross each node's NIC at once).
 *
 * @param profile The machine.
 * @param config The configuration (replicas > 1).
 * @param bytesPerElement Wire bytes per element.
 * @returns Seconds per step.
 */
export function dataParallelTime(
  profile: HardwareProfile,
  config: TrainConfig,
  bytesPerElement = 4,
): number {
  const d = config.replicas ?? 1;
  if (d <= 1) return 0;
  const bytes = predictDataParallel(config, d, bytesPerElement).nats.sentBytes;
  const c = profile.collectives;
  if (c.algorithm === "nats") {
    const t = collectiveTime(profile, "allReduce", d, bytes);
    return t.hostS + t.assemblyS + t.latencyS + t.bandwidthS;
  }
  const steps = 2 * (d - 1);
  const volume = (2 * (d - 1) / d) * bytes;
  if (worldSize(config) <= profile.devicesPerNode) {
    return c.hostS + steps * c.intra.alphaS + volume / c.intra.busBytesPerS;
  }
  const rings = Math.min(config.ranks, profile.devicesPerNode);
  const nic = (c.inter.efficiency * c.inter.nicBytesPerSPerNode) / rings;
  return c.hostS + steps * c.inter.alphaS + volume / Math.min(c.intra.busBytesPerS, nic);
}
