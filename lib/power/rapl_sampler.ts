/**
 * CPU package energy through Linux RAPL powercap (`/sys/class/powercap/intel-rapl:N`, also used
 * by AMD CPUs): the `energy_uj` counter of each top-level package zone, unwrapped with its
 * `max_energy_range_uj` (such counters wrap in minutes at full load, so they must be read more
 * often than that). `energy_uj` is often readable only by root.
 *
 * Deno demands --allow-all to read files under /sys; without it the files are read with one `cat`
 * per sample instead (needs --allow-run).
 *
 * @module
 */

import {
  CounterUnwrapper,
  type DeviceReading,
  type PowerDevice,
  type PowerSampler,
  TelemetryError,
} from "./power_sampler.ts";

/** Options of {@linkcode RaplSampler.open}. */
export interface RaplOptions {
  /** The powercap folder. @default "/sys/class/powercap" */
  root?: string;
  /** How to read files: directly, or through `cat` (Deno needs --allow-all for /sys). @default "auto" */
  reader?: "auto" | "direct" | "cat";
}

interface Zone {
  path: string;
  counter: CounterUnwrapper;
}

/** Samples RAPL package zones. */
export class RaplSampler implements PowerSampler {
  readonly backend = "rapl";
  readonly devices: readonly PowerDevice[];
  /** RAPL counters update about every millisecond. */
  readonly updatePeriodMs = 1;
  readonly notes: readonly string[];
  #zones: Zone[];
  #read: (paths: string[]) => Promise<string[]>;
  #closed = false;

  private constructor(
    zones: Zone[],
    devices: PowerDevice[],
    read: (p: string[]) => Promise<string[]>,
    notes: string[],
  ) {
    this.#zones = zones;
    this.devices = devices;
    this.#read = read;
    this.notes = notes;
  }

  /**
   * Finds the package zones and reads each counter once.
   *
   * @param options Root folder and reader.
   * @returns The sampler.
   * @throws {TelemetryError} If there are no zones or energy_uj cannot be read (naming the file).
   */
  static async open(options: RaplOptions = {}): Promise<RaplSampler> {
    const root = options.root ?? "/sys/class/powercap";
    const mode = options.reader ?? "auto";
    const notes: string[] = [];
    let read = mode === "cat" ? readWithCat : readDirect;
    const names = (await listZones(root, mode)).filter((n) => /^intel-rapl:\d+$/.test(n)).sort();
    if (names.length === 0) {
      throw new TelemetryError("rapl", `no RAPL package zone (intel-rapl:N) under ${root}`);
    }
    const zonePaths = names.map((n) => `${root}/${n}`);
    const files = zonePaths.flatMap((
      p,
    ) => [`${p}/name`, `${p}/max_energy_range_uj`, `${p}/energy_uj`]);
    let values: string[];
    try {
      values = await read(files);
    } catch (error) {
      if (mode === "auto" && error instanceof Deno.errors.NotCapable) {
        read = readWithCat;
        notes.push(
          "reading RAPL files through `cat`: Deno needs --allow-all to read /sys directly",
        );
        values = await read(files);
      } else throw error;
    }
    const zones: Zone[] = [];
    const devices: PowerDevice[] = zonePaths.map((path, i) => {
      const [name, max] = [values[3 * i].trim(), values[3 * i + 1].trim()];
      const range = BigInt(max) + 1n;
      const counter = new CounterUnwrapper(range);
      counter.update(BigInt(values[3 * i + 2].trim()));
      zones.push({ path, counter });
      return { index: i, name, kind: "cpu-package" as const, energyCounter: true };
    });
    notes.push("RAPL has no power reading: energy comes from the counters");
    return new RaplSampler(zones, devices, read, notes);
  }

  async read(): Promise<DeviceReading[]> {
    if (this.#closed) throw new TelemetryError("rapl", "read after close");
    const values = await this.#read(this.#zones.map((z) => `${z.path}/energy_uj`));
    return this.#zones.map((z, i) => ({
      energyJ: Number(z.counter.update(BigInt(values[i].trim()))) / 1e6, // uJ -> J
      powerW: null,
    }));
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function listZones(root: string, mode: RaplOptions["reader"]): Promise<string[]> {
  try {
    if (mode !== "cat") return [...Deno.readDirSync(root)].map((e) => e.name);
  } catch (error) {
    if (!(mode === "auto" && error instanceof Deno.errors.NotCapable)) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TelemetryError("rapl", `cannot list ${root}: ${reason}`, { cause: error });
    }
  }
  // Deno needs --allow-all to list /sys; ls does not.
  const out = await new Deno.Command("ls", { args: ["-1", root], stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const reason = new TextDecoder().decode(out.stderr).trim();
    throw new TelemetryError("rapl", `cannot list ${root}: ${reason}`);
  }
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean);
}

async function readDirect(paths: string[]): Promise<string[]> {
  try {
    return await Promise.all(paths.map((p) => Deno.readTextFile(p)));
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new TelemetryError(
        "rapl",
        `permission denied reading RAPL energy (${error.message}); energy_uj is often readable only by root`,
        { cause: error },
      );
    }
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new TelemetryError(
      "rapl",
      `cannot read RAPL files: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
}

async function readWithCat(paths: string[]): Promise<string[]> {
  const out = await new Deno.Command("cat", { args: paths, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    const hint = /Permission denied/.test(err) ? "; energy_uj is often readable only by root" : "";
    throw new TelemetryError("rapl", `cat failed: ${err}${hint}`);
  }
  const lines = new TextDecoder().decode(out.stdout).split("\n");
  if (lines.length < paths.length) {
    throw new TelemetryError("rapl", `cat printed ${lines.length} lines for ${paths.length} files`);
  }
  return lines.slice(0, paths.length);
}
