/**
 * `deno task worker`: hosts one or more ranks of a run in this process (lib/runtime/rank_host.ts).
 *
 *   deno task worker --nats URL --run ID --ranks 0-7 --secret-file F  (manual: any host, ranks)
 *   srun deno task worker --nats URL --run ID --launcher slurm (one rank per task: SLURM_PROCID)
 *
 * Exits 0 when every hosted rank finished, 1 when any failed, 2 on bad flags.
 *
 * @module
 */

import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { natsAuthFlags, natsConnectionFromValues } from "../lib/cli/nats_flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import {
  hostRanks,
  nodeServers,
  parseRankList,
  slurmRank,
  workerRunSecret,
} from "../lib/runtime/rank_host.ts";

const FLAGS = {
  nats: flag.string({ arg: "URL[,URL...]", help: "NATS server(s) of the run (required)" }),
  run: flag.string({ arg: "ID", help: "run id printed by the coordinator (required)" }),
  ranks: flag.custom((text) => parseRankList(text), "LIST")({
    help: "ranks to host here, e.g. 0-7 or 0,2,4 (manual launch)",
  }),
  launcher: flag.oneOf(["slurm", "manual"] as const)({
    help: "slurm: host the rank given by SLURM_PROCID (srun launch)",
    defaultHelp: "manual",
  }),
  "secret-file": flag.string({
    arg: "FILE",
    help: "the run secret the bench wrote (the local and Slurm launchers set PHANTOM_RUN_SECRET)",
  }),
  "node-index": flag.count({
    arg: "N",
    help: "manual launch: this host's index among the run's hosts (recorded per rank; local " +
      "ranks are positions in --ranks)",
    defaultHelp: "SLURM_NODEID under Slurm, else 0",
  }),
  "host-workers": flag.int({
    arg: "N",
    help:
      "manual launch: workers sharing this host; each takes cores/N GEMM threads (an explicit " +
      "PHANTOM_BLAS_THREADS wins)",
    defaultHelp: "1: all cores",
  }),
  threads: flag.int({
    default: 8,
    help: "most Web Workers in this process; more ranks share them",
  }),
  ...natsAuthFlags(""),
};

const HELP = renderHelp(
  "deno task worker --nats URL --run ID (--ranks LIST | --launcher slurm)",
  "Hosts ranks of a run started by deno task bench. Exit codes: 0 every hosted rank finished, " +
    "1 a rank failed, 2 bad options.",
  FLAGS,
);

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args);
  if (parsed === "help") return printHelp(HELP);
  const { values } = parsed;
  if (!values.nats) throw new ConfigError("--nats", undefined, "is required (the run's NATS URL)");
  if (!values.run) throw new ConfigError("--run", undefined, "is required (the run id)");
  let ranks: number[];
  if (values.launcher === "slurm") ranks = [slurmRank(Deno.env.toObject())];
  else if (values.ranks) ranks = values.ranks;
  else throw new ConfigError("--ranks", undefined, "is required without --launcher slurm");
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(values.run)) {
    throw new ConfigError("--run", values.run, "must be a run id (letters, digits, - and _)");
  }
  const { secret, natsToken } = workerRunSecret(values["secret-file"], Deno.env.toObject());
  const connection = natsConnectionFromValues(values.nats, values);
  // The bench's own server's token travels in the secret file; given credentials come first.
  const authenticated = connection.token ?? connection.user ?? connection.credsFile ??
    connection.nkeySeedFile;
  if (natsToken && authenticated === undefined) connection.token = natsToken;
  // Placement for manual launch: the node's index, and each rank's position on it.
  if (values["node-index"] !== undefined) {
    Deno.env.set("PHANTOM_NODE_INDEX", String(values["node-index"]));
  }
  Deno.env.set("PHANTOM_PROCESS_RANKS", ranks.join(","));
  const sharing = values["host-workers"];
  if (sharing !== undefined && !Deno.env.get("PHANTOM_BLAS_THREADS")) {
    const cores = navigator.hardwareConcurrency ?? 1;
    Deno.env.set("PHANTOM_BLAS_THREADS", String(Math.max(1, Math.floor(cores / sharing))));
  }
  console.error(
    `worker ${Deno.pid}: ranks ${ranks.join(",")} of run ${values.run}, node ${
      values["node-index"] ?? Deno.env.get("SLURM_NODEID") ?? 0
    }, GEMM threads ${Deno.env.get("PHANTOM_BLAS_THREADS") ?? "all cores"}`,
  );
  if (values.launcher === "slurm") {
    Object.assign(connection, nodeServers(values.nats, Deno.env.toObject()));
  }
  return (await hostRanks(connection, values.run, secret, ranks, values.threads)) ? 0 : 1;
}

if (import.meta.main) await runMain(main);
