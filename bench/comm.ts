/**
 * Collective benchmark over NATS, in the manner of nccl-tests (`deno task bench:comm`):
 * allGather, reduceScatter and allReduce for message sizes 1 KiB to 64 MiB and p in
 * {2, 4, 8, 16} (and 256 at small sizes with --ranks), reporting time, algbw and busbw with a
 * correctness check of the data; and, in the same run, raw NATS publish/subscribe throughput for
 * the same sizes and the same fan-out (p connections publishing S/p once each, no protocol of
 * ours) as the transport's ceiling. All ranks run in this process, `--ranks-per-host` to a
 * connection (default 1: every block crosses the server, as between processes), against a
 * nats-server started here (or --nats URL). Per (operation, p) it fits the alpha-beta model
 * t = alpha + S / B over the sizes (latency term per call and per message, bandwidth term), and
 * records each measurement's peak resident memory next to the bytes the ranks must hold.
 *
 * Size S is the total buffer as nccl-tests counts it: allGather gathers S (S/p per rank),
 * reduceScatter reduces S (S/p per rank out), allReduce reduces S. algbw = S / time;
 * busbw = algbw (p-1)/p for allGather and reduceScatter, algbw 2(p-1)/p for allReduce.
 *
 * @module
 */

import { join } from "node:path";
import { flag, parseBytes, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { natsAuthFlags, natsConnectionFromValues } from "../lib/cli/nats_flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { connectNats, type NatsConnectionOptions, redactServers } from "../lib/nats/connection.ts";
import {
  connectNatsGroup,
  DEFAULT_MAX_MESSAGE_BYTES,
  type NatsCommunicator,
} from "../lib/nats/nats_communicator.ts";
import { NatsServerError, startNatsServer } from "../lib/nats/nats_server.ts";
import { writeTextFileAtomic } from "../lib/results/atomic_write.ts";
import { median } from "../lib/results/stats.ts";
import { type AlphaBeta, fitAlphaBeta } from "../lib/comm/alpha_beta.ts";

type Op = "allGather" | "reduceScatter" | "allReduce";
const OPS: readonly Op[] = ["allGather", "reduceScatter", "allReduce"];

interface Row {
  op: Op | "raw-fanout";
  ranks: number;
  ranksPerHost: number;
  bytes: number;
  timeMs: number;
  algbwGBs: number;
  busbwGBs: number;
  correct: boolean;
  iterations: number;
  /** Peak resident memory of this process during the measurement, in bytes. */
  peakRssBytes: number;
  /** Resident memory before it, in bytes. */
  baseRssBytes: number;
  /** What the ranks hold once the call returns (results and inputs), in bytes. */
  heldBytes: number;
  /** Per call, rank 0's share of the bytes its connection received (raw: all it received). */
  wireBytesReceivedPerRank: number;
  /** Per call, payload rank 0 received in memory from ranks sharing its connection. */
  localBytesReceivedPerRank: number;
}

/** Samples this process's resident memory every few ms until stopped. */
function rssSampler() {
  const base = Deno.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 5);
  return {
    base,
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, Deno.memoryUsage().rss);
    },
  };
}

/** Results the ranks hold after one call, plus their inputs: what any transport must keep. */
function heldBytes(op: Op | "raw-fanout", p: number, bytes: number): number {
  if (op === "allGather") return p * bytes + bytes; // every rank the whole S; inputs S/p each
  if (op === "reduceScatter") return bytes + p * bytes; // S/p out each; p chunks in each
  if (op === "allReduce") return 2 * p * bytes;
  return bytes;
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

/** Receive buffers, one per rank, reused by every call (nccl-tests allocates them once too). */
function outputs(op: Op, p: number, elements: number): Float32Array[] {
  const length = op === "allGather" ? elements : op === "reduceScatter" ? elements / p : elements;
  return [...Array(p).keys()].map(() => new Float32Array(length));
}

/** Runs one collective on all ranks; checks the data when asked. */
async function once(
  op: Op,
  comms: NatsCommunicator[],
  data: Float32Array[][],
  out: Float32Array[],
  check: boolean,
): Promise<boolean> {
  const p = comms.length;
  if (op === "allGather") {
    const got = await Promise.all(
      comms.map((c) => c.allGather(data[c.rank][0], undefined, out[c.rank])),
    );
    return !check || got.every((blocks) => blocks.every((b, s) => b.every((v) => v === s + 1)));
  }
  if (op === "reduceScatter") {
    const got = await Promise.all(
      comms.map((c) => c.reduceScatter(data[c.rank], undefined, out[c.rank])),
    );
    // Rank s receives sum over r of (r + s) = p s + p(p-1)/2.
    return !check || got.every((v, s) => v.every((x) => x === p * s + (p * (p - 1)) / 2));
  }
  const got = await Promise.all(
    comms.map((c) => c.allReduce(data[c.rank][0], undefined, out[c.rank])),
  );
  return !check || got.every((v) => v.every((x) => x === (p * (p + 1)) / 2));
}

async function measureCollective(
  op: Op,
  comms: NatsCommunicator[],
  bytes: number,
  budgetMs: number,
  ranksPerHost: number,
): Promise<Row> {
  const p = comms.length;
  const elements = Math.max(p, Math.floor(bytes / 4 / p) * p);
  const memory = rssSampler();
  const data = inputs(op, p, elements);
  const out = outputs(op, p, elements);
  const correct = await once(op, comms, data, out, true); // warm-up and check
  const times: number[] = [];
  const deadline = performance.now() + budgetMs;
  const before = comms[0].stats();
  while (times.length < 3 || (performance.now() < deadline && times.length < 50)) {
    const start = performance.now();
    await once(op, comms, data, out, false);
    times.push(performance.now() - start);
  }
  const after = comms[0].stats();
  const perCall = (key: "wireBytesReceived" | "localBytesReceived") =>
    (after[key] - before[key]) / times.length;
  const timeMs = median(times);
  const size = elements * 4;
  const algbw = size / (timeMs / 1000) / 1e9;
  return {
    op,
    ranks: p,
    ranksPerHost,
    bytes: size,
    timeMs,
    algbwGBs: algbw,
    busbwGBs: algbw * busFactor(op, p),
    correct,
    iterations: times.length,
    peakRssBytes: memory.stop(),
    baseRssBytes: memory.base,
    heldBytes: heldBytes(op, p, size),
    wireBytesReceivedPerRank: perCall("wireBytesReceived"),
    localBytesReceivedPerRank: perCall("localBytesReceived"),
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
  maxMessage?: number,
): Promise<Row> {
  const memory = rssSampler();
  const conns = await Promise.all([...Array(p).keys()].map(() => connectNats(connection)));
  const max =
    Math.min(maxMessage ?? DEFAULT_MAX_MESSAGE_BYTES, conns[0].info?.max_payload ?? 1 << 20) -
    64;
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
    ranksPerHost: 1,
    bytes: size,
    timeMs,
    algbwGBs: algbw,
    busbwGBs: algbw * (p - 1) / p,
    correct,
    iterations: times.length,
    peakRssBytes: memory.stop(),
    baseRssBytes: memory.base,
    heldBytes: heldBytes("raw-fanout", p, size),
    wireBytesReceivedPerRank: (p - 1) * per,
    localBytesReceivedPerRank: 0,
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
  ops: flag.listOf(OPS)({ default: [...OPS], help: "collectives to measure" }),
  "ranks-per-host": flag.int({
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
        r.correct ? "ok   " : "WRONG"
      }${r.wireBytesReceivedPerRank.toFixed(0).padStart(10)}${
        r.localBytesReceivedPerRank.toFixed(0).padStart(10)
      }`,
    );
  try {
    console.log(`NATS ${url} (${server?.version ?? "external server"})`);
    console.log(
      `ranks per connection: ${values["ranks-per-host"]} (wire: bytes rank 0's connection ` +
        "received per call, its share; local: payload it got in memory)",
    );
    console.log(
      "op               p       bytes    time ms  algbw GB/s busbw GB/s  data    wire B   local B",
    );
    for (const p of ranks) {
      for (const size of values.raw === "yes" ? sizes : []) {
        if ((p - 1) * size > maxTraffic) continue;
        const r = await measureRawFanout(connection, p, size, budget, values["max-message"]);
        rows.push(r);
        print(r);
      }
      await using group = await connectNatsGroup(connection, p, {
        runId: `comm-${p}-${Date.now()}`,
        timeoutMs: 120_000,
        ranksPerHost: values["ranks-per-host"],
        maxMessageBytes: values["max-message"],
      });
      for (const op of values.ops) {
        for (const size of sizes) {
          // Traffic through this one host per call: every rank receives (p-1)/p of S, or p-1 S for allReduce.
          const traffic = op === "allReduce" ? p * (p - 1) * size : (p - 1) * size;
          if (traffic > maxTraffic) continue;
          const r = await measureCollective(
            op,
            group.comms,
            size,
            budget,
            values["ranks-per-host"],
          );
          rows.push(r);
          print(r);
        }
      }
    }
  } finally {
    await server?.stop();
  }
  const fits = fitRows(rows);
  printSummary(rows, fits);
  await Deno.mkdir(join(json, ".."), { recursive: true });
  await writeTextFileAtomic(
    json,
    JSON.stringify(
      { schemaVersion: 1, kind: "comm", createdAt: new Date().toISOString(), url, rows, fits },
      null,
      2,
    ) + "\n",
  );
  console.log(`results: ${json}`);
  return rows.every((r) => r.correct) ? 0 : 1;
}

/** An alpha-beta fit of one operation at one p. */
interface FitRow extends AlphaBeta {
  op: Row["op"];
  ranks: number;
  ranksPerHost: number;
  /** The latency term divided by the messages one rank receives per call (p - 1). */
  alphaPerMessageUs: number;
  /** The fitted bandwidth as busbw. */
  busbwGBs: number;
}

function fitRows(rows: Row[]): FitRow[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.op}|${r.ranks}|${r.ranksPerHost}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].filter((g) => new Set(g.map((r) => r.bytes)).size >= 2).map((g) => {
    const fit = fitAlphaBeta(g);
    const { op, ranks, ranksPerHost } = g[0];
    const factor = op === "allReduce" ? (2 * (ranks - 1)) / ranks : (ranks - 1) / ranks;
    return {
      op,
      ranks,
      ranksPerHost,
      ...fit,
      alphaPerMessageUs: fit.alphaUs / Math.max(1, ranks - 1),
      busbwGBs: fit.algbwGBs * factor,
    };
  });
}

function printSummary(rows: Row[], fits: FitRow[]): void {
  console.log("\nalpha-beta fits, t = alpha + S / B:");
  console.log("op               p  per host  alpha us  alpha/msg us  busbw GB/s    r2");
  for (const f of fits) {
    console.log(
      `${f.op.padEnd(14)}${String(f.ranks).padStart(4)}${String(f.ranksPerHost).padStart(10)}` +
        `${f.alphaUs.toFixed(0).padStart(10)}${f.alphaPerMessageUs.toFixed(1).padStart(14)}` +
        `${f.busbwGBs.toFixed(3).padStart(12)}${f.r2.toFixed(3).padStart(6)}`,
    );
  }
  const ceiling = (r: Row) =>
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
