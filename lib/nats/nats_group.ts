/**
 * p ranks of one run connected from this process, `ranksPerConnection` to a connection: the
 * conformance suite's and the collective benchmark's way to get a group of NATS communicators.
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/transport-node";
import { gridPosition, groupRunId } from "../comm/grid.ts";
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

/** The groups of some ranks of a d x p grid (lib/comm/grid.ts) on one NATS connection. */
export interface GridConnections {
  /** Every group connection opened (close them all). */
  connections: RankConnection[];
  /** A rank's model-parallel communicator and, with d > 1, its data-parallel one. */
  comms(rank: number): { model: NatsCommunicator; data?: NatsCommunicator };
}

/**
 * Opens, on one NATS connection, the groups that some ranks of a d x p grid belong to: with d = 1
 * the run's one group of p ranks on the run's subjects (as without a grid); else a group per
 * replica among them (p ranks, subjects `<run>-gm<i>`) and per model rank among them (d ranks,
 * `<run>-gd<r>`), so no group sees another's traffic and each counts its own bytes.
 *
 * @param nc The connection (not closed by the groups).
 * @param runId The run's id (its namespace).
 * @param grid d and p.
 * @param ranks The global ranks carried here.
 * @param options Timeout and wire dtype of every group.
 * @returns The connections and each rank's communicators.
 */
export async function openGridConnections(
  nc: NatsConnection,
  runId: string,
  grid: { replicas: number; modelRanks: number },
  ranks: readonly number[],
  options: Pick<RankConnectionOptions, "timeoutMs" | "dtype" | "maxMessageBytes"> = {},
): Promise<GridConnections> {
  const open = (id: string, size: number, members: number[]) =>
    RankConnection.open(nc, { ...options, runId: id, size, ranks: members });
  const { replicas: d, modelRanks: p } = grid;
  if (d === 1) {
    const connection = await open(runId, p, [...ranks]);
    return { connections: [connection], comms: (rank) => ({ model: connection.comm(rank) }) };
  }
  const at = ranks.map((g) => gridPosition(g, p));
  const replicas = [...new Set(at.map((x) => x.replica))];
  const modelRanks = [...new Set(at.map((x) => x.modelRank))];
  const settled = await Promise.allSettled([
    ...replicas.map((i) =>
      open(groupRunId(runId, `m${i}`), p, at.filter((x) => x.replica === i).map((x) => x.modelRank))
    ),
    ...modelRanks.map((r) =>
      open(groupRunId(runId, `d${r}`), d, at.filter((x) => x.modelRank === r).map((x) => x.replica))
    ),
  ]);
  const opened = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(opened.map((c) => c.close()));
    throw (failed as PromiseRejectedResult).reason;
  }
  const connections = settled.map((s) => (s as PromiseFulfilledResult<RankConnection>).value);
  const models = connections.slice(0, replicas.length);
  const datas = connections.slice(replicas.length);
  return {
    connections,
    comms: (rank) => {
      const { replica, modelRank } = gridPosition(rank, p);
      return {
        model: models[replicas.indexOf(replica)].comm(modelRank),
        data: datas[modelRanks.indexOf(modelRank)].comm(replica),
      };
    },
  };
}
