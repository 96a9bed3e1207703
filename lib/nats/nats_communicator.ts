/**
 * The {@linkcode Communicator} over a real nats-server.
 *
 * Subjects are namespaced per run: `pb.<run>.<to>.<call>.<op>.<phase>.<layer>.<step>.<from>`,
 * where `<to>` is `all` (a block every rank needs: published once, fanned out by the server) or
 * `r<k>` (a reduce-scatter chunk for rank k). Each rank subscribes to `pb.<run>.all.>` and
 * `pb.<run>.r<rank>.>`, so two runs on one server never see each other's traffic. Headers carry
 * the run, step, element count, wire dtype and chunk index; a message whose run, step, operation,
 * size, dtype or sender does not match what this rank expects fails the collective with a clear
 * error and is never summed in. Payloads larger than the server's max_payload are split into
 * chunks and reassembled. Sums are added in rank order, as in the in-process implementation, so
 * every rank gets bit-identical results.
 *
 * @module
 */

import {
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import {
  CollectiveError,
  type CollectiveTag,
  type CommStats,
  type Communicator,
  describeTag,
} from "../comm/communicator.ts";
import { sumInRankOrder } from "../comm/in_process_communicator.ts";
import { connectNats, type NatsConnectionOptions } from "./connection.ts";
import {
  bytesPerElement,
  decode,
  encode,
  joinChunks,
  splitChunks,
  type WireDtype,
} from "./wire.ts";

/** Options of a {@linkcode NatsCommunicator}. */
export interface NatsCommunicatorOptions {
  /** Run id: letters, digits, `-` and `_` only. */
  runId: string;
  /** This rank. */
  rank: number;
  /** Ranks in the group. */
  size: number;
  /** How long a collective waits for the other ranks, in ms. @default 60000 */
  timeoutMs?: number;
  /** Element type on the wire. @default "float32" */
  dtype?: WireDtype;
  /** Largest chunk payload, in bytes. @default the server's max_payload minus 4 KiB for headers */
  maxChunkBytes?: number;
}

/** Payload and wire counters of a NATS rank. */
export interface NatsCommStats extends CommStats {
  /** Bytes of every NATS message sent: subject, headers and payload, chunking included. */
  wireBytesSent: number;
  /** The same for messages received. */
  wireBytesReceived: number;
  /** NATS messages sent (chunks count one each). */
  messagesSent: number;
}

type Op = "allGather" | "reduceScatter" | "allReduce" | "broadcast" | "barrier";

interface Part {
  op: string;
  step: string;
  elements: number;
  count: number;
  chunks: (Uint8Array | undefined)[];
  received: number;
}

interface Waiter {
  op: Op;
  tag: CollectiveTag | undefined;
  expectFrom: number[];
  /** Elements expected from a sender, or undefined when any length is accepted (broadcast). */
  elements: (from: number) => number | undefined;
  done: (parts: Map<number, Float32Array>) => void;
  fail: (error: Error) => void;
}

interface Mailbox {
  parts: Map<number, Part>;
  error?: Error;
  waiter?: Waiter;
}

const HEADER_OVERHEAD = 4096;

/**
 * One rank's communicator over NATS.
 *
 * @example
 * ```ts ignore
 * import { NatsCommunicator } from "./nats_communicator.ts";
 * await using comm = await NatsCommunicator.connect(
 *   { servers: "nats://127.0.0.1:4222" },
 *   { runId: "demo", rank: 0, size: 2 },
 * );
 * const blocks = await comm.allGather(new Float32Array([1, 2]));
 * ```
 */
export class NatsCommunicator implements Communicator, AsyncDisposable {
  readonly rank: number;
  readonly size: number;
  readonly bytesPerElement: number;
  readonly runId: string;
  readonly dtype: WireDtype;
  readonly maxChunkBytes: number;
  #nc: NatsConnection;
  #ownsConnection: boolean;
  #subs: Subscription[] = [];
  #timeoutMs: number;
  #seq = 0;
  #step = -1;
  #mail = new Map<number, Mailbox>();
  #stats: NatsCommStats = {
    bytesSent: 0,
    bytesReceived: 0,
    collectives: 0,
    wireBytesSent: 0,
    wireBytesReceived: 0,
    messagesSent: 0,
  };
  #closed = false;

  private constructor(nc: NatsConnection, owns: boolean, options: NatsCommunicatorOptions) {
    const { runId, rank, size } = options;
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) {
      throw new RangeError(
        `Cannot create NATS communicator: runId (${
          JSON.stringify(runId)
        }) may hold only letters, digits, - and _`,
      );
    }
    if (
      !Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size
    ) {
      throw new RangeError(
        `Cannot create NATS communicator: rank (${rank}) must be in 0..size-1 (size ${size})`,
      );
    }
    this.#nc = nc;
    this.#ownsConnection = owns;
    this.runId = runId;
    this.rank = rank;
    this.size = size;
    this.dtype = options.dtype ?? "float32";
    this.bytesPerElement = bytesPerElement(this.dtype);
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    const serverMax = nc.info?.max_payload ?? 1024 * 1024;
    const chunk = options.maxChunkBytes ?? serverMax - HEADER_OVERHEAD;
    this.maxChunkBytes = chunk - (chunk % 4);
  }

  /**
   * Connects (owning the connection) and subscribes.
   *
   * @param connection Servers and credentials.
   * @param options Run, rank, size, timeout, dtype.
   * @returns The communicator.
   */
  static async connect(
    connection: NatsConnectionOptions,
    options: NatsCommunicatorOptions,
  ): Promise<NatsCommunicator> {
    const nc = await connectNats({ name: `${options.runId} rank ${options.rank}`, ...connection });
    try {
      return await NatsCommunicator.#start(nc, true, options);
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /**
   * Uses an existing connection (not closed by {@linkcode NatsCommunicator.close}). It must have
   * been opened with `noEcho`.
   *
   * @param nc The connection.
   * @param options Run, rank, size, timeout, dtype.
   * @returns The communicator.
   */
  static attach(nc: NatsConnection, options: NatsCommunicatorOptions): Promise<NatsCommunicator> {
    return NatsCommunicator.#start(nc, false, options);
  }

  static async #start(nc: NatsConnection, owns: boolean, options: NatsCommunicatorOptions) {
    const comm = new NatsCommunicator(nc, owns, options);
    const base = `pb.${comm.runId}`;
    for (const subject of [`${base}.all.>`, `${base}.r${comm.rank}.>`]) {
      const callback = (err: Error | null, msg: Msg) => {
        if (!err) comm.#onMessage(msg);
      };
      comm.#subs.push(nc.subscribe(subject, { callback }));
    }
    await nc.flush(); // subscriptions are live on the server before anyone publishes
    return comm;
  }

  /**
   * Sets the training step carried in subjects and headers (checked on receipt).
   *
   * @param step The step.
   */
  setStep(step: number): void {
    this.#step = step;
  }

  stats(): NatsCommStats {
    return { ...this.#stats };
  }

  allGather(block: Float32Array, tag?: CollectiveTag): Promise<Float32Array[]> {
    const own = block.slice();
    return this.#collective("allGather", tag, {
      publish: (seq) => this.#publish(seq, "allGather", tag, "all", block),
      expectFrom: this.#others(),
      elements: () => block.length,
      finish: (parts) =>
        [...Array(this.size).keys()].map((s) => (s === this.rank ? own : parts.get(s)!)),
    });
  }

  reduceScatter(chunks: Float32Array[], tag?: CollectiveTag): Promise<Float32Array> {
    if (chunks.length !== this.size) {
      return Promise.reject(
        new CollectiveError(
          `reduceScatter on rank ${this.rank} got ${chunks.length} chunks, expected ${this.size}`,
        ),
      );
    }
    const own = chunks[this.rank].slice();
    return this.#collective("reduceScatter", tag, {
      publish: (seq) => {
        for (let s = 0; s < this.size; s++) {
          if (s !== this.rank) this.#publish(seq, "reduceScatter", tag, `r${s}`, chunks[s]);
        }
      },
      expectFrom: this.#others(),
      elements: () => own.length,
      finish: (parts) =>
        sumInRankOrder(
          [...Array(this.size).keys()].map((r) => (r === this.rank ? own : parts.get(r)!)),
        ),
    });
  }

  allReduce(data: Float32Array, tag?: CollectiveTag): Promise<Float32Array> {
    const own = data.slice();
    return this.#collective("allReduce", tag, {
      publish: (seq) => this.#publish(seq, "allReduce", tag, "all", data),
      expectFrom: this.#others(),
      elements: () => data.length,
      finish: (parts) =>
        sumInRankOrder(
          [...Array(this.size).keys()].map((r) => (r === this.rank ? own : parts.get(r)!)),
        ),
    });
  }

  broadcast(data: Float32Array, root: number, tag?: CollectiveTag): Promise<Float32Array> {
    if (!Number.isInteger(root) || root < 0 || root >= this.size) {
      return Promise.reject(
        new RangeError(`Cannot broadcast: root (${root}) must be a rank below ${this.size}`),
      );
    }
    const isRoot = this.rank === root;
    const own = data.slice();
    return this.#collective("broadcast", tag, {
      publish: (seq) => isRoot && this.#publish(seq, "broadcast", tag, "all", data),
      expectFrom: isRoot ? [] : [root],
      elements: () => undefined,
      finish: (parts) => (isRoot ? own : parts.get(root)!),
    });
  }

  async barrier(tag?: CollectiveTag): Promise<void> {
    await this.#collective("barrier", tag, {
      publish: (seq) => this.#publish(seq, "barrier", tag, "all", new Float32Array(0)),
      expectFrom: this.#others(),
      elements: () => 0,
      finish: () => undefined,
    });
  }

  /** Unsubscribes, fails pending collectives, and closes the connection if it owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subs) sub.unsubscribe();
    const error = new CollectiveError(`Communicator of rank ${this.rank} closed`);
    for (const box of this.#mail.values()) box.waiter?.fail(error);
    this.#mail.clear();
    if (this.#ownsConnection) await this.#nc.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #others(): number[] {
    return [...Array(this.size).keys()].filter((r) => r !== this.rank);
  }

  #collective<T>(
    op: Op,
    tag: CollectiveTag | undefined,
    spec: {
      publish: (seq: number) => unknown;
      expectFrom: number[];
      elements: (from: number) => number | undefined;
      finish: (parts: Map<number, Float32Array>) => T;
    },
  ): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new CollectiveError(`Communicator of rank ${this.rank} is closed`));
    }
    const seq = this.#seq++;
    if (this.size > 1) spec.publish(seq);
    const result = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const box = this.#mail.get(seq);
        const missing = spec.expectFrom.filter((r) => !isComplete(box?.parts.get(r)));
        this.#mail.delete(seq);
        reject(
          new CollectiveError(
            `Collective ${op} ${
              describeTag(tag)
            } (call ${seq}, step ${this.#step}) timed out after ` +
              `${this.#timeoutMs} ms on rank ${this.rank}: ranks ${
                missing.join(", ")
              } did not answer`,
          ),
        );
      }, this.#timeoutMs);
      const waiter: Waiter = {
        op,
        tag,
        expectFrom: spec.expectFrom,
        elements: spec.elements,
        done: (parts) => {
          clearTimeout(timer);
          this.#stats.collectives++;
          try {
            resolve(spec.finish(parts));
          } catch (error) {
            reject(error);
          }
        },
        fail: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const box = this.#box(seq);
      box.waiter = waiter;
      this.#settle(seq, box);
    });
    return result;
  }

  #publish(
    seq: number,
    op: Op,
    tag: CollectiveTag | undefined,
    to: string,
    values: Float32Array,
  ): void {
    // The client may hold the bytes until it writes them: never hand it the caller's memory.
    const encoded = encode(values, this.dtype);
    const payload = encoded.buffer === values.buffer ? encoded.slice() : encoded;
    const chunks = splitChunks(payload, this.maxChunkBytes);
    const subject = [
      "pb",
      this.runId,
      to,
      seq,
      op,
      tag?.phase ?? "-",
      tag?.layer ?? "-",
      this.#step,
      this.rank,
    ].join(".");
    chunks.forEach((chunk, i) => {
      const h = natsHeaders();
      const fields: [string, string][] = [
        ["run", this.runId],
        ["step", String(this.#step)],
        ["n", String(values.length)],
        ["d", this.dtype],
        ["c", `${i}/${chunks.length}`],
      ];
      for (const [k, v] of fields) h.set(k, v);
      this.#nc.publish(subject, chunk, { headers: h });
      this.#stats.wireBytesSent += subject.length + headerBytes(fields) + chunk.byteLength;
      this.#stats.messagesSent++;
    });
    this.#stats.bytesSent += values.length * this.bytesPerElement;
  }

  #box(seq: number): Mailbox {
    let box = this.#mail.get(seq);
    if (!box) {
      box = { parts: new Map() };
      this.#mail.set(seq, box);
    }
    return box;
  }

  #onMessage(msg: Msg): void {
    if (this.#closed) return;
    const t = msg.subject.split(".");
    const h = msg.headers;
    const [seq, from] = [Number(t[3]), Number(t[8])];
    const describe = `message ${msg.subject}`;
    const protocolError = (why: string) => {
      const error = new CollectiveError(`Rejected ${describe} on rank ${this.rank}: ${why}`);
      if (Number.isInteger(seq) && seq >= 0) {
        const box = this.#box(seq);
        box.error ??= error;
        this.#settle(seq, box);
      } else {
        // Nowhere to attribute it: fail every pending collective.
        for (const [s, box] of this.#mail) {
          box.error ??= error;
          this.#settle(s, box);
        }
      }
    };
    if (t.length !== 9 || !h) return protocolError("malformed subject or missing headers");
    if (h.get("run") !== this.runId) {
      return protocolError(`run ${h.get("run")} is not this run (${this.runId})`);
    }
    if (!Number.isInteger(from) || from < 0 || from >= this.size || from === this.rank) {
      return protocolError(`sender ${t[8]} is not another rank of this group of ${this.size}`);
    }
    if (!Number.isInteger(seq) || seq < 0) return protocolError(`bad call number ${t[3]}`);
    if (seq < this.#seq && !this.#mail.has(seq)) {
      return protocolError(`call ${seq} is already over`);
    }
    if (h.get("d") !== this.dtype) {
      return protocolError(`wire dtype ${h.get("d")} is not ${this.dtype}`);
    }
    const elements = Number(h.get("n"));
    const [index, count] = (h.get("c") ?? "").split("/").map(Number);
    if (
      !Number.isInteger(elements) || elements < 0 || !(count >= 1) || !(index >= 0 && index < count)
    ) {
      return protocolError(`bad size or chunk headers (n=${h.get("n")}, c=${h.get("c")})`);
    }
    this.#stats.wireBytesReceived += msg.subject.length + headerBytes(
      ["run", "step", "n", "d", "c"].map((k) => [k, h.get(k)] as [string, string]),
    ) + msg.data.byteLength;
    const box = this.#box(seq);
    let part = box.parts.get(from);
    if (!part) {
      part = { op: t[4], step: h.get("step"), elements, count, chunks: Array(count), received: 0 };
      box.parts.set(from, part);
    } else if (part.count !== count || part.elements !== elements || part.chunks[index]) {
      return protocolError(`inconsistent or duplicate chunk ${index}/${count} from rank ${from}`);
    }
    part.chunks[index] = msg.data;
    part.received++;
    this.#settle(seq, box);
  }

  /** Completes or fails the collective of call `seq` if its waiter is registered and ready. */
  #settle(seq: number, box: Mailbox): void {
    const w = box.waiter;
    if (!w) return;
    const fail = (error: Error) => {
      this.#mail.delete(seq);
      w.fail(error);
    };
    if (box.error) return fail(box.error);
    const decoded = new Map<number, Float32Array>();
    for (const from of w.expectFrom) {
      const part = box.parts.get(from);
      if (!part) return;
      const where = `${w.op} ${describeTag(w.tag)} (call ${seq})`;
      if (part.op !== w.op) {
        return fail(
          new CollectiveError(
            `Collective mismatch in ${where}: rank ${from} called ${part.op} but rank ${this.rank} called ${w.op}`,
          ),
        );
      }
      if (part.step !== String(this.#step)) {
        return fail(
          new CollectiveError(
            `Collective mismatch in ${where}: rank ${from} is at step ${part.step} but rank ${this.rank} at step ${this.#step}`,
          ),
        );
      }
      const expected = w.elements(from);
      if (expected !== undefined && part.elements !== expected) {
        return fail(
          new CollectiveError(
            `Collective mismatch in ${where}: length ${part.elements} from rank ${from} but ${expected} on rank ${this.rank}`,
          ),
        );
      }
      if (!isComplete(part)) return;
      const bytes = joinChunks(part.chunks as Uint8Array[]);
      if (bytes.byteLength !== part.elements * this.bytesPerElement) {
        return fail(
          new CollectiveError(
            `Collective ${where}: ${bytes.byteLength} bytes from rank ${from} for ${part.elements} elements`,
          ),
        );
      }
      // Message buffers are fresh per message and never reused by the client: no copy needed.
      decoded.set(from, decode(bytes, this.dtype, { owned: true }));
    }
    for (const from of w.expectFrom) {
      this.#stats.bytesReceived += decoded.get(from)!.length * this.bytesPerElement;
    }
    this.#mail.delete(seq);
    w.done(decoded);
  }
}

function isComplete(part: Part | undefined): boolean {
  return part !== undefined && part.received === part.count;
}

/** Encoded size of NATS headers: "NATS/1.0\r\n", "key: value\r\n" each, "\r\n". */
function headerBytes(fields: [string, string][]): number {
  return 12 + fields.reduce((s, [k, v]) => s + k.length + v.length + 4, 0);
}

/** A group of p communicators in this process (tests and the collective benchmark). */
export interface NatsGroup extends AsyncDisposable {
  /** Communicators by rank. */
  comms: NatsCommunicator[];
  /** Closes them all. */
  close(): Promise<void>;
}

/**
 * Connects p ranks of one run from this process, each with its own connection.
 *
 * @param connection Servers and credentials.
 * @param size Ranks.
 * @param options Run id, timeout, dtype, chunk size.
 * @returns The group.
 */
export async function connectNatsGroup(
  connection: NatsConnectionOptions,
  size: number,
  options: Omit<NatsCommunicatorOptions, "rank" | "size">,
): Promise<NatsGroup> {
  const comms = await Promise.all(
    [...Array(size).keys()].map((rank) =>
      NatsCommunicator.connect(connection, { ...options, rank, size })
    ),
  );
  const close = async () => {
    await Promise.all(comms.map((c) => c.close()));
  };
  return { comms, close, [Symbol.asyncDispose]: close };
}
