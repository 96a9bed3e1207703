/**
 * A rank connection: one NATS connection carrying one or more ranks of a run (a worker thread's
 * ranks, or a test's). Ranks of one connection exchange blocks in memory; a block every rank needs
 * is published once and the server delivers it once to every other connection (not once per rank);
 * reduce-scatter chunks for the ranks of one connection travel together in one message.
 * Connections learn which ranks the others carry from announcements on `pb.<run>.connections`
 * before the first collective. Messages are binary frames (lib/nats/frame.ts) checked on receipt;
 * what does not fit is refused and fails the calls it concerns (lib/nats/call_ledger.ts).
 *
 * @module
 */

import type { CollectiveOp } from "../config/collectives.ts";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { CollectiveError } from "../comm/communicator.ts";
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
import { NatsCommunicator } from "./nats_communicator.ts";
import { roundToWire, type WireDtype } from "./wire.ts";

/** Options of a {@linkcode RankConnection}. */
export interface RankConnectionOptions {
  /** Run id: letters, digits, `-` and `_` only. */
  runId: string;
  /** Ranks in the group. */
  size: number;
  /** The ranks this connection carries. */
  ranks: readonly number[];
  /** How long a collective waits for the other ranks, and the connections for each other, in ms. @default 60000 */
  timeoutMs?: number;
  /** Element type on the wire. @default "float32" */
  dtype?: WireDtype;
  /** Largest message, in bytes. @default 256 KiB, or the server's max_payload if smaller */
  maxMessageBytes?: number;
}

/**
 * Largest message a connection publishes unless told otherwise (and the server allows it): nats.js
 * gathers a message in a buffer that grows by copying, so large messages cost more per byte.
 * Measured on 2 cores: a 64 MiB all-gather at p = 16 reached 0.080 GB/s busbw with 256 KiB
 * messages against 0.036 with 8 MiB ones.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

/** Bytes published since the last flush after which a connection waits for the server to catch up. */
const FLUSH_BYTES = 16 * 1024 * 1024;

/**
 * One NATS connection and the ranks of a run it carries.
 *
 * @example
 * ```ts ignore
 * import { RankConnection } from "./rank_connection.ts";
 * await using connection = await RankConnection.connect(
 *   { servers: "nats://127.0.0.1:4222" },
 *   { runId: "demo", size: 4, ranks: [0, 1] }, // ranks 2 and 3 on another connection
 * );
 * const blocks = await connection.comm(0).allGather(new Float32Array([1, 2]));
 * ```
 */
export class RankConnection implements AsyncDisposable {
  readonly runId: string;
  readonly size: number;
  readonly dtype: WireDtype;
  /** This connection's ranks, ascending. */
  readonly ranks: readonly number[];
  /** Connection id: the lowest rank carried. */
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
  /** Connection id of every rank; -1 while unknown. */
  #connectionOf: Int32Array;
  #connections = new Set<number>();
  #unflushed = 0;
  #closed = false;

  private constructor(nc: NatsConnection, owns: boolean, options: RankConnectionOptions) {
    const { runId, size } = options;
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) {
      throw new RangeError(
        `Cannot create NATS rank connection: runId (${
          JSON.stringify(runId)
        }) may hold only letters, digits, - and _`,
      );
    }
    const ranks = [...new Set(options.ranks)].sort((a, b) => a - b);
    if (!Number.isInteger(size) || size < 1 || ranks.length === 0) {
      throw new RangeError(
        `Cannot create NATS rank connection: it needs ranks of a group of size >= 1 (size ${size})`,
      );
    }
    const bad = ranks.find((r) => !Number.isInteger(r) || r < 0 || r >= size);
    if (bad !== undefined) {
      throw new RangeError(
        `Cannot create NATS rank connection: rank (${bad}) must be in 0..size-1 (size ${size})`,
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
    this.#connectionOf = new Int32Array(size).fill(-1);
    for (const r of ranks) {
      this.#connectionOf[r] = this.id;
      this.#comms.set(r, new NatsCommunicator(this, r));
    }
    this.#commList = [...this.#comms.values()];
    this.#connections.add(this.id);
  }

  /**
   * Connects (owning the connection), subscribes and waits until every rank's connection is known.
   *
   * @param connection Servers and credentials.
   * @param options Run, size, this connection's ranks, timeout, dtype.
   * @returns The connection.
   * @throws {CollectiveError} If the other connections do not all announce themselves in time.
   */
  static async connect(
    connection: NatsConnectionOptions,
    options: RankConnectionOptions,
  ): Promise<RankConnection> {
    const nc = await connectNats({
      name: `${options.runId} connection ${Math.min(...options.ranks)}`,
      ...connection,
    });
    try {
      return await RankConnection.#start(nc, true, options);
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /**
   * Uses an existing connection (opened with `noEcho`, as {@linkcode connectNats} does; not
   * closed by {@linkcode RankConnection.close}).
   *
   * @param nc The connection.
   * @param options Run, size, this connection's ranks, timeout, dtype.
   * @returns The connection.
   * @throws {CollectiveError} If the other connections do not all announce themselves in time.
   */
  static open(nc: NatsConnection, options: RankConnectionOptions): Promise<RankConnection> {
    return RankConnection.#start(nc, false, options);
  }

  static async #start(
    nc: NatsConnection,
    owns: boolean,
    options: RankConnectionOptions,
  ): Promise<RankConnection> {
    const connection = new RankConnection(nc, owns, options);
    const onData = (err: Error | null, msg: Msg) => {
      if (!err) connection.#onMessage(msg);
    };
    connection.#subs.push(nc.subscribe(connection.subjects.all, { callback: onData }));
    connection.#subs.push(
      nc.subscribe(connection.subjects.connection(connection.id), { callback: onData }),
    );
    await connection.#handshake();
    return connection;
  }

  /**
   * @param rank A rank this connection carries.
   * @returns Its communicator.
   * @throws {RangeError} If this connection does not carry the rank.
   */
  comm(rank: number): NatsCommunicator {
    const comm = this.#comms.get(rank);
    if (!comm) {
      throw new RangeError(`Cannot get communicator: this connection does not carry rank ${rank}`);
    }
    return comm;
  }

  /** @returns The connections of the run and the ranks each carries. */
  connections(): Map<number, number[]> {
    const out = new Map<number, number[]>();
    this.#connectionOf.forEach((h, r) => out.set(h, [...(out.get(h) ?? []), r]));
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

  /** Announces this connection's ranks until every connection of the run is known. */
  async #handshake(): Promise<void> {
    if (this.ranks.length === this.size) return;
    const announce = () =>
      this.#nc.publish(
        this.subjects.connections,
        new TextEncoder().encode(JSON.stringify({ connection: this.id, ranks: this.ranks })),
      );
    let done!: () => void;
    let fail!: (e: Error) => void;
    const complete = new Promise<void>((resolve, reject) => [done, fail] = [resolve, reject]);
    this.#subs.push(this.#nc.subscribe(this.subjects.connections, {
      callback: (err, msg) => {
        if (err) return;
        const problem = this.#learnConnection(msg.data);
        if (problem === "new") announce(); // tell the newcomer about us
        else if (problem) {
          fail(
            new CollectiveError(`Rejected connection announcement on ${msg.subject}: ${problem}`),
          );
        }
        if (!this.#connectionOf.includes(-1)) done();
      },
    }));
    await this.#nc.flush();
    announce();
    // Interest crosses cluster routes asynchronously: repeat until everyone answered.
    const repeat = setInterval(announce, 250);
    const timer = setTimeout(() => {
      const missing = [...this.#connectionOf.keys()].filter((r) => this.#connectionOf[r] < 0);
      fail(
        new CollectiveError(
          `Connections of run ${this.runId} did not all announce themselves within ${this.timeoutMs} ms: ` +
            `ranks ${missing.join(", ")} have no connection`,
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

  /** Records an announcement; returns "new" for a connection not seen before, an error, or "". */
  #learnConnection(data: Uint8Array): string {
    let value: { connection?: unknown; ranks?: unknown };
    try {
      value = JSON.parse(new TextDecoder().decode(data));
    } catch {
      return "not JSON";
    }
    const { connection, ranks } = value;
    if (!Number.isInteger(connection) || !Array.isArray(ranks) || ranks.length === 0) {
      return "malformed";
    }
    if (ranks.some((r) => !Number.isInteger(r) || r < 0 || r >= this.size)) {
      return `ranks ${JSON.stringify(ranks)} are not ranks of this group of ${this.size}`;
    }
    for (const r of ranks as number[]) {
      if (this.#connectionOf[r] >= 0 && this.#connectionOf[r] !== connection) {
        return `rank ${r} is claimed by connections ${this.#connectionOf[r]} and ${connection}`;
      }
      this.#connectionOf[r] = connection as number;
    }
    if (this.#connections.has(connection as number)) return "";
    this.#connections.add(connection as number);
    return "new";
  }

  /** Sends a rank's blocks: in memory to ranks of this connection, once per other connection over NATS. */
  async send(
    from: NatsCommunicator,
    seq: number,
    op: CollectiveOp,
    step: number,
    blocks: Outgoing[],
  ): Promise<void> {
    const remoteAll: Outgoing[] = [];
    const byConnection = new Map<number, Outgoing[]>();
    for (const block of blocks) {
      if (block.to === EVERY_RANK) {
        if (this.#commList.length > 1) {
          const rounded = roundToWire(block.values, this.dtype);
          for (const comm of this.#commList) {
            if (comm !== from) comm.receiveLocal(seq, from.rank, op, step, rounded);
          }
        }
        if (this.#connections.size > 1) remoteAll.push(block);
        continue;
      }
      const connection = this.#connectionOf[block.to];
      if (connection === this.id) {
        this.comm(block.to).receiveLocal(
          seq,
          from.rank,
          op,
          step,
          roundToWire(block.values, this.dtype),
        );
      } else {
        const list = byConnection.get(connection);
        if (list) list.push(block);
        else byConnection.set(connection, [block]);
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
    for (const [connection, out] of byConnection) {
      publish(this.subjects.connection(connection), out);
    }
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
    if (this.#connectionOf[frame.from] === this.id) {
      return refuse(
        `sender ${frame.from} is a rank of this connection, which never sends to itself over NATS`,
      );
    }
    const deliveries = frame.sections.reduce(
      (n, s) => n + (s.to === EVERY_RANK ? this.#commList.length : 1),
      0,
    );
    const share = (msg.subject.length + msg.data.byteLength) / Math.max(1, deliveries);
    for (const section of frame.sections) {
      if (section.to !== EVERY_RANK && !this.#comms.has(section.to)) {
        return refuse(`a section for rank ${section.to}, which this connection does not carry`);
      }
    }
    for (const section of frame.sections) {
      if (section.to !== EVERY_RANK) {
        this.#comms.get(section.to)!.receivePiece(frame, section, share);
      } else for (const comm of this.#commList) comm.receivePiece(frame, section, share);
    }
  }
}
