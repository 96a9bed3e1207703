/**
 * p ranks of one run connected from this process, `ranksPerConnection` to a connection: the
 * conformance suite's and the collective benchmark's way to get a group of NATS communicators.
 *
 * @module
 */

import type { NatsConnectionOptions } from "./connection.ts";
import type { NatsCommunicator } from "./nats_communicator.ts";
import { RankConnection, type RankConnectionOptions } from "./rank_connection.ts";

/** A group of p communicators in this process (tests and the collective benchmark). */
export interface NatsGroup extends AsyncDisposable {
  /** Communicators by rank. */
  comms: NatsCommunicator[];
  /** The connections, in rank order.*/
  connections: RankConnection[];
  /** Closes them all. */
  close(): Promise<void>;
}

/** Options of {@linkcode connectNatsGroup}. */
export interface NatsGroupOptions extends Omit<RankConnectionOptions, "size" | "ranks"> {
  /** Ranks per connection: consecutive ranks share a connection. @default 1 */
  ranksPerConnection?: number;
}

/**
 * Connects p ranks of one run from this process, `ranksPerConnection` ranks per connection.
 *
 * @param connection Servers and credentials.
 * @param size Ranks.
 * @param options Run id, timeout, dtype, message size, ranks per connection.
 * @returns The group.
 */
export async function connectNatsGroup(
  connection: NatsConnectionOptions,
  size: number,
  options: NatsGroupOptions,
): Promise<NatsGroup> {
  const per = Math.max(1, options.ranksPerConnection ?? 1);
  const connectionRanks: number[][] = [];
  for (let first = 0; first < size; first += per) {
    connectionRanks.push([...Array(Math.min(per, size - first)).keys()].map((i) => first + i));
  }
  const settled = await Promise.allSettled(
    connectionRanks.map((ranks) => RankConnection.connect(connection, { ...options, size, ranks })),
  );
  const connections = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(connections.map((h) => h.close()));
    throw (failed as PromiseRejectedResult).reason;
  }
  const comms = connections.flatMap((h) => h.ranks.map((r) => h.comm(r)));
  const close = async () => {
    await Promise.all(connections.map((h) => h.close()));
  };
  return { comms, connections, close, [Symbol.asyncDispose]: close };
}
