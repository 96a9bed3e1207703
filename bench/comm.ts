/**
 * `deno task bench:comm`: the collective benchmark over NATS, in the manner of nccl-tests
 * (lib/nats/collective_bench.ts measures; this prints and writes the results file, kind `comm`,
 * lib/results/comm_results.ts). allGather, reduceScatter and allReduce for message sizes 1 KiB to
 * 64 MiB and p in {2, 4, 8, 16} (and 256 at small sizes with --ranks): time, algbw and busbw with a
 * check of the data, raw NATS fan-out of the same bytes as the transport's ceiling, alpha-beta fits
 * and peak memory. It is the one way to run it (`deno task bench --sweep comm` says so).
 *
 * @module
 */

import { join } from "node:path";
import { flag, parseBytes, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { natsAuthFlags, natsConnectionFromValues } from "../lib/cli/nats_flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { redactServers } from "../lib/nats/connection.ts";
import { BENCH_OPS, runCollectiveBench } from "../lib/nats/collective_bench.ts";
import { NatsServerError, startNatsServer } from "../lib/nats/nats_server.ts";
import { writeTextFileAtomic } from "../lib/results/atomic_write.ts";
import {
  COMM_SCHEMA_VERSION,
  type CommFit,
  type CommResultsFile,
  type CommRow,
} from "../lib/results/comm_results.ts";

const FLAGS = {
  ranks: flag.intList({ default: [2, 4, 8, 16], help: "group sizes p" }),
  sizes: flag.custom(
    (text, name) => text.split(",").map((t) => parseBytes(t, name)),
    "SIZE[,SIZE...]",
  )({
    default: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536].map((k) => k * 1024),
    defaultHelp: "1K,4K,16K,64K,256K,1M,4M,16M,64M",
    help: "message sizes S (the whole buffer, as nccl-tests counts it)",
  }),
  nats: flag.string({
    arg: "URL[,URL...]",
    help: "use this NATS server or cluster",
    defaultHelp: "start a local nats-server",
  }),
  ...natsAuthFlags("nats-"),
  ops: flag.listOf(BENCH_OPS)({ default: [...BENCH_OPS], help: "collectives to measure" }),
  "ranks-per-connection": flag.int({
    default: 1,
    help: "ranks sharing one NATS connection (they exchange in memory; 1: every block crosses " +
      "the server, as between processes)",
  }),
  "max-message": flag.bytes({
    help: "largest NATS message, for the collectives and the raw fan-out alike",
    defaultHelp: "256K, or the server's max_payload if smaller",
  }),
  raw: flag.oneOf(["yes", "no"] as const)({
    default: "yes",
    help: "also measure the raw NATS fan-out ceiling",
  }),
  "max-traffic-mib": flag.int({
    default: 2048,
    help: "skip calls that would move more than this through the host, in MiB",
  }),
  "budget-ms": flag.int({ default: 400, help: "time spent per measurement, in ms" }),
  json: flag.path({
    arg: "FILE",
    help: "results file",
    defaultHelp: "reports/results/comm-TIME.json",
  }),
};

const HELP = renderHelp(
  "deno task bench:comm [options]",
  "Collective benchmark over NATS in the manner of nccl-tests: allGather, reduceScatter and " +
    "allReduce per group size and message size (time, algbw, busbw, correctness of the data), " +
    "with raw NATS connections moving the same bytes with the same fan-out as the transport's " +
    "ceiling, measured in the same run. Exit codes: 0 every result correct, 1 a wrong result, " +
    "2 bad options.",
  FLAGS,
);

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args);
  if (parsed === "help") return printHelp(HELP);
  const { values } = parsed;
  const json = values.json ?? join("reports", "results", `comm-${Date.now()}.json`);
  const server = values.nats
    ? undefined
    : await startNatsServer({ maxPayloadBytes: 8 * 1024 * 1024 });
  const connection = values.nats
    ? natsConnectionFromValues(values.nats, values, "nats-")
    : server!.connection;
  const url = redactServers(connection.servers);
  const print = (r: CommRow) =>
    console.log(
      `${r.op.padEnd(14)}${String(r.ranks).padStart(4)}${String(r.bytes).padStart(12)}${
        r.timeMs.toFixed(3).padStart(11)
      }${r.algbwGBs.toFixed(3).padStart(10)}${r.busbwGBs.toFixed(3).padStart(10)}  ${
        r.correct ? "ok   " : "WRONG"
      }${r.wireBytesReceivedPerRank.toFixed(0).padStart(10)}${
        r.localBytesReceivedPerRank.toFixed(0).padStart(10)
      }`,
    );
  let measured: { rows: CommRow[]; fits: CommFit[] };
  try {
    console.log(`NATS ${url} (${server?.version ?? "external server"})`);
    console.log(
      `ranks per connection: ${values["ranks-per-connection"]} (wire: bytes rank 0's connection ` +
        "received per call, its share; local: payload it got in memory)",
    );
    console.log(
      "op               p       bytes    time ms  algbw GB/s busbw GB/s  data    wire B   local B",
    );
    measured = await runCollectiveBench(connection, {
      ranks: values.ranks,
      sizes: values.sizes,
      ops: values.ops,
      ranksPerConnection: values["ranks-per-connection"],
      maxMessage: values["max-message"],
      raw: values.raw === "yes",
      maxTrafficBytes: values["max-traffic-mib"] * 1024 * 1024,
      budgetMs: values["budget-ms"],
    }, print);
  } finally {
    await server?.stop();
  }
  const { rows, fits } = measured;
  printSummary(rows, fits);
  await Deno.mkdir(join(json, ".."), { recursive: true });
  const file: CommResultsFile = {
    schemaVersion: COMM_SCHEMA_VERSION,
    kind: "comm",
    createdAt: new Date().toISOString(),
    url,
    rows,
    fits,
  };
  await writeTextFileAtomic(json, JSON.stringify(file, null, 2) + "\n");
  console.log(`results: ${json}`);
  return rows.every((r) => r.correct) ? 0 : 1;
}

function printSummary(rows: CommRow[], fits: CommFit[]): void {
  console.log("\nalpha-beta fits, t = alpha + S / B:");
  console.log("op               p  per conn  alpha us  alpha/msg us  busbw GB/s    r2");
  for (const f of fits) {
    console.log(
      `${f.op.padEnd(14)}${String(f.ranks).padStart(4)}${
        String(f.ranksPerConnection).padStart(10)
      }` +
        `${f.alphaUs.toFixed(0).padStart(10)}${f.alphaPerMessageUs.toFixed(1).padStart(14)}` +
        `${f.busbwGBs.toFixed(3).padStart(12)}${f.r2.toFixed(3).padStart(6)}`,
    );
  }
  const ceiling = (r: CommRow) =>
    rows.find((x) => x.op === "raw-fanout" && x.ranks === r.ranks && x.bytes === r.bytes);
  const gathers = rows.filter((r) => r.op === "allGather" && ceiling(r));
  if (gathers.length) {
    console.log("\nallGather against the raw fan-out of the same run (busbw ratio, time ratio):");
    for (const r of gathers) {
      const c = ceiling(r)!;
      console.log(
        `  p=${r.ranks} ${r.bytes} B: ${
          (100 * r.busbwGBs / c.busbwGBs).toFixed(0)
        }% of raw busbw, ` +
          `${(r.timeMs / c.timeMs).toFixed(2)}x raw time`,
      );
    }
  }
  const big = rows.filter((x) => x.op !== "raw-fanout" && x.bytes >= 16 << 20);
  if (big.length) console.log("\npeak memory over the bytes the ranks must hold:");
  for (const r of big) {
    const extra = r.peakRssBytes - r.baseRssBytes;
    console.log(
      `  ${r.op} p=${r.ranks} ${r.bytes} B: held ${(r.heldBytes / 2 ** 20).toFixed(0)} MiB, ` +
        `peak +${(extra / 2 ** 20).toFixed(0)} MiB over the baseline (${
          (extra / r.heldBytes).toFixed(2)
        }x)`,
    );
  }
}

if (import.meta.main) {
  await runMain(main, [NatsServerError], "Run `deno task bench:comm --help` for the options.");
}
