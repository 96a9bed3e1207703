/**
 * The sweep runner: every point of an expansion, `repeats` times, on the chosen communicator,
 * with a cooldown between runs. Each run becomes a {@linkcode RunResult}: timing after warm-up,
 * measured and predicted bytes, energy per step and phase from windows over rank 0's steps, and
 * loss to target. A run that fails is recorded with its error and the sweep goes on.
 *
 * @module
 */

import { gridPosition } from "../comm/grid.ts";
import { configHash, type RunResult } from "../results/results.ts";
import { type StepWindows, summarizeEnergy } from "./energy_summary.ts";
import { lossToTarget } from "./loss_target.ts";
import type { EnergyWindows, WindowRequest } from "./energy_windows.ts";
import { summarizeInference, summarizeRun } from "./run_summary.ts";
import { predictMemory } from "../config/cost_model.ts";
import { formatBytes } from "../results/units.ts";
import type { Expansion, SweepPoint, TargetSpec } from "../config/sweep.ts";
import { comparePeer, type PeerName, runNumpyPeer } from "./peer.ts";
import { type CommunicatorChoice, runPoint } from "./point.ts";
import type { RankRunResult } from "./trainer.ts";

/** What shows a sweep's progress: a run starts, a step ends, the run ends. */
export interface SweepProgress {
  start(label: string, steps: number): void;
  step(step: number): void;
  finish(): void;
}

/** What the runner needs. */
export interface RunnerContext {
  /** Transport. */
  communicator: CommunicatorChoice;
  /** Wire bytes per element (4, or 2 for half types over NATS). */
  bytesPerElement: number;
  /** Wire dtype recorded in each run's config. */
  dtype: string;
  /** Where step windows get their energy (this host's monitor, or every node's). */
  energy: EnergyWindows;
  /** Loss target. */
  target: TargetSpec;
  /** Points whose predicted peak memory per rank exceeds this are recorded out-of-memory, not run. */
  memoryCapBytes?: number;
  /**
   * Where every rank runs on this host: its memory. A point whose ranks together are predicted
   * to need more is recorded out-of-memory at once instead of swapping or hanging for hours
   * (e.g. 10^8 layers).
   */
  hostMemoryBytes?: number;
  /** Pause between runs, in ms (lets power settle). */
  cooldownMs: number;
  /** Interrupts the sweep. */
  signal?: AbortSignal;
  /** Called after every run (e.g. to rewrite the results file). */
  onRun?: (run: RunResult) => Promise<void> | void;
  /** Progress display (the entry point's; lib/ prints nothing itself). */
  progress?: SweepProgress;
  /** An independent implementation to run each point in too, and its BLAS threads. */
  peer?: { name: PeerName; threads: number };
  /**
   * Called before every run: may replace the transport (a suite-started nats-server that died is
   * restarted), or throw to stop the sweep with its message.
   */
  beforeRun?: (point: SweepPoint) => Promise<CommunicatorChoice | void>;
  /** A cause outside the ranks to add to a failed run's error (e.g. the server died), if any. */
  failureCause?: () => string | undefined;
  /**
   * Settles with a line when a fault outside the ranks happens while a run is going (e.g. a Slurm
   * node's server died): the run is stopped at once and fails with that line, rather than waiting
   * for its collectives to time out. Polling ends when `signal` aborts (the run ended).
   */
  fault?: (signal: AbortSignal) => Promise<string>;
}

/**
 * Runs an expansion.
 *
 * @param expansion Points, repeats, warm-up.
 * @param ctx Transport, monitor, target, cooldown, callbacks.
 * @returns One result per run, in order (failed runs included).
 */
export async function runSweep(expansion: Expansion, ctx: RunnerContext): Promise<RunResult[]> {
  const runs: RunResult[] = [];
  const progress = ctx.progress;
  for (const point of expansion.points) {
    for (let repeat = 0; repeat < expansion.repeats; repeat++) {
      if (ctx.signal?.aborted) return runs;
      if (runs.length > 0 && ctx.cooldownMs > 0) {
        await new Promise((r) => setTimeout(r, ctx.cooldownMs));
      }
      const replaced = await ctx.beforeRun?.(point);
      if (replaced) ctx = { ...ctx, communicator: replaced };
      progress?.start(`${point.id} #${repeat}`, point.config.steps);
      const run = await runOne(point, repeat, expansion.warmup, ctx, (s) => progress?.step(s));
      progress?.finish();
      runs.push(run);
      await ctx.onRun?.(run);
    }
  }
  return runs;
}

async function runOne(
  point: SweepPoint,
  repeat: number,
  warmup: number,
  ctx: RunnerContext,
  onStep: (step: number) => void,
): Promise<RunResult> {
  // A training run's recorded config (and hash) has no workload field, as before inference existed.
  const { workload, ...fields } = point.config;
  const config = {
    ...fields,
    ...(workload === "inference" ? { workload } : {}),
    phantomWidth: point.config.phantomWidth ?? null,
    dtype: ctx.dtype,
    warmup,
    // The link rate of an emulated network, where the point sets one (the network sweep).
    ...(point.link !== undefined ? { link: point.link } : {}),
  };
  const base = {
    id: `${point.id}#${repeat}`,
    point: point.id,
    repeat,
    configHash: await configHash(config),
    config,
  };
  const predictedMemory = predictMemory(point.config, point.config.optimizer, workload).peakBytes;
  if (ctx.memoryCapBytes !== undefined && predictedMemory > ctx.memoryCapBytes) {
    return {
      ...base,
      status: "out-of-memory",
      error: `predicted ${formatBytes(predictedMemory)} per rank exceeds the memory cap of ` +
        `${formatBytes(ctx.memoryCapBytes)}: not run`,
      predictedMemoryBytesPerRank: predictedMemory,
      memoryCapBytes: ctx.memoryCapBytes,
    };
  }
  const together = predictedMemory * point.config.ranks;
  if (ctx.hostMemoryBytes !== undefined && together > ctx.hostMemoryBytes) {
    return {
      ...base,
      status: "out-of-memory",
      error:
        `predicted ${formatBytes(predictedMemory)} per rank, ${
          formatBytes(together)
        } for its ${point.config.ranks} ranks, exceeds this host's memory of ` +
        `${formatBytes(ctx.hostMemoryBytes)}: not run`,
      predictedMemoryBytesPerRank: predictedMemory,
    };
  }
  // The run's own signal: the sweep's stop, or a fault outside the ranks.
  const running = new AbortController();
  const ended = new AbortController();
  const stopRun = () => running.abort(ctx.signal?.reason);
  ctx.signal?.addEventListener("abort", stopRun, { once: true });
  if (ctx.signal?.aborted) stopRun();
  let fault: string | undefined;
  ctx.fault?.(ended.signal).then((why) => {
    fault = why;
    running.abort(new Error(why));
  });
  try {
    if (warmup >= point.config.steps) {
      throw new RangeError(
        `warm-up (${warmup}) leaves none of the ${point.config.steps} steps to time`,
      );
    }
    const outcome = await runPoint(point.config, ctx.communicator, {
      signal: running.signal,
      onStep: (s) => onStep(s.step),
    });
    const peer = ctx.peer && workload === "train"
      ? await peerRun(point, outcome.ranks[0], warmup, ctx.peer.threads)
      : undefined;
    const summary = summarizeRun(point.config, outcome.ranks, warmup, ctx.bytesPerElement);
    divergence(outcome.ranks[0], summary.stepTimeMs.median);
    const rank0 = outcome.ranks[0];
    const { windows, unavailableReason } = await stepWindows(
      ctx.energy,
      outcome.stepStartsEpochMs,
      rank0.steps,
      outcome.stepCpuMsByNode,
    );
    const energy = summarizeEnergy(windows.slice(warmup), unavailableReason);
    const stepJoules = energy.method === "unavailable"
      ? null
      : windows.map((w) => w.step.totalJ ?? 0);
    const inference = workload === "inference";
    return {
      ...base,
      status: "ok",
      metrics: {
        ...summary,
        energy,
        ...(inference
          ? {
            inference: summarizeInference(
              point.config,
              outcome.ranks,
              warmup,
              energy.joulesPerStep?.median ?? null,
            ),
          }
          : { loss: lossToTarget(rank0.evals, stepJoules, ctx.target) }),
      },
      ...(peer ? { peer } : {}),
      ...(outcome.placement
        ? {
          placement: (point.config.replicas ?? 1) > 1
            ? outcome.placement.map((p) => {
              const { replica, modelRank } = gridPosition(p.rank, point.config.ranks);
              return { ...p, replica, modelRank };
            })
            : outcome.placement,
        }
        : {}),
      ...(outcome.ranks.some((r) => r.gpu) ? { gpu: gpuRecords(outcome) } : {}),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (ctx.signal?.aborted) {
      const why = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : "interrupted";
      return { ...base, status: "interrupted", error: `${why}: ${message}` };
    }
    if (isOutOfMemory(message)) {
      return {
        ...base,
        status: "out-of-memory",
        error: `ran out of memory: ${message}`,
        predictedMemoryBytesPerRank: predictedMemory,
      };
    }
    const cause = fault ?? ctx.failureCause?.();
    return { ...base, status: "failed", error: cause ? `${cause}: ${message}` : message };
  } finally {
    ended.abort();
    ctx.signal?.removeEventListener("abort", stopRun);
  }
}

/**
 * Fails a run whose losses are not finite (a learning rate too large, say): its numbers cannot be
 * results (JSON has no NaN, and a loss of Infinity reaches no target), so the run is recorded as
 * failed, saying where it diverged, and the rest of the file stays loadable.
 *
 * @param rank0 Rank 0's steps and evaluations.
 * @param stepMs Its median step time, kept in the message.
 * @throws {Error} "training diverged: ..." at the first non-finite loss.
 */
function divergence(
  rank0: { steps: { loss: number }[]; evals: { step: number; loss: number }[] },
  stepMs: number,
): void {
  const step = rank0.steps.findIndex((s) => !Number.isFinite(s.loss));
  const evaluation = rank0.evals.find((e) => !Number.isFinite(e.loss));
  if (step < 0 && !evaluation) return;
  const where = step >= 0
    ? `the training loss is ${rank0.steps[step].loss} at step ${step}`
    : `the held-out loss is ${evaluation!.loss} after step ${evaluation!.step}`;
  throw new Error(
    `training diverged: ${where} (is the learning rate too large?); median step time ` +
      `${stepMs.toPrecision(3)} ms`,
  );
}

/**
 * Whether an error is an allocation failure (tfjs or V8 could not get memory for a tensor or
 * array, WebGPU could not create a buffer).
 *
 * @param message The error's message.
 * @returns True for the messages allocation failures give.
 */
export function isOutOfMemory(message: string): boolean {
  return /Array buffer allocation failed|Invalid typed array length|out of memory|Cannot allocate|allocation failed|Failed to allocate/i
    .test(message);
}

/**
 * Each rank's GPU, with a warning where ranks of one node asked for different GPUs but got the
 * same adapter while nothing could select (they then all run on the first GPU).
 */
function gpuRecords(outcome: Awaited<ReturnType<typeof runPoint>>) {
  const records = outcome.ranks.map((r) => ({
    rank: r.rank,
    ...r.gpu!,
    warnings: [...(r.gpu?.warnings ?? [])],
  }));
  const node = (rank: number) => outcome.placement?.[rank]?.nodeIndex ?? 0;
  for (const a of records) {
    const twin = records.find((b) =>
      b.rank < a.rank && node(b.rank) === node(a.rank) && b.requested !== a.requested &&
      b.adapter === a.adapter && (a.method.startsWith("none") || b.method.startsWith("none"))
    );
    if (twin) {
      a.warnings.push(
        `ranks ${twin.rank} and ${a.rank} asked for GPUs ${twin.requested} and ${a.requested} but got the same adapter (${a.adapter}) with no way to select`,
      );
    }
  }
  return records;
}

/** Trains the point in the peer; a peer that fails is recorded, never fails the run. */
async function peerRun(point: SweepPoint, rank0: RankRunResult, warmup: number, threads: number) {
  try {
    return comparePeer(await runNumpyPeer(point.config, threads), rank0, warmup);
  } catch (error) {
    return { name: "numpy", error: (error as Error).message };
  }
}

async function stepWindows(
  energy: EnergyWindows,
  startsEpochMs: number[],
  steps: { step: number; stepMs: number; forwardMs: number }[],
  cpuMsByNode: number[][],
): Promise<{ windows: StepWindows[]; unavailableReason?: string }> {
  const requests: WindowRequest[] = steps.flatMap((s, i) => {
    const start = startsEpochMs[i];
    const split = start + s.forwardMs;
    const end = start + s.stepMs;
    const cpu = cpuMsByNode[i] ?? [];
    // The model's CPU time is split between phases in proportion to their duration.
    const share = s.stepMs > 0 ? s.forwardMs / s.stepMs : 0;
    return [
      { name: `step ${i}`, startEpochMs: start, endEpochMs: end, cpuMsByNode: cpu },
      {
        name: `forward ${i}`,
        startEpochMs: start,
        endEpochMs: split,
        cpuMsByNode: cpu.map((c) => c * share),
      },
      {
        name: `backward ${i}`,
        startEpochMs: split,
        endEpochMs: end,
        cpuMsByNode: cpu.map((c) => c * (1 - share)),
      },
    ];
  });
  const { measurements, unavailableReason } = await energy.measure(requests);
  const windows = steps.map((_, i) => ({
    step: measurements[3 * i],
    forward: measurements[3 * i + 1],
    backward: measurements[3 * i + 2],
  }));
  return { windows, unavailableReason };
}
