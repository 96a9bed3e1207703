/**
 * `deno task worker`: hosts one or more ranks of a run in this process, one Web Worker per rank
 * (each with its own tfjs backend) up to `--threads` workers; beyond that ranks share worker
 * threads round-robin, so hundreds of ranks fit on one machine without hundreds of threads.
 *
 *   deno task worker --nats URL --run ID --ranks 0-7          (manual: any host, any ranks)
 *   srun deno task worker --nats URL --run ID --launcher slurm (one rank per task: SLURM_PROCID)
 *
 * Exits 0 when every hosted rank finished, 1 when any failed, 2 on bad flags.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError } from "../lib/config/config_error.ts";
import {
  NATS_AUTH_FLAGS,
  natsAuthOptions,
  natsConnectionFromFlags,
  type NatsConnectionOptions,
} from "../lib/nats/connection.ts";
import { runMain } from "../lib/cli/run_main.ts";

const HELP = `Usage: deno task worker --nats URL --run ID (--ranks LIST | --launcher slurm)

  --nats URL[,URL...]   NATS server(s) of the run
  --run ID              run id printed by the coordinator (deno task bench)
  --ranks LIST          ranks to host here, e.g. 0-7 or 0,2,4 (manual launch)
  --launcher slurm      host the rank given by SLURM_PROCID (srun launch)
  --threads N           most Web Workers in this process (default 8); more ranks share them
  --token T / --user U --password P / --creds FILE / --nkey FILE   NATS authentication
  --tls-ca FILE --tls-cert FILE --tls-key FILE                     TLS
  (or PHANTOM_NATS_TOKEN, _USER, _PASSWORD, _CREDS, _NKEY, _TLS_CA, _TLS_CERT, _TLS_KEY)
`;

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
 * @returns The rank (SLURM_PROCID).
 * @throws {ConfigError} If SLURM_PROCID is missing or not an integer.
 */
export function slurmRank(env: Record<string, string | undefined>): number {
  const id = env.SLURM_PROCID;
  if (id === undefined || !/^\d+$/.test(id)) {
    throw new ConfigError("SLURM_PROCID", id, "must be set by srun to the task's rank");
  }
  return Number(id);
}

/**
 * Hosts ranks in Web Workers and waits for them.
 *
 * @param connection NATS servers and credentials.
 * @param runId The run.
 * @param ranks Ranks to host.
 * @param threads Most Web Workers to start. @default 8
 * @returns Whether every rank finished.
 */
export async function hostRanks(
  connection: NatsConnectionOptions,
  runId: string,
  ranks: number[],
  threads = 8,
): Promise<boolean> {
  const url = new URL("./rank_worker.ts", import.meta.url);
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
      worker.postMessage({ connection, runId, ranks: group });
    })
  ));
  return outcomes.every(Boolean);
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      nats: { type: "string" },
      run: { type: "string" },
      ranks: { type: "string" },
      launcher: { type: "string" },
      threads: { type: "string", default: "8" },
      ...natsAuthOptions(),
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.nats) {
    throw new ConfigError("--nats", values.nats, "is required (the run's NATS URL)");
  }
  if (!values.run) throw new ConfigError("--run", values.run, "is required (the run id)");
  let ranks: number[];
  if (values.launcher === "slurm") ranks = [slurmRank(Deno.env.toObject())];
  else if (values.launcher !== undefined && values.launcher !== "manual") {
    throw new ConfigError("--launcher", values.launcher, "must be slurm or manual");
  } else if (values.ranks) ranks = parseRankList(values.ranks);
  else throw new ConfigError("--ranks", values.ranks, "is required without --launcher slurm");
  const connection = natsConnectionFromFlags(
    values.nats,
    Object.fromEntries(
      NATS_AUTH_FLAGS.map((f) => [f, (values as Record<string, unknown>)[f] as string | undefined]),
    ),
  );
  const threads = Number(values.threads);
  if (!/^\d+$/.test(values.threads) || threads < 1) {
    throw new ConfigError("--threads", values.threads, "must be a positive integer");
  }
  return (await hostRanks(connection, values.run, ranks, threads)) ? 0 : 1;
}

if (import.meta.main) await runMain(main);
