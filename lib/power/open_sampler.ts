/**
 * Opens a power sampler by name, or picks the best available one (`auto`) and records why each
 * better backend was passed over.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { oneOf } from "../config/config.ts";
import { AmdSmiSampler } from "./amd_smi_sampler.ts";
import { NoneSampler } from "./none_sampler.ts";
import { NvidiaSmiSampler } from "./nvidia_smi_sampler.ts";
import { NvmlSampler } from "./nvml_sampler.ts";
import type { PowerSampler } from "./power_sampler.ts";
import { RaplSampler } from "./rapl_sampler.ts";

/** A power backend name; `auto` tries them best first. */
export type PowerBackendName =
  | "auto"
  | "nvml"
  | "nvidia-smi"
  | "amd-smi"
  | "rocm-smi"
  | "rapl"
  | "none";
/** The names, `auto` first. */
export const POWER_BACKENDS: readonly PowerBackendName[] = [
  "auto",
  "nvml",
  "nvidia-smi",
  "amd-smi",
  "rocm-smi",
  "rapl",
  "none",
];

/** Order in which `auto` tries the backends: counters before power-only, GPUs before CPUs. */
export const AUTO_ORDER: readonly Exclude<PowerBackendName, "auto" | "none">[] = [
  "nvml",
  "amd-smi",
  "rocm-smi",
  "nvidia-smi",
  "rapl",
];

/** Options of {@linkcode openPowerSampler}. */
export interface OpenPowerOptions {
  /** Device indices (e.g. a rank's own GPU). @default all */
  devices?: number[];
  /** Path or name of libnvidia-ml. */
  nvmlLibrary?: string;
  /** Executables of the tool backends, by backend name. */
  commands?: Partial<Record<"nvidia-smi" | "amd-smi" | "rocm-smi", string>>;
  /** RAPL powercap folder. */
  raplRoot?: string;
  /** AMD counter validation length, in ms. */
  validationMs?: number;
}

/** The opened sampler and how it was chosen. */
export interface PowerSelection {
  /** The sampler. */
  sampler: PowerSampler;
  /** One line per backend tried: why it was chosen or passed over. */
  reasons: string[];
}

/**
 * Opens the named backend, or with `auto` the first that works of {@linkcode AUTO_ORDER}, else
 * `none`.
 *
 * @param name A backend name.
 * @param options Devices, library and tool paths.
 * @returns The sampler and the reasons for the choice.
 * @throws {ConfigError} If the name is unknown.
 * @throws {TelemetryError} If a named (not auto) backend cannot open.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openPowerSampler } from "./open_sampler.ts";
 * const { sampler, reasons } = await openPowerSampler("none");
 * assert(sampler.backend === "none" && reasons.length === 1);
 * await sampler.close();
 * ```
 */
export async function openPowerSampler(
  name: string,
  options: OpenPowerOptions = {},
): Promise<PowerSelection> {
  const backend = oneOf("power", name, POWER_BACKENDS);
  if (backend !== "auto") {
    const sampler = await openOne(backend, options);
    return { sampler, reasons: [`${backend}: selected by name`] };
  }
  const reasons: string[] = [];
  for (const candidate of AUTO_ORDER) {
    try {
      const sampler = await openOne(candidate, options);
      reasons.push(`${candidate}: available, chosen`);
      return { sampler, reasons };
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      reasons.push(message.startsWith(`${candidate}:`) ? message : `${candidate}: ${message}`);
    }
  }
  reasons.push("none: no telemetry backend is available on this host");
  return { sampler: new NoneSampler(reasons.join("; ")), reasons };
}

function openOne(
  name: Exclude<PowerBackendName, "auto">,
  o: OpenPowerOptions,
): Promise<PowerSampler> {
  const commands = o.commands ?? {};
  switch (name) {
    case "nvml":
      return NvmlSampler.open({ library: o.nvmlLibrary, devices: o.devices });
    case "nvidia-smi":
      return NvidiaSmiSampler.open({ command: commands["nvidia-smi"], devices: o.devices });
    case "amd-smi":
    case "rocm-smi":
      return AmdSmiSampler.open({
        tool: name,
        command: commands[name],
        devices: o.devices,
        validationMs: o.validationMs,
      });
    case "rapl":
      return RaplSampler.open({ root: o.raplRoot });
    case "none":
      return Promise.resolve(new NoneSampler("selected by name"));
  }
}
