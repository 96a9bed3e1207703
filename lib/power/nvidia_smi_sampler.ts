/**
 * NVIDIA GPUs through the `nvidia-smi` tool, for hosts where NVML cannot be loaded through FFI.
 * nvidia-smi exposes no energy counter field on current drivers, so energy is integrated from
 * power samples: `power.draw.instant` where the driver has it, else `power.draw` (a one-second
 * average on recent GPUs, which lags load changes: the note says so).
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

/** Options of {@linkcode NvidiaSmiSampler.open}. */
export interface NvidiaSmiOptions {
  /** The executable. @default "nvidia-smi" */
  command?: string;
  /** GPU indices. @default every GPU */
  devices?: number[];
}

/** Samples GPUs by running nvidia-smi once per sample. */
export class NvidiaSmiSampler implements PowerSampler {
  readonly backend = "nvidia-smi";
  readonly devices: readonly PowerDevice[];
  readonly updatePeriodMs = 100;
  readonly notes: readonly string[];
  #command: string;
  #field: string;
  #closed = false;

  private constructor(command: string, field: string, devices: PowerDevice[], notes: string[]) {
    this.#command = command;
    this.#field = field;
    this.devices = devices;
    this.notes = notes;
  }

  /**
   * Finds the GPUs and the best power field.
   *
   * @param options Command and device indices.
   * @returns The sampler.
   * @throws {TelemetryError} If nvidia-smi is missing, fails, or prints what it should not.
   */
  static async open(options: NvidiaSmiOptions = {}): Promise<NvidiaSmiSampler> {
    const command = options.command ?? "nvidia-smi";
    const notes: string[] = [];
    let field = "power.draw.instant";
    let rows: string[][];
    try {
      rows = await query(command, field);
      if (rows.some((r) => !isNumber(r[2]))) {
        throw new TelemetryError("nvidia-smi", "instant power not available");
      }
    } catch {
      field = "power.draw";
      rows = await query(command, field);
      notes.push(
        "power.draw.instant is not available; power.draw is a ~1 s average and lags load changes",
      );
    }
    const all = rows.map((r) => ({ index: Number(r[0]), name: r[1] }));
    const wanted = options.devices ?? all.map((d) => d.index);
    const devices = wanted.map((index) => {
      const d = all.find((x) => x.index === index);
      if (!d) {
        throw new TelemetryError(
          "nvidia-smi",
          `GPU index ${index} does not exist: nvidia-smi lists ${
            all.map((x) => x.index).join(", ")
          }`,
        );
      }
      return { index, name: d.name, kind: "gpu" as const, energyCounter: false };
    });
    notes.push("no energy counter through nvidia-smi: energy is integrated from power samples");
    return new NvidiaSmiSampler(command, field, devices, notes);
  }

  async read(): Promise<DeviceReading[]> {
    if (this.#closed) throw new TelemetryError("nvidia-smi", "read after close");
    const rows = await query(this.#command, this.#field);
    return this.devices.map((d) => {
      const row = rows.find((r) => Number(r[0]) === d.index);
      if (!row || !isNumber(row[2])) {
        throw new TelemetryError(
          "nvidia-smi",
          `no ${this.#field} for GPU ${d.index} in ${JSON.stringify(rows)}`,
        );
      }
      return { energyJ: null, powerW: Number(row[2]) };
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

async function query(command: string, field: string): Promise<string[][]> {
  const text = await runTool("nvidia-smi", command, [
    `--query-gpu=index,name,${field}`,
    "--format=csv,noheader,nounits",
  ]);
  const rows = text.trim().split("\n").filter(Boolean).map((l) =>
    l.split(",").map((c) => c.trim())
  );
  if (rows.length === 0 || rows.some((r) => r.length < 3 || !/^\d+$/.test(r[0]))) {
    throw new TelemetryError(
      "nvidia-smi",
      `unexpected output for ${field}: ${JSON.stringify(text.slice(0, 200))}`,
    );
  }
  return rows;
}

function isNumber(s: string): boolean {
  return s !== "" && Number.isFinite(Number(s));
}
