/**
 * A {@linkcode Communicator} decorator that adds up the time spent inside collectives, so a step
 * can be split into compute and communication. The clock is injected for testability.
 *
 * @module
 */

import type { CollectiveTag, CommStats, Communicator } from "./communicator.ts";

/**
 * Times every collective of an inner communicator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createInProcessGroup } from "./in_process_communicator.ts";
 * import { TimedCommunicator } from "./timed_communicator.ts";
 * const [comm] = createInProcessGroup(1);
 * const timed = new TimedCommunicator(comm);
 * await timed.barrier();
 * assert(timed.commMs >= 0 && timed.stats().collectives === 1);
 * ```
 */
export class TimedCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly bytesPerElement: number;
  /** Milliseconds spent in collectives since creation. */
  commMs = 0;
  #inner: Communicator;
  #now: () => number;

  /**
   * @param inner The communicator to time.
   * @param now Clock in ms. @default performance.now
   */
  constructor(inner: Communicator, now: () => number = () => performance.now()) {
    this.#inner = inner;
    this.#now = now;
    this.rank = inner.rank;
    this.size = inner.size;
    this.bytesPerElement = inner.bytesPerElement;
  }

  allGather(
    block: Float32Array,
    tag?: CollectiveTag,
    into?: Float32Array,
  ): Promise<Float32Array[]> {
    return this.#time(() => this.#inner.allGather(block, tag, into));
  }

  reduceScatter(
    chunks: Float32Array[],
    tag?: CollectiveTag,
    into?: Float32Array,
  ): Promise<Float32Array> {
    return this.#time(() => this.#inner.reduceScatter(chunks, tag, into));
  }

  allReduce(data: Float32Array, tag?: CollectiveTag, into?: Float32Array): Promise<Float32Array> {
    return this.#time(() => this.#inner.allReduce(data, tag, into));
  }

  broadcast(data: Float32Array, root: number, tag?: CollectiveTag): Promise<Float32Array> {
    return this.#time(() => this.#inner.broadcast(data, root, tag));
  }

  barrier(tag?: CollectiveTag): Promise<void> {
    return this.#time(() => this.#inner.barrier(tag));
  }

  stats(): CommStats {
    return this.#inner.stats();
  }

  setStep(step: number): void {
    this.#inner.setStep?.(step);
  }

  async #time<T>(fn: () => Promise<T>): Promise<T> {
    const start = this.#now();
    try {
      return await fn();
    } finally {
      this.commMs += this.#now() - start;
    }
  }
}
