/**
 * The local launcher: spawns the worker processes of a run on this machine, each hosting a
 * contiguous range of ranks (one Web Worker per rank), watches them, and kills them all when the
 * run ends or fails, so no process is left behind.
 *
 * @module
 */

import { blasWorkerEnvironment } from "../nn/blas/blas_backend.ts";
import { spawnTied, stopProcess } from "../system/process.ts";
import { RunFailedError } from "./coordinator.ts";
import { natsConnectionEnv, type NatsConnectionOptions } from "../nats/connection.ts";
import { RUN_SECRET_ENV } from "./control_auth.ts";

/**
 * The arguments of `deno` for a worker process (workers/rank_host.ts) with the permissions it needs.
 *
 * @param args The worker's own arguments.
 * @returns Arguments for Deno.execPath().
 */
export function rankHostArgs(args: string[]): string[] {
  const host = new URL("../../workers/rank_host.ts", import.meta.url).pathname;
  return [
    "run",
    "--allow-read",
    "--allow-env",
    "--allow-sys",
    "--allow-net",
    "--allow-ffi",
    host,
    ...args,
  ];
}

/** Options of {@linkcode launchLocal}. */
export interface LocalLaunchOptions {
  /** The NATS servers and credentials the workers use (credentials travel in their environment). */
  connection: NatsConnectionOptions;
  /** The run. */
  runId: string;
  /** The run secret (handed over in the environment, never on the command line). */
  secret: string;
  /** Ranks p. */
  ranks: number;
  /** Worker processes. @default min(p, CPU cores) */
  processes?: number;
  /** The global rank of each slot (lib/comm/grid.ts slotOrder). @default slot s is rank s */
  order?: number[];
}

/** Running worker processes. */
export interface LocalLaunch extends AsyncDisposable {
  /** Process ids, one per process. */
  readonly pids: number[];
  /** Rank ranges hosted by each process, as [first, last]. */
  readonly ranges: [number, number][];
  /** Rejects with a {@linkcode RunFailedError} naming the ranks of a process that exits non-zero. */
  readonly failure: Promise<never>;
  /** Resolves when every process has exited. */
  readonly exited: Promise<void>;
  /** Terminates every process still running (SIGTERM, then SIGKILL after 2 s) and waits. */
  kill(): Promise<void>;
}

/**
 * Spawns the worker processes.
 *
 * @param options URL, run, ranks, process count.
 * @returns The running launch.
 */
export function launchLocal(options: LocalLaunchOptions): LocalLaunch {
  const p = options.ranks;
  const cores = navigator.hardwareConcurrency ?? 2;
  const processes = Math.max(1, Math.min(options.processes ?? Math.min(p, cores), p));
  const ranges: [number, number][] = [];
  for (let i = 0; i < processes; i++) {
    const first = Math.floor((i * p) / processes);
    const last = Math.floor(((i + 1) * p) / processes) - 1;
    ranges.push([first, last]);
  }
  let rejectFailure!: (error: Error) => void;
  const failure = new Promise<never>((_, reject) => (rejectFailure = reject));
  failure.catch(() => {});
  let ending = false;
  const children = ranges.map(([first, last]) => {
    // Tied: a bench killed by SIGKILL takes its workers with it (heartbeats are the fallback).
    const { child } = spawnTied(Deno.execPath(), {
      args: rankHostArgs([
        "--nats",
        (Array.isArray(options.connection.servers)
          ? options.connection.servers
          : [options.connection.servers]).join(","),
        "--run",
        options.runId,
        "--ranks",
        options.order ? options.order.slice(first, last + 1).join(",") : `${first}-${last}`,
      ]),
      // Credentials, and what the blas backend needs: built kernels and the GEMM thread share.
      // PHANTOM_LOCAL_RANK: the process's first rank, its index on this host (a GPU per process).
      env: {
        ...natsConnectionEnv(options.connection),
        [RUN_SECRET_ENV]: options.secret,
        ...blasWorkerEnvironment(processes),
        PHANTOM_LOCAL_RANK: String(first),
      },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    });
    const stderr = new Response(child.stderr).text();
    child.status.then(async (status) => {
      if (status.success || ending) return;
      const ranks = [...Array(last - first + 1).keys()].map((i) => first + i);
      const log = (await stderr).trim().split("\n").slice(-5).join("\n");
      rejectFailure(
        new RunFailedError(
          `Run failed: the process hosting ranks ${first}-${last} (pid ${child.pid}) exited with ` +
            `code ${status.code}${status.signal ? ` (${status.signal})` : ""}${
              log ? `:\n${log}` : ""
            }`,
          ranks,
        ),
      );
    });
    return child;
  });
  const exited = Promise.all(children.map((c) => c.status)).then(() => {});
  const kill = async () => {
    ending = true;
    await Promise.all(children.map((c) => stopProcess(c, 2000)));
  };
  return {
    pids: children.map((c) => c.pid),
    ranges,
    failure,
    exited,
    kill,
    [Symbol.asyncDispose]: kill,
  };
}
