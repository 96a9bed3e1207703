/**
 * The {@linkcode Communicator} over a real nats-server: one rank's side of every collective.
 * A {@linkcode RankTransport} (lib/nats/rank_connection.ts) carries its blocks; its ledger
 * (lib/nats/call_ledger.ts) checks what arrives: run, sender, call, step, operation, dtype and
 * sizes, and a message that does not match what this rank expects fails the collective with an
 * error naming both sides; it is never summed in. Sums are added in rank order, as in the
 * in-process implementation, so results are bit-identical whatever the placement of ranks on
 * connections.
 *
 * Counters: payload bytes per rank are the logical ones of lib/comm/accounting.ts (equal to the
 * cost model); wire bytes are what crossed the connection's socket, shared among the ranks a
 * message carried data for; `localBytesReceived` is payload that came from ranks of the same
 * connection in memory and never crossed a socket.
 *
 * @module
 */

import type { CollectiveOp } from "../config/collectives.ts";
import { addInto, type CollectiveShape, countCollective } from "../comm/accounting.ts";
import {
  CollectiveError,
  type CollectiveTag,
  type CommStats,
  type Communicator,
  describeTag,
  receiveBuffer,
} from "../comm/communicator.ts";
import { CallLedger, type PieceFrame, type PieceSection, type Waiter } from "./call_ledger.ts";
import { EVERY_RANK, type Outgoing } from "./frame.ts";
import { bytesPerElement, type WireDtype } from "./wire.ts";

/** What a communicator needs of the connection carrying it. */
export interface RankTransport {
  readonly runId: string;
  readonly size: number;
  readonly dtype: WireDtype;
  /** How long a collective waits for the other ranks, in ms. */
  readonly timeoutMs: number;
  /** Sends a rank's blocks of a call: in memory to ranks it carries, over NATS to the others. */
  send(
    from: NatsCommunicator,
    seq: number,
    op: CollectiveOp,
    step: number,
    blocks: Outgoing[],
  ): Promise<void>;
}

/** Payload and wire counters of a NATS rank. */
export interface NatsCommStats extends CommStats {
  /** Bytes of the messages this rank published: subject and frame, every piece. */
  wireBytesSent: number;
  /** This rank's share of the bytes its connection received (by the sections each message carried). */
  wireBytesReceived: number;
  /** Payload bytes received in memory from ranks of the same connection. */
  localBytesReceived: number;
  /** NATS messages published. */
  messagesSent: number;
}

/**
 * One rank's communicator, carried by a {@linkcode RankTransport}.
 */
export class NatsCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly bytesPerElement: number;
  readonly dtype: WireDtype;
  #connection: RankTransport;
  #step = -1;
  #ledger: CallLedger;
  #stats: NatsCommStats = {
    bytesSent: 0,
    bytesReceived: 0,
    collectives: 0,
    wireBytesSent: 0,
    wireBytesReceived: 0,
    localBytesReceived: 0,
    messagesSent: 0,
  };
  #closed = false;

  /**
   * @param connection The connection carrying this rank.
   * @param rank This rank.
   */
  constructor(connection: RankTransport, rank: number) {
    this.#connection = connection;
    this.rank = rank;
    this.size = connection.size;
    this.dtype = connection.dtype;
    this.bytesPerElement = bytesPerElement(connection.dtype);
    this.#ledger = new CallLedger(rank, this.bytesPerElement, this.#stats);
  }

  /** The run id. */
  get runId(): string {
    return this.#connection.runId;
  }

  /**
   * Sets the training step carried in frames (checked on receipt).
   *
   * @param step The step.
   */
  setStep(step: number): void {
    this.#step = step;
  }

  stats(): NatsCommStats {
    return { ...this.#stats };
  }

  allGather(
    block: Float32Array,
    tag?: CollectiveTag,
    into?: Float32Array,
  ): Promise<Float32Array[]> {
    const n = block.length;
    let result: Float32Array;
    try {
      result = receiveBuffer(into, this.size * n, "allGather");
    } catch (error) {
      return Promise.reject(error);
    }
    result.set(block, this.rank * n);
    let taken = 0;
    const slot = (s: number) => result.subarray(s * n, (s + 1) * n);
    return this.#collective(
      "allGather",
      tag,
      { elements: n },
      [{ to: EVERY_RANK, values: block }],
      {
        expectFrom: this.#others(),
        elements: () => n,
        dest: slot,
        take: (from, data, direct) => {
          if (!direct) result.set(data, from * n);
          taken++;
        },
        ready: () => taken === this.size - 1,
        finish: () => [...Array(this.size).keys()].map(slot),
      },
    );
  }

  reduceScatter(
    chunks: Float32Array[],
    tag?: CollectiveTag,
    into?: Float32Array,
  ): Promise<Float32Array> {
    if (chunks.length !== this.size) {
      return Promise.reject(
        new CollectiveError(
          `reduceScatter on rank ${this.rank} got ${chunks.length} chunks, expected ${this.size}`,
        ),
      );
    }
    const own = chunks[this.rank];
    const outgoing = chunks.flatMap((values, to) => (to === this.rank ? [] : [{ to, values }]));
    let sum;
    try {
      sum = this.#rankOrderSum(own, receiveBuffer(into, own.length, "reduceScatter"));
    } catch (error) {
      return Promise.reject(error);
    }
    const shape = { chunks: chunks.map((c) => c.length) };
    return this.#collective("reduceScatter", tag, shape, outgoing, {
      expectFrom: this.#others(),
      elements: () => own.length,
      ...sum,
    });
  }

  allReduce(data: Float32Array, tag?: CollectiveTag, into?: Float32Array): Promise<Float32Array> {
    let sum;
    try {
      sum = this.#rankOrderSum(data, receiveBuffer(into, data.length, "allReduce"));
    } catch (error) {
      return Promise.reject(error);
    }
    const outgoing = [{ to: EVERY_RANK, values: data }];
    return this.#collective("allReduce", tag, { elements: data.length }, outgoing, {
      expectFrom: this.#others(),
      elements: () => data.length,
      ...sum,
    });
  }

  broadcast(data: Float32Array, root: number, tag?: CollectiveTag): Promise<Float32Array> {
    if (!Number.isInteger(root) || root < 0 || root >= this.size) {
      return Promise.reject(
        new RangeError(`Cannot broadcast: root (${root}) must be a rank below ${this.size}`),
      );
    }
    const isRoot = this.rank === root;
    let out: Float32Array | undefined = isRoot ? data.slice() : undefined;
    return this.#collective(
      "broadcast",
      tag,
      { elements: isRoot ? data.length : 0, root },
      isRoot ? [{ to: EVERY_RANK, values: data }] : [],
      {
        expectFrom: isRoot ? [] : [root],
        elements: () => undefined,
        take: (_from, d) => (out = d),
        ready: () => out !== undefined,
        finish: () => out!,
      },
      (taken) => ({ elements: taken.length, root }),
    );
  }

  async barrier(tag?: CollectiveTag): Promise<void> {
    let taken = 0;
    await this.#collective("barrier", tag, {}, [{ to: EVERY_RANK, values: new Float32Array(0) }], {
      expectFrom: this.#others(),
      elements: () => 0,
      take: () => taken++,
      ready: () => taken === this.size - 1,
      finish: () => undefined,
    });
  }

  /** Fails every pending collective (connection closing). */
  fail(error: Error): void {
    this.#closed = true;
    this.#ledger.close(error);
  }

  /** @internal Counts a published message (called by the connection). */
  countSent(bytes: number): void {
    this.#stats.wireBytesSent += bytes;
    this.#stats.messagesSent++;
  }

  /** @internal A refused message, attributed to a call where its header could be read. */
  protocolError(error: CollectiveError, seq?: number): void {
    this.#ledger.protocolError(error, seq);
  }

  /** @internal A block from a rank of the same connection (already rounded to the wire dtype). */
  receiveLocal(
    seq: number,
    from: number,
    op: CollectiveOp,
    step: number,
    values: Float32Array,
  ): void {
    this.#ledger.receiveLocal(seq, from, op, step, values);
  }

  /** @internal A piece of a block that arrived over NATS. */
  receivePiece(frame: PieceFrame, section: PieceSection, wireShare: number): void {
    this.#ledger.receivePiece(frame, section, wireShare);
  }

  #others(): number[] {
    return [...Array(this.size).keys()].filter((r) => r !== this.rank);
  }

  /**
   * Accumulates blocks in rank order into `out` as they arrive (this rank's own at its place,
   * copied now: the caller may reuse its buffer once the call returns).
   */
  #rankOrderSum(own: Float32Array, out: Float32Array) {
    const blocks = new Map<number, Float32Array>([[this.rank, own.slice()]]);
    let next = 0;
    const advance = () => {
      while (next < this.size && blocks.has(next)) {
        const b = blocks.get(next)!;
        blocks.delete(next);
        if (next === 0) out.set(b);
        else addInto(out, b);
        next++;
      }
    };
    return {
      take: (from: number, data: Float32Array) => {
        blocks.set(from, data);
        advance();
      },
      ready: () => (advance(), next === this.size),
      finish: () => out,
    };
  }

  async #collective<T>(
    op: CollectiveOp,
    tag: CollectiveTag | undefined,
    shape: Omit<CollectiveShape, "op" | "size" | "rank">,
    outgoing: Outgoing[],
    spec: Omit<Waiter, "op" | "tag" | "step" | "expect" | "done" | "fail"> & { finish: () => T },
    finalShape?: (result: T & Float32Array) => Omit<CollectiveShape, "op" | "size" | "rank">,
  ): Promise<T> {
    if (this.#closed) throw new CollectiveError(`Communicator of rank ${this.rank} is closed`);
    const seq = this.#ledger.begin(); // messages for it may arrive while the send waits
    const step = this.#step;
    if (this.size > 1) await this.#connection.send(this, seq, op, step, outgoing);
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = this.#ledger.missing(seq, spec.expectFrom);
        this.#ledger.drop(seq);
        reject(
          new CollectiveError(
            `Collective ${op} ${describeTag(tag)} (call ${seq}, step ${step}) timed out after ` +
              `${this.#connection.timeoutMs} ms on rank ${this.rank}: ranks ${
                missing.join(", ")
              } did not answer`,
          ),
        );
      }, this.#connection.timeoutMs);
      this.#ledger.wait(seq, {
        op,
        tag,
        step,
        expectFrom: spec.expectFrom,
        expect: new Set(spec.expectFrom),
        dest: spec.dest,
        elements: spec.elements,
        take: spec.take,
        ready: spec.ready,
        done: () => {
          clearTimeout(timer);
          try {
            const result = spec.finish();
            const final = finalShape ? finalShape(result as T & Float32Array) : shape;
            countCollective(
              this.#stats,
              { ...final, op, size: this.size, rank: this.rank },
              this.bytesPerElement,
            );
            resolve(result);
          } catch (error) {
            reject(error);
          }
        },
        fail: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }
}
