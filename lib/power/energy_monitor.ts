/**
 * Energy in named windows. An {@linkcode EnergyMonitor} samples a {@linkcode PowerSampler} in the
 * background at a fixed period and measures windows opened with `begin(name)` and closed with
 * `end(name)`; windows may nest and overlap. Opening and closing a window only stamps the clock
 * (no telemetry call in the hot loop); the measurement is computed from the samples around the
 * window's ends, once a sample after its end has arrived.
 *
 * Rules: a hardware energy counter gives the totals where there is one (interpolated between the
 * samples that bracket each end); otherwise power samples are integrated (trapezoid). Windows
 * shorter than 10 hardware update periods are flagged. An idle baseline, once measured, is
 * reported beside every total. With no devices, a power model (idle watts plus watts per busy
 * core, applied to this process's CPU time) gives `modelled` energy, labelled so; without one,
 * energy is `unavailable`.
 *
 * @module
 */

import { processCpuMs } from "../system/process.ts";
import { type EnergyMethod, weakestMethod } from "../results/energy_method.ts";
import type { DeviceReading, PowerSampler } from "./power_sampler.ts";
import { TelemetryError } from "./power_sampler.ts";

/** A declared model of a host without telemetry. */
export interface PowerModel {
  /** Power of the idle host, in W. */
  idleW: number;
  /** Extra power per fully busy CPU core, in W. */
  wattsPerBusyCore: number;
}

/** Energy of one device in a window. */
export interface DeviceEnergy {
  /** Device name. */
  readonly name: string;
  /** Energy in J; null when unavailable. */
  readonly joules: number | null;
  /** How it was obtained. */
  readonly method: EnergyMethod;
}

/** An immutable energy measurement of one window. */
export interface EnergyMeasurement {
  /** Window name. */
  readonly name: string;
  /** Sampler backend. */
  readonly backend: string;
  /** How the total was obtained (the weakest method over devices). */
  readonly method: EnergyMethod;
  /** Window start on the monitor's clock, in ms. */
  readonly startMs: number;
  /** Window end, in ms. */
  readonly endMs: number;
  /** endMs - startMs. */
  readonly durationMs: number;
  /** Per device. */
  readonly devices: readonly DeviceEnergy[];
  /** Total over devices, in J; null when unavailable. */
  readonly totalJ: number | null;
  /** Idle baseline power times duration, in J; null without a baseline. */
  readonly idleJ: number | null;
  /** totalJ - idleJ; null without a baseline. */
  readonly aboveIdleJ: number | null;
  /** totalJ over the duration, in W. */
  readonly averageW: number | null;
  /** Highest total power among the samples in the window, in W. */
  readonly peakW: number | null;
  /** Samples taken inside the window. */
  readonly sampleCount: number;
  /** True when the window spans fewer than 10 hardware update periods: treat with care. */
  readonly shortWindow: boolean;
}

/** One background sample. */
export interface PowerSample {
  /** Time on the monitor's clock (midpoint of the read), in ms. */
  readonly timeMs: number;
  /** Readings per device. */
  readonly readings: readonly DeviceReading[];
}

/** Options of {@linkcode EnergyMonitor.start}. */
export interface EnergyMonitorOptions {
  /** Sampling period, in ms. @default 100 */
  periodMs?: number;
  /** Clock in ms. @default performance.now */
  now?: () => number;
  /** Model used when the sampler has no devices. */
  powerModel?: PowerModel;
  /** This process's CPU time (user + system) in ms, for the power model. @default processCpuMs */
  cpuTimeMs?: () => number;
}

interface Waiter {
  afterMs: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Windows shorter than this many hardware update periods are flagged. */
export const SHORT_WINDOW_UPDATES = 10;

/**
 * Samples in the background and measures windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EnergyMonitor } from "./energy_monitor.ts";
 * import { NoneSampler } from "./none_sampler.ts";
 * await using monitor = await EnergyMonitor.start(new NoneSampler(), {
 *   periodMs: 10,
 *   powerModel: { idleW: 50, wattsPerBusyCore: 10 },
 * });
 * monitor.begin("step");
 * const m = await monitor.end("step");
 * assert(m.method === "modelled" && m.totalJ !== null);
 * ```
 */
export class EnergyMonitor implements AsyncDisposable {
  readonly sampler: PowerSampler;
  readonly periodMs: number;
  #now: () => number;
  #cpuTimeMs: () => number;
  #model: PowerModel | undefined;
  #samples: PowerSample[] = [];
  #open = new Map<string, { startMs: number; cpuStartMs: number }>();
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reading: Promise<void> | undefined;
  #idleW: number[] | undefined;
  #closed = false;
  #lastError: Error | undefined;

  private constructor(sampler: PowerSampler, options: EnergyMonitorOptions) {
    this.sampler = sampler;
    this.periodMs = options.periodMs ?? 100;
    if (!(this.periodMs > 0)) {
      throw new RangeError(`Cannot start energy monitor: periodMs (${this.periodMs}) must be > 0`);
    }
    this.#now = options.now ?? (() => performance.now());
    this.#cpuTimeMs = options.cpuTimeMs ?? processCpuMs;
    this.#model = options.powerModel;
  }

  /**
   * Takes a first sample and starts sampling in the background.
   *
   * @param sampler The telemetry backend (closed by {@linkcode EnergyMonitor.close}).
   * @param options Period, clock, power model.
   * @returns The running monitor.
   * @throws {TelemetryError} If the first read fails.
   */
  static async start(
    sampler: PowerSampler,
    options: EnergyMonitorOptions = {},
  ): Promise<EnergyMonitor> {
    const monitor = new EnergyMonitor(sampler, options);
    await monitor.sampleNow();
    if (monitor.#lastError) throw monitor.#lastError;
    monitor.#schedule();
    return monitor;
  }

  /** @returns Every background sample so far (the power timeline). */
  timeline(): readonly PowerSample[] {
    return this.#samples;
  }

  /** @returns Idle power per device, once {@linkcode EnergyMonitor.measureIdle} has run. */
  idleW(): readonly number[] | undefined {
    return this.#idleW;
  }

  /**
   * Opens a window.
   *
   * @param name Window name, unique among open windows.
   * @throws {RangeError} If a window of that name is open.
   */
  begin(name: string): void {
    if (this.#open.has(name)) {
      throw new RangeError(`Cannot begin window: "${name}" is already open`);
    }
    this.#open.set(name, { startMs: this.#now(), cpuStartMs: this.#cpuTimeMs() });
  }

  /**
   * Closes a window. The returned promise resolves once a sample after the window's end has
   * arrived (at most one period later, sooner after {@linkcode EnergyMonitor.sampleNow}); the
   * caller need not wait for it in a hot loop.
   *
   * @param name An open window.
   * @returns Its measurement.
   * @throws {RangeError} If no window of that name is open.
   */
  end(name: string): Promise<EnergyMeasurement> {
    const open = this.#open.get(name);
    if (!open) throw new RangeError(`Cannot end window: "${name}" is not open`);
    this.#open.delete(name);
    const endMs = this.#now();
    const cpuMs = this.#cpuTimeMs() - open.cpuStartMs;
    return this.measureWindow(name, open.startMs, endMs, cpuMs);
  }

  /**
   * Measures a window given after the fact by its ends on this monitor's clock (e.g. a step
   * timed in another process, converted from the shared wall clock).
   *
   * @param name Window name.
   * @param startMs Start, in ms on the monitor's clock.
   * @param endMs End, in ms.
   * @param cpuMs CPU time spent in the window, for the power model. @default 0
   * @returns Its measurement, once a sample after `endMs` has arrived.
   */
  measureWindow(
    name: string,
    startMs: number,
    endMs: number,
    cpuMs = 0,
  ): Promise<EnergyMeasurement> {
    return this.#sampleAfter(endMs).then(() => this.#measure(name, startMs, endMs, cpuMs));
  }

  /**
   * Measures the idle baseline: a window of `durationMs` in which the caller runs nothing.
   * Later measurements report idle energy and energy above idle.
   *
   * @param durationMs Length of the idle window. @default 1000
   * @returns The idle window's measurement.
   */
  async measureIdle(durationMs = 1000): Promise<EnergyMeasurement> {
    this.begin("idle");
    await new Promise((r) => setTimeout(r, durationMs));
    const m = await this.end("idle");
    const seconds = m.durationMs / 1000;
    this.#idleW = m.devices.map((d) => (d.joules === null ? 0 : d.joules / seconds));
    return m;
  }

  /**
   * Takes a sample now (outside the schedule), e.g. to settle the last windows promptly.
   *
   * @returns When the sample is stored.
   */
  sampleNow(): Promise<void> {
    if (this.#reading) return this.#reading.then(() => this.#readOnce());
    return this.#readOnce();
  }

  /** Stops sampling and closes the sampler. Pending windows reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#reading;
    const error = new TelemetryError(
      this.sampler.backend,
      "energy monitor closed before the window ended",
    );
    for (const w of this.#waiters.splice(0)) w.reject(error);
    await this.sampler.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #schedule(dueMs = this.#now() + this.periodMs): void {
    if (this.#closed) return;
    // Aim at fixed due times so read durations and timer lateness do not stretch the period.
    this.#timer = setTimeout(async () => {
      await this.sampleNow();
      const next = dueMs + this.periodMs;
      this.#schedule(Math.max(next, this.#now()));
    }, Math.max(0, dueMs - this.#now()));
    this.#refTimer();
  }

  /** The timer keeps the process alive only while a window waits for a sample. */
  #refTimer(): void {
    if (this.#timer === undefined) return;
    if (this.#waiters.length > 0) Deno.refTimer(this.#timer);
    else Deno.unrefTimer(this.#timer);
  }

  #readOnce(): Promise<void> {
    const run = async () => {
      const before = this.#now();
      try {
        const readings = await this.sampler.read();
        const timeMs = (before + this.#now()) / 2;
        this.#samples.push({ timeMs, readings });
        this.#lastError = undefined;
        const ready = this.#waiters.filter((w) => w.afterMs <= timeMs);
        this.#waiters = this.#waiters.filter((w) => w.afterMs > timeMs);
        for (const w of ready) w.resolve();
      } catch (error) {
        this.#lastError = error instanceof Error ? error : new Error(String(error));
        for (const w of this.#waiters.splice(0)) w.reject(this.#lastError);
      }
    };
    const reading = run().finally(() => {
      if (this.#reading === reading) this.#reading = undefined;
    });
    this.#reading = reading;
    return reading;
  }

  #sampleAfter(timeMs: number): Promise<void> {
    const last = this.#samples.at(-1);
    if (last && last.timeMs >= timeMs) return Promise.resolve();
    if (this.#closed) {
      return Promise.reject(new TelemetryError(this.sampler.backend, "energy monitor is closed"));
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ afterMs: timeMs, resolve, reject });
      this.#refTimer();
    });
  }

  #measure(name: string, startMs: number, endMs: number, cpuMs: number): EnergyMeasurement {
    const durationMs = endMs - startMs;
    const seconds = durationMs / 1000;
    const inside = this.#samples.slice(
      firstAtOrAfter(this.#samples, startMs),
      firstAtOrAfter(this.#samples, endMs, true),
    );
    const devices = this.sampler.devices.map((device, d) => {
      const energy = this.#counterEnergy(d, startMs, endMs);
      if (device.energyCounter && energy !== null) {
        return { name: device.name, joules: energy, method: "counter" as const };
      }
      const integrated = this.#integratedEnergy(d, startMs, endMs);
      return integrated === null
        ? { name: device.name, joules: null, method: "unavailable" as const }
        : { name: device.name, joules: integrated, method: "integrated" as const };
    });
    let method: EnergyMethod;
    let totalJ: number | null;
    if (devices.length === 0) {
      method = this.#model ? "modelled" : "unavailable";
      totalJ = this.#model
        ? this.#model.idleW * seconds + this.#model.wattsPerBusyCore * (cpuMs / 1000)
        : null;
    } else {
      method = weakestMethod(devices.map((d) => d.method));
      totalJ = method === "unavailable" ? null : devices.reduce((s, d) => s + (d.joules ?? 0), 0);
    }
    const idleJ = this.#idleW && totalJ !== null
      ? this.#idleW.reduce((s, w) => s + w, 0) * seconds
      : null;
    const powers = inside.map(totalPower).filter((p): p is number => p !== null);
    return Object.freeze({
      name,
      backend: this.sampler.backend,
      method,
      startMs,
      endMs,
      durationMs,
      devices: Object.freeze(devices.map((d) => Object.freeze(d))),
      totalJ,
      idleJ,
      aboveIdleJ: idleJ === null || totalJ === null ? null : totalJ - idleJ,
      averageW: totalJ === null || seconds <= 0 ? null : totalJ / seconds,
      peakW: powers.length ? Math.max(...powers) : null,
      sampleCount: inside.length,
      shortWindow: durationMs < SHORT_WINDOW_UPDATES * this.sampler.updatePeriodMs,
    });
  }

  #counterEnergy(d: number, t0: number, t1: number): number | null {
    const at = (t: number) => interpolate(this.#samples, t, (s) => s.readings[d]?.energyJ ?? null);
    const [e0, e1] = [at(t0), at(t1)];
    return e0 === null || e1 === null ? null : e1 - e0;
  }

  #integratedEnergy(d: number, t0: number, t1: number): number | null {
    const get = (s: PowerSample) => s.readings[d]?.powerW ?? null;
    const p0 = interpolate(this.#samples, t0, get);
    const p1 = interpolate(this.#samples, t1, get);
    if (p0 === null || p1 === null) return null;
    const points: [number, number][] = [[t0, p0]];
    const last = firstAtOrAfter(this.#samples, t1);
    for (let i = firstAtOrAfter(this.#samples, t0, true); i < last; i++) {
      const p = get(this.#samples[i]);
      if (p !== null) points.push([this.#samples[i].timeMs, p]);
    }
    points.push([t1, p1]);
    let joules = 0;
    for (let i = 1; i < points.length; i++) {
      joules += ((points[i][1] + points[i - 1][1]) / 2) *
        ((points[i][0] - points[i - 1][0]) / 1000);
    }
    return joules;
  }
}

function totalPower(s: PowerSample): number | null {
  let sum = 0;
  for (const r of s.readings) {
    if (r.powerW === null) return null;
    sum += r.powerW;
  }
  return s.readings.length ? sum : null;
}

/**
 * Index of the first sample at or after t (strictly after when `strict`); samples are in time
 * order.
 */
function firstAtOrAfter(samples: readonly PowerSample[], t: number, strict = false): number {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const before = strict ? samples[mid].timeMs <= t : samples[mid].timeMs < t;
    if (before) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Linear interpolation of a sampled quantity at time t, from the nearest samples on either side
 * that have it; the nearest value outside the sampled range.
 */
function interpolate(
  samples: readonly PowerSample[],
  t: number,
  get: (s: PowerSample) => number | null,
): number | null {
  const split = firstAtOrAfter(samples, t, true);
  let before: [number, number] | undefined;
  let after: [number, number] | undefined;
  for (let i = split - 1; i >= 0 && !before; i--) {
    const v = get(samples[i]);
    if (v !== null) before = [samples[i].timeMs, v];
  }
  for (let i = split; i < samples.length && !after; i++) {
    const v = get(samples[i]);
    if (v !== null) after = [samples[i].timeMs, v];
  }
  if (!before) return after ? after[1] : null;
  if (!after || after[0] === before[0]) return before[1];
  return before[1] + ((after[1] - before[1]) * (t - before[0])) / (after[0] - before[0]);
}
