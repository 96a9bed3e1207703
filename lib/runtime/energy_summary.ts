/**
 * Energy of a run from per-step windows: joules per timed step (and per phase: forward;
 * backward with the update), energy above the idle baseline, average power, and how many windows
 * were too short for the hardware's update rate. Numbers from a model say `modelled`; without
 * telemetry they are null and the method `unavailable`.
 *
 * @module
 */

import { weakestMethod } from "../power/energy_method.ts";
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
 * @returns The run's energy figures.
 * @throws {RangeError} If there are no windows.
 */
export function summarizeEnergy(windows: readonly StepWindows[]): EnergyResult {
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
  };
}
