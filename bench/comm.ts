/**
 * Collective benchmark over NATS, in the manner of nccl-tests (`deno task bench:comm`):
 * allGather, reduceScatter and allReduce for message sizes 1 KiB to 64 MiB and p in
 * {2, 4, 8, 16} (and 256 at small sizes with --ranks), reporting time, algbw and busbw with a
 * correctness check of the data; and, in the same run, raw NATS publish/subscribe throughput for
 * the same sizes and the same fan-out (p connections publishing S/p once each, no protocol of
 * ours) as the transport's ceiling. All ranks run in this process, each with its own
 * connection, against a nats-server started here (or --nats URL).
 *
 * Size S is the total buffer as nccl-tests counts it: allGather gathers S (S/p per rank),
 * reduceScatter reduces S (S/p per rank out), allReduce reduces S. algbw = S / time;
 * busbw = algbw (p-1)/p for allGather and reduceScatter, algbw 2(p-1)/p for allReduce.
 *
 * @module
 */

import { join } from "node:path";
import { flag, parseBytes, parseFlags, renderHelp } from "../lib/cli/flags.ts";
import { natsAuthFlags, natsConnectionFromValues } from "../lib/cli/nats_flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { connectNats, type NatsConnectionOptions, redactServers } from "../lib/nats/connection.ts";
import { connectNatsGroup, type NatsCommunicator } from "../lib/nats/nats_communicator.ts";
import { NatsServerError, startNatsServer } from "../lib/nats/nats_server.ts";
import { writeTextFileAtomic } from "../lib/results/atomic_write.ts";
import { median } from "../lib/results/stats.ts";

type Op = "allGather" | "reduceScatter" | "allReduce";
const OPS: Op[] = ["allGather", "reduceScatter", "allReduce"];

interface Row {
  op: Op | "raw-fanout";
  ranks: number;
  bytes: number;
  timeMs: number;
  algbwGBs: number;
  busbwGBs: number;
  correct: boolean;
  iterations: number;
}

function busFactor(op: Op, p: number): number {
  return op === "allReduce" ? (2 * (p - 1)) / p : (p - 1) / p;
}

/** Inputs of one collective for every rank, made once so the timing covers the collective only. */
function inputs(op: Op, p: number, elements: number): Float32Array[][] {
  const per = elements / p;
  return [...Array(p).keys()].map((r) => {
    if (op === "allGather") return [new Float32Array(per).fill(r + 1)];
    if (op === "reduceScatter") {
      return [...Array(p).keys()].map((s) => new Float32Array(per).fill(r + s));
    }
    return [new Float32Array(elements).fill(r + 1)];
  });
}

/** Runs one collective on all ranks; checks the data when asked. */
async function once(
  op: Op,
  comms: NatsCommunicator[],
  data: Float32Array[][],
  check: boolean,
): Promise<boolean> {
  const p = comms.length;
  if (op === "allGather") {
    const out = await Promise.all(comms.map((c) => c.allGather(data[c.rank][0])));
    return !check || out.every((blocks) => blocks.every((b, s) => b.every((v) => v === s + 1)));
  }
  if (op === "reduceScatter") {
    const out = await Promise.all(comms.map((c) => c.reduceScatter(data[c.rank])));
    // Rank s receives sum over r of (r + s) = p s + p(p-1)/2.
    return !check || out.every((v, s) => v.every((x) => x === p * s + (p * (p - 1)) / 2));
  }
  const out = await Promise.all(comms.map((c) => c.allReduce(data[c.rank][0])));
  return !check || out.every((v) => v.every((x) => x === (p * (p + 1)) / 2));
}

async function measureCollective(
  op: Op,
  comms: NatsCommunicator[],
  bytes: number,
  budgetMs: number,
): Promise<Row> {
  const p = comms.length;
  const elements = Math.max(p, Math.floor(bytes / 4 / p) * p);
  const data = inputs(op, p, elements);
  const correct = await once(op, comms, data, true); // warm-up and check
  const times: number[] = [];
  const deadline = performance.now() + budgetMs;
  while (times.length < 3 || (performance.now() < deadline && times.length < 50)) {
    const start = performance.now();
    await once(op, comms, data, false);
    times.push(performance.now() - start);
  }
  const timeMs = median(times);
  const size = elements * 4;
  const algbw = size / (timeMs / 1000) / 1e9;
  return {
    op,
    ranks: p,
    bytes: size,
    timeMs,
    algbwGBs: algbw,
    busbwGBs: algbw * busFactor(op, p),
    correct,
    iterations: times.length,
  };
}

/**
 * The transport's ceiling for the same data movement as allGather: p raw NATS connections, each
 * publishing S/p bytes once to a subject all others subscribe to, with no protocol of ours
 * (no headers, no validation, no decoding). busbw is computed as for allGather.
 */
async function measureRawFanout(
  connection: NatsConnectionOptions,
  p: number,
  bytes: number,
  budgetMs: number,
): Promise<Row> {
  const conns = await Promise.all([...Array(p).keys()].map(() => connectNats(connection)));
  const max = (conns[0].info?.max_payload ?? 1 << 20) - 4096;
  const per = Math.max(4, Math.floor(bytes / p / 4) * 4);
  const block = new Uint8Array(per).fill(7);
  const chunks = Math.ceil(per / max);
  const id = `raw${p}-${Date.now()}`;
  const expected = (p - 1) * per;
  const received = new Array(p).fill(0);
  let correct = true;
  let waiting: (() => void) | undefined;
  let round = 0;
  conns.forEach((nc, r) =>
    nc.subscribe(`${id}.>`, {
      callback: (_e, m) => {
        received[r] += m.data.byteLength;
        if (m.data[0] !== 7) correct = false;
        if (waiting && received.every((x) => x >= round * expected)) waiting();
      },
    })
  );
  await Promise.all(conns.map((nc) => nc.flush()));
  const once = async () => {
    round++;
    const done = new Promise<void>((resolve) => (waiting = resolve));
    conns.forEach((nc, r) => {
      for (let c = 0; c < chunks; c++) {
        nc.publish(`${id}.${r}`, block.subarray(c * max, Math.min(per, (c + 1) * max)));
      }
    });
    await done;
  };
  await once();
  const times: number[] = [];
  const deadline = performance.now() + budgetMs;
  while (times.length < 3 || (performance.now() < deadline && times.length < 50)) {
    const start = performance.now();
    await once();
    times.push(performance.now() - start);
  }
  await Promise.all(conns.map((nc) => nc.close()));
  const timeMs = median(times);
  const size = per * p;
  const algbw = size / (timeMs / 1000) / 1e9;
  return {
    op: "raw-fanout",
    ranks: p,
    bytes: size,
    timeMs,
    algbwGBs: algbw,
    busbwGBs: algbw * (p - 1) / p,
    correct,
    iterations: times.length,
  };
}

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
  if (parsed === "help") {
    console.log(HELP);
    return 0;
  }
  const { values } = parsed;
  const ranks = values.ranks;
  const sizes = values.sizes;
  const maxTraffic = values["max-traffic-mib"] * 1024 * 1024;
  const budget = values["budget-ms"];
  const json = values.json ?? join("reports", "results", `comm-${Date.now()}.json`);
  const server = values.nats
    ? undefined
    : await startNatsServer({ maxPayloadBytes: 8 * 1024 * 1024 });
  const connection = values.nats
    ? natsConnectionFromValues(values.nats, values, "nats-")
    : { servers: server!.url };
  const url = redactServers(connection.servers);
  const rows: Row[] = [];
  const print = (r: Row) =>
    console.log(
      `${r.op.padEnd(14)}${String(r.ranks).padStart(4)}${String(r.bytes).padStart(12)}${
        r.timeMs.toFixed(3).padStart(11)
      }${r.algbwGBs.toFixed(3).padStart(10)}${r.busbwGBs.toFixed(3).padStart(10)}  ${
        r.correct ? "ok" : "WRONG"
      }`,
    );
  try {
    console.log(`NATS ${url} (${server?.version ?? "external server"})`);
    console.log("op               p       bytes    time ms  algbw GB/s busbw GB/s  data");
    for (const p of ranks) {
      for (const size of sizes) {
        if ((p - 1) * size > maxTraffic) continue;
        const r = await measureRawFanout(connection, p, size, budget);
        rows.push(r);
        print(r);
      }
      await using group = await connectNatsGroup(connection, p, {
        runId: `comm-${p}-${Date.now()}`,
        timeoutMs: 120_000,
      });
      for (const op of OPS) {
        for (const size of sizes) {
          // Traffic through this one host per call: every rank receives (p-1)/p of S, or p-1 S for allReduce.
          const traffic = op === "allReduce" ? p * (p - 1) * size : (p - 1) * size;
          if (traffic > maxTraffic) continue;
          const r = await measureCollective(op, group.comms, size, budget);
          rows.push(r);
          print(r);
        }
      }
    }
  } finally {
    await server?.stop();
  }
  // The target: allGather busbw at least 70% of the raw pub/sub throughput at 1 MiB and above.
  console.log("\nallGather busbw / raw fan-out busbw, sizes >= 1 MiB:");
  for (const r of rows.filter((x) => x.op === "allGather" && x.bytes >= 1 << 20)) {
    const ceiling = rows.find((x) =>
      x.op === "raw-fanout" && x.ranks === r.ranks && x.bytes === r.bytes
    );
    if (ceiling) {
      console.log(
        `  p=${r.ranks} ${r.bytes} B: ${(100 * r.busbwGBs / ceiling.busbwGBs).toFixed(0)}%`,
      );
    }
  }
  await Deno.mkdir(join(json, ".."), { recursive: true });
  await writeTextFileAtomic(
    json,
    JSON.stringify({ schemaVersion: 0, kind: "comm", url, rows }, null, 2) + "\n",
  );
  console.log(`results: ${json}`);
  return rows.every((r) => r.correct) ? 0 : 1;
}

if (import.meta.main) {
  await runMain(main, [NatsServerError], "Run `deno task bench:comm --help` for the options.");
}
