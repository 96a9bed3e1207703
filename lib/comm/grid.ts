/**
 * A grid of G = d x p ranks: d data-parallel replicas, each a model-parallel group of p ranks
 * (docs/phantom.md, "Data parallelism"). Rank g is (replica i, model rank r) with g = i p + r.
 * Model-parallel groups (fixed i) exchange activations; data-parallel groups (fixed r: the d ranks
 * holding the same parameters) average gradients. Each group is a {@linkcode Communicator} of its
 * own, ranked within the group (model rank r in its model group, replica i in its data group), so
 * sums in a data group run in replica order whatever the placement, and each group counts its own
 * bytes. The NATS transport gives each group subjects of its own ({@linkcode groupRunId}).
 *
 * @module
 */

import type { Communicator } from "./communicator.ts";
import { createInProcessGroup, type InProcessGroupOptions } from "./in_process_communicator.ts";

/** Where a rank sits in the grid. */
export interface GridPosition {
  /** Global rank g. */
  rank: number;
  /** Replica i (0 <= i < d). */
  replica: number;
  /** Model rank r (0 <= r < p). */
  modelRank: number;
}

/**
 * The grid position of a global rank.
 *
 * @param rank g.
 * @param modelRanks p.
 * @returns (i, r) with g = i p + r.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gridPosition } from "./grid.ts";
 * assert.deepEqual(gridPosition(5, 4), { rank: 5, replica: 1, modelRank: 1 });
 * ```
 */
export function gridPosition(rank: number, modelRanks: number): GridPosition {
  return { rank, replica: Math.floor(rank / modelRanks), modelRank: rank % modelRanks };
}

/** One rank's communicators. */
export interface GridComms {
  /** Its position. */
  position: GridPosition;
  /** Its model-parallel group (p ranks of its replica). */
  model: Communicator;
  /** Its data-parallel group (the d ranks of its model rank); undefined for d = 1. */
  data?: Communicator;
}

/**
 * Every rank's communicators of a d x p grid in this process: d in-process model groups and p
 * in-process data groups.
 *
 * @param replicas d.
 * @param modelRanks p.
 * @param options Timeout and abort signal, for every group.
 * @returns The ranks' communicators, by global rank.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createInProcessGrid } from "./grid.ts";
 * const grid = createInProcessGrid(2, 3);
 * // Rank 4 is replica 1, model rank 1; its data group holds ranks 1 and 4.
 * const sums = await Promise.all(grid.filter((g) => g.position.modelRank === 1)
 *   .map((g) => g.data!.allReduce(new Float32Array([g.position.rank]))));
 * assert.deepEqual(sums.map((s) => s[0]), [5, 5]);
 * assert.equal(grid[4].model.rank, 1);
 * assert.equal(grid[4].data!.rank, 1);
 * ```
 */
export function createInProcessGrid(
  replicas: number,
  modelRanks: number,
  options: InProcessGroupOptions = {},
): GridComms[] {
  for (const [name, v] of [["replicas", replicas], ["model ranks", modelRanks]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`Cannot create a grid: ${name} (${v}) must be a positive integer`);
    }
  }
  const models = Array.from({ length: replicas }, () => createInProcessGroup(modelRanks, options));
  const datas = replicas > 1
    ? Array.from({ length: modelRanks }, () => createInProcessGroup(replicas, options))
    : undefined;
  return Array.from({ length: replicas * modelRanks }, (_, g) => {
    const position = gridPosition(g, modelRanks);
    return {
      position,
      model: models[position.replica][position.modelRank],
      ...(datas ? { data: datas[position.modelRank][position.replica] } : {}),
    };
  });
}

/**
 * The global rank in each launch slot (the order in which launchers fill processes and nodes,
 * contiguous ranges of slots each): `mp-inner` is g itself, so a replica's p model ranks sit
 * together; `dp-inner` puts the d ranks of each model rank together (slot s holds model rank
 * floor(s / d) of replica s mod d).
 *
 * @param replicas d.
 * @param modelRanks p.
 * @param placement mp-inner or dp-inner.
 * @returns slot -> global rank.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slotOrder } from "./grid.ts";
 * assert.deepEqual(slotOrder(2, 3, "mp-inner"), [0, 1, 2, 3, 4, 5]);
 * assert.deepEqual(slotOrder(2, 3, "dp-inner"), [0, 3, 1, 4, 2, 5]);
 * ```
 */
export function slotOrder(
  replicas: number,
  modelRanks: number,
  placement: "mp-inner" | "dp-inner",
): number[] {
  return Array.from(
    { length: replicas * modelRanks },
    (_, s) => placement === "mp-inner" ? s : (s % replicas) * modelRanks + Math.floor(s / replicas),
  );
}

/**
 * The run id of a group's subjects on NATS: the run's, with the group named after it, so groups
 * never see each other's traffic.
 *
 * @param runId The run's id (letters, digits, - and _).
 * @param group "m<i>" for replica i's model group, "d<r>" for model rank r's data group.
 * @returns E.g. `run-x1-gd3`.
 */
export function groupRunId(runId: string, group: string): string {
  if (!/^[md]\d+$/.test(group)) throw new RangeError(`group must be m<i> or d<r> (got ${group})`);
  return `${runId}-g${group}`;
}
