/**
 * NVIDIA GPUs through NVML, called with Deno FFI: the total energy counter
 * (nvmlDeviceGetTotalEnergyConsumption, mJ, 64 bits) and the power reading
 * (nvmlDeviceGetPowerUsage, mW) of each selected GPU. Reads run on FFI worker threads
 * (`nonblocking`), so a 3-6 ms NVML call never stalls the event loop. Needs `--allow-ffi`.
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

/** Options of {@linkcode NvmlSampler.open}. */
export interface NvmlOptions {
  /** The NVML library (a name for the loader or an absolute path). @default "libnvidia-ml.so.1" */
  library?: string;
  /** GPU indices to sample (e.g. the rank's own GPU). @default every GPU */
  devices?: number[];
}

/** NVML return codes by value (nvml.h). */
export const NVML_ERRORS: Record<number, string> = {
  1: "NVML_ERROR_UNINITIALIZED",
  2: "NVML_ERROR_INVALID_ARGUMENT",
  3: "NVML_ERROR_NOT_SUPPORTED",
  4: "NVML_ERROR_NO_PERMISSION",
  5: "NVML_ERROR_ALREADY_INITIALIZED",
  6: "NVML_ERROR_NOT_FOUND",
  7: "NVML_ERROR_INSUFFICIENT_SIZE",
  8: "NVML_ERROR_INSUFFICIENT_POWER",
  9: "NVML_ERROR_DRIVER_NOT_LOADED",
  10: "NVML_ERROR_TIMEOUT",
  11: "NVML_ERROR_IRQ_ISSUE",
  12: "NVML_ERROR_LIBRARY_NOT_FOUND",
  13: "NVML_ERROR_FUNCTION_NOT_FOUND",
  14: "NVML_ERROR_CORRUPTED_INFOROM",
  15: "NVML_ERROR_GPU_IS_LOST",
  16: "NVML_ERROR_RESET_REQUIRED",
  17: "NVML_ERROR_OPERATING_SYSTEM",
  18: "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
  999: "NVML_ERROR_UNKNOWN",
};

const NOT_SUPPORTED = 3;
const COUNTER_RANGE = 1n << 64n;

const SYMBOLS = {
  nvmlInit_v2: { parameters: [], result: "i32" },
  nvmlShutdown: { parameters: [], result: "i32" },
  nvmlErrorString: { parameters: ["i32"], result: "pointer" },
  nvmlDeviceGetCount_v2: { parameters: ["buffer"], result: "i32" },
  nvmlDeviceGetHandleByIndex_v2: { parameters: ["u32", "buffer"], result: "i32" },
  nvmlDeviceGetName: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  nvmlDeviceGetPowerUsage: { parameters: ["pointer", "buffer"], result: "i32", nonblocking: true },
  nvmlDeviceGetTotalEnergyConsumption: {
    parameters: ["pointer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

interface Gpu {
  handle: Deno.PointerValue;
  energy: CounterUnwrapper | undefined;
  hasPower: boolean;
  energyBuf: BigUint64Array;
  powerBuf: Uint32Array;
}

/**
 * Samples NVIDIA GPUs through NVML.
 *
 * @example
 * ```ts ignore
 * import { NvmlSampler } from "./nvml_sampler.ts";
 * await using gpu = await NvmlSampler.open({ devices: [0] });
 * console.log(gpu.devices[0].name, await gpu.read());
 * ```
 */
export class NvmlSampler implements PowerSampler {
  readonly backend = "nvml";
  readonly devices: readonly PowerDevice[];
  /** NVML refreshes power and energy about every 100 ms (measured on an H100). */
  readonly updatePeriodMs = 100;
  readonly notes: readonly string[];
  #lib: Lib;
  #gpus: Gpu[];
  #closed = false;

  private constructor(lib: Lib, gpus: Gpu[], devices: PowerDevice[], notes: string[]) {
    this.#lib = lib;
    this.#gpus = gpus;
    this.devices = devices;
    this.notes = notes;
  }

  /**
   * Loads NVML, initialises it and opens the selected GPUs.
   *
   * @param options Library and device indices.
   * @returns The sampler.
   * @throws {TelemetryError} If the library is missing or an NVML call fails (with its code).
   */
  static async open(options: NvmlOptions = {}): Promise<NvmlSampler> {
    const library = options.library ?? "libnvidia-ml.so.1";
    let lib: Lib;
    try {
      lib = Deno.dlopen(library, SYMBOLS);
    } catch (error) {
      throw new TelemetryError(
        "nvml",
        `cannot load ${library} (is the NVIDIA driver installed? run with --allow-ffi): ${
          error instanceof Error ? error.message : error
        }`,
        { cause: error },
      );
    }
    try {
      return await NvmlSampler.#init(lib, options.devices);
    } catch (error) {
      lib.close();
      throw error;
    }
  }

  static async #init(lib: Lib, requested: number[] | undefined): Promise<NvmlSampler> {
    const check = (call: string, code: number, device?: number) =>
      checkCode(lib, call, code, device);
    check("nvmlInit_v2", lib.symbols.nvmlInit_v2());
    try {
      const countBuf = new Uint32Array(1);
      check("nvmlDeviceGetCount_v2", lib.symbols.nvmlDeviceGetCount_v2(countBuf));
      const count = countBuf[0];
      const indices = requested ?? [...Array(count).keys()];
      const notes: string[] = [];
      const gpus: Gpu[] = [];
      const devices: PowerDevice[] = [];
      for (const index of indices) {
        if (!Number.isInteger(index) || index < 0 || index >= count) {
          throw new TelemetryError(
            "nvml",
            `GPU index ${index} does not exist: NVML sees ${count} GPU(s)`,
          );
        }
        const handleBuf = new BigUint64Array(1);
        check(
          "nvmlDeviceGetHandleByIndex_v2",
          lib.symbols.nvmlDeviceGetHandleByIndex_v2(index, handleBuf),
          index,
        );
        const handle = Deno.UnsafePointer.create(handleBuf[0]);
        const nameBuf = new Uint8Array(96);
        check(
          "nvmlDeviceGetName",
          lib.symbols.nvmlDeviceGetName(handle, nameBuf, nameBuf.length),
          index,
        );
        const name = new TextDecoder().decode(nameBuf.subarray(0, nameBuf.indexOf(0)));
        const gpu: Gpu = {
          handle,
          energy: new CounterUnwrapper(COUNTER_RANGE),
          hasPower: true,
          energyBuf: new BigUint64Array(1),
          powerBuf: new Uint32Array(1),
        };
        const energyCode = await lib.symbols.nvmlDeviceGetTotalEnergyConsumption(
          handle,
          gpu.energyBuf,
        );
        if (energyCode === NOT_SUPPORTED) {
          gpu.energy = undefined;
          notes.push(
            `GPU ${index} (${name}) has no energy counter: its energy is integrated from power`,
          );
        } else {
          check("nvmlDeviceGetTotalEnergyConsumption", energyCode, index);
          gpu.energy!.update(gpu.energyBuf[0]);
        }
        const powerCode = await lib.symbols.nvmlDeviceGetPowerUsage(handle, gpu.powerBuf);
        if (powerCode === NOT_SUPPORTED) {
          gpu.hasPower = false;
          notes.push(`GPU ${index} (${name}) reports no power: no power timeline`);
        } else {
          check("nvmlDeviceGetPowerUsage", powerCode, index);
        }
        if (!gpu.energy && !gpu.hasPower) {
          throw new TelemetryError(
            "nvml",
            `GPU ${index} (${name}) supports neither energy nor power readings`,
          );
        }
        gpus.push(gpu);
        devices.push({ index, name, kind: "gpu", energyCounter: gpu.energy !== undefined });
      }
      return new NvmlSampler(lib, gpus, devices, notes);
    } catch (error) {
      lib.symbols.nvmlShutdown();
      throw error;
    }
  }

  async read(): Promise<DeviceReading[]> {
    if (this.#closed) throw new TelemetryError("nvml", "read after close");
    const s = this.#lib.symbols;
    return await Promise.all(this.#gpus.map(async (gpu, i) => {
      const index = this.devices[i].index;
      let energyJ: number | null = null;
      let powerW: number | null = null;
      if (gpu.energy) {
        const code = await s.nvmlDeviceGetTotalEnergyConsumption(gpu.handle, gpu.energyBuf);
        checkCode(this.#lib, "nvmlDeviceGetTotalEnergyConsumption", code, index);
        energyJ = Number(gpu.energy.update(gpu.energyBuf[0])) / 1000; // mJ -> J
      }
      if (gpu.hasPower) {
        const code = await s.nvmlDeviceGetPowerUsage(gpu.handle, gpu.powerBuf);
        checkCode(this.#lib, "nvmlDeviceGetPowerUsage", code, index);
        powerW = gpu.powerBuf[0] / 1000; // mW -> W
      }
      return { energyJ, powerW };
    }));
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#lib.symbols.nvmlShutdown();
      this.#lib.close();
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function checkCode(lib: Lib, call: string, code: number, device?: number): void {
  if (code === 0) return;
  const pointer = lib.symbols.nvmlErrorString(code);
  const text = pointer ? Deno.UnsafePointerView.getCString(pointer) : "";
  const where = device === undefined ? "" : ` on GPU ${device}`;
  throw new TelemetryError(
    "nvml",
    `${call} failed${where}: ${NVML_ERRORS[code] ?? "NVML error"} (${code}): ${text}`,
  );
}
