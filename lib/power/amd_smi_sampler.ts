/**
 * AMD GPUs through `amd-smi` (ROCm 6+) or the older `rocm-smi`, reading their JSON output:
 * socket power and the accumulated energy counter. Energy counters of some AMD parts (MI250X
 * class) are known to misbehave, so the counter is validated at open: its increase over a short
 * interval must agree with the integrated power within a tolerance, or it is not used and energy
 * is integrated from power instead (the note says which, with the numbers).
 *
 * @module
 */

import { runTool } from "./command.ts";
import {
  type DeviceReading,
  type PowerDevice,
  type PowerSampler,
  TelemetryError,
} from "./power_sampler.ts";

/** Options of {@linkcode AmdSmiSampler.open}. */
export interface AmdSmiOptions {
  /** Which tool. @default "amd-smi" */
  tool?: "amd-smi" | "rocm-smi";
  /** The executable. @default the tool's name */
  command?: string;
  /** GPU indices. @default every GPU */
  devices?: number[];
  /** Length of the counter validation, in ms. @default 1000 */
  validationMs?: number;
  /** Accepted relative difference between counter and integrated power. @default 0.25 */
  tolerance?: number;
}

interface RawReading {
  index: number;
  powerW: number | null;
  energyJ: number | null;
}

const POWER_UNITS: Record<string, number> = { w: 1, mw: 1e-3, uw: 1e-6 };
const ENERGY_UNITS: Record<string, number> = { j: 1, mj: 1e-3, uj: 1e-6, kj: 1e3 };

/** Accumulates a floating-point energy counter; a decrease is taken as a reset to zero. */
class EnergyAccumulator {
  #last: number | undefined;
  #total = 0;
  update(value: number): number {
    if (this.#last !== undefined) this.#total += value >= this.#last ? value - this.#last : value;
    this.#last = value;
    return this.#total;
  }
}

/** Samples AMD GPUs through amd-smi or rocm-smi. */
export class AmdSmiSampler implements PowerSampler {
  readonly backend: string;
  readonly devices: readonly PowerDevice[];
  readonly updatePeriodMs = 100;
  readonly notes: readonly string[];
  #command: string;
  #counters: (EnergyAccumulator | undefined)[];
  #closed = false;

  private constructor(
    backend: string,
    command: string,
    devices: PowerDevice[],
    notes: string[],
  ) {
    this.backend = backend;
    this.#command = command;
    this.devices = devices;
    this.notes = notes;
    this.#counters = devices.map((d) => (d.energyCounter ? new EnergyAccumulator() : undefined));
  }

  /**
   * Lists the GPUs and validates their energy counters against integrated power.
   *
   * @param options Tool, devices, validation.
   * @returns The sampler.
   * @throws {TelemetryError} If the tool is missing, fails, or its output has no power.
   */
  static async open(options: AmdSmiOptions = {}): Promise<AmdSmiSampler> {
    const tool = options.tool ?? "amd-smi";
    const command = options.command ?? tool;
    const validationMs = options.validationMs ?? 1000;
    const tolerance = options.tolerance ?? 0.25;
    const first = await readTool(tool, command);
    const t0 = performance.now();
    const wanted = options.devices ?? first.map((r) => r.index);
    for (const index of wanted) {
      if (!first.some((r) => r.index === index)) {
        throw new TelemetryError(
          tool,
          `GPU index ${index} does not exist: ${tool} lists ${
            first.map((r) => r.index).join(", ")
          }`,
        );
      }
    }
    await new Promise((r) => setTimeout(r, validationMs));
    const second = await readTool(tool, command);
    const seconds = (performance.now() - t0) / 1000;
    const notes: string[] = [];
    const devices = wanted.map((index) => {
      const a = first.find((r) => r.index === index)!;
      const b = second.find((r) => r.index === index);
      if (!b || a.powerW === null || b.powerW === null) {
        throw new TelemetryError(tool, `GPU ${index} reports no power`);
      }
      const integrated = ((a.powerW + b.powerW) / 2) * seconds;
      let trusted = false;
      if (a.energyJ === null || b.energyJ === null) {
        notes.push(`GPU ${index}: no energy counter; energy is integrated from power`);
      } else {
        const counted = b.energyJ - a.energyJ;
        trusted = integrated > 0 && Math.abs(counted / integrated - 1) <= tolerance;
        notes.push(
          `GPU ${index}: energy counter ${trusted ? "trusted" : "NOT trusted"}: ` +
            `${counted.toFixed(3)} J counted vs ${integrated.toFixed(3)} J from power over ` +
            `${seconds.toFixed(2)} s (tolerance ${tolerance * 100}%)`,
        );
      }
      return { index, name: `AMD GPU ${index}`, kind: "gpu" as const, energyCounter: trusted };
    });
    const sampler = new AmdSmiSampler(tool, command, devices, notes);
    await sampler.read(); // sets each counter's zero
    return sampler;
  }

  async read(): Promise<DeviceReading[]> {
    if (this.#closed) throw new TelemetryError(this.backend, "read after close");
    const raw = await readTool(this.backend, this.#command);
    return this.devices.map((d, i) => {
      const r = raw.find((x) => x.index === d.index);
      if (!r || r.powerW === null) {
        throw new TelemetryError(this.backend, `no power for GPU ${d.index}`);
      }
      const counter = this.#counters[i];
      const energyJ = counter && r.energyJ !== null ? counter.update(r.energyJ) : null;
      return { energyJ, powerW: r.powerW };
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function readTool(tool: string, command: string): Promise<RawReading[]> {
  const args = tool === "amd-smi"
    ? ["metric", "--power", "--energy", "--json"]
    : ["--showpower", "--showenergycounter", "--json"];
  const text = await runTool(tool, command, args);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TelemetryError(tool, `output is not JSON: ${JSON.stringify(text.slice(0, 200))}`, {
      cause: error,
    });
  }
  const rows = tool === "amd-smi" ? parseAmdSmi(json) : parseRocmSmi(json);
  if (rows.length === 0) throw new TelemetryError(tool, `no GPU in output: ${text.slice(0, 200)}`);
  return rows;
}

/** `amd-smi metric --power --energy --json`: [{gpu, power: {socket_power: {value, unit}}, energy: {total_energy_consumption: {value, unit}}}]. */
export function parseAmdSmi(json: unknown): RawReading[] {
  const list = Array.isArray(json) ? json : (json as { gpu_data?: unknown[] })?.gpu_data;
  if (!Array.isArray(list)) throw new TelemetryError("amd-smi", "expected a JSON array of GPUs");
  return list.map((g: Record<string, unknown>) => {
    const power = (g.power ?? {}) as Record<string, unknown>;
    const energy = (g.energy ?? {}) as Record<string, unknown>;
    const p = power.socket_power ?? power.current_socket_power ?? power.average_socket_power;
    return {
      index: Number(g.gpu),
      powerW: quantity(p, POWER_UNITS, "W"),
      energyJ: quantity(energy.total_energy_consumption, ENERGY_UNITS, "J"),
    };
  });
}

/** `rocm-smi --showpower --showenergycounter --json`: {"card0": {"... Power (W)": "93.0", "Accumulated Energy (uJ)": "..."}}. */
export function parseRocmSmi(json: unknown): RawReading[] {
  if (typeof json !== "object" || json === null) {
    throw new TelemetryError("rocm-smi", "expected a JSON object");
  }
  const rows: RawReading[] = [];
  for (const [card, fields] of Object.entries(json as Record<string, Record<string, unknown>>)) {
    const m = card.match(/^card(\d+)$/);
    if (!m) continue;
    let powerW: number | null = null;
    let energyJ: number | null = null;
    for (const [key, value] of Object.entries(fields)) {
      const pw = key.match(/Power \((W|mW|uW)\)/i);
      if (pw && powerW === null) powerW = scaled(value, POWER_UNITS[pw[1].toLowerCase()]);
      const en = key.match(/Accumulated Energy \((uJ|mJ|J)\)/i);
      if (en) energyJ = scaled(value, ENERGY_UNITS[en[1].toLowerCase()]);
    }
    rows.push({ index: Number(m[1]), powerW, energyJ });
  }
  return rows;
}

function quantity(v: unknown, units: Record<string, number>, fallback: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "object") {
    const { value, unit } = v as { value?: unknown; unit?: string };
    return scaled(value, units[(unit ?? fallback).toLowerCase()]);
  }
  return scaled(v, units[fallback.toLowerCase()]);
}

function scaled(value: unknown, factor: number | undefined): number | null {
  const n = typeof value === "number" ? value : Number(String(value).trim());
  if (factor === undefined || !Number.isFinite(n) || String(value).trim() === "") return null;
  return n * factor;
}
