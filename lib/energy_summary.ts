/**
 * Reduces per-step energy windows to what a result records: energy per step (median and spread
 * over the timed steps), its method, energy above the idle baseline, and how many windows were
 * too short for the hardware's update rate. Numbers from a model say `modelled`; without
 * telemetry the figures are null and the method `unavailable`.
 *
 * @module
 */

import type { EnergyMeasurement, EnergyMethod } from "./power/energy_monitor.ts";
import { type Distribution, distribution } from "./stats.ts";

/** Energy figures of one run. */
export interface EnergyMetrics {
  /** How the joules were obtained (the weakest over the windows). */
  method: EnergyMethod;
  /** Power backend. */
  backend: string;
  /** Energy per timed step, in J; null when unavailable. */
  joulesPerStep: Distribution | null;
  /** Energy above the idle baseline per timed step, in J; null without a baseline. */
  aboveIdleJoulesPerStep: Distribution | null;
  /** Average power over the timed steps, in W; null when unavailable. */
  averageW: number | null;
  /** Windows shorter than 10 hardware updates (their joules are interpolated: treat with care). */
  shortWindows: number;
}

const ORDER: EnergyMethod[] = ["counter", "integrated", "modelled", "unavailable"];

/**
 * @param windows One measurement per timed step.
 * @returns The run's energy figures.
 * @throws {RangeError} If there are no windows.
 */
export function summarizeEnergy(windows: readonly EnergyMeasurement[]): EnergyMetrics {
  if (windows.length === 0) throw new RangeError("Cannot summarise energy: no step windows");
  const method = windows.map((w) => w.method).reduce((a, b) =>
    ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a
  );
  const available = method !== "unavailable";
  const joules = windows.map((w) => w.totalJ ?? NaN);
  const above = windows.map((w) => w.aboveIdleJ);
  const durationS = windows.reduce((s, w) => s + w.durationMs, 0) / 1000;
  return {
    method,
    backend: windows[0].backend,
    joulesPerStep: available ? distribution(joules) : null,
    aboveIdleJoulesPerStep: available && above.every((a) => a !== null)
      ? distribution(above as number[])
      : null,
    averageW: available ? joules.reduce((s, j) => s + j, 0) / durationS : null,
    shortWindows: windows.filter((w) => w.shortWindow).length,
  };
}
