/**
 * The {@linkcode Communicator} over a real nats-server.
 *
 * A {@linkcode NatsHost} is one NATS connection carrying one or more ranks of a run (a worker
 * thread's ranks, or a test's). Ranks of one host exchange blocks in memory; a block every rank
 * needs is published once and the server delivers it once to every other host (not once per
 * rank); reduce-scatter chunks for the ranks of one host travel together in one message. Hosts
 * learn which ranks the others carry from announcements on `pb.<run>.hosts` before the first
 * collective. Messages are binary frames (lib/nats/frame.ts): run, sender, call, step, operation,
 * dtype and sizes are checked on receipt, and a message that does not match what the receiving
 * rank expects fails the collective with an error naming both sides; it is never summed in.
 * Sums are added in rank order, as in the in-process implementation, so results are
 * bit-identical whatever the placement of ranks on hosts.
 *
 * Counters: payload bytes per rank are the logical ones of lib/comm/accounting.ts (equal to the
 * cost model); wire bytes are what crossed this host's socket, shared among the ranks a message
 * carried data for; `localBytesReceived` is payload that came from ranks of the same host in
 * memory and never crossed a socket.
 *
 * @module
 */

import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { addInto, type CollectiveShape, countCollective } from "../comm/accounting.ts";
import {
  CollectiveError,
  type CollectiveOp,
  type CollectiveTag,
  type CommStats,
  type Communicator,
  describeTag,
  receiveBuffer,
} from "../comm/communicator.ts";
import { connectNats, type NatsConnectionOptions } from "./connection.ts";
import {
  EVERY_RANK,
  type Outgoing,
  packFrames,
  parseFrame,
  peekCall,
  runHash,
  type RunSubjects,
  runSubjects,
} from "./frame.ts";
import { bytesPerElement, roundToWire, type WireDtype } from "./wire.ts";
import { CallLedger, type PieceFrame, type PieceSection, type Waiter } from "./call_ledger.ts";

/** Options of a {@linkcode NatsHost}. */
export interface NatsHostOptions {
  /** Run id: letters, digits, `-` and `_` only. */
  runId: string;
  /** Ranks in the group. */
  size: number;
  /** The ranks this host carries. */
  ranks: readonly number[];
  /** How long a collective waits for the other ranks, and the hosts for each other, in ms. @default 60000 */
  timeoutMs?: number;
  /** Element type on the wire. @default "float32" */
  dtype?: WireDtype;
  /** Largest message, in bytes. @default 256 KiB, or the server's max_payload if smaller */
  maxMessageBytes?: number;
}

/** Payload and wire counters of a NATS rank. */
export interface NatsCommStats extends CommStats {
  /** Bytes of the messages this rank published: subject and frame, every piece. */
  wireBytesSent: number;
  /** This rank's share of the bytes its host received (by the sections each message carried). */
  wireBytesReceived: number;
  /** Payload bytes received in memory from ranks of the same host. */
  localBytesReceived: number;
  /** NATS messages published. */
  messagesSent: number;
}

/**
 * Largest message a host publishes unless told otherwise (and the server allows it): nats.js
 * gathers a message in a buffer that grows by copying, so large messages cost more per byte.
 * Measured on 2 cores: a 64 MiB all-gather at p = 16 reached 0.080 GB/s busbw with 256 KiB
 * messages against 0.036 with 8 MiB ones.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

/** Bytes published since the last flush after which a host waits for the server to catch up. */
const FLUSH_BYTES = 16 * 1024 * 1024;

/**
 * One NATS connection and the ranks of a run it carries.
 *
 * @example
 * ```ts ignore
 * import { NatsHost } from "./nats_communicator.ts";
 * await using host = await NatsHost.connect(
 *   { servers: "nats://127.0.0.1:4222" },
 *   { runId: "demo", size: 4, ranks: [0, 1] }, // ranks 2 and 3 on another host
 * );
 * const blocks = await host.comm(0).allGather(new Float32Array([1, 2]));
 * ```
 */
export class NatsHost implements AsyncDisposable {
  readonly runId: string;
  readonly size: number;
  readonly dtype: WireDtype;
  /** This host's ranks, ascending. */
  readonly ranks: readonly number[];
  /** Host id: the lowest rank carried. */
  readonly id: number;
  /** Largest message published, in bytes. */
  readonly maxMessageBytes: number;
  readonly subjects: RunSubjects;
  readonly runHash: number;
  readonly timeoutMs: number;
  #nc: NatsConnection;
  #owns: boolean;
  #subs: Subscription[] = [];
  #comms = new Map<number, NatsCommunicator>();
  #commList: NatsCommunicator[] = [];
  /** Host id of every rank; -1 while unknown. */
  #hostOf: Int32Array;
  #hosts = new Set<number>();
  #unflushed = 0;
  #closed = false;

  private constructor(nc: NatsConnection, owns: boolean, options: NatsHostOptions) {
    const { runId, size } = options;
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) {
      throw new RangeError(
        `Cannot create NATS host: runId (${
          JSON.stringify(runId)
        }) may hold only letters, digits, - and _`,
      );
    }
    const ranks = [...new Set(options.ranks)].sort((a, b) => a - b);
    if (!Number.isInteger(size) || size < 1 || ranks.length === 0) {
      throw new RangeError(
        `Cannot create NATS host: it needs ranks of a group of size >= 1 (size ${size})`,
      );
    }
    const bad = ranks.find((r) => !Number.isInteger(r) || r < 0 || r >= size);
    if (bad !== undefined) {
      throw new RangeError(
        `Cannot create NATS host: rank (${bad}) must be in 0..size-1 (size ${size})`,
      );
    }
    this.#nc = nc;
    this.#owns = owns;
    this.runId = runId;
    this.size = size;
    this.ranks = ranks;
    this.id = ranks[0];
    this.dtype = options.dtype ?? "float32";
    this.timeoutMs = options.timeoutMs ?? 60_000;
    const serverMax = nc.info?.max_payload ?? 1024 * 1024;
    this.maxMessageBytes = Math.min(
      options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      serverMax,
    );
    this.subjects = runSubjects(runId);
    this.runHash = runHash(runId);
    this.#hostOf = new Int32Array(size).fill(-1);
    for (const r of ranks) {
      this.#hostOf[r] = this.id;
      this.#comms.set(r, new NatsCommunicator(this, r));
    }
    this.#commList = [...this.#comms.values()];
    this.#hosts.add(this.id);
  }

  /**
   * Connects (owning the connection), subscribes and waits until every rank's host is known.
   *
   * @param connection Servers and credentials.
   * @param options Run, size, this host's ranks, timeout, dtype.
   * @returns The host.
   * @throws {CollectiveError} If the other hosts do not all announce themselves in time.
   */
  static async connect(
    connection: NatsConnectionOptions,
    options: NatsHostOptions,
  ): Promise<NatsHost> {
    const nc = await connectNats({
      name: `${options.runId} host ${Math.min(...options.ranks)}`,
      ...connection,
    });
    try {
      return await NatsHost.#start(nc, true, options);
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /**
   * Uses an existing connection (opened with `noEcho`, as {@linkcode connectNats} does; not
   * closed by {@linkcode NatsHost.close}).
   *
   * @param nc The connection.
   * @param options Run, size, this host's ranks, timeout, dtype.
   * @returns The host.
   * @throws {CollectiveError} If the other hosts do not all announce themselves in time.
   */
  static open(nc: NatsConnection, options: NatsHostOptions): Promise<NatsHost> {
    return NatsHost.#start(nc, false, options);
  }

  static async #start(
    nc: NatsConnection,
    owns: boolean,
    options: NatsHostOptions,
  ): Promise<NatsHost> {
    const host = new NatsHost(nc, owns, options);
    const onData = (err: Error | null, msg: Msg) => {
      if (!err) host.#onMessage(msg);
    };
    host.#subs.push(nc.subscribe(host.subjects.all, { callback: onData }));
    host.#subs.push(nc.subscribe(host.subjects.host(host.id), { callback: onData }));
    await host.#handshake();
    return host;
  }

  /**
   * @param rank A rank this host carries.
   * @returns Its communicator.
   * @throws {RangeError} If this host does not carry the rank.
   */
  comm(rank: number): NatsCommunicator {
    const comm = this.#comms.get(rank);
    if (!comm) {
      throw new RangeError(`Cannot get communicator: this host does not carry rank ${rank}`);
    }
    return comm;
  }

  /** @returns The hosts of the run and the ranks each carries. */
  hosts(): Map<number, number[]> {
    const out = new Map<number, number[]>();
    this.#hostOf.forEach((h, r) => out.set(h, [...(out.get(h) ?? []), r]));
    return out;
  }

  /** Fails pending collectives, unsubscribes, and closes the connection if it owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const comm of this.#comms.values()) {
      comm.fail(new CollectiveError(`Communicator of rank ${comm.rank} closed`));
    }
    for (const sub of this.#subs) sub.unsubscribe();
    if (this.#owns) await this.#nc.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Announces this host's ranks until every host of the run is known. */
  async #handshake(): Promise<void> {
    if (this.ranks.length === this.size) return;
    const announce = () =>
      this.#nc.publish(
        this.subjects.hosts,
        new TextEncoder().encode(JSON.stringify({ host: this.id, ranks: this.ranks })),
      );
    let done!: () => void;
    let fail!: (e: Error) => void;
    const complete = new Promise<void>((resolve, reject) => [done, fail] = [resolve, reject]);
    this.#subs.push(this.#nc.subscribe(this.subjects.hosts, {
      callback: (err, msg) => {
        if (err) return;
        const problem = this.#learnHost(msg.data);
        if (problem === "new") announce(); // tell the newcomer about us
        else if (problem) {
          fail(new CollectiveError(`Rejected host announcement on ${msg.subject}: ${problem}`));
        }
        if (!this.#hostOf.includes(-1)) done();
      },
    }));
    await this.#nc.flush();
    announce();
    // Interest crosses cluster routes asynchronously: repeat until everyone answered.
    const repeat = setInterval(announce, 250);
    const timer = setTimeout(() => {
      const missing = [...this.#hostOf.keys()].filter((r) => this.#hostOf[r] < 0);
      fail(
        new CollectiveError(
          `Hosts of run ${this.runId} did not all announce themselves within ${this.timeoutMs} ms: ` +
            `ranks ${missing.join(", ")} have no host`,
        ),
      );
    }, this.timeoutMs);
    try {
      await complete;
    } finally {
      clearInterval(repeat);
      clearTimeout(timer);
    }
  }

  /** Records an announcement; returns "new" for a host not seen before, an error, or "". */
  #learnHost(data: Uint8Array): string {
    let value: { host?: unknown; ranks?: unknown };
    try {
      value = JSON.parse(new TextDecoder().decode(data));
    } catch {
      return "not JSON";
    }
    const { host, ranks } = value;
    if (!Number.isInteger(host) || !Array.isArray(ranks) || ranks.length === 0) return "malformed";
    if (ranks.some((r) => !Number.isInteger(r) || r < 0 || r >= this.size)) {
      return `ranks ${JSON.stringify(ranks)} are not ranks of this group of ${this.size}`;
    }
    for (const r of ranks as number[]) {
      if (this.#hostOf[r] >= 0 && this.#hostOf[r] !== host) {
        return `rank ${r} is claimed by hosts ${this.#hostOf[r]} and ${host}`;
      }
      this.#hostOf[r] = host as number;
    }
    if (this.#hosts.has(host as number)) return "";
    this.#hosts.add(host as number);
    return "new";
  }

  /** Sends a rank's blocks: in memory to ranks of this host, once per other host over NATS. */
  async send(
    from: NatsCommunicator,
    seq: number,
    op: CollectiveOp,
    step: number,
    blocks: Outgoing[],
  ): Promise<void> {
    const remoteAll: Outgoing[] = [];
    const byHost = new Map<number, Outgoing[]>();
    for (const block of blocks) {
      if (block.to === EVERY_RANK) {
        if (this.#commList.length > 1) {
          const rounded = roundToWire(block.values, this.dtype);
          for (const comm of this.#commList) {
            if (comm !== from) comm.receiveLocal(seq, from.rank, op, step, rounded);
          }
        }
        if (this.#hosts.size > 1) remoteAll.push(block);
        continue;
      }
      const host = this.#hostOf[block.to];
      if (host === this.id) {
        this.comm(block.to).receiveLocal(
          seq,
          from.rank,
          op,
          step,
          roundToWire(block.values, this.dtype),
        );
      } else {
        const list = byHost.get(host);
        if (list) list.push(block);
        else byHost.set(host, [block]);
      }
    }
    const header = { runHash: this.runHash, seq, step, from: from.rank, op, dtype: this.dtype };
    const publish = (subject: string, out: Outgoing[]) => {
      for (const frame of packFrames(header, out, this.maxMessageBytes)) {
        this.#nc.publish(subject, frame);
        from.countSent(subject.length + frame.byteLength);
        this.#unflushed += frame.byteLength;
      }
    };
    if (remoteAll.length) publish(this.subjects.all, remoteAll);
    for (const [host, out] of byHost) publish(this.subjects.host(host), out);
    // nats.js never pushes back on publishers: bound what sits in memory unsent.
    if (this.#unflushed > FLUSH_BYTES) {
      this.#unflushed = 0;
      await this.#nc.flush();
    }
  }

  #onMessage(msg: Msg): void {
    if (this.#closed) return;
    const frame = parseFrame(msg.data, { runHash: this.runHash, size: this.size });
    const refuse = (why: string) => {
      const call = peekCall(msg.data);
      const error = new CollectiveError(`Rejected message on ${msg.subject}: ${why}`);
      for (const comm of this.#comms.values()) comm.protocolError(error, call?.seq);
    };
    if (typeof frame === "string") return refuse(frame);
    if (frame.dtype !== this.dtype) return refuse(`wire dtype ${frame.dtype} is not ${this.dtype}`);
    if (this.#hostOf[frame.from] === this.id) {
      return refuse(
        `sender ${frame.from} is a rank of this host, which never sends to itself over NATS`,
      );
    }
    const deliveries = frame.sections.reduce(
      (n, s) => n + (s.to === EVERY_RANK ? this.#commList.length : 1),
      0,
    );
    const share = (msg.subject.length + msg.data.byteLength) / Math.max(1, deliveries);
    for (const section of frame.sections) {
      if (section.to !== EVERY_RANK && !this.#comms.has(section.to)) {
        return refuse(`a section for rank ${section.to}, which this host does not carry`);
      }
    }
    for (const section of frame.sections) {
      if (section.to !== EVERY_RANK) {
        this.#comms.get(section.to)!.receivePiece(frame, section, share);
      } else for (const comm of this.#commList) comm.receivePiece(frame, section, share);
    }
  }
}

/**
 * One rank's communicator, carried by a {@linkcode NatsHost}.
 */
export class NatsCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly bytesPerElement: number;
  readonly dtype: WireDtype;
  #host: NatsHost;
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
   * @param host The host carrying this rank.
   * @param rank This rank.
   */
  constructor(host: NatsHost, rank: number) {
    this.#host = host;
    this.rank = rank;
    this.size = host.size;
    this.dtype = host.dtype;
    this.bytesPerElement = bytesPerElement(host.dtype);
    this.#ledger = new CallLedger(rank, this.bytesPerElement, this.#stats);
  }

  /** The run id. */
  get runId(): string {
    return this.#host.runId;
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

  /** Fails every pending collective (host closing). */
  fail(error: Error): void {
    this.#closed = true;
    this.#ledger.close(error);
  }

  /** @internal Counts a published message (called by the host). */
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
    if (this.size > 1) await this.#host.send(this, seq, op, step, outgoing);
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = this.#ledger.missing(seq, spec.expectFrom);
        this.#ledger.drop(seq);
        reject(
          new CollectiveError(
            `Collective ${op} ${describeTag(tag)} (call ${seq}, step ${step}) timed out after ` +
              `${this.#host.timeoutMs} ms on rank ${this.rank}: ranks ${
                missing.join(", ")
              } did not answer`,
          ),
        );
      }, this.#host.timeoutMs);
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

/** A group of p communicators in this process (tests and the collective benchmark). */
export interface NatsGroup extends AsyncDisposable {
  /** Communicators by rank. */
  comms: NatsCommunicator[];
  /** The hosts (connections). */
  hosts: NatsHost[];
  /** Closes them all. */
  close(): Promise<void>;
}

/** Options of {@linkcode connectNatsGroup}. */
export interface NatsGroupOptions extends Omit<NatsHostOptions, "size" | "ranks"> {
  /** Ranks per connection: consecutive ranks share a host. @default 1 */
  ranksPerHost?: number;
}

/**
 * Connects p ranks of one run from this process, `ranksPerHost` ranks per connection.
 *
 * @param connection Servers and credentials.
 * @param size Ranks.
 * @param options Run id, timeout, dtype, message size, ranks per host.
 * @returns The group.
 */
export async function connectNatsGroup(
  connection: NatsConnectionOptions,
  size: number,
  options: NatsGroupOptions,
): Promise<NatsGroup> {
  const per = Math.max(1, options.ranksPerHost ?? 1);
  const hostRanks: number[][] = [];
  for (let first = 0; first < size; first += per) {
    hostRanks.push([...Array(Math.min(per, size - first)).keys()].map((i) => first + i));
  }
  const settled = await Promise.allSettled(
    hostRanks.map((ranks) => NatsHost.connect(connection, { ...options, size, ranks })),
  );
  const hosts = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(hosts.map((h) => h.close()));
    throw (failed as PromiseRejectedResult).reason;
  }
  const comms = hosts.flatMap((h) => h.ranks.map((r) => h.comm(r)));
  const close = async () => {
    await Promise.all(hosts.map((h) => h.close()));
  };
  return { comms, hosts, close, [Symbol.asyncDispose]: close };
}
