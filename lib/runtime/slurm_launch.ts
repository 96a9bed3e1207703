/**
 * The Slurm launcher: one job step per point (`srun -n P ... workers/rank_host.ts --launcher
 * slurm`), one rank per task. Each rank connects to its own node's nats-server first (the URL list
 * by node index travels in PHANTOM_NATS_URLS_BY_NODE) and picks its GPU from its environment
 * (lib/runtime/gpu_select.ts). A step that fails fails the run, naming the tasks srun reports;
 * one stopped early is cancelled with TERM through scancel and given time to end.
 *
 * @module
 */

import { natsConnectionEnv, type NatsConnectionOptions } from "../nats/connection.ts";
import { RUN_SECRET_ENV } from "./control_auth.ts";
import { RunFailedError } from "./coordinator.ts";
import { rankHostArgs } from "./launcher.ts";
import {
  type GpuOptions,
  type SlurmAllocation,
  type SlurmStep,
  srunArgs,
  startStep,
  type StepLayout,
  stepLayout,
} from "./slurm.ts";

/** What the Slurm launcher needs besides the run. */
export interface SlurmLaunch {
  /** The allocation. */
  allocation: SlurmAllocation;
  /** Node servers' URLs by node index (from lib/runtime/node_cluster.ts), or null for a given NATS. */
  urlsByNode: string[] | null;
  /** GPU flags of the steps. */
  gpu: GpuOptions;
}

/** A running rank step. */
export interface SlurmRankStep {
  /** How the ranks are laid out. */
  readonly layout: StepLayout;
  /** Rejects with a {@linkcode RunFailedError} when the step fails before the run ends. */
  readonly failure: Promise<never>;
  /** Waits for the step to end (after the run: the ranks exit by themselves), then stops it. */
  finish(graceMs?: number): Promise<void>;
  /** Cancels it (TERM to the tasks, then SIGKILL to srun after the grace period). */
  cancel(graceMs?: number): Promise<void>;
}

/**
 * Starts the step of one run.
 *
 * @param slurm The allocation, node servers, GPU flags.
 * @param connection The NATS the ranks use (credentials go into their environment).
 * @param runId The run.
 * @param secret The run secret (in the step's environment, never on its command line).
 * @param ranks p.
 * @returns The running step.
 * @throws {RunFailedError} If the point does not fit the allocation.
 */
export function launchSlurm(
  slurm: SlurmLaunch,
  connection: NatsConnectionOptions,
  runId: string,
  secret: string,
  ranks: number,
  order?: number[],
): SlurmRankStep {
  const layout = stepLayout(ranks, slurm.allocation);
  if (typeof layout === "string") throw new RunFailedError(`Run failed: ${layout}`, []);
  const servers = slurm.urlsByNode ??
    (Array.isArray(connection.servers) ? connection.servers : [connection.servers]);
  const env: Record<string, string> = {
    ...natsConnectionEnv(connection),
    [RUN_SECRET_ENV]: secret,
    PHANTOM_BLAS_THREADS: String(layout.cpusPerTask),
    PHANTOM_COORDINATOR_TIMEOUT_MS: Deno.env.get("PHANTOM_COORDINATOR_TIMEOUT_MS") ?? "30000",
  };
  if (slurm.urlsByNode) env.PHANTOM_NATS_URLS_BY_NODE = slurm.urlsByNode.join(",");
  // Task SLURM_PROCID = s hosts global rank order[s] (dp-inner placement).
  if (order) env.PHANTOM_RANK_ORDER = order.join(",");
  if (slurm.gpu.gpuBind?.startsWith("map_gpu:")) env.PHANTOM_GPU_MAP = slurm.gpu.gpuBind;
  const step: SlurmStep = startStep(
    slurm.allocation.jobId,
    srunArgs(ranks, layout, `pb-${runId}`, slurm.gpu),
    [
      Deno.execPath(),
      ...rankHostArgs([
        "--launcher",
        "slurm",
        "--run",
        runId,
        "--nats",
        servers.join(","),
        "--threads",
        "1",
      ]),
    ],
    env,
  );
  let ending = false;
  const failure = step.status.then((s): never => {
    if (ending && s.success) throw new RunFailedError("the step ended", []);
    const tail = step.tail();
    const tasks = [...new Set([...tail.matchAll(/task (\d+)/g)].map((m) => Number(m[1])))].sort((
      a,
      b,
    ) => a - b);
    throw new RunFailedError(
      `Run failed: the srun step of ${ranks} ranks on ${layout.nodes} nodes exited with code ${s.code}` +
        `${tasks.length ? ` (tasks ${tasks.join(", ")})` : ""}${tail ? `:\n${tail}` : ""}`,
      tasks,
    );
  });
  failure.catch(() => {});
  return {
    layout,
    failure,
    async finish(graceMs = 30_000) {
      ending = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = await Promise.race([
        step.status.then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs))),
      ]);
      clearTimeout(timer);
      if (!done) await step.stop(5000);
    },
    async cancel(graceMs = 10_000) {
      ending = true;
      await step.stop(graceMs);
    },
  };
}
