/**
 * One rank's life in a coordinated run: connect to NATS, announce itself, wait for the run spec,
 * build its share of the model, train over the NATS communicator while sending heartbeats, and
 * report its result or its error. Runs in a Web Worker (one per rank) or a process.
 *
 * @module
 */

import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import { selectBackend } from "../nn/backend.ts";
import { validateTrainConfig } from "../config/config.ts";
import { connectNats, type NatsConnectionOptions } from "../nats/connection.ts";
import { NatsCommunicator } from "../nats/nats_communicator.ts";
import {
  controlSubject,
  encodeControl,
  type Hello,
  parseControl,
  type RankOutcome,
  type RunSpec,
  type StepEvent,
} from "./run_protocol.ts";
import { processCpuMs } from "../system/process.ts";
import { trainRank } from "./trainer.ts";

/** Options of {@linkcode runRank}. */
export interface RankRuntimeOptions {
  /** NATS servers and credentials. */
  connection: NatsConnectionOptions;
  /** The run to join. */
  runId: string;
  /** This rank. */
  rank: number;
  /** How long to wait for the start message, in ms. @default 600000 */
  startTimeoutMs?: number;
}

/**
 * Runs one rank to completion.
 *
 * @param options Connection, run and rank.
 * @returns Whether the rank finished its training (false when it failed or was aborted).
 */
export async function runRank(options: RankRuntimeOptions): Promise<boolean> {
  const { runId, rank } = options;
  const nc = await connectNats({ name: `${runId} rank ${rank} control`, ...options.connection });
  try {
    return await lifecycle(nc, options);
  } finally {
    await nc.close().catch(() => {});
  }
}

async function lifecycle(nc: NatsConnection, options: RankRuntimeOptions): Promise<boolean> {
  const { runId, rank } = options;
  const report = (outcome: RankOutcome) => {
    nc.publish(controlSubject(runId, "result"), encodeControl(outcome));
    return nc.flush();
  };
  const aborted = new Promise<string>((resolve) => {
    nc.subscribe(controlSubject(runId, "abort"), {
      callback: (_err, msg) => resolve(parseControl<{ reason: string }>(msg.data, "abort").reason),
    });
  });
  const started = new Promise<RunSpec>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `rank ${rank}: no start message within ${options.startTimeoutMs ?? 600_000} ms`,
          ),
        ),
      options.startTimeoutMs ?? 600_000,
    );
    nc.subscribe(controlSubject(runId, "start"), {
      max: 1,
      callback: (_err, msg) => {
        clearTimeout(timer);
        try {
          resolve(parseControl<RunSpec>(msg.data, "start"));
        } catch (error) {
          reject(error);
        }
      },
    });
  });
  const go = new Promise<void>((resolve) => {
    nc.subscribe(controlSubject(runId, "go"), { max: 1, callback: () => resolve() });
  });
  await nc.flush();
  const hello: Hello = { rank, host: hostname(), pid: Deno.pid };
  nc.publish(controlSubject(runId, "hello"), encodeControl(hello));
  const first = await Promise.race([started, aborted.then((r) => ({ abort: r }))]);
  if ("abort" in first) return false;
  const spec = first;
  let comm: NatsCommunicator | undefined;
  // Beat from the start message on: setting up the backend can take long on a loaded host.
  let step = -1;
  const beat = () => nc.publish(controlSubject(runId, "hb"), encodeControl({ rank, step }));
  beat();
  const heartbeat = setInterval(beat, spec.heartbeatMs);
  try {
    const config = validateTrainConfig(spec.config as unknown as Record<string, unknown>);
    if (rank >= config.ranks) {
      throw new RangeError(`rank ${rank} is outside the run's ${config.ranks} ranks`);
    }
    await selectBackend(config.backend);
    comm = await NatsCommunicator.attach(nc, {
      runId,
      rank,
      size: config.ranks,
      timeoutMs: spec.collectiveTimeoutMs,
      dtype: spec.dtype,
    });
    // Our data subscriptions are live: say so, and wait until everyone's are.
    nc.publish(controlSubject(runId, "ready"), encodeControl({ rank }));
    const proceed = await Promise.race([go.then(() => true), aborted.then(() => false)]);
    if (!proceed) return false;
    const stepStarts: number[] = [];
    const stepCpu: number[] = [];
    let cpuStart = 0;
    const abortRun = aborted.then((reason) => {
      comm?.close(); // pending collectives fail at once
      throw new Error(`aborted by the coordinator: ${reason}`);
    });
    const training = trainRank(config, comm, {
      onStepStart: (s) => {
        step = s;
        stepStarts.push(performance.timeOrigin + performance.now());
        cpuStart = processCpuMs();
        injectFault(spec, rank, s);
      },
      onStep: (record) => {
        stepCpu.push(processCpuMs() - cpuStart);
        if (rank !== 0) return;
        const event: StepEvent = { record, startEpochMs: stepStarts[record.step] };
        nc.publish(controlSubject(runId, "step"), encodeControl(event));
      },
    });
    const result = await Promise.race([training, abortRun]);
    await report({
      rank,
      ok: true,
      result,
      stepStartsEpochMs: stepStarts,
      stepProcessCpuMs: stepCpu,
      pid: Deno.pid,
    });
    return true;
  } catch (error) {
    await report({ rank, ok: false, error: error instanceof Error ? error.message : String(error) })
      .catch(() => {});
    return false;
  } finally {
    clearInterval(heartbeat);
    await comm?.close();
  }
}

function injectFault(spec: RunSpec, rank: number, step: number): void {
  const fault = spec.fault;
  if (!fault || fault.rank !== rank || fault.atStep !== step) return;
  if (fault.kind === "exit") Deno.exit(3);
  // "hang": block this thread for good, as a deadlocked kernel would (no heartbeats either).
  const shared = new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(shared, 0, 0);
}
