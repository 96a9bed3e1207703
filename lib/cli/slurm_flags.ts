/**
 * The Slurm options of `deno task bench --launcher slurm`, and what they are checked against
 * before anything starts: that the bench runs inside an allocation with srun on PATH, that the
 * GPU mapping names devices the nodes have, and that every point fits the allocation (a sweep
 * excludes the points that do not, with the reason; an explicitly requested point is an error).
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import type { Expansion } from "../config/sweep.ts";
import { parseGpuMap } from "../runtime/gpu_select.ts";
import {
  type CommandRunner,
  type GpuOptions,
  readAllocation,
  runCommand,
  type SlurmAllocation,
  stepLayout,
} from "../runtime/slurm.ts";
import { flag } from "./flags.ts";

const GROUP = "Slurm options (--launcher slurm)";

/** The flags. */
export const SLURM_FLAGS = {
  "gpus-per-node": flag.int({
    group: GROUP,
    help: "GPUs to request per node for each point's step (srun --gpus-per-node)",
    defaultHelp: "none requested; ranks still pick from the visible devices",
  }),
  "gpu-bind": flag.string({
    group: GROUP,
    arg: "HOW",
    help: "srun --gpu-bind for the ranks: closest, single:N, none, or map_gpu:D0,D1,... (a " +
      "device per local rank)",
  }),
  "node-interface": flag.string({
    group: GROUP,
    arg: "NAME",
    help: "network interface the per-node nats-servers listen on (e.g. hsn0, ib0)",
    defaultHelp: "the first that is not loopback",
  }),
};

/** What a Slurm run is checked and planned against. */
export interface SlurmPlan {
  /** The allocation. */
  allocation: SlurmAllocation;
  /** GPU flags for the steps. */
  gpu: GpuOptions;
  /** The expansion with the points that do not fit excluded. */
  expansion: Expansion;
}

/**
 * Checks the Slurm options and the points against the allocation.
 *
 * @param values The flag values.
 * @param expansion The points.
 * @param single Whether the points were requested explicitly (then one that does not fit is an error).
 * @param env The environment (SLURM_*).
 * @param run Runs srun and scontrol (injectable for tests).
 * @returns The plan.
 * @throws {ConfigError} Outside an allocation, without srun, with a GPU mapping naming a missing
 *   device, or with an explicit point needing more ranks than the allocation has tasks.
 */
export async function planSlurm(
  values: { "gpus-per-node"?: number; "gpu-bind"?: string; communicator?: string },
  expansion: Expansion,
  single: boolean,
  env: Record<string, string | undefined>,
  run: CommandRunner = runCommand,
): Promise<SlurmPlan> {
  if (values.communicator === "in-process") {
    throw new ConfigError(
      "--communicator",
      "in-process",
      "cannot be combined with --launcher slurm",
    );
  }
  const allocation = await readAllocation(env, run);
  const gpusPerNode = values["gpus-per-node"] ?? allocation.gpusPerNode;
  const bind = values["gpu-bind"];
  if (bind !== undefined) {
    if (bind.startsWith("map_gpu:")) {
      const devices = parseGpuMap(bind);
      const missing = gpusPerNode === undefined
        ? undefined
        : devices.find((d) => Number(d) >= gpusPerNode);
      if (missing !== undefined) {
        throw new ConfigError(
          "--gpu-bind",
          bind,
          `names GPU ${missing}, but the nodes have ${gpusPerNode} (0-${gpusPerNode! - 1})`,
        );
      }
    } else if (!/^(closest|none|single:\d+|per_task:\d+)$/.test(bind)) {
      throw new ConfigError(
        "--gpu-bind",
        bind,
        "must be closest, none, single:N, per_task:N or map_gpu:D0,D1,...",
      );
    }
  }
  const points = [];
  const excluded = [...expansion.excluded];
  for (const point of expansion.points) {
    const layout = stepLayout(point.config.ranks, allocation);
    if (typeof layout === "string") {
      if (single) {
        throw new ConfigError(
          "--ranks",
          String(point.config.ranks),
          `${layout} (SLURM_NTASKS=${allocation.tasks})`,
        );
      }
      excluded.push({ point: point.id, reason: layout });
    } else {
      points.push(point);
    }
  }
  return {
    allocation,
    gpu: { gpusPerNode: values["gpus-per-node"], gpuBind: bind },
    expansion: { ...expansion, points, excluded },
  };
}
