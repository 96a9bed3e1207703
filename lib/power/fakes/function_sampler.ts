/**
 * A sampler whose readings are functions of the clock: the energy monitor's unit tests use it to
 * check window arithmetic against known integrals. Real backends are tested against fake vendor
 * libraries, tools and sysfs trees instead.
 *
 * @module
 */

import type { DeviceReading, PowerDevice, PowerSampler } from "../power_sampler.ts";

/** How one device of a {@linkcode FunctionSampler} behaves. */
export interface FunctionDevice {
  /** Device name. */
  name: string;
  /** Energy in J at time t (ms); omit for a device without a counter. */
  energyJ?: (tMs: number) => number;
  /** Power in W at time t (ms); omit for a counter-only device. */
  powerW?: (tMs: number) => number;
}

/** A sampler computing its readings from the clock. */
export class FunctionSampler implements PowerSampler {
  readonly backend = "function";
  readonly devices: readonly PowerDevice[];
  readonly updatePeriodMs: number;
  readonly notes: readonly string[] = [];
  /** Reads so far. */
  reads = 0;
  /** When set, the next read throws it. */
  failNext: Error | undefined;
  /** Whether close() ran. */
  closed = false;
  #spec: FunctionDevice[];
  #now: () => number;

  /**
   * @param devices Device behaviours.
   * @param now The clock the monitor uses too.
   * @param updatePeriodMs Claimed hardware update period. @default 100
   */
  constructor(devices: FunctionDevice[], now: () => number, updatePeriodMs = 100) {
    this.#spec = devices;
    this.#now = now;
    this.updatePeriodMs = updatePeriodMs;
    this.devices = devices.map((d, index) => ({
      index,
      name: d.name,
      kind: "gpu" as const,
      energyCounter: d.energyJ !== undefined,
    }));
  }

  read(): Promise<DeviceReading[]> {
    this.reads++;
    const error = this.failNext;
    this.failNext = undefined;
    if (error) return Promise.reject(error);
    const t = this.#now();
    return Promise.resolve(this.#spec.map((d) => ({
      energyJ: d.energyJ ? d.energyJ(t) : null,
      powerW: d.powerW ? d.powerW(t) : null,
    })));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
