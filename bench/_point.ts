/**
 * Runs one benchmark point on the chosen communicator and returns every rank's measurements with
 * one energy window per step of rank 0: live windows in process, or, over NATS, windows rebuilt
 * from rank 0's step start times on the shared wall clock (this machine's power sampler then
 * measures the whole host, which is what a single-machine run uses).
 *
 * @module
 */

import type { TrainConfig } from "../lib/config.ts";
import type { NatsConnectionOptions } from "../lib/nats/connection.ts";
import type { WireDtype } from "../lib/nats/wire.ts";
import { type LauncherName, runOverNats } from "../lib/nats_run.ts";
import type { EnergyMeasurement, EnergyMonitor } from "../lib/power/energy_monitor.ts";
import { type RankRunResult, trainInProcess } from "../lib/trainer.ts";

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
  /** One energy measurement per step (all steps, warm-up included). */
  windows: EnergyMeasurement[];
}

/**
 * @param id Point id (window names).
 * @param config The configuration.
 * @param communicator In-process or NATS.
 * @param monitor The energy monitor.
 * @param signal Aborts a NATS run.
 * @returns The measurements.
 */
export async function runPoint(
  id: string,
  config: TrainConfig,
  communicator: CommunicatorChoice,
  monitor: EnergyMonitor,
  signal?: AbortSignal,
): Promise<PointOutcome> {
  if (communicator.kind === "in-process") {
    const windows: Promise<EnergyMeasurement>[] = [];
    const ranks = await trainInProcess(config, {
      onStepStart: (step) => monitor.begin(`${id}#${step}`),
      onStep: (s) => windows.push(monitor.end(`${id}#${s.step}`)),
    });
    await monitor.sampleNow();
    return { ranks, windows: await Promise.all(windows) };
  }
  const run = await runOverNats(config, {
    connection: communicator.connection,
    launcher: communicator.launcher,
    processes: communicator.processes,
    dtype: communicator.dtype,
    signal,
    onWaitingForRanks: (runId, url) =>
      console.log(
        `waiting for ${config.ranks} ranks of run ${runId}: start them with\n` +
          `  srun -n ${config.ranks} npx deno task worker --nats ${url} --run ${runId} --launcher slurm\n` +
          `or on each host: npx deno task worker --nats ${url} --run ${runId} --ranks FIRST-LAST`,
      ),
  });
  const rank0 = run.outcomes[0];
  // CPU time per step: one rank per process reports its process's CPU time.
  const perProcess = new Map<number, number[]>();
  for (const o of run.outcomes) {
    if (!perProcess.has(o.pid)) perProcess.set(o.pid, o.stepProcessCpuMs);
  }
  await monitor.sampleNow();
  const windows = await Promise.all(rank0.result.steps.map((s, i) => {
    const start = rank0.stepStartsEpochMs[i] - performance.timeOrigin;
    const cpuMs = [...perProcess.values()].reduce((sum, c) => sum + (c[i] ?? 0), 0);
    return monitor.measureWindow(`${id}#${i}`, start, start + s.stepMs, cpuMs);
  }));
  return { ranks: run.outcomes.map((o) => o.result), windows };
}
