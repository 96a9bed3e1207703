/**
 * Which GPU a rank uses: one per rank, chosen from its environment as Slurm, DeepSpeed and
 * nccl-tests do. An explicit map (`--gpu-bind map_gpu:0,1,...`, passed as PHANTOM_GPU_MAP) wins;
 * otherwise a visible-device list of one entry (srun --gpus-per-task=1, --gpu-bind=closest or
 * single:1) is the rank's device; otherwise the rank takes entry SLURM_LOCALID modulo the list's
 * length (--gpus-per-node without binding). CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES and
 * HIP_VISIBLE_DEVICES are read in that order. With none of them set every GPU of the node is visible, and the
 * rank takes its local rank modulo the node's GPU count (NVIDIA's, from nvidia-smi).
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";

/** A rank's device and how it was chosen. */
export interface GpuChoice {
  /** The device id as the vendor's tools name it (e.g. "3", or a UUID), or null without GPUs. */
  device: string | null;
  /** How it was chosen. */
  source: string;
  /** The variable that lists visible devices, if any. */
  variable?: string;
}

const VISIBLE = ["CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"] as const;

/**
 * Parses a GPU map: "map_gpu:0,1,2,3" or "0,1,2,3" (device per local rank).
 *
 * @param text The map.
 * @param name The flag or variable, for the error.
 * @returns Device ids by local rank.
 * @throws {ConfigError} If an entry is not a device number.
 */
export function parseGpuMap(text: string, name = "--gpu-bind"): string[] {
  const list = text.replace(/^map_gpu:/, "").split(",").map((s) => s.trim());
  if (list.length === 0 || list.some((d) => !/^\d+$/.test(d))) {
    throw new ConfigError(name, text, "must be map_gpu:D0,D1,... (a device number per local rank)");
  }
  return list;
}

/**
 * Chooses a rank's GPU.
 *
 * @param env The rank's environment (SLURM_LOCALID, the visible-device lists, PHANTOM_GPU_MAP).
 * @param nodeGpus GPUs of the node, used where no visible-device list is set. @default 0
 * @returns The device and how it was chosen.
 * @throws {ConfigError} If the map names a device that is not visible.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseGpu } from "./gpu_select.ts";
 * assert.equal(chooseGpu({ CUDA_VISIBLE_DEVICES: "5" }).device, "5");
 * assert.equal(chooseGpu({ CUDA_VISIBLE_DEVICES: "0,1,2,3", SLURM_LOCALID: "6" }).device, "2");
 * assert.equal(chooseGpu({}).device, null);
 * assert.equal(chooseGpu({ PHANTOM_LOCAL_RANK: "5" }, 4).device, "1");
 * ```
 */
export function chooseGpu(env: Record<string, string | undefined>, nodeGpus = 0): GpuChoice {
  const localRank = Number(env.SLURM_LOCALID ?? env.PHANTOM_LOCAL_RANK ?? 0);
  const variable = VISIBLE.find((v) => env[v] !== undefined && env[v] !== "");
  const visible = variable ? env[variable]!.split(",").map((s) => s.trim()) : [];
  if (env.PHANTOM_GPU_MAP) {
    const map = parseGpuMap(env.PHANTOM_GPU_MAP, "PHANTOM_GPU_MAP");
    const device = map[localRank % map.length];
    if (visible.length > 0 && !visible.includes(device) && Number(device) >= visible.length) {
      throw new ConfigError(
        "--gpu-bind",
        env.PHANTOM_GPU_MAP,
        `names device ${device}, but ${variable} lists ${visible.join(",")}`,
      );
    }
    return { device, source: `map: local rank ${localRank} of ${map.join(",")}`, variable };
  }
  if (visible.length === 1) {
    return { device: visible[0], source: `${variable} holds one device`, variable };
  }
  if (visible.length > 1) {
    return {
      device: visible[localRank % visible.length],
      source: `local rank ${localRank} modulo the ${visible.length} devices of ${variable}`,
      variable,
    };
  }
  // An empty list hides every device (CUDA's meaning).
  const hidden = VISIBLE.find((v) => env[v] === "");
  if (!variable && !hidden && nodeGpus > 0) {
    return {
      device: String(localRank % nodeGpus),
      source:
        `local rank ${localRank} modulo the node's ${nodeGpus} GPUs (no visible-device list set)`,
    };
  }
  return {
    device: null,
    source: hidden ? `${hidden} is empty` : "no GPU is visible (nvidia-smi lists none)",
  };
}
