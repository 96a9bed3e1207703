/**
 * Web Worker entry: the host posts `{ connection, runId, ranks }`; the worker runs those ranks
 * (usually one; several share the worker's tfjs backend when a host runs more ranks than worker
 * threads) and posts `{ ranks, ok }` when all are done.
 *
 * @module
 */

import type { NatsConnectionOptions } from "../lib/nats/connection.ts";
import { runRank } from "../lib/runtime/rank_runtime.ts";

interface Start {
  connection: NatsConnectionOptions;
  runId: string;
  ranks: number[];
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Start>) => void) | null;
  postMessage: (m: unknown) => void;
  close: () => void;
};

scope.onmessage = async (event) => {
  const { connection, runId, ranks } = event.data;
  const outcomes = await Promise.all(ranks.map(async (rank) => {
    try {
      return { rank, ok: await runRank({ connection, runId, rank }) };
    } catch (e) {
      return { rank, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  }));
  const errors = outcomes.filter((o) => "error" in o).map((o) =>
    `rank ${o.rank}: ${(o as { error: string }).error}`
  );
  scope.postMessage({
    ranks,
    ok: outcomes.every((o) => o.ok),
    error: errors.join("; ") || undefined,
  });
  scope.close();
};
