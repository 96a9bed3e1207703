/**
 * Hosting ranks in a worker process: one Web Worker per rank (each with its own tfjs backend) up
 * to a thread limit, beyond which ranks share worker threads round-robin, so hundreds of ranks
 * fit on one machine without hundreds of threads. Also the rank lists of manual launch and the
 * rank of an srun task.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import type { NatsConnectionOptions } from "../nats/connection.ts";
import { checkRunSecret, parseSecretFile, RUN_SECRET_ENV } from "./control_auth.ts";

/**
 * The run secret of a worker: read from `--secret-file` (as the bench writes it for manual
 * launch), else from PHANTOM_RUN_SECRET (how the local and Slurm launchers hand it over).
 *
 * @param file The --secret-file value.
 * @param env The environment.
 * @returns The secret, and the token of the bench's own server where the file carries it.
 * @throws {ConfigError} Naming the flag or variable if neither gives a well-formed secret.
 */
export function workerRunSecret(
  file: string | undefined,
  env: Record<string, string | undefined>,
): { secret: string; natsToken?: string } {
  if (file !== undefined) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      throw new ConfigError("--secret-file", file, `cannot be read: ${(error as Error).message}`);
    }
    return parseSecretFile(text, "--secret-file");
  }
  const fromEnv = env[RUN_SECRET_ENV];
  if (fromEnv === undefined) {
    throw new ConfigError(
      "--secret-file",
      undefined,
      `is required (or ${RUN_SECRET_ENV}): the file the bench names when it waits for ranks`,
    );
  }
  return { secret: checkRunSecret(fromEnv, RUN_SECRET_ENV) };
}

/** The largest rank a worker accepts (the suite runs up to 256; a typo must not allocate a billion). */
export const MAX_RANK = 65_535;

/**
 * Parses a rank list such as "0-3,8,10-11".
 *
 * @param text The list.
 * @returns The ranks, ascending, without duplicates.
 * @throws {ConfigError} Naming --ranks and the text if it does not parse.
 */
export function parseRankList(text: string): number[] {
  const ranks = new Set<number>();
  for (const part of text.split(",")) {
    const m = part.trim().match(/^(\d+)(?:-(\d+))?$/);
    if (!m) throw new ConfigError("--ranks", text, "must look like 0-7 or 0,2,4");
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (b > MAX_RANK) {
      throw new ConfigError("--ranks", text, `names rank ${b}: ranks go up to ${MAX_RANK}`);
    }
    if (b < a) {
      throw new ConfigError(
        "--ranks",
        text,
        `has a range ending before it starts (${part.trim()})`,
      );
    }
    for (let r = a; r <= b; r++) ranks.add(r);
  }
  return [...ranks].sort((x, y) => x - y);
}

/**
 * Reads the rank of a SLURM task from its environment.
 *
 * @param env The environment.
 * @returns The rank: SLURM_PROCID, or its entry in PHANTOM_RANK_ORDER.
 * @throws {ConfigError} If SLURM_PROCID is missing or not an integer.
 */
export function slurmRank(env: Record<string, string | undefined>): number {
  const id = env.SLURM_PROCID;
  if (id === undefined || !/^\d+$/.test(id)) {
    throw new ConfigError("SLURM_PROCID", id, "must be set by srun to the task's rank");
  }
  // A placement other than slot order: the driver lists the global rank of every task.
  const order = env.PHANTOM_RANK_ORDER?.split(",").map(Number);
  if (order === undefined) return Number(id);
  const rank = order[Number(id)];
  if (!Number.isInteger(rank)) {
    throw new ConfigError(
      "PHANTOM_RANK_ORDER",
      env.PHANTOM_RANK_ORDER,
      `has no rank for task ${id}`,
    );
  }
  return rank;
}

/**
 * The servers an srun task connects to: its own node's first (PHANTOM_NATS_URLS_BY_NODE, by
 * SLURM_NODEID), then the others as fallbacks; the given list where the variable is not set.
 *
 * @param given The --nats list.
 * @param env The task's environment.
 * @returns The servers, in the order to try them, and whether that order matters.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeServers } from "./rank_host.ts";
 * const env = { PHANTOM_NATS_URLS_BY_NODE: "nats://a:1,nats://b:2", SLURM_NODEID: "1" };
 * assert.deepEqual(nodeServers("nats://a:1", env).servers, ["nats://b:2", "nats://a:1"]);
 * ```
 */
export function nodeServers(
  given: string,
  env: Record<string, string | undefined>,
): { servers: string[]; preferFirst: boolean } {
  const byNode = env.PHANTOM_NATS_URLS_BY_NODE?.split(",").filter(Boolean);
  if (!byNode?.length) return { servers: given.split(","), preferFirst: false };
  const own = Number(env.SLURM_NODEID ?? 0);
  if (!(own >= 0 && own < byNode.length)) {
    throw new ConfigError(
      "SLURM_NODEID",
      env.SLURM_NODEID,
      `must name one of the ${byNode.length} nodes`,
    );
  }
  return { servers: [byNode[own], ...byNode.filter((_, i) => i !== own)], preferFirst: true };
}

/**
 * Hosts ranks in Web Workers and waits for them.
 *
 * @param connection NATS servers and credentials.
 * @param runId The run.
 * @param secret The run secret.
 * @param ranks Ranks to host.
 * @param threads Most Web Workers to start. @default 8
 * @returns Whether every rank finished.
 */
export async function hostRanks(
  connection: NatsConnectionOptions,
  runId: string,
  secret: string,
  ranks: number[],
  threads = 8,
): Promise<boolean> {
  const url = new URL("../../workers/rank_worker.ts", import.meta.url);
  const groups: number[][] = Array.from({ length: Math.min(threads, ranks.length) }, () => []);
  ranks.forEach((rank, i) => groups[i % groups.length].push(rank));
  const outcomes = await Promise.all(groups.map((group) =>
    new Promise<boolean>((resolve) => {
      const worker = new Worker(url, { type: "module" });
      worker.onmessage = (e: MessageEvent<{ ok: boolean; error?: string }>) => {
        if (e.data.error) console.error(e.data.error);
        worker.terminate();
        resolve(e.data.ok);
      };
      worker.onerror = (e) => {
        e.preventDefault();
        console.error(`ranks ${group.join(",")}: worker failed: ${e.message}`);
        worker.terminate();
        resolve(false);
      };
      worker.postMessage({ connection, runId, secret, ranks: group });
    })
  ));
  return outcomes.every(Boolean);
}
