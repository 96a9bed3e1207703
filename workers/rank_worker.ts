/**
 * Web Worker entry: the host posts `{ connection, runId, secret, ranks }`; the worker runs those ranks
 * over one NATS connection (lib/runtime/rank_runtime.ts: ranks of one thread exchange blocks in
 * memory and share the thread's tfjs backend) and posts `{ ranks, ok }` when all are done.
 *
 * @module
 */

import type { NatsConnectionOptions } from "../lib/nats/connection.ts";
import { runRanks } from "../lib/runtime/rank_runtime.ts";

interface Start {
  connection: NatsConnectionOptions;
  runId: string;
  secret: string;
  ranks: number[];
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Start>) => void) | null;
  postMessage: (m: unknown) => void;
  close: () => void;
};

scope.onmessage = async (event) => {
  const { connection, runId, secret, ranks } = event.data;
  try {
    const outcomes = await runRanks({ connection, runId, secret, ranks });
    scope.postMessage({ ranks, ok: [...outcomes.values()].every(Boolean) });
  } catch (e) {
    scope.postMessage({
      ranks,
      ok: false,
      error: `ranks ${ranks.join(",")}: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
  scope.close();
};
