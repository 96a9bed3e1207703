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
 * @module
 */

import type { TrainConfig } from "../config/config.ts";
import { matmulShapes, predictCosts, predictMemory } from "../config/cost_model.ts";
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
  const inference = config.workload === "inference";
  const peak = profile.compute.peakFlops[profile.compute.precision];
  const capacity = profile.maxNodes === null ? Infinity : profile.devicesPerNode * profile.maxNodes;
  const sharing = Math.max(1, p / capacity);
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
  const stepS = computeS + hostS + latencyS + bandwidthS;
  const utilisation = productS > 0 ? Math.min(1, flopsTotal / (peak * productS)) : 0;
  const nodes = Math.ceil(Math.min(p, capacity) / profile.devicesPerNode);
  const busyDevices = Math.min(p, capacity);
  const domain = profile.devicesPerPowerDomain;
  const devicesCharged = Math.ceil(busyDevices / domain) * domain;
  const pw = profile.power;
  const energyJ = pw
    // Where ranks share devices, every device is busy for the whole (stretched) compute time.
    ? devicesCharged * (
          (pw.idleW + utilisation * (pw.busyW - pw.idleW)) * computeS +
          (pw.idleW + pw.waitFraction * (pw.busyW - pw.idleW)) * (hostS + latencyS + bandwidthS)
        ) + nodes * pw.nodeStaticW * stepS
    : null;
  const memoryBytes = predictMemory(config, config.optimizer, config.workload).peakBytes;
  return {
    computeS,
    hostS,
    latencyS,
    bandwidthS,
    linkS,
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
