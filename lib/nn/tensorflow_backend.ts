/**
 * The tensorflow backend: `@tensorflow/tfjs-node` (or `-gpu` where a user installed it), whose
 * native addon calls libtensorflow. The addon is built against the TensorFlow pip wheel's library
 * by `scripts/setup-tensorflow` (the package's own install script downloads libtensorflow from a
 * host that is rarely reachable). What it loaded is recorded: the TensorFlow build, the library's
 * path, the devices, the thread settings and whether TF32 can apply.
 *
 * @module
 */

import util from "node:util";

/** Where scripts/setup-tensorflow puts the addon's libraries and its build record. */
const PACKAGE_DIR = new URL("../../node_modules/@tensorflow/tfjs-node/", import.meta.url);

/** @returns Whether scripts/setup-tensorflow has built tfjs-node's addon here. */
export function tfjsNodeSetUp(): boolean {
  try {
    return Deno.statSync(new URL("lib/napi-v8/tfjs_binding.node", PACKAGE_DIR)).isFile;
  } catch {
    return false;
  }
}

/**
 * Imports tfjs-node (registering tfjs's `tensorflow` backend) and describes it.
 *
 * @returns Flags for the results: package, versions, library, build, devices, threads, TF32.
 * @throws {Error} Saying how to set it up when it cannot load.
 */
export async function loadTfjsNode(): Promise<Record<string, string | number | boolean>> {
  // tfjs-node calls util.isNullOrUndefined, which Node removed and Deno lacks.
  const u = util as unknown as Record<string, unknown>;
  u.isNullOrUndefined ??= (v: unknown) => v === null || v === undefined;
  // TensorFlow's start-up lines (oneDNN, CPU features) are not the suite's output.
  if (Deno.env.get("TF_CPP_MIN_LOG_LEVEL") === undefined) Deno.env.set("TF_CPP_MIN_LOG_LEVEL", "2");
  const errors: string[] = [];
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      const mod = await import(pkg);
      return { package: pkg, version: String(mod.version?.["tfjs-node"] ?? ""), ...describe() };
    } catch (error) {
      errors.push(`${pkg}: ${error instanceof Error ? error.message.split("\n")[0] : error}`);
    }
  }
  throw new Error(
    "Cannot use backend tensorflow: @tensorflow/tfjs-node could not be loaded. Set it up with " +
      "`scripts/setup-tensorflow` (builds its addon against the TensorFlow pip wheel's library; " +
      "needs pip, g++ and the Node.js headers), or use --backend blas or wasm (CPU) or webgpu " +
      `(GPU). Details: ${errors.join("; ")}`,
  );
}

/** What scripts/setup-tensorflow recorded, and what the process sees. */
function describe(): Record<string, string | number | boolean> {
  const flags: Record<string, string | number | boolean> = {};
  try {
    const build = JSON.parse(Deno.readTextFileSync(new URL("deps/build.json", PACKAGE_DIR))) as {
      tensorflow?: string;
      variant?: string;
      wheel?: string;
    };
    flags.tensorflowVersion = build.tensorflow ?? "";
    flags.tensorflowBuild = build.variant === "cpu" ? "cpu" : String(build.variant ?? "");
    flags.tensorflowWheel = build.wheel ?? "";
  } catch {
    flags.tensorflowBuild = "unknown (not set up by scripts/setup-tensorflow)";
  }
  try {
    flags.tensorflowLibrary = Deno.realPathSync(
      new URL("deps/lib/libtensorflow.so.2", PACKAGE_DIR),
    );
  } catch { /* a user's own installation */ }
  // TensorFlow's own defaults: intra- and inter-op pools of one thread per core unless set.
  flags.tensorflowThreads = Deno.env.get("TF_NUM_INTRAOP_THREADS") ??
    `default (${navigator.hardwareConcurrency} cores)`;
  flags.devices = flags.tensorflowBuild === "cpu" ? "CPU" : "see TensorFlow's device list";
  // TF32 applies to fp32 matmuls on NVIDIA Ampere and later only: never on a CPU build.
  flags.tf32 = flags.tensorflowBuild === "cpu"
    ? false
    : Deno.env.get("NVIDIA_TF32_OVERRIDE") === "0"
    ? false
    : "default (on for Ampere and later)";
  return flags;
}
