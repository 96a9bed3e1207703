/**
 * The life of the ranks one worker thread carries in a coordinated run, over one NATS connection:
 * announce each rank, wait for the run spec, select the backend, open a {@linkcode RankConnection} for
 * the thread's ranks (ranks of one thread exchange blocks in memory; other connections get each block
 * once), report ready, train every rank after the coordinator's go while sending heartbeats, and
 * report each rank's result or error.
 *
 * @module
 */

import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import { validateTrainConfig, worldSize } from "../config/config.ts";
import type { Communicator } from "../comm/communicator.ts";
import { connectNats, type NatsConnectionOptions } from "../nats/connection.ts";
import type { RankConnection } from "../nats/rank_connection.ts";
import { openGridConnections } from "../nats/nats_group.ts";
import { selectBackend } from "../nn/backend.ts";
import { bufferBytes } from "../nn/tensor_memory.ts";
import {
  applyGpuSelection,
  type GpuFacts,
  gpuFacts,
  planGpuSelection,
} from "../nn/webgpu/device_select.ts";
import { processCpuMs } from "../system/process.ts";
import { safeText } from "../system/safe_text.ts";
import { type RunKeys, runKeys } from "./control_auth.ts";
import { chooseGpu } from "./gpu_select.ts";
import {
  ControlEndpoint,
  type ControlKind,
  type Hello,
  parseControl,
  type RankOutcome,
  type RunSpec,
  type StepEvent,
} from "./run_protocol.ts";
import { type EngineShare, type RankRunResult, trainRank } from "./trainer.ts";

/** Options of {@linkcode runRanks}. */
export interface RankRuntimeOptions {
  /** NATS servers and credentials. */
  connection: NatsConnectionOptions;
  /** The run to join. */
  runId: string;
  /** The run secret (lib/runtime/control_auth.ts), as the coordinator holds it. */
  secret: string;
  /** The ranks this thread carries. */
  ranks: number[];
  /** How long to wait for the start message, in ms. @default 600000 */
  startTimeoutMs?: number;
}

/**
 * Runs a thread's ranks to completion.
 *
 * @param options Connection, run and ranks.
 * @returns Per rank, whether it finished its training (false when it failed or was aborted).
 */
export async function runRanks(options: RankRuntimeOptions): Promise<Map<number, boolean>> {
  const { ranks } = options;
  const keys = runKeys(options.secret, options.runId);
  const nc = await connectNats({
    ...options.connection,
    name: `${keys.namespace} ranks ${ranks.join(",")}`,
  });
  try {
    return await lifecycle(nc, options, keys);
  } finally {
    await nc.close().catch(() => {});
  }
}

/** Silence of the coordinator after which ranks stop, in ms. */
export const COORDINATOR_TIMEOUT_MS = 30_000;

/**
 * The control messages a thread listens to, as promises. `aborted` resolves with the reason the
 * ranks must stop: the coordinator said so, it fell silent (dead), or this connection lost its
 * NATS server (core NATS keeps no messages: the run cannot go on). Only messages sealed with the
 * run's key count: a forged start, go, abort or heartbeat is dropped with one line on stderr.
 */
function controlChannel(nc: NatsConnection, control: ControlEndpoint, startTimeoutMs: number) {
  const warned = new Set<string>();
  const listen = (kind: ControlKind, handle: (body: Uint8Array) => void, max?: number) =>
    control.listen(kind, handle, (error) => {
      if (!warned.has(kind)) console.error(safeText(error.message, 300));
      warned.add(kind);
    }, max);
  let stop!: (reason: string) => void;
  const aborted = new Promise<string>((resolve) => (stop = resolve));
  listen("abort", (body) => {
    let reason: unknown;
    try {
      reason = parseControl<{ reason: unknown }>(body, "abort").reason;
    } catch (error) {
      reason = (error as Error).message;
    }
    stop(`aborted by the coordinator: ${safeText(reason, 500)}`);
  });
  const silence = Number(Deno.env.get("PHANTOM_COORDINATOR_TIMEOUT_MS")) || COORDINATOR_TIMEOUT_MS;
  let lastBeat = 0;
  listen("chb", () => {
    lastBeat = Date.now();
  });
  const watchdog = setInterval(() => {
    if (lastBeat > 0 && Date.now() - lastBeat > silence) {
      stop(`the coordinator sent no heartbeat for ${silence} ms: it is gone`);
    }
  }, Math.min(1000, silence / 4));
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") {
        stop(`lost the connection to NATS server ${status.server} (messages in flight are lost)`);
      }
    }
  })().catch(() => {});
  aborted.then(() => clearInterval(watchdog));
  const started = new Promise<RunSpec>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no start message within ${startTimeoutMs} ms`)),
      startTimeoutMs,
    );
    listen("start", (body) => {
      clearTimeout(timer);
      try {
        resolve(parseControl<RunSpec>(body, "start"));
      } catch (error) {
        reject(error);
      }
    }, 1);
  });
  const go = new Promise<void>((resolve) => listen("go", () => resolve(), 1));
  return { aborted, started, go, close: () => clearInterval(watchdog) };
}

async function lifecycle(
  nc: NatsConnection,
  options: RankRuntimeOptions,
  keys: RunKeys,
): Promise<Map<number, boolean>> {
  const { ranks } = options;
  const outcomes = new Map(ranks.map((r) => [r, false]));
  const endpoint = new ControlEndpoint(nc, keys, "ranks");
  const publish = (kind: ControlKind, value: unknown) => endpoint.send(kind, value);
  const report = async (outcome: RankOutcome) => {
    publish("result", outcome);
    await nc.flush().catch(() => {});
  };
  const control = controlChannel(nc, endpoint, options.startTimeoutMs ?? 600_000);
  await nc.flush();
  for (const rank of ranks) publish("hello", placementOf(rank, nc.getServer()));
  const first = await Promise.race([control.started, control.aborted.then((r) => ({ abort: r }))])
    .catch((error: Error) => ({ abort: error.message }));
  if ("abort" in first) {
    control.close();
    return outcomes;
  }
  const spec = first;
  // Beat from the start message on: setting up the backend can take long on a loaded host.
  const steps = new Map(ranks.map((r) => [r, -1]));
  const beat = () => {
    for (const rank of ranks) publish("hb", { rank, step: steps.get(rank) });
  };
  beat();
  const heartbeat = setInterval(beat, spec.heartbeatMs);
  let connections: RankConnection[] = [];
  try {
    const config = validateTrainConfig(spec.config as unknown as Record<string, unknown>);
    const outside = ranks.find((r) => r >= worldSize(config));
    if (outside !== undefined) {
      throw new RangeError(`rank ${outside} is outside the run's ${worldSize(config)} ranks`);
    }
    // One GPU per rank: its environment must be set before the first adapter request.
    const selection = config.backend === "webgpu"
      ? planGpuSelection(placementOf(ranks[0], "").device, nodeGpuFacts())
      : undefined;
    if (selection && ranks.length > 1 && selection.requested !== null) {
      selection.warnings.push(
        `${ranks.length} ranks share this process and its one adapter: GPUs are chosen per process`,
      );
    }
    if (selection) applyGpuSelection(selection);
    const backendInfo = await selectBackend(config.backend);
    const gpu = selection && {
      requested: selection.requested,
      method: selection.method,
      adapter: String(backendInfo.flags.adapterDescription ?? ""),
      fallbackAdapter: Boolean(backendInfo.flags.isFallbackAdapter),
      warnings: [
        ...selection.warnings,
        ...(selection.requested !== null && backendInfo.flags.isFallbackAdapter
          ? [
            `rank asked for GPU ${selection.requested} but got the software adapter ${backendInfo.flags.adapterDescription}`,
          ]
          : []),
      ],
    };
    const groups = await openGridConnections(
      nc,
      keys.namespace,
      { replicas: config.replicas ?? 1, modelRanks: config.ranks },
      ranks,
      { timeoutMs: spec.collectiveTimeoutMs, dtype: spec.dtype },
    );
    connections = groups.connections;
    // Our data subscriptions are live and every host is known: say so, and wait for everyone.
    for (const rank of ranks) publish("ready", { rank });
    const proceed = await Promise.race([
      control.go.then(() => true),
      control.aborted.then(() => false),
    ]);
    if (!proceed) return outcomes;
    const abortRun = control.aborted.then((reason) => {
      for (const c of connections) c.close(); // pending collectives fail at once
      throw new Error(reason);
    });
    abortRun.catch(() => {});
    // This thread's ranks share one tfjs engine: their memory is its growth from here, shared.
    const engine = { baselineBytes: bufferBytes(), ranks: ranks.length };
    await Promise.all(ranks.map(async (rank) => {
      try {
        const result = await Promise.race([
          trainOne(spec, config, groups.comms(rank), rank, steps, publish, engine),
          abortRun,
        ]);
        if (gpu) result.result.gpu = gpu;
        await report({ rank, ok: true, ...result, pid: Deno.pid });
        outcomes.set(rank, true);
      } catch (error) {
        await report({
          rank,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }));
    return outcomes;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    for (const rank of ranks) await report({ rank, ok: false, error: message });
    return outcomes;
  } finally {
    clearInterval(heartbeat);
    control.close();
    await Promise.all(connections.map((c) => c.close()));
  }
}

/** What the node offers (nvidia-smi, Vulkan layers), read once per process of many ranks. */
let facts: GpuFacts | undefined;
const nodeGpuFacts = () => (facts ??= gpuFacts());

/** Where a rank runs: node, local rank, GPU (from Slurm's variables where it started us). */
function placementOf(rank: number, server: string): Hello {
  const env = Deno.env.toObject();
  const gpu = chooseGpu(env, nodeGpuFacts().nvidia.length);
  return {
    rank,
    host: hostname(),
    pid: Deno.pid,
    node: env.SLURMD_NODENAME ?? hostname(),
    nodeIndex: Number(env.SLURM_NODEID ?? env.PHANTOM_NODE_INDEX ?? 0),
    localRank: localRankOf(rank, env),
    device: gpu.device,
    deviceSource: gpu.source,
    natsServer: server,
  };
}

/**
 * A rank's index among the ranks of its node: SLURM_LOCALID where Slurm started it; with
 * `worker --node-index` (manual launch, one worker per host) its position in the worker's ranks;
 * else the rank itself (every rank on one host).
 */
function localRankOf(rank: number, env: Record<string, string | undefined>): number {
  if (env.SLURM_LOCALID !== undefined) return Number(env.SLURM_LOCALID);
  const hosted = env.PHANTOM_NODE_INDEX !== undefined
    ? env.PHANTOM_PROCESS_RANKS?.split(",").map(Number)
    : undefined;
  const position = hosted?.indexOf(rank) ?? -1;
  return position >= 0 ? position : rank;
}

/** Trains one rank, recording each step's start on the shared clock and the process's CPU time. */
async function trainOne(
  spec: RunSpec,
  config: ReturnType<typeof validateTrainConfig>,
  comms: { model: Communicator; data?: Communicator },
  rank: number,
  steps: Map<number, number>,
  publish: (kind: "step" | "hb", value: StepEvent | { rank: number; step: number }) => void,
  engine: EngineShare,
): Promise<{ result: RankRunResult; stepStartsEpochMs: number[]; stepProcessCpuMs: number[] }> {
  const stepStarts: number[] = [];
  const stepCpu: number[] = [];
  let cpuStart = 0;
  const result = await trainRank(config, comms.model, {
    engine,
    data: comms.data,
    onStepStart: (s) => {
      injectFault(spec, rank, s); // first: a stall at step 0 stands for a long setup
      steps.set(rank, s);
      // Say at once that setup is over: from here the coordinator allows only the heartbeat
      // timeout of silence, not the setup timeout (a fast run could hang before the next beat).
      if (s === 0) publish("hb", { rank, step: 0 });
      stepStarts.push(performance.timeOrigin + performance.now());
      cpuStart = processCpuMs();
    },
    onStep: (record) => {
      stepCpu.push(processCpuMs() - cpuStart);
      if (rank === 0) publish("step", { record, startEpochMs: stepStarts[record.step] });
    },
  });
  return { result, stepStartsEpochMs: stepStarts, stepProcessCpuMs: stepCpu };
}

function injectFault(spec: RunSpec, rank: number, step: number): void {
  const fault = spec.fault;
  if (!fault || fault.rank !== rank || fault.atStep !== step) return;
  if (fault.kind === "exit") Deno.exit(3);
  // "hang": block this thread for good, as a deadlocked kernel would (no heartbeats either);
  // "stall": block it for fault.ms, as a long synchronous initialisation does.
  const shared = new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(shared, 0, 0, fault.kind === "stall" ? fault.ms ?? 1000 : Infinity);
}
