/**
 * The node agent of `deno task bench --launcher slurm` (lib/runtime/node_agent.ts): the driver
 * starts one per node with srun; users do not run it by hand.
 *
 *   srun --overlap -N NODES --ntasks-per-node=1 deno run -A workers/node_agent.ts --job JOB
 *
 * Exits 0 on STOP, end of input or a stop signal; 2 on bad flags.
 *
 * @module
 */

import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { natsAuthFlags, natsConnectionFromValues } from "../lib/cli/nats_flags.ts";
import { powerFlags } from "../lib/cli/power_flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { StopSignals } from "../lib/cli/stop_signals.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { runNodeAgent } from "../lib/runtime/node_agent.ts";
import { readLines } from "../lib/system/lines.ts";

const FLAGS = {
  job: flag.string({ arg: "ID", help: "the Slurm job (required)" }),
  nats: flag.string({ arg: "URL[,URL...]", help: "a NATS to use instead of starting one here" }),
  "node-interface": flag.string({ arg: "NAME", help: "network interface the server listens on" }),
  ...powerFlags(),
  ...natsAuthFlags(""),
};

const HELP = renderHelp(
  "deno run -A workers/node_agent.ts --job ID [options]",
  "One node's NATS server and power sampler for a Slurm run of deno task bench (started by it).",
  FLAGS,
);

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args);
  if (parsed === "help") return printHelp(HELP);
  const { values } = parsed;
  if (!values.job) throw new ConfigError("--job", undefined, "is required (the Slurm job id)");
  using stop = new StopSignals(undefined, false);
  const lines = readLines(Deno.stdin.readable);
  return await runNodeAgent(
    {
      job: values.job,
      power: values.power,
      periodMs: values["power-period"],
      model: values["power-model"] ?? null,
      connection: values.nats ? natsConnectionFromValues(values.nats, values) : undefined,
      interfaceName: values["node-interface"],
      env: Deno.env.toObject(),
    },
    { lines, print: (line) => console.log(line), signal: stop.signal },
  );
}

if (import.meta.main) await runMain(main);
