/**
 * The `none` backend: a host with no telemetry (like this suite's build machines). It has no
 * devices; an {@linkcode EnergyMonitor} then reports energy as unavailable, or as `modelled` when a
 * power model is given, never as measured.
 *
 * @module
 */

import type { DeviceReading, PowerDevice, PowerSampler } from "./power_sampler.ts";

/**
 * A sampler without devices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoneSampler } from "./none_sampler.ts";
 * await using s = new NoneSampler("no GPU, no RAPL");
 * assert((await s.read()).length === 0);
 * ```
 */
export class NoneSampler implements PowerSampler {
  readonly backend = "none";
  readonly devices: readonly PowerDevice[] = [];
  readonly updatePeriodMs = 100;
  readonly notes: readonly string[];

  /** @param why Why no telemetry is available (recorded). */
  constructor(why = "no telemetry requested") {
    this.notes = [why];
  }

  read(): Promise<DeviceReading[]> {
    return Promise.resolve([]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
