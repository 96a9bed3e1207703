/**
 * Selects and initialises a TensorFlow.js backend by name, and describes it for the results.
 * One backend per JavaScript realm (process or Web Worker): tfjs-core keeps a global engine.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { BackendName } from "../config/config.ts";
import { BACKENDS, oneOf } from "../config/config.ts";
import { BlasUnavailableError } from "./blas/cblas.ts";

/** What was selected, recorded with every result. */
export interface BackendInfo {
  /** The suite's backend name. */
  name: BackendName;
  /** The tfjs backend actually active (`tf.getBackend()`). */
  tfjsBackend: string;
  /** tfjs-core version. */
  tfjsVersion: string;
  /** Backend flags and facts: SIMD, threads, adapter, transpose strategy. */
  flags: Record<string, string | number | boolean>;
}

/** Raised when a known backend cannot run on this machine; the message says why and what to use. */
export class BackendUnavailableError extends Error {
  /** The backend that could not be loaded. */
  readonly backend: BackendName;

  /**
   * @param backend The backend name.
   * @param message Why, and what to use instead.
   * @param options The underlying error.
   */
  constructor(backend: BackendName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackendUnavailableError";
    this.backend = backend;
  }
}

/** What `--backend auto` becomes: blas where a CBLAS library loads, else wasm. */
export const AUTO_BACKEND = "auto";

/**
 * Resolves `auto` to a backend that can run here: `blas` where a CBLAS library loads, else
 * `wasm`, with the reason.
 *
 * @param name A backend name or `auto`.
 * @returns The backend to select, and why when `auto` fell back.
 */
export async function resolveBackend(name: string): Promise<{ name: string; fallback?: string }> {
  if (name !== AUTO_BACKEND) return { name };
  try {
    const { openCblas } = await import("./blas/cblas.ts");
    openCblas();
    return { name: "blas" };
  } catch (error) {
    if (!(error instanceof BlasUnavailableError)) throw error;
    return { name: "wasm", fallback: `blas unavailable: ${error.message}` };
  }
}

/**
 * Loads and activates a backend. Only the named backend's package is imported.
 *
 * @param name One of `blas` (the CPU default where a CBLAS library is found), `wasm`, `cpu`,
 *   `webgpu`, `tensorflow`; or `auto` (blas, else wasm with the reason in the flags).
 * @returns A description of the active backend.
 * @throws {ConfigError} If the name is unknown.
 * @throws {BackendUnavailableError} If it cannot run here (no GPU adapter, tfjs-node missing).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectBackend } from "./backend.ts";
 * const info = await selectBackend("cpu");
 * assert(info.tfjsBackend === "cpu");
 * ```
 */
export async function selectBackend(name: string): Promise<BackendInfo> {
  if (name === AUTO_BACKEND) {
    const resolved = await resolveBackend(name);
    const info = await selectBackend(resolved.name);
    return resolved.fallback
      ? { ...info, flags: { ...info.flags, autoFallback: resolved.fallback } }
      : info;
  }
  const backend = oneOf("backend", name, BACKENDS);
  // tfjs has one engine per realm: ranks sharing a worker thread must not initialise it
  // concurrently (a second setBackend during the first fails). Serialise, and reuse a selection.
  const previous = selection;
  // Reuse a pending selection, or a finished one still active (tf.setBackend elsewhere may
  // have switched away since).
  if (previous?.name === backend && (!previous.settled || tf.getBackend() === backend)) {
    return previous.info;
  }
  const info = (previous?.info.catch(() => undefined) ?? Promise.resolve(undefined))
    .then(() => activate(backend));
  const current = { name: backend, info, settled: false };
  selection = current;
  info.then(
    () => (current.settled = true),
    () => {
      if (selection === current) selection = undefined;
    },
  );
  return info;
}

/** The realm's current or pending backend selection (tfjs itself is realm-global). */
let selection: { name: BackendName; info: Promise<BackendInfo>; settled: boolean } | undefined;

async function activate(backend: BackendName): Promise<BackendInfo> {
  const flags = await LOADERS[backend]();
  const ok = await tf.setBackend(backend);
  if (!ok) {
    throw new BackendUnavailableError(backend, `Cannot initialise tfjs backend ${backend}`);
  }
  await tf.ready();
  silenceNodeBanner();
  if (backend === "webgpu") {
    const { watchGpuErrors } = await import("./webgpu/errors.ts");
    watchGpuErrors((tf.backend() as unknown as { device: GPUDevice }).device);
  }
  return {
    name: backend,
    tfjsBackend: tf.getBackend(),
    tfjsVersion: tf.version_core,
    flags: { ...flags, explicitTranspose: explicitTranspose(backend) },
  };
}

/**
 * tfjs-backend-cpu prints "Hi, looks like you are running TensorFlow.js in Node.js ..." into the
 * output at its first tensor when it detects Node (Deno's npm compatibility counts). The advice
 * (install tfjs-node) does not apply here: the suite's CPU backends are chosen on purpose.
 */
function silenceNodeBanner(): void {
  for (const name of ["cpu", "blas"]) {
    const backend = tf.findBackend(name) as { firstUse?: boolean } | null;
    if (backend && "firstUse" in backend) backend.firstUse = false;
  }
}

/**
 * Whether matMul should transpose its operands explicitly rather than pass transpose flags:
 * on wasm the flagged kernels are 10-60x slower (measured: see the README, Backends).
 *
 * @param name The backend.
 * @returns True for the CPU backends.
 */
export function explicitTranspose(name: string): boolean {
  return name === "wasm" || name === "cpu"; // blas takes transpose flags natively
}

type Loader = () => Promise<Record<string, string | number | boolean>>;

const LOADERS: Record<BackendName, Loader> = {
  async blas() {
    const { registerBlasBackend } = await import("./blas/blas_backend.ts");
    const cpu = await import("@tensorflow/tfjs-backend-cpu");
    let description;
    try {
      description = await registerBlasBackend();
    } catch (error) {
      if (!(error instanceof BlasUnavailableError)) throw error;
      throw new BackendUnavailableError(
        "blas",
        `Cannot use backend blas: ${error.message}; or use --backend wasm`,
      );
    }
    const { cblas, fusedKernels } = description;
    return {
      version: cpu.version_cpu,
      gemm: "cblas_sgemm",
      blasLibrary: cblas.library,
      blasConfig: cblas.config,
      blasCoretype: cblas.coretype,
      blasThreads: cblas.threads,
      fusedKernels,
    };
  },
  async wasm() {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    await tf.setBackend("wasm");
    await tf.ready();
    return {
      version: wasm.version_wasm,
      simd: Boolean(tf.env().getBool("WASM_HAS_SIMD_SUPPORT")),
      threads: 1,
    };
  },
  async cpu() {
    const cpu = await import("@tensorflow/tfjs-backend-cpu");
    return { version: cpu.version_cpu };
  },
  async webgpu() {
    const gpu = (navigator as unknown as { gpu?: GpuLike }).gpu;
    if (!gpu) {
      throw new BackendUnavailableError(
        "webgpu",
        "Cannot use backend webgpu: navigator.gpu is missing in this runtime; use --backend wasm",
      );
    }
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) {
      throw new BackendUnavailableError(
        "webgpu",
        "Cannot use backend webgpu: no GPU adapter was found (on Linux the Vulkan loader " +
          "libvulkan1 and a GPU driver are needed); use --backend wasm",
      );
    }
    const { WebGPUBackend } = await import("@tensorflow/tfjs-backend-webgpu");
    const info = adapter.info ?? {};
    // Uploads by queue.writeBuffer (lib/nn/webgpu/upload.ts), unless PHANTOM_WEBGPU_UPLOAD=tfjs.
    const upload = Deno.env.get("PHANTOM_WEBGPU_UPLOAD") === "tfjs"
      ? { upload: "tfjs-webgpu" }
      : (await import("./webgpu/upload.ts")).installQueueUploads(WebGPUBackend);
    // The suite's GEMM kernels replace tfjs's matmul (lib/nn/webgpu/gemm_kernels.ts), unless
    // PHANTOM_WEBGPU_GEMM=tfjs asks for tfjs's own (to compare).
    const useOwn = Deno.env.get("PHANTOM_WEBGPU_GEMM") !== "tfjs";
    const gemm = useOwn
      ? (await import("./webgpu/gemm_kernels.ts")).registerGemmKernels()
      : { gemm: "tfjs-webgpu" };
    return {
      ...gemm,
      ...upload,
      adapterVendor: info.vendor ?? "",
      adapterArchitecture: info.architecture ?? "",
      adapterDevice: info.device ?? "",
      adapterDescription: info.description ?? "",
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
    };
  },
  async tensorflow() {
    const { loadTfjsNode } = await import("./tensorflow_backend.ts");
    try {
      return await loadTfjsNode();
    } catch (error) {
      throw new BackendUnavailableError("tensorflow", (error as Error).message);
    }
  },
};

interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<
    {
      isFallbackAdapter?: boolean;
      info?: {
        vendor?: string;
        architecture?: string;
        device?: string;
        description?: string;
        isFallbackAdapter?: boolean;
      };
    } | null
  >;
}
