/**
 * One rank's ledger of collective calls over NATS, kept apart from the protocol (as nats.js keeps
 * its request ledger apart from the connection): calls are numbered in the order the rank makes
 * them, every other rank's block of a call arrives as pieces in order (or in memory from a rank
 * sharing the connection), and a block is checked against the call this rank made (operation,
 * step, sender, length) before the waiter takes it. Duplicates, pieces out of order, blocks for
 * a call that is already over and mismatched calls are refused with an error naming the call and
 * the ranks. No I/O: the communicator feeds it, so every rule is testable without a server.
 *
 * @module
 */

import type { CollectiveOp } from "../config/collectives.ts";
import { CollectiveError, type CollectiveTag } from "../comm/communicator.ts";
import { describeTag } from "../comm/communicator.ts";
import { decodeInto, type WireDtype } from "./wire.ts";

/** A sender's block of one call, as it arrives. */
interface Part {
  op: CollectiveOp;
  step: number;
  elements: number;
  /** Whether `data` is the waiter's own destination (nothing to copy when taken). */
  direct?: boolean;
  /** Elements received so far (pieces arrive in order). */
  received: number;
  /** The block (allocated at its first piece), until consumed. */
  data?: Float32Array;
  /** Whether it came in memory from a rank of the same connection. */
  local: boolean;
  /** Whether the waiter has taken it. */
  consumed: boolean;
}

/** What this rank's side of a call expects and does with the blocks. */
export interface Waiter {
  op: CollectiveOp;
  tag: CollectiveTag | undefined;
  /** The step this rank was at when it called. */
  step: number;
  expectFrom: number[];
  expect: Set<number>;
  /** Where a sender's block may be decoded directly (the result's own slot), if anywhere. */
  dest?: (from: number) => Float32Array | undefined;
  /** Elements expected from a sender, or undefined when any length is accepted (broadcast). */
  elements: (from: number) => number | undefined;
  /** Takes a complete, checked block (`direct`: it was decoded into `dest(from)`). */
  take: (from: number, data: Float32Array, direct: boolean) => void;
  /** Whether every block has been taken and the result is ready. */
  ready: () => boolean;
  done: () => void;
  fail: (error: Error) => void;
}

interface Call {
  parts: Map<number, Part>;
  waiter?: Waiter;
  error?: Error;
}

/** The byte counters a ledger adds to as blocks arrive. */
export interface LedgerCounters {
  /** Bytes of the connection's socket attributed to this rank. */
  wireBytesReceived: number;
  /** Payload that came in memory from ranks sharing the connection. */
  localBytesReceived: number;
}

/** The header of a frame a piece came in. */
export interface PieceFrame {
  seq: number;
  from: number;
  op: CollectiveOp;
  step: number;
  dtype: WireDtype;
}

/** One piece of a block: `count` elements at `offset` of a block of `elements`. */
export interface PieceSection {
  elements: number;
  offset: number;
  count: number;
  bytes: Uint8Array;
}

/**
 * The calls of one rank.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CallLedger } from "./call_ledger.ts";
 * const ledger = new CallLedger(0, 4, { wireBytesReceived: 0, localBytesReceived: 0 });
 * const seq = ledger.begin();
 * let got: Float32Array | undefined;
 * ledger.wait(seq, {
 *   op: "broadcast", tag: undefined, step: 0, expectFrom: [1], expect: new Set([1]),
 *   elements: () => undefined, take: (_from, data) => (got = data), ready: () => got !== undefined,
 *   done: () => {}, fail: (e) => { throw e; },
 * });
 * ledger.receiveLocal(seq, 1, "broadcast", 0, Float32Array.of(7));
 * assert.deepEqual([...got!], [7]);
 * ```
 */
export class CallLedger {
  /** This rank. */
  readonly rank: number;
  #bytesPerElement: number;
  #counters: LedgerCounters;
  #next = 0;
  #calls = new Map<number, Call>();
  #closed = false;

  /**
   * @param rank This rank.
   * @param bytesPerElement Bytes per element on the wire (for the local byte counter).
   * @param counters The counters to add received bytes to.
   */
  constructor(rank: number, bytesPerElement: number, counters: LedgerCounters) {
    this.rank = rank;
    this.#bytesPerElement = bytesPerElement;
    this.#counters = counters;
  }

  /** Whether the ledger was closed (every later message is ignored). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Opens this rank's next call (messages for it may arrive before its waiter is registered).
   *
   * @returns Its number.
   */
  begin(): number {
    const seq = this.#next++;
    this.#call(seq);
    return seq;
  }

  /**
   * Registers this rank's side of a call and takes what has arrived for it.
   *
   * @param seq The call.
   * @param waiter What it expects.
   */
  wait(seq: number, waiter: Waiter): void {
    const call = this.#call(seq);
    call.waiter = waiter;
    this.#settle(seq, call);
  }

  /**
   * The expected senders whose block is not complete.
   *
   * @param seq The call.
   * @param expectFrom The senders it expects.
   * @returns Those still missing.
   */
  missing(seq: number, expectFrom: number[]): number[] {
    const call = this.#calls.get(seq);
    return expectFrom.filter((r) => {
      const part = call?.parts.get(r);
      return !part || part.received < part.elements;
    });
  }

  /**
   * Forgets a call (it timed out): later messages for it are refused as late.
   *
   * @param seq The call.
   */
  drop(seq: number): void {
    this.#calls.delete(seq);
  }

  /**
   * Fails every pending call and ignores what comes later (the connection is closing).
   *
   * @param error The reason.
   */
  close(error: Error): void {
    this.#closed = true;
    for (const call of this.#calls.values()) call.waiter?.fail(error);
    this.#calls.clear();
  }

  /**
   * A refused message, attributed to its call where its header could be read; otherwise every
   * pending call fails with it.
   *
   * @param error What was wrong.
   * @param seq The call, if known.
   */
  protocolError(error: CollectiveError, seq?: number): void {
    if (this.#closed) return;
    const targets = seq !== undefined && (seq >= this.#next || this.#calls.has(seq))
      ? [seq]
      : [...this.#calls.keys()]; // nowhere to attribute it: fail every pending collective
    for (const s of targets) {
      const call = this.#call(s);
      call.error ??= error;
      this.#settle(s, call);
    }
  }

  /**
   * A block from a rank of the same connection (already rounded to the wire dtype; copied).
   *
   * @param seq The call.
   * @param from The sender.
   * @param op The sender's operation.
   * @param step The sender's step.
   * @param values The block.
   */
  receiveLocal(
    seq: number,
    from: number,
    op: CollectiveOp,
    step: number,
    values: Float32Array,
  ): void {
    if (this.#closed) return;
    const call = this.#call(seq);
    if (call.parts.has(from)) {
      return this.protocolError(
        new CollectiveError(`Duplicate block from rank ${from} in call ${seq}`),
        seq,
      );
    }
    // The sender may reuse its buffer as soon as its call returns: keep a copy.
    call.parts.set(from, {
      op,
      step,
      elements: values.length,
      received: values.length,
      data: values.slice(),
      local: true,
      consumed: false,
    });
    this.#settle(seq, call, from);
  }

  /**
   * A piece of a block that arrived over NATS.
   *
   * @param frame The frame's header.
   * @param section The piece.
   * @param wireShare This rank's share of the socket bytes of the message.
   */
  receivePiece(frame: PieceFrame, section: PieceSection, wireShare: number): void {
    if (this.#closed) return;
    const { seq, from } = frame;
    if (seq < this.#next && !this.#calls.has(seq)) {
      return this.protocolError(
        new CollectiveError(
          `Rejected message for call ${seq} from rank ${from} on rank ${this.rank}: the call is already over`,
        ),
      );
    }
    const call = this.#call(seq);
    let part = call.parts.get(from);
    if (!part) {
      if (section.offset !== 0) {
        return this.protocolError(
          new CollectiveError(
            `Rejected piece from rank ${from} in call ${seq}: it starts at element ${section.offset}, not 0`,
          ),
          seq,
        );
      }
      part = {
        op: frame.op,
        step: frame.step,
        elements: section.elements,
        received: 0,
        local: false,
        consumed: false,
      };
      call.parts.set(from, part);
      const w = call.waiter;
      if (w) {
        const problem = this.#mismatch(seq, w, from, part);
        if (problem) return this.#fail(seq, w, problem);
        const dest = w.dest?.(from);
        if (dest && dest.length === part.elements) [part.data, part.direct] = [dest, true];
      }
    } else if (
      part.local || part.op !== frame.op || part.step !== frame.step ||
      part.elements !== section.elements ||
      section.offset !== part.received
    ) {
      return this.protocolError(
        new CollectiveError(
          `Rejected piece from rank ${from} in call ${seq}: inconsistent with the pieces before it, or a duplicate`,
        ),
        seq,
      );
    }
    part.data ??= new Float32Array(part.elements);
    decodeInto(section.bytes, frame.dtype, part.data, section.offset);
    part.received += section.count;
    this.#counters.wireBytesReceived += wireShare;
    if (part.received === part.elements) this.#settle(seq, call, from);
  }

  #call(seq: number): Call {
    let call = this.#calls.get(seq);
    if (!call) {
      call = { parts: new Map() };
      this.#calls.set(seq, call);
    }
    return call;
  }

  /**
   * Checks and takes the complete blocks of a call whose waiter is registered (only `from`'s when
   * given: the block that just completed), and finishes the call when every block is in.
   */
  #settle(seq: number, call: Call, from?: number): void {
    const w = call.waiter;
    if (!w) return;
    if (call.error) return this.#fail(seq, w, call.error);
    const parts: Iterable<[number, Part]> = from === undefined
      ? call.parts
      : [[from, call.parts.get(from)!]];
    for (const [sender, part] of parts) {
      if (part.consumed) continue;
      const problem = this.#mismatch(seq, w, sender, part);
      if (problem) return this.#fail(seq, w, problem);
      if (part.received < part.elements) continue;
      part.consumed = true;
      if (part.local) this.#counters.localBytesReceived += part.elements * this.#bytesPerElement;
      w.take(sender, part.data ?? new Float32Array(0), part.direct === true);
      part.data = undefined; // the waiter holds what it needs
    }
    if (w.ready()) {
      this.#calls.delete(seq);
      w.done();
    }
  }

  /** Why a block does not fit the collective this rank called, or undefined. */
  #mismatch(seq: number, w: Waiter, from: number, part: Part): CollectiveError | undefined {
    const expected = w.elements(from);
    const fits = w.expect.has(from) && part.op === w.op && part.step === w.step &&
      (expected === undefined || part.elements === expected);
    if (fits) return undefined;
    const where = `${w.op} ${describeTag(w.tag)} (call ${seq})`;
    if (!w.expect.has(from)) {
      return new CollectiveError(
        `Collective ${where}: rank ${from} sent a block, but rank ${this.rank} expects none from it`,
      );
    }
    if (part.op !== w.op) {
      return new CollectiveError(
        `Collective mismatch in ${where}: rank ${from} called ${part.op} but rank ${this.rank} called ${w.op}`,
      );
    }
    if (part.step !== w.step) {
      return new CollectiveError(
        `Collective mismatch in ${where}: rank ${from} is at step ${part.step} but rank ${this.rank} at step ${w.step}`,
      );
    }
    return new CollectiveError(
      `Collective mismatch in ${where}: length ${part.elements} from rank ${from} but ${expected} on rank ${this.rank}`,
    );
  }

  #fail(seq: number, w: Waiter, error: Error): void {
    this.#calls.delete(seq);
    w.fail(error);
  }
}
