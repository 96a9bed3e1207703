/**
 * One GPU per rank for the webgpu backend. Deno's `navigator.gpu.requestAdapter` cannot choose
 * among GPUs (it returns the first), and NVIDIA's Vulkan driver ignores CUDA_VISIBLE_DEVICES; the
 * only environment route that picks one of several identical GPUs is the Vulkan layer that Mesa
 * ships (`VK_LAYER_MESA_device_select`, Debian `mesa-vulkan-drivers`): `DRI_PRIME=pci-D_B_D_F!`
 * exposes that PCI device alone, to any driver, NVIDIA's included. The fallback is an index-based
 * device-chooser layer (`ENABLE_DEVICE_CHOOSER_LAYER=1 VULKAN_DEVICE_INDEX=n`). Either must be
 * set before the process first asks for an adapter, which is why one rank per process is required
 * (the Slurm launcher gives that). Where neither layer is installed nothing can choose, and the
 * rank records a warning: every rank of the node will get the same first GPU.
 *
 * @module
 */

import { queryNvidiaSmi } from "../../system/nvidia_smi.ts";

/** What a rank did to get its GPU. */
export interface GpuSelection {
  /** The device the rank asked for (lib/runtime/gpu_select.ts), or null. */
  requested: string | null;
  /** How it was selected, or why it could not be. */
  method: string;
  /** Variables to set before the first adapter request. */
  env: Record<string, string>;
  /** Variables to remove (DISPLAY: a non-NVIDIA X server hides all but the first NVIDIA GPU). */
  unset: string[];
  warnings: string[];
}

/** What the node offers. */
export interface GpuFacts {
  /** NVIDIA GPUs: index, UUID and PCI bus id (from nvidia-smi). */
  nvidia: { index: string; uuid: string; pci: string }[];
  /** Whether the Mesa device-select layer is installed. */
  mesaLayer: boolean;
  /** Whether an index-based device-chooser layer is installed. */
  chooserLayer: boolean;
}

/**
 * A PCI bus id as nvidia-smi prints it, in DRI_PRIME's form.
 *
 * @param pci E.g. "00000000:1B:00.0".
 * @returns E.g. "pci-0000_1b_00_0".
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { driPrime } from "./device_select.ts";
 * assert.equal(driPrime("00000000:1B:00.0"), "pci-0000_1b_00_0");
 * ```
 */
export function driPrime(pci: string): string {
  const m = pci.trim().match(/^([0-9a-fA-F]+):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/);
  if (!m) throw new RangeError(`Cannot read PCI bus id "${pci}"`);
  return `pci-${m[1].slice(-4).toLowerCase()}_${m[2].toLowerCase()}_${m[3].toLowerCase()}_${m[4]}`;
}

/**
 * Plans a rank's GPU selection (pure).
 *
 * @param requested The device the rank asked for: an index (nvidia-smi's) or a UUID, or null.
 * @param facts What the node offers.
 * @returns What to set, and how it was chosen.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planGpuSelection } from "./device_select.ts";
 * const facts = { nvidia: [{ index: "0", uuid: "GPU-a", pci: "00000000:1B:00.0" }, { index: "1", uuid: "GPU-b", pci: "00000000:43:00.0" }], mesaLayer: true, chooserLayer: false };
 * assert.equal(planGpuSelection("1", facts).env.DRI_PRIME, "pci-0000_43_00_0!");
 * assert(planGpuSelection("1", { ...facts, mesaLayer: false }).warnings.length === 1);
 * assert.equal(planGpuSelection("0", { ...facts, nvidia: facts.nvidia.slice(0, 1) }).method, "the node's only GPU");
 * ```
 */
export function planGpuSelection(requested: string | null, facts: GpuFacts): GpuSelection {
  const none = { requested, env: {}, unset: [] as string[], warnings: [] as string[] };
  if (requested === null) return { ...none, method: "none: no GPU requested" };
  const gpu = facts.nvidia.find((g) => g.index === requested || g.uuid === requested);
  if (gpu && facts.nvidia.length === 1) return { ...none, method: "the node's only GPU" };
  if (facts.mesaLayer && gpu) {
    return {
      ...none,
      method: `DRI_PRIME=${driPrime(gpu.pci)}! through the Mesa device-select layer`,
      env: { DRI_PRIME: `${driPrime(gpu.pci)}!`, DENO_WEBGPU_BACKEND: "vulkan" },
      unset: ["DISPLAY"],
    };
  }
  if (facts.chooserLayer && gpu) {
    return {
      ...none,
      method: `VULKAN_DEVICE_INDEX=${gpu.index} through the device-chooser layer`,
      env: {
        ENABLE_DEVICE_CHOOSER_LAYER: "1",
        VULKAN_DEVICE_INDEX: gpu.index,
        DENO_WEBGPU_BACKEND: "vulkan",
      },
      unset: ["DISPLAY"],
    };
  }
  const why = !gpu
    ? `GPU ${requested} is not among the NVIDIA GPUs nvidia-smi lists (${
      facts.nvidia.map((g) => g.index).join(", ") || "none"
    })`
    : "no Vulkan device-select layer is installed (apt-get install mesa-vulkan-drivers)";
  return {
    ...none,
    method: `none: ${why}`,
    warnings: [
      `rank asked for GPU ${requested} but nothing can select it (${why}): it gets the first GPU`,
    ],
  };
}

/**
 * Reads what the node offers: nvidia-smi's GPUs and the installed Vulkan layers.
 *
 * @returns The facts (no GPUs where nvidia-smi is missing).
 */
export function gpuFacts(): GpuFacts {
  const nvidia: GpuFacts["nvidia"] = queryNvidiaSmi(["index", "uuid", "pci.bus_id"]).map((g) => ({
    index: g.index,
    uuid: g.uuid,
    pci: g["pci.bus_id"],
  }));
  const dirs = [
    "/usr/share/vulkan/implicit_layer.d",
    "/etc/vulkan/implicit_layer.d",
    "/usr/local/share/vulkan/implicit_layer.d",
  ];
  const layers = dirs.flatMap((d) => {
    try {
      return [...Deno.readDirSync(d)].map((e) => e.name);
    } catch {
      return [];
    }
  });
  return {
    nvidia,
    mesaLayer: layers.some((n) => /MESA_device_select/i.test(n)),
    chooserLayer: layers.some((n) => /device_?chooser/i.test(n)),
  };
}

/**
 * Applies a selection to this process's environment (before the first adapter request).
 *
 * @param selection The plan.
 */
export function applyGpuSelection(selection: GpuSelection): void {
  for (const [k, v] of Object.entries(selection.env)) Deno.env.set(k, v);
  for (const k of selection.unset) Deno.env.delete(k);
}
