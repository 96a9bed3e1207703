/**
 * The seam between the suite and power telemetry: one {@linkcode PowerSampler} interface that
 * every backend (NVML, nvidia-smi, AMD SMI, Linux RAPL, none) implements. Backends convert vendor
 * units (mW, mJ, uJ) to watts and joules once, here at the edge, and unwrap their energy counters,
 * so the rest of the suite only sees monotonic joules since the sampler was opened.
 *
 * @module
 */

/** One measured device. */
export interface PowerDevice {
  /** The backend's device index (e.g. the NVML index). */
  index: number;
  /** Human-readable name, e.g. "NVIDIA H100 80GB HBM3" or "package-0". */
  name: string;
  /** What the device is. */
  kind: "gpu" | "cpu-package";
  /** Whether a hardware energy counter is read (else energy is integrated from power). */
  energyCounter: boolean;
}

/** One reading of one device. */
export interface DeviceReading {
  /** Energy since the sampler was opened, in J (counter unwrapped); null without a counter. */
  energyJ: number | null;
  /** Power in W; null where the backend has only an energy counter. */
  powerW: number | null;
}

/** A source of power and energy readings. */
export interface PowerSampler extends AsyncDisposable {
  /** Backend name: `nvml`, `nvidia-smi`, `amd-smi`, `rocm-smi`, `rapl`, `none`. */
  readonly backend: string;
  /** Devices, in reading order. */
  readonly devices: readonly PowerDevice[];
  /** How often the hardware refreshes its readings, in ms (windows under ~10 of these are flagged). */
  readonly updatePeriodMs: number;
  /** Notes on how the backend was set up (e.g. why a counter is not trusted). */
  readonly notes: readonly string[];
  /**
   * Reads every device once.
   *
   * @returns One reading per device, in {@linkcode PowerSampler.devices} order.
   * @throws {TelemetryError} If the backend fails.
   */
  read(): Promise<DeviceReading[]>;
  /** Releases the backend (library handles, subprocesses). Idempotent. */
  close(): Promise<void>;
}

/**
 * A telemetry failure: a missing library or tool, a vendor error code, unparseable output.
 * The message names the backend, the call and, where there is one, the vendor's code.
 */
export class TelemetryError extends Error {
  /** The backend that failed. */
  readonly backend: string;

  /**
   * @param backend The backend.
   * @param message What failed.
   * @param options The cause.
   */
  constructor(backend: string, message: string, options?: ErrorOptions) {
    super(`${backend}: ${message}`, options);
    this.name = "TelemetryError";
    this.backend = backend;
  }
}

/**
 * Turns a wrapping hardware counter into a monotonic total. The counter must be read more often
 * than it can wrap (NVML: 64 bits of mJ, never; RAPL: max_energy_range_uj, minutes at full load).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CounterUnwrapper } from "./power_sampler.ts";
 * const u = new CounterUnwrapper(100n);
 * u.update(90n);
 * assert(u.update(5n) === 15n); // wrapped once: 10 to the top, 5 after
 * ```
 */
export class CounterUnwrapper {
  #range: bigint;
  #last: bigint | undefined;
  #total = 0n;

  /** @param range Counter values run from 0 to range - 1. */
  constructor(range: bigint) {
    if (range <= 0n) throw new RangeError(`Cannot unwrap counter: range (${range}) must be > 0`);
    this.#range = range;
  }

  /**
   * @param raw The counter's current raw value.
   * @returns Units counted since the first update.
   */
  update(raw: bigint): bigint {
    if (this.#last !== undefined) {
      const delta = raw - this.#last;
      this.#total += delta >= 0n ? delta : delta + this.#range;
    }
    this.#last = raw;
    return this.#total;
  }
}
