/**
 * Runs one benchmark point on the chosen communicator and returns every rank's measurements, rank
 * 0's step starts on the shared wall clock (ms since the epoch: what every process and node agrees
 * on, for energy windows), the CPU time each node's rank-hosting processes spent in each step (for
 * a declared power model), and where each rank ran.
 *
 * @module
 */

import { type TrainConfig, worldSize } from "../config/config.ts";
import type { NatsConnectionOptions } from "../nats/connection.ts";
import type { WireDtype } from "../nats/wire.ts";
import { processCpuMs } from "../system/process.ts";
import { type LauncherName, runOverNats, type SlurmLaunch } from "./nats_run.ts";
import type { Hello } from "./run_protocol.ts";
import type { StepRecord } from "./trainer.ts";
import { type RankRunResult, trainInProcess } from "./trainer.ts";

/** Where and how ranks talk. */
export type CommunicatorChoice =
  | { kind: "in-process" }
  | {
    kind: "nats";
    connection: NatsConnectionOptions;
    launcher: LauncherName;
    processes?: number;
    dtype: WireDtype;
    /** With launcher slurm: the allocation, its NATS servers and GPU flags. */
    slurm?: SlurmLaunch;
    /** The secret runs' keys derive from. @default a fresh one per run */
    secret?: string;
    /** With the manual launcher: a file that holds `secret`, given by the user. */
    secretFile?: string;
    /** With the manual launcher: the next run's id (--run-id PREFIX: PREFIX-1, PREFIX-2, ...). */
    nextRunId?: () => string;
  };

/** Where a rank ran. */
export type RankPlacement = Omit<Hello, "host"> & { host: string };

/** What a point produced. */
export interface PointOutcome {
  /** Every rank's measurements. */
  ranks: RankRunResult[];
  /** Rank 0's step starts, in ms since the epoch. */
  stepStartsEpochMs: number[];
  /** Per step, the CPU time of each node's rank-hosting processes, in ms (by node index). */
  stepCpuMsByNode: number[][];
  /** Where every rank ran (null in process: this process). */
  placement: RankPlacement[] | null;
}

/** Options of {@linkcode runPoint}. */
export interface PointOptions {
  /** Aborts the run. */
  signal?: AbortSignal;
  /** Rank 0's step records as they come (progress). */
  onStep?: (record: StepRecord) => void;
}

/**
 * @param config The configuration.
 * @param communicator In-process or NATS.
 * @param options Abort signal and progress.
 * @returns The measurements.
 */
export async function runPoint(
  config: TrainConfig,
  communicator: CommunicatorChoice,
  options: PointOptions = {},
): Promise<PointOutcome> {
  if (communicator.kind === "in-process") {
    const stepStartsEpochMs: number[] = [];
    const stepCpuMsByNode: number[][] = [];
    let cpuStart = 0;
    const ranks = await trainInProcess(config, {
      signal: options.signal,
      onStepStart: () => {
        stepStartsEpochMs.push(performance.timeOrigin + performance.now());
        cpuStart = processCpuMs();
      },
      onStep: (s) => {
        stepCpuMsByNode.push([processCpuMs() - cpuStart]);
        options.onStep?.(s);
      },
    });
    return { ranks, stepStartsEpochMs, stepCpuMsByNode, placement: null };
  }
  const run = await runOverNats(config, {
    connection: communicator.connection,
    launcher: communicator.launcher,
    processes: communicator.processes,
    dtype: communicator.dtype,
    slurm: communicator.slurm,
    signal: options.signal,
    onStep: (e) => options.onStep?.(e.record),
    secret: communicator.secret,
    secretFile: communicator.secretFile,
    runId: communicator.nextRunId?.(),
    onRejected: (message) => console.error(message),
    onWaitingForRanks: (runId, url, secretFile) => {
      // One line for scripts (the run to start workers for), then the same for people.
      console.log(
        `PB-WAITING ${
          JSON.stringify({ runId, ranks: worldSize(config), servers: url.split(","), secretFile })
        }`,
      );
      console.log(
        `waiting for ${worldSize(config)} ranks of run ${runId}: start them on each host with\n` +
          `  npx deno task worker --nats ${url} --run ${runId} --ranks FIRST-LAST ` +
          `--secret-file ${secretFile} [--node-index N]\n` +
          `  (copy ${secretFile} to hosts that do not share it${
            communicator.secretFile ? "" : "; it is deleted when the run ends"
          })`,
      );
    },
  });
  const rank0 = run.outcomes[0];
  // One rank per process reports its process's CPU time; processes are summed per node.
  const nodes = Math.max(...run.hellos.map((h) => h.nodeIndex)) + 1;
  const perProcess = new Map<number, { node: number; cpu: number[] }>();
  for (const o of run.outcomes) {
    if (!perProcess.has(o.pid)) {
      perProcess.set(o.pid, { node: run.hellos[o.rank].nodeIndex, cpu: o.stepProcessCpuMs });
    }
  }
  return {
    ranks: run.outcomes.map((o) => o.result),
    stepStartsEpochMs: rank0.stepStartsEpochMs,
    stepCpuMsByNode: rank0.result.steps.map((_, i) => {
      const byNode = new Array(nodes).fill(0);
      for (const { node, cpu } of perProcess.values()) byNode[node] += cpu[i] ?? 0;
      return byNode;
    }),
    placement: run.hellos.map((h) => ({ ...h })),
  };
}
