/**
 * The seam between ranks: every byte that crosses ranks goes through a {@linkcode Communicator}.
 * Implementations: in-process (this module's sibling `in_process_communicator.ts`) and NATS.
 * What they share (rank-order sums, payload accounting) lives in `accounting.ts`.
 *
 * Byte accounting follows a publish/subscribe transport, the one the suite uses: a block that
 * every other rank needs is sent once and received by each of them (all-gather, all-reduce,
 * broadcast); a block for one rank is sent to that rank only (reduce-scatter). Only payload bytes
 * are counted here; transports may record wire overhead separately.
 *
 * @module
 */

/** Optional label of a collective call, used in error messages and transport subjects. */
export interface CollectiveTag {
  /** Which phase issued the call, e.g. `forward`, `backward`, `eval`. */
  phase?: string;
  /** Layer index, where the call belongs to a layer. */
  layer?: number;
}

/** Payload counters of one rank, cumulative since creation or the last reset. */
export interface CommStats {
  /** Payload bytes this rank sent. */
  bytesSent: number;
  /** Payload bytes this rank received. */
  bytesReceived: number;
  /** Collective calls completed. */
  collectives: number;
  /** Bytes on the wire sent (payload plus transport overhead), where the transport counts them. */
  wireBytesSent?: number;
  /** Bytes on the wire received, where the transport counts them. */
  wireBytesReceived?: number;
  /** Payload bytes received in memory from ranks sharing this rank's host (no wire). */
  localBytesReceived?: number;
}

/**
 * One rank's view of a group of `size` ranks. Every rank must issue the same collectives in the
 * same order with matching lengths; a mismatch is an error, never silently combined.
 *
 * Results are fresh arrays owned by the caller; inputs are not retained.
 */
export interface Communicator {
  /** This rank, 0 <= rank < size. */
  readonly rank: number;
  /** Number of ranks p. */
  readonly size: number;
  /** Payload bytes per element on the wire (4 for float32). */
  readonly bytesPerElement: number;

  /**
   * Gathers one block from every rank.
   *
   * @param block This rank's block; every rank passes the same length.
   * @param tag Label for errors and subjects.
   * @param into Where to put the result (p blocks of `block.length`, rank order), as NCCL takes a
   *   receive buffer: a caller that reuses it allocates nothing per call. @default a new array
   * @returns The p blocks in rank order, views of `into` (this rank's own is a copy of `block`).
   */
  allGather(block: Float32Array, tag?: CollectiveTag, into?: Float32Array): Promise<Float32Array[]>;

  /**
   * Sums chunk s of every rank and hands the sum to rank s.
   *
   * @param chunks p chunks; chunk s is this rank's contribution to rank s. Chunk s has the same
   *   length on every rank.
   * @param tag Label for errors and subjects.
   * @param into Where to put the sum (this rank's chunk length). @default a new array
   * @returns The sum over ranks of their chunk for this rank, added in rank order.
   */
  reduceScatter(
    chunks: Float32Array[],
    tag?: CollectiveTag,
    into?: Float32Array,
  ): Promise<Float32Array>;

  /**
   * Sums a buffer over all ranks; every rank gets the bit-identical result (added in rank order).
   *
   * @param data This rank's contribution; the same length on every rank.
   * @param tag Label for errors and subjects.
   * @param into Where to put the sum (the length of `data`). @default a new array
   * @returns The element-wise sum.
   */
  allReduce(data: Float32Array, tag?: CollectiveTag, into?: Float32Array): Promise<Float32Array>;

  /**
   * Copies the root's buffer to every rank.
   *
   * @param data The buffer on the root; ignored elsewhere (pass an empty array).
   * @param root The sending rank.
   * @param tag Label for errors and subjects.
   * @returns The root's buffer.
   */
  broadcast(data: Float32Array, root: number, tag?: CollectiveTag): Promise<Float32Array>;

  /**
   * Waits until every rank has reached the barrier. No payload.
   *
   * @param tag Label for errors and subjects.
   */
  barrier(tag?: CollectiveTag): Promise<void>;

  /** @returns A snapshot of this rank's counters. */
  stats(): CommStats;

  /**
   * Optionally labels the following collectives with a training step (transports put it in
   * subjects and check it on receipt).
   *
   * @param step The step.
   */
  setStep?(step: number): void;
}

/**
 * Raised when ranks disagree about a collective (operation, length, root) or when a collective
 * times out; the message names the operation, the call and the ranks involved.
 */
export class CollectiveError extends Error {
  /**
   * @param message What went wrong.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CollectiveError";
  }
}

/**
 * Checks a caller's receive buffer.
 *
 * @param into The buffer, or undefined.
 * @param length The elements the result needs.
 * @param op The collective, for the error.
 * @returns `into`, or a new array.
 * @throws {RangeError} If `into` has another length.
 */
export function receiveBuffer(
  into: Float32Array | undefined,
  length: number,
  op: string,
): Float32Array {
  if (!into) return new Float32Array(length);
  if (into.length !== length) {
    throw new RangeError(`Cannot ${op} into ${into.length} elements: the result has ${length}`);
  }
  return into;
}

/**
 * Subtracts two counter snapshots, e.g. around one training step.
 *
 * @param after The later snapshot.
 * @param before The earlier snapshot.
 * @returns The counts in between.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { diffStats } from "./communicator.ts";
 * const d = diffStats(
 *   { bytesSent: 10, bytesReceived: 30, collectives: 3 },
 *   { bytesSent: 4, bytesReceived: 10, collectives: 1 },
 * );
 * assert(d.bytesSent === 6 && d.bytesReceived === 20 && d.collectives === 2);
 * ```
 */
export function diffStats(after: CommStats, before: CommStats): CommStats {
  const diff: CommStats = {
    bytesSent: after.bytesSent - before.bytesSent,
    bytesReceived: after.bytesReceived - before.bytesReceived,
    collectives: after.collectives - before.collectives,
  };
  if (after.wireBytesSent !== undefined && before.wireBytesSent !== undefined) {
    diff.wireBytesSent = after.wireBytesSent - before.wireBytesSent;
    diff.wireBytesReceived = (after.wireBytesReceived ?? 0) - (before.wireBytesReceived ?? 0);
    diff.localBytesReceived = (after.localBytesReceived ?? 0) - (before.localBytesReceived ?? 0);
  }
  return diff;
}

/**
 * Describes a tag for messages: `forward layer 2`.
 *
 * @param tag The tag.
 * @returns A short description, or "" when the tag is empty.
 */
export function describeTag(tag: CollectiveTag | undefined): string {
  if (!tag) return "";
  const parts = [tag.phase, tag.layer === undefined ? undefined : `layer ${tag.layer}`];
  return parts.filter(Boolean).join(" ");
}
