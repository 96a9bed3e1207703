/**
 * The power flags shared by `deno task bench` and the node agents it starts on a Slurm job:
 * backend, sampling period and a declared power model for hosts without telemetry.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import type { PowerModel } from "../power/energy_monitor.ts";
import { POWER_BACKENDS } from "../power/open_sampler.ts";
import { flag } from "./flags.ts";

/**
 * Parses --power-model IDLE,CORE.
 *
 * @param text The value.
 * @param name The flag, for the error.
 * @returns The model.
 * @throws {ConfigError} Unless two non-negative numbers.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePowerModel } from "./power_flags.ts";
 * assert.deepEqual(parsePowerModel("50,10", "--power-model"), { idleW: 50, wattsPerBusyCore: 10 });
 * ```
 */
export function parsePowerModel(text: string, name: string): PowerModel {
  const parts = text.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((v) => !Number.isFinite(v) || v < 0) || text.trim() === "") {
    throw new ConfigError(
      name,
      text,
      "must be IDLE_W,WATTS_PER_BUSY_CORE (two non-negative numbers)",
    );
  }
  return { idleW: parts[0], wattsPerBusyCore: parts[1] };
}

/**
 * The power flags.
 *
 * @param group The help group they are listed in.
 * @returns --power, --power-model, --power-period.
 */
export function powerFlags(group?: string) {
  return {
    power: flag.oneOf(POWER_BACKENDS)({ group, default: "auto", help: "power telemetry backend" }),
    "power-model": flag.custom(parsePowerModel, "IDLE,CORE")({
      group,
      help: "with no telemetry: model energy as IDLE watts plus CORE watts per busy CPU core " +
        '(results say "modelled")',
    }),
    "power-period": flag.int({ group, arg: "MS", default: 100, help: "power sampling period" }),
  };
}

/**
 * The power flags as arguments again (to pass them on to the node agents).
 *
 * @param values Parsed values.
 * @returns The arguments.
 */
export function powerArgs(
  values: { power: string; "power-period": number; "power-model"?: PowerModel },
): string[] {
  const model = values["power-model"];
  return [
    "--power",
    values.power,
    "--power-period",
    String(values["power-period"]),
    ...(model ? ["--power-model", `${model.idleW},${model.wattsPerBusyCore}`] : []),
  ];
}
