/**
 * Runs one benchmark point on the chosen communicator and returns every rank's measurements with
 * rank 0's step start times on the energy monitor's clock (live in process; over NATS converted
 * from the shared wall clock) and the CPU time spent in each step by the processes hosting ranks
 * (for a declared power model).
 *
 * @module
 */

import { processCpuMs } from "../system/process.ts";
import type { TrainConfig } from "../config/config.ts";
import type { NatsConnectionOptions } from "../nats/connection.ts";
import type { WireDtype } from "../nats/wire.ts";
import { type LauncherName, runOverNats } from "./nats_run.ts";
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
  };

/** What a point produced. */
export interface PointOutcome {
  /** Every rank's measurements. */
  ranks: RankRunResult[];
  /** Rank 0's step starts, in ms on this process's performance clock. */
  stepStartsMs: number[];
  /** CPU time of the rank-hosting processes during each step, in ms. */
  stepCpuMs: number[];
}

/** Options of {@linkcode runPoint}. */
export interface PointOptions {
  /** Aborts a NATS run. */
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
    const stepStartsMs: number[] = [];
    const stepCpuMs: number[] = [];
    let cpuStart = 0;
    const ranks = await trainInProcess(config, {
      onStepStart: () => {
        stepStartsMs.push(performance.now());
        cpuStart = processCpuMs();
      },
      onStep: (s) => {
        stepCpuMs.push(processCpuMs() - cpuStart);
        options.onStep?.(s);
      },
    });
    return { ranks, stepStartsMs, stepCpuMs };
  }
  const run = await runOverNats(config, {
    connection: communicator.connection,
    launcher: communicator.launcher,
    processes: communicator.processes,
    dtype: communicator.dtype,
    signal: options.signal,
    onStep: (e) => options.onStep?.(e.record),
    onWaitingForRanks: (runId, url) =>
      console.log(
        `waiting for ${config.ranks} ranks of run ${runId}: start them with\n` +
          `  srun -n ${config.ranks} npx deno task worker --nats ${url} --run ${runId} --launcher slurm\n` +
          `or on each host: npx deno task worker --nats ${url} --run ${runId} --ranks FIRST-LAST`,
      ),
  });
  const rank0 = run.outcomes[0];
  // One rank per process reports its process's CPU time.
  const perProcess = new Map<number, number[]>();
  for (const o of run.outcomes) {
    if (!perProcess.has(o.pid)) perProcess.set(o.pid, o.stepProcessCpuMs);
  }
  return {
    ranks: run.outcomes.map((o) => o.result),
    stepStartsMs: rank0.stepStartsEpochMs.map((t) => t - performance.timeOrigin),
    stepCpuMs: rank0.result.steps.map((_, i) =>
      [...perProcess.values()].reduce((sum, c) => sum + (c[i] ?? 0), 0)
    ),
  };
}
