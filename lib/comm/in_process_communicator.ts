/**
 * p ranks in one process: collectives rendezvous in shared memory. Used for tests, for the
 * reference runs, and as the model every other {@linkcode Communicator} must match (see
 * `lib/testing/communicator_conformance.ts`).
 *
 * @module
 */

import type { CollectiveOp } from "../config/collectives.ts";
import {
  CollectiveError,
  type CollectiveTag,
  type CommStats,
  type Communicator,
  describeTag,
  receiveBuffer,
} from "./communicator.ts";
import { type CollectiveShape, countCollective, sumInRankOrder } from "./accounting.ts";

/** Options of {@linkcode createInProcessGroup}. */
export interface InProcessGroupOptions {
  /** How long a rank waits for the others in one collective, in ms. @default 60000 */
  timeoutMs?: number;
  /** Aborting fails every pending and later collective of the group with the reason. */
  signal?: AbortSignal;
}

interface Contribution {
  op: CollectiveOp;
  tag: CollectiveTag | undefined;
  /** Blocks this rank contributes: 1 for most ops, p for reduceScatter, 0 for barrier. */
  arrays: Float32Array[];
  root: number;
  /** The caller's receive buffer, if it gave one. */
  into?: Float32Array;
}

interface Waiter {
  resolve: (arrays: Float32Array[]) => void;
  reject: (error: Error) => void;
}

interface Slot {
  contributions: (Contribution | undefined)[];
  waiters: (Waiter | undefined)[];
  arrived: number;
  failed?: Error;
}

const BYTES_PER_FLOAT32 = 4;

/**
 * Creates p communicators that talk to each other in this process.
 *
 * @param size Number of ranks p.
 * @param options Timeout.
 * @returns The communicators, indexed by rank.
 * @throws {RangeError} If size is not a positive integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createInProcessGroup } from "./in_process_communicator.ts";
 * const comms = createInProcessGroup(2);
 * const sums = await Promise.all(comms.map((c) => c.allReduce(new Float32Array([c.rank + 1]))));
 * assert(sums[0][0] === 3 && sums[1][0] === 3);
 * ```
 */
export function createInProcessGroup(
  size: number,
  options: InProcessGroupOptions = {},
): Communicator[] {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new RangeError(`Cannot create in-process group: size (${size}) must be >= 1`);
  }
  const group = new Rendezvous(size, options.timeoutMs ?? 60_000, options.signal);
  return Array.from({ length: size }, (_, rank) => new InProcessCommunicator(group, rank));
}

class Rendezvous {
  readonly size: number;
  readonly timeoutMs: number;
  #slots = new Map<number, Slot>();
  #aborted?: Error;

  constructor(size: number, timeoutMs: number, signal?: AbortSignal) {
    this.size = size;
    this.timeoutMs = timeoutMs;
    const abort = () => {
      const why = signal!.reason instanceof Error ? signal!.reason.message : "aborted";
      this.#aborted = new CollectiveError(`Collectives of the group stopped: ${why}`);
      for (const [seq, slot] of this.#slots) this.#fail(seq, slot, this.#aborted);
    };
    if (signal?.aborted) abort();
    else signal?.addEventListener("abort", abort, { once: true });
  }

  /** Registers rank's contribution to call number `seq` and resolves with its result. */
  join(seq: number, rank: number, c: Contribution): Promise<Float32Array[]> {
    let slot = this.#slots.get(seq);
    if (!slot) {
      slot = { contributions: [], waiters: [], arrived: 0 };
      this.#slots.set(seq, slot);
    }
    const current = slot;
    return new Promise<Float32Array[]>((resolve, reject) => {
      if (current.failed) return reject(current.failed);
      if (this.#aborted) return reject(this.#aborted);
      const timer = setTimeout(() => {
        const missing = [...Array(this.size).keys()].filter((r) => !current.contributions[r]);
        const error = new CollectiveError(
          `Collective ${c.op} ${describeTag(c.tag)} (call ${seq}) timed out after ` +
            `${this.timeoutMs} ms on rank ${rank}: ranks ${missing.join(", ")} did not answer`,
        );
        this.#fail(seq, current, error);
      }, this.timeoutMs);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        fn();
      };
      current.contributions[rank] = c;
      current.waiters[rank] = {
        resolve: (v) => done(() => resolve(v)),
        reject: (e) => done(() => reject(e)),
      };
      current.arrived++;
      if (current.arrived === this.size) this.#complete(seq, current);
    });
  }

  #fail(seq: number, slot: Slot, error: Error): void {
    slot.failed = error;
    for (const w of slot.waiters) w?.reject(error);
    slot.waiters = [];
    // Keep the failed slot so late arrivals see the same error.
    this.#slots.set(seq, slot);
  }

  #complete(seq: number, slot: Slot): void {
    const cs = slot.contributions as Contribution[];
    const mismatch = findMismatch(cs, this.size);
    if (mismatch) {
      this.#fail(seq, slot, new CollectiveError(`Collective call ${seq} mismatch: ${mismatch}`));
      return;
    }
    this.#slots.delete(seq);
    const results = computeResults(cs, this.size);
    slot.waiters.forEach((w, rank) => w?.resolve(results[rank]));
  }
}

function findMismatch(cs: Contribution[], size: number): string | undefined {
  const first = cs[0];
  for (let r = 0; r < size; r++) {
    const c = cs[r];
    if (c.op !== first.op) return `rank 0 called ${first.op} but rank ${r} called ${c.op}`;
    if (c.op === "reduceScatter" && c.arrays.length !== size) {
      return `reduceScatter on rank ${r} got ${c.arrays.length} chunks, expected ${size}`;
    }
    if (c.op === "broadcast" && c.root !== first.root) {
      return `broadcast root is ${first.root} on rank 0 but ${c.root} on rank ${r}`;
    }
    if (c.op === "broadcast") continue;
    for (let i = 0; i < c.arrays.length; i++) {
      if (c.arrays[i].length !== first.arrays[i].length) {
        return `${c.op} ${describeTag(c.tag)} length ${c.arrays[i].length} on rank ${r} ` +
          `but ${first.arrays[i].length} on rank 0` +
          (c.op === "reduceScatter" ? ` (chunk ${i})` : "");
      }
    }
  }
  return undefined;
}

function computeResults(cs: Contribution[], size: number): Float32Array[][] {
  const op = cs[0].op;
  switch (op) {
    case "allGather": {
      const n = cs[0].arrays[0].length;
      return cs.map((receiver) => {
        const out = receiver.into ?? new Float32Array(size * n);
        cs.forEach((c, s) => out.set(c.arrays[0], s * n));
        return cs.map((_, s) => out.subarray(s * n, (s + 1) * n));
      });
    }
    case "reduceScatter":
      return cs.map((receiver, s) => [sumInRankOrder(cs.map((c) => c.arrays[s]), receiver.into)]);
    case "allReduce": {
      const sum = sumInRankOrder(cs.map((c) => c.arrays[0]));
      return cs.map((
        receiver,
      ) => [receiver.into ? (receiver.into.set(sum), receiver.into) : sum.slice()]);
    }
    case "broadcast":
      return cs.map(() => [cs[cs[0].root].arrays[0].slice()]);
    case "barrier":
      return Array.from({ length: size }, () => []);
  }
}

class InProcessCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly bytesPerElement = BYTES_PER_FLOAT32;
  #group: Rendezvous;
  #seq = 0;
  #stats: CommStats = { bytesSent: 0, bytesReceived: 0, collectives: 0 };

  constructor(group: Rendezvous, rank: number) {
    this.#group = group;
    this.rank = rank;
    this.size = group.size;
  }

  async allGather(
    block: Float32Array,
    tag?: CollectiveTag,
    into?: Float32Array,
  ): Promise<Float32Array[]> {
    const out = into && receiveBuffer(into, this.size * block.length, "allGather");
    const result = await this.#join("allGather", [block], tag, 0, out);
    this.#count({ op: "allGather", elements: block.length });
    return result;
  }

  async reduceScatter(
    chunks: Float32Array[],
    tag?: CollectiveTag,
    into?: Float32Array,
  ): Promise<Float32Array> {
    const out = into && receiveBuffer(into, chunks[this.rank]?.length ?? 0, "reduceScatter");
    const [sum] = await this.#join("reduceScatter", chunks, tag, 0, out);
    this.#count({ op: "reduceScatter", chunks: chunks.map((c) => c.length) });
    return sum;
  }

  async allReduce(
    data: Float32Array,
    tag?: CollectiveTag,
    into?: Float32Array,
  ): Promise<Float32Array> {
    const out = into && receiveBuffer(into, data.length, "allReduce");
    const [sum] = await this.#join("allReduce", [data], tag, 0, out);
    this.#count({ op: "allReduce", elements: data.length });
    return sum;
  }

  async broadcast(data: Float32Array, root: number, tag?: CollectiveTag): Promise<Float32Array> {
    if (!Number.isInteger(root) || root < 0 || root >= this.size) {
      throw new RangeError(`Cannot broadcast: root (${root}) must be a rank below ${this.size}`);
    }
    const [out] = await this.#join("broadcast", [data], tag, root);
    this.#count({ op: "broadcast", elements: out.length, root });
    return out;
  }

  async barrier(tag?: CollectiveTag): Promise<void> {
    await this.#join("barrier", [], tag);
    this.#count({ op: "barrier" });
  }

  stats(): CommStats {
    return { ...this.#stats };
  }

  #count(shape: Omit<CollectiveShape, "size" | "rank">): void {
    countCollective(
      this.#stats,
      { ...shape, size: this.size, rank: this.rank },
      this.bytesPerElement,
    );
  }

  #join(
    op: CollectiveOp,
    arrays: Float32Array[],
    tag?: CollectiveTag,
    root = 0,
    into?: Float32Array,
  ): Promise<Float32Array[]> {
    // Snapshot inputs: the caller may reuse its buffers as soon as the call returns.
    const copies = arrays.map((a) => a.slice());
    return this.#group.join(this.#seq++, this.rank, { op, tag, arrays: copies, root, into });
  }
}
