/**
 * Energy of a run from per-step windows: joules per timed step (and per phase: forward;
 * backward with the update), energy above the idle baseline, average power, and how many windows
 * were too short for the hardware's update rate. Numbers from a model say `modelled`; without
 * telemetry they are null and the method `unavailable`.
 *
 * @module
 */

import { weakestMethod } from "../results/energy_method.ts";
import type { EnergyMeasurement } from "../power/energy_monitor.ts";
import type { EnergyResult } from "../results/results.ts";
import { distribution } from "../results/stats.ts";

/** Windows of one step. */
export interface StepWindows {
  /** The whole step. */
  step: EnergyMeasurement;
  /** From the step's start to the loss. */
  forward: EnergyMeasurement;
  /** From the loss to the end of the update. */
  backward: EnergyMeasurement;
}

/**
 * @param windows One entry per timed step.
 * @param unavailableReason Why a source gave no energy (recorded with the result).
 * @returns The run's energy figures.
 * @throws {RangeError} If there are no windows.
 */
export function summarizeEnergy(
  windows: readonly StepWindows[],
  unavailableReason?: string,
): EnergyResult {
  if (windows.length === 0) throw new RangeError("Cannot summarise energy: no step windows");
  const all = windows.flatMap((w) => [w.step, w.forward, w.backward]);
  const method = weakestMethod(all.map((w) => w.method));
  const available = method !== "unavailable";
  const joules = (ws: EnergyMeasurement[]) => ws.map((w) => w.totalJ ?? NaN);
  const steps = windows.map((w) => w.step);
  const above = steps.map((w) => w.aboveIdleJ);
  const durationS = steps.reduce((s, w) => s + w.durationMs, 0) / 1000;
  return {
    method,
    backend: steps[0].backend,
    joulesPerStep: available ? distribution(joules(steps)) : null,
    aboveIdleJoulesPerStep: available && above.every((a) => a !== null)
      ? distribution(above as number[])
      : null,
    perPhase: available
      ? {
        forward: distribution(joules(windows.map((w) => w.forward))),
        backward: distribution(joules(windows.map((w) => w.backward))),
      }
      : null,
    averageW: available ? joules(steps).reduce((s, j) => s + j, 0) / durationS : null,
    shortWindows: steps.filter((w) => w.shortWindow).length,
    ...(unavailableReason ? { unavailableReason } : {}),
    ...(available ? breakdown(steps) : {}),
  };
}

/**
 * Median joules per step of every device and (where names say `node:device`) of every node.
 */
function breakdown(steps: EnergyMeasurement[]): Pick<EnergyResult, "devices" | "nodes"> {
  const names = steps[0].devices.map((d) => d.name);
  if (names.length === 0) return {};
  const median = (xs: number[]) => distribution(xs).median;
  const devices = names.map((name, i) => {
    const js = steps.map((s) => s.devices[i]?.joules ?? null);
    return {
      name,
      joulesPerStep: js.some((j) => j === null) ? null : median(js as number[]),
    };
  });
  const nodeOf = (name: string) => (name.includes(":") ? name.slice(0, name.indexOf(":")) : null);
  const nodeNames = [...new Set(names.map(nodeOf))];
  if (nodeNames.some((n) => n === null)) return { devices };
  const nodes = (nodeNames as string[]).map((node) => {
    const perStep = steps.map((s) =>
      s.devices.filter((d) => nodeOf(d.name) === node).reduce<number | null>(
        (sum, d) => (sum === null || d.joules === null ? null : sum + d.joules),
        0,
      )
    );
    return {
      node,
      joulesPerStep: perStep.some((j) => j === null) ? null : median(perStep as number[]),
    };
  });
  return { devices, nodes };
}
