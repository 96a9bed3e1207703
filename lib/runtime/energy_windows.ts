/**
 * Where the runner gets the energy of its step windows: this host's monitor (local runs), or the
 * samplers of every node of a Slurm job (lib/runtime/node_cluster.ts), summed over all their
 * devices. Windows are given on the shared wall clock (ms since the epoch), which is what rank 0
 * stamps its steps with and what every node agrees on. A sum over nodes is only reported when
 * every node answered: one node missing makes the windows `unavailable`, with the reason, never a
 * partial total.
 *
 * @module
 */

import { weakestMethod } from "../results/energy_method.ts";
import type { EnergyMeasurement, EnergyMonitor, PowerModel } from "../power/energy_monitor.ts";
import type { PowerDevice } from "../power/power_sampler.ts";

/** One window to measure. */
export interface WindowRequest {
  /** Name (for the measurement). */
  name: string;
  /** Start, in ms since the epoch. */
  startEpochMs: number;
  /** End, in ms since the epoch. */
  endEpochMs: number;
  /** CPU time the ranks spent in it, per node index (for a declared power model). */
  cpuMsByNode: number[];
}

/** The power setup of one host, for the results file. */
export interface PowerDescription {
  backend: string;
  devices: readonly PowerDevice[];
  selection: string[];
  notes: readonly string[];
  periodMs: number;
  idleW: readonly number[] | null;
  model: PowerModel | null;
  /** Per node, where energy comes from several nodes (then the fields above describe node 0). */
  nodes?: (Omit<PowerDescription, "nodes"> & { node: string })[];
}

/** Measured windows. */
export interface WindowEnergy {
  /** One measurement per window, in the order asked; device names carry `node:` where there are several nodes. */
  measurements: EnergyMeasurement[];
  /** Why the energy is unavailable, where a source failed (the measurements then say so). */
  unavailableReason?: string;
}

/** A source of window energies. */
export interface EnergyWindows {
  /**
   * Measures windows.
   *
   * @param windows The windows.
   * @returns Their measurements.
   */
  measure(windows: WindowRequest[]): Promise<WindowEnergy>;
  /** @returns The power setup, for the results. */
  describe(): PowerDescription;
}

/**
 * Measures windows given on the epoch clock with a monitor on this process's performance clock.
 *
 * @param monitor The monitor.
 * @param windows The windows, each with the CPU time of the ranks on this host.
 * @returns The measurements, in order.
 */
export async function measureEpochWindows(
  monitor: EnergyMonitor,
  windows: { name: string; startEpochMs: number; endEpochMs: number; cpuMs: number }[],
): Promise<EnergyMeasurement[]> {
  await monitor.sampleNow();
  const toPerf = (epochMs: number) => epochMs - performance.timeOrigin;
  return await Promise.all(
    windows.map((w) =>
      monitor.measureWindow(w.name, toPerf(w.startEpochMs), toPerf(w.endEpochMs), w.cpuMs)
    ),
  );
}

/**
 * Describes a monitor's setup.
 *
 * @param monitor The monitor.
 * @param selection Why its backend was chosen.
 * @param model The declared power model, if any.
 * @returns The description.
 */
export function describeMonitor(
  monitor: EnergyMonitor,
  selection: string[],
  model: PowerModel | null,
): PowerDescription {
  return {
    backend: monitor.sampler.backend,
    devices: monitor.sampler.devices,
    selection,
    notes: monitor.sampler.notes,
    periodMs: monitor.periodMs,
    idleW: monitor.idleW() ?? null,
    model,
  };
}

/**
 * This host's monitor as an energy source.
 *
 * @param monitor The monitor (its clock is this process's performance clock).
 * @param selection Why its backend was chosen.
 * @param model The declared power model, if any.
 * @returns The source.
 */
export function localEnergyWindows(
  monitor: EnergyMonitor,
  selection: string[],
  model: PowerModel | null,
): EnergyWindows {
  return {
    measure: async (windows) => ({
      measurements: await measureEpochWindows(
        monitor,
        windows.map((w) => ({ ...w, cpuMs: w.cpuMsByNode.reduce((a, b) => a + b, 0) })),
      ),
    }),
    describe: () => describeMonitor(monitor, selection, model),
  };
}

/**
 * Sums one window's measurements over nodes: totals, idle and above-idle energy add up (null if
 * any node's is null), the method is the weakest, devices are kept with `node:` before their
 * names, and the peak power is the sum of the nodes' peaks (an upper bound: they need not
 * coincide).
 *
 * @param name The window.
 * @param window Its ends on the epoch clock.
 * @param byNode One measurement per node, with the node's name.
 * @returns The sum.
 * @throws {RangeError} Without nodes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sumOverNodes } from "./energy_windows.ts";
 * const m = (j: number) => ({
 *   name: "w", backend: "rapl", method: "counter" as const, startMs: 0, endMs: 1000,
 *   durationMs: 1000, devices: [{ name: "package-0", joules: j, method: "counter" as const }],
 *   totalJ: j, idleJ: null, aboveIdleJ: null, averageW: j, peakW: j, sampleCount: 10,
 *   shortWindow: false,
 * });
 * const sum = sumOverNodes("w", { startEpochMs: 0, endEpochMs: 1000 }, [
 *   { node: "n1", measurement: m(5) }, { node: "n2", measurement: m(7) },
 * ]);
 * assert.equal(sum.totalJ, 12);
 * assert.deepEqual(sum.devices.map((d) => d.name), ["n1:package-0", "n2:package-0"]);
 * ```
 */
export function sumOverNodes(
  name: string,
  window: { startEpochMs: number; endEpochMs: number },
  byNode: { node: string; measurement: EnergyMeasurement }[],
): EnergyMeasurement {
  if (byNode.length === 0) throw new RangeError(`Cannot sum window "${name}": no nodes`);
  const sum = (pick: (m: EnergyMeasurement) => number | null) => {
    const values = byNode.map((n) => pick(n.measurement));
    return values.some((v) => v === null) ? null : (values as number[]).reduce((a, b) => a + b, 0);
  };
  const durationMs = window.endEpochMs - window.startEpochMs;
  const totalJ = sum((m) => m.totalJ);
  const backends = [...new Set(byNode.map((n) => n.measurement.backend))];
  return {
    name,
    backend: backends.join("+"),
    method: weakestMethod(byNode.map((n) => n.measurement.method)),
    startMs: window.startEpochMs,
    endMs: window.endEpochMs,
    durationMs,
    // A node without device telemetry (a declared model) counts as one device: its host.
    devices: byNode.flatMap((n) =>
      n.measurement.devices.length === 0 && n.measurement.totalJ !== null
        ? [{ name: `${n.node}:host`, joules: n.measurement.totalJ, method: n.measurement.method }]
        : n.measurement.devices.map((d) => ({ ...d, name: `${n.node}:${d.name}` }))
    ),
    totalJ,
    idleJ: sum((m) => m.idleJ),
    aboveIdleJ: sum((m) => m.aboveIdleJ),
    averageW: totalJ === null || durationMs <= 0 ? null : totalJ / (durationMs / 1000),
    peakW: sum((m) => m.peakW),
    sampleCount: Math.min(...byNode.map((n) => n.measurement.sampleCount)),
    shortWindow: byNode.some((n) => n.measurement.shortWindow),
  };
}

/**
 * Windows with no energy, for a source that failed.
 *
 * @param windows The windows asked for.
 * @param backend The backend to name.
 * @param reason Why.
 * @returns Unavailable measurements and the reason.
 */
export function unavailableWindows(
  windows: WindowRequest[],
  backend: string,
  reason: string,
): WindowEnergy {
  return {
    unavailableReason: reason,
    measurements: windows.map((w) => ({
      name: w.name,
      backend,
      method: "unavailable",
      startMs: w.startEpochMs,
      endMs: w.endEpochMs,
      durationMs: w.endEpochMs - w.startEpochMs,
      devices: [],
      totalJ: null,
      idleJ: null,
      aboveIdleJ: null,
      averageW: null,
      peakW: null,
      sampleCount: 0,
      shortWindow: false,
    })),
  };
}
