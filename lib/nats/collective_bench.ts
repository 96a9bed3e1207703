/**
 * The collective benchmark over NATS, in the manner of nccl-tests (`deno task bench:comm` runs
 * it): allGather, reduceScatter and allReduce per group size p and message size S, timed with a
 * check of the data; raw NATS publish/subscribe moving the same bytes with the same fan-out (p
 * connections publishing S/p once each, no protocol of ours) as the transport's ceiling; per
 * (operation, p) an alpha-beta fit t = alpha + S / B over the sizes; and each measurement's peak
 * resident memory next to the bytes the ranks must hold. All ranks run in this process,
 * `ranksPerConnection` to a connection (1: every block crosses the server, as between processes).
 *
 * Size S is the whole buffer as nccl-tests counts it: allGather gathers S (S/p per rank),
 * reduceScatter reduces S (S/p per rank out), allReduce reduces S. algbw = S / time;
 * busbw = algbw (p-1)/p for allGather and reduceScatter, algbw 2(p-1)/p for allReduce. The rows
 * and fits are the results kind `comm` (lib/results/comm_results.ts).
 *
 * @module
 */

import { connectNats, type NatsConnectionOptions } from "./connection.ts";
import type { NatsCommunicator } from "./nats_communicator.ts";
import { connectNatsGroup } from "./nats_group.ts";
import { DEFAULT_MAX_MESSAGE_BYTES } from "./rank_connection.ts";
import { fitAlphaBeta } from "../comm/alpha_beta.ts";
import type { CommFit, CommOp, CommRow } from "../results/comm_results.ts";
import { median } from "../results/stats.ts";

/** The collectives the benchmark measures. */
export const BENCH_OPS: readonly CommOp[] = ["allGather", "reduceScatter", "allReduce"];

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
function heldBytes(op: CommOp | "raw-fanout", p: number, bytes: number): number {
  if (op === "allGather") return p * bytes + bytes; // every rank the whole S; inputs S/p each
  if (op === "reduceScatter") return bytes + p * bytes; // S/p out each; p chunks in each
  if (op === "allReduce") return 2 * p * bytes;
  return bytes;
}

function busFactor(op: CommOp, p: number): number {
  return op === "allReduce" ? (2 * (p - 1)) / p : (p - 1) / p;
}

/** Inputs of one collective for every rank, made once so the timing covers the collective only. */
function inputs(op: CommOp, p: number, elements: number): Float32Array[][] {
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
function outputs(op: CommOp, p: number, elements: number): Float32Array[] {
  const length = op === "allGather" ? elements : op === "reduceScatter" ? elements / p : elements;
  return [...Array(p).keys()].map(() => new Float32Array(length));
}

/** Runs one collective on all ranks; checks the data when asked. */
async function once(
  op: CommOp,
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

/**
 * Times one collective on a connected group (median of at least 3 calls within the budget).
 *
 * @param op The collective.
 * @param comms The group, one communicator per rank.
 * @param bytes S.
 * @param budgetMs Time to spend.
 * @param ranksPerConnection Ranks per connection (recorded).
 * @returns The row.
 */
export async function measureCollective(
  op: CommOp,
  comms: NatsCommunicator[],
  bytes: number,
  budgetMs: number,
  ranksPerConnection: number,
): Promise<CommRow> {
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
    ranksPerConnection,
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
export async function measureRawFanout(
  connection: NatsConnectionOptions,
  p: number,
  bytes: number,
  budgetMs: number,
  maxMessage?: number,
): Promise<CommRow> {
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
    ranksPerConnection: 1,
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

/**
 * Alpha-beta fits per (operation, p, ranks per connection) over the sizes measured (two or more).
 *
 * @param rows The measurements.
 * @returns The fits.
 */
export function fitRows(rows: CommRow[]): CommFit[] {
  const groups = new Map<string, CommRow[]>();
  for (const r of rows) {
    const key = `${r.op}|${r.ranks}|${r.ranksPerConnection}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].filter((g) => new Set(g.map((r) => r.bytes)).size >= 2).map((g) => {
    const fit = fitAlphaBeta(g);
    const { op, ranks, ranksPerConnection } = g[0];
    const factor = op === "allReduce" ? (2 * (ranks - 1)) / ranks : (ranks - 1) / ranks;
    return {
      op,
      ranks,
      ranksPerConnection,
      ...fit,
      alphaPerMessageUs: fit.alphaUs / Math.max(1, ranks - 1),
      busbwGBs: fit.algbwGBs * factor,
    };
  });
}

/** What to measure. */
export interface CollectiveBenchOptions {
  /** Group sizes p. */
  ranks: number[];
  /** Message sizes S, in bytes. */
  sizes: number[];
  /** The collectives. @default BENCH_OPS */
  ops?: readonly CommOp[];
  /** Ranks sharing one connection. @default 1 */
  ranksPerConnection?: number;
  /** Largest NATS message, in bytes. */
  maxMessage?: number;
  /** Also measure the raw fan-out ceiling. @default true */
  raw?: boolean;
  /** Calls moving more than this through the host are skipped, in bytes. */
  maxTrafficBytes: number;
  /** Time per measurement, in ms. */
  budgetMs: number;
}

/**
 * Runs the benchmark against a NATS server, calling `onRow` as each measurement ends.
 *
 * @param connection The server (or cluster) and credentials.
 * @param options What to measure.
 * @param onRow Called with each row as it is measured.
 * @returns Every row, and the fits.
 */
export async function runCollectiveBench(
  connection: NatsConnectionOptions,
  options: CollectiveBenchOptions,
  onRow: (row: CommRow) => void = () => {},
): Promise<{ rows: CommRow[]; fits: CommFit[] }> {
  const rows: CommRow[] = [];
  const ranksPerConnection = options.ranksPerConnection ?? 1;
  const push = (r: CommRow) => {
    rows.push(r);
    onRow(r);
  };
  for (const p of options.ranks) {
    for (const size of options.raw === false ? [] : options.sizes) {
      if ((p - 1) * size > options.maxTrafficBytes) continue;
      push(await measureRawFanout(connection, p, size, options.budgetMs, options.maxMessage));
    }
    await using group = await connectNatsGroup(connection, p, {
      runId: `comm-${p}-${Date.now()}`,
      timeoutMs: 120_000,
      ranksPerConnection,
      maxMessageBytes: options.maxMessage,
    });
    for (const op of options.ops ?? BENCH_OPS) {
      for (const size of options.sizes) {
        // Traffic through this one host per call: every rank receives (p-1)/p of S, or p-1 S for allReduce.
        const traffic = op === "allReduce" ? p * (p - 1) * size : (p - 1) * size;
        if (traffic > options.maxTrafficBytes) continue;
        push(await measureCollective(op, group.comms, size, options.budgetMs, ranksPerConnection));
      }
    }
  }
  return { rows, fits: fitRows(rows) };
}
