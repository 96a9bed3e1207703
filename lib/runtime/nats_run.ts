/**
 * One training run over NATS from start to end: a nats-server (started here unless a URL is
 * given), the ranks (launched here as local worker processes, or started by the user with srun
 * or by hand), the coordinator, and the clean-up of everything it started, also on failure.
 *
 * @module
 */

import { type TrainConfig, worldSize } from "../config/config.ts";
import { slotOrder } from "../comm/grid.ts";
import { type CoordinatedRun, coordinateRun, RunFailedError } from "./coordinator.ts";
import { launchLocal } from "./launcher.ts";
import { formatSecretFile, newRunSecret } from "./control_auth.ts";
import { suiteCacheDir } from "../system/cache_dir.ts";
import { type NatsConnectionOptions, redactServers } from "../nats/connection.ts";
import { startNatsServer } from "../nats/nats_server.ts";
import type { WireDtype } from "../nats/wire.ts";
import type { RunSpec, StepEvent } from "./run_protocol.ts";
import { launchSlurm, type SlurmLaunch } from "./slurm_launch.ts";

export type { SlurmLaunch };

/** How ranks are started. */
export type LauncherName = "local" | "slurm" | "manual";
/** The launchers. */
export const LAUNCHERS: readonly LauncherName[] = ["local", "slurm", "manual"];

/** Options of {@linkcode runOverNats}. */
export interface NatsRunOptions {
  /** A running NATS (servers, credentials); without it a local nats-server is started. */
  connection?: NatsConnectionOptions;
  /** How ranks are started. @default "local" */
  launcher?: LauncherName;
  /** With the slurm launcher: the allocation, node servers and GPU flags (one step per run). */
  slurm?: SlurmLaunch;
  /** Worker processes for the local launcher. */
  processes?: number;
  /** Wire dtype. @default "float32" */
  dtype?: WireDtype;
  /** Collective timeout, in ms. @default 60000 */
  collectiveTimeoutMs?: number;
  /** Heartbeat silence that fails a rank, in ms. @default 30000 */
  heartbeatTimeoutMs?: number;
  /** Silence allowed while a rank sets up, in ms. @default 600000 */
  setupTimeoutMs?: number;
  /** Deadline for all ranks to join, in ms. @default 60000 + 1000 per rank local, 1800000 otherwise */
  joinTimeoutMs?: number;
  /** Run id. @default a fresh one */
  runId?: string;
  /** The secret the run's keys derive from. @default a fresh one */
  secret?: string;
  /** With the manual launcher: a file holding the secret for workers. @default one written here */
  secretFile?: string;
  /** Fault injection for tests. */
  fault?: RunSpec["fault"];
  /** Called with the run id, URL and secret file when ranks must be started by hand. */
  onWaitingForRanks?: (runId: string, url: string, secretFile: string) => void;
  /** Called for control messages kept out of the run (forged, replayed, malformed). */
  onRejected?: (message: string) => void;
  /** Rank 0's step records. */
  onStep?: (event: StepEvent) => void;
  /** Aborting stops the run: workers are killed, a server started here is stopped. */
  signal?: AbortSignal;
  /** Called with the worker processes started by the local launcher. */
  onLaunched?: (processes: { pid: number; ranks: [number, number] }[]) => void;
}

/** A finished run. */
export interface NatsRun extends CoordinatedRun {
  /** The run id. */
  runId: string;
  /** The NATS URL used (credentials stripped). */
  natsUrl: string;
  /** nats-server version when started here. */
  serverVersion?: string;
  /** Wall time from start message to last result, in ms. */
  wallMs: number;
}

/**
 * Runs one configuration over NATS.
 *
 * @param config The validated configuration.
 * @param options Server, launcher, timeouts.
 * @returns The ranks' results.
 * @throws {RunFailedError} Naming the ranks at fault.
 * @throws {NatsServerError} If no URL is given and nats-server cannot start.
 */
export async function runOverNats(
  config: TrainConfig,
  options: NatsRunOptions = {},
): Promise<NatsRun> {
  const launcher = options.launcher ?? "local";
  const server = options.connection ? undefined : await startNatsServer();
  const connection: NatsConnectionOptions = options.connection ?? server!.connection;
  const url = (Array.isArray(connection.servers) ? connection.servers : [connection.servers]).join(
    ",",
  );
  const runId = options.runId ??
    `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const secret = options.secret ?? newRunSecret();
  const spec: RunSpec = {
    config,
    dtype: options.dtype ?? "float32",
    collectiveTimeoutMs: options.collectiveTimeoutMs ?? 60_000,
    heartbeatMs: 1000,
    fault: options.fault,
  };
  const launch = launcher === "local"
    ? launchLocal({
      connection,
      runId,
      secret,
      ranks: worldSize(config),
      processes: options.processes,
      ...(config.placement
        ? { order: slotOrder(config.replicas ?? 1, config.ranks, config.placement) }
        : {}),
    })
    : undefined;
  const step = launcher === "slurm" && options.slurm
    ? launchSlurm(
      options.slurm,
      connection,
      runId,
      secret,
      worldSize(config),
      config.placement
        ? slotOrder(config.replicas ?? 1, config.ranks, config.placement)
        : undefined,
    )
    : undefined;
  // Ranks started by hand read the secret from a file only the user can read.
  const written = !launch && !step && !options.secretFile
    ? await writeSecretFile(runId, secret, connection.token)
    : undefined;
  if (launch) options.onLaunched?.(launch.pids.map((pid, i) => ({ pid, ranks: launch.ranges[i] })));
  else if (!step) options.onWaitingForRanks?.(runId, url, options.secretFile ?? written!);
  let finished = false;
  try {
    const start = Date.now();
    const aborted = new Promise<never>((_, reject) => {
      const abort = () => reject(new RunFailedError("the run was stopped before it finished", []));
      if (options.signal?.aborted) abort();
      options.signal?.addEventListener("abort", abort, { once: true });
    });
    aborted.catch(() => {});
    const run = await coordinateRun({
      connection,
      runId,
      secret,
      spec,
      onRejected: (error) => options.onRejected?.(error.message),
      // Starting hundreds of ranks (a tfjs backend each) on a few cores takes a while.
      joinTimeoutMs: options.joinTimeoutMs ??
        (launch || step ? 60_000 + 1000 * worldSize(config) : 1_800_000),
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      setupTimeoutMs: options.setupTimeoutMs,
      launcherFailure: Promise.race([launch?.failure ?? step?.failure ?? aborted, aborted]),
      onStep: options.onStep,
    });
    finished = true;
    return {
      ...run,
      runId,
      natsUrl: redactServers(url),
      serverVersion: server?.version,
      wallMs: Date.now() - start,
    };
  } finally {
    // After a run its ranks exit by themselves; a failed or interrupted step is cancelled.
    await (finished ? step?.finish() : step?.cancel());
    await launch?.kill();
    await server?.stop();
    if (written) await Deno.remove(written).catch(() => {});
  }
}

/** Writes a run's secret to a file readable by its owner only, for workers started by hand. */
async function writeSecretFile(runId: string, secret: string, token?: string): Promise<string> {
  const dir = `${suiteCacheDir()}/run-secrets`;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${runId}.key`;
  await Deno.writeTextFile(path, formatSecretFile(secret, token), { mode: 0o600, createNew: true });
  return path;
}
