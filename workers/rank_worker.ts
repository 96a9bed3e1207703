/**
 * Web Worker entry of one rank: the host posts `{ connection, runId, rank }`; the worker runs the
 * rank (its own tfjs backend, its own NATS connections) and posts `{ rank, ok }` when done.
 *
 * @module
 */

import type { NatsConnectionOptions } from "../lib/nats/connection.ts";
import { runRank } from "../lib/rank_runtime.ts";

interface Start {
  connection: NatsConnectionOptions;
  runId: string;
  rank: number;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Start>) => void) | null;
  postMessage: (m: unknown) => void;
  close: () => void;
};

scope.onmessage = async (event) => {
  const { connection, runId, rank } = event.data;
  let ok = false;
  let error: string | undefined;
  try {
    ok = await runRank({ connection, runId, rank });
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  scope.postMessage({ rank, ok, error });
  scope.close();
};
