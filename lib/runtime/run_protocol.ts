/**
 * The control protocol between a coordinator and its rank workers, over NATS subjects
 * `pb.<run>.ctl.<kind>`: ranks announce themselves (`hello`), the coordinator sends the run spec to
 * all at once (`start`), ranks send heartbeats (`hb`) and so does the coordinator (`chb`: ranks
 * whose coordinator is gone stop within 30 s), rank 0 streams step records (`step`), each
 * rank sends its result (`result`) or its error (`error`), and the coordinator can stop everyone
 * (`abort`). Between `start` and training, ranks report `ready` once their data subscriptions are
 * live and wait for `go`: NATS keeps no messages, so no rank may publish before all listen. Every
 * message is JSON, sealed with the run's MAC (lib/runtime/control_auth.ts), and checked on
 * receipt; `<run>` is the run's namespace derived from its secret, not its id.
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/transport-node";
import type { TrainConfig } from "../config/config.ts";
import {
  ControlOpener,
  type ControlRejectedError,
  ControlSealer,
  type RunKeys,
} from "./control_auth.ts";
import { safeText } from "../system/safe_text.ts";
import type { WireDtype } from "../nats/wire.ts";
import type { RankRunResult, StepRecord } from "./trainer.ts";

/** What every rank needs to run (the run id is not in it: ranks know it, listeners must not). */
export interface RunSpec {
  /** The validated training configuration. */
  config: TrainConfig;
  /** Wire dtype of the collectives. */
  dtype: WireDtype;
  /** Collective timeout, in ms. */
  collectiveTimeoutMs: number;
  /** Heartbeat period, in ms. */
  heartbeatMs: number;
  /**
   * Test-only fault injection: rank `rank` exits, hangs, or blocks its thread for `ms` (stall: a
   * long synchronous stretch such as a large model's initialisation) at step `atStep`.
   */
  fault?: { rank: number; atStep: number; kind: "exit" | "hang" | "stall"; ms?: number };
}

/** A rank announcing itself. */
export interface Hello {
  rank: number;
  /** Host name of the process. */
  host: string;
  pid: number;
  /** The node: its Slurm name (SLURMD_NODENAME) or the host name. */
  node: string;
  /** The node's index in the allocation (SLURM_NODEID), 0 without Slurm. */
  nodeIndex: number;
  /** The rank's index among the ranks of its node (SLURM_LOCALID where Slurm starts it). */
  localRank: number;
  /** The GPU the rank chose, or null; and how (lib/runtime/gpu_select.ts). */
  device: string | null;
  deviceSource: string;
  /** The NATS server its connection uses (host:port). */
  natsServer: string;
}

/** A rank's final message. */
export type RankOutcome =
  | {
    rank: number;
    ok: true;
    result: RankRunResult;
    /** When each step's timing started, on the shared wall clock (ms since the epoch). */
    stepStartsEpochMs: number[];
    /** CPU time of this rank's process during each step, in ms (all its ranks together). */
    stepProcessCpuMs: number[];
    /** The process hosting this rank. */
    pid: number;
  }
  | { rank: number; ok: false; error: string };

/** The kinds of control message. */
export type ControlKind =
  | "hello"
  | "start"
  | "ready"
  | "go"
  | "hb"
  | "chb"
  | "step"
  | "result"
  | "abort";

/**
 * @param namespace The run's namespace ({@linkcode runKeys}).
 * @param kind The message kind.
 * @returns Its subject.
 */
export function controlSubject(namespace: string, kind: ControlKind): string {
  return `pb.${namespace}.ctl.${kind}`;
}

/**
 * One side of the control protocol on a connection: publishes sealed messages, and hands on the
 * bodies of received ones that verify (one opener, so replays are caught across subscriptions).
 */
export class ControlEndpoint {
  readonly #nc: NatsConnection;
  readonly #keys: RunKeys;
  readonly #sealer: ControlSealer;
  readonly #opener: ControlOpener;

  /**
   * @param nc The connection.
   * @param keys The run's keys.
   * @param role What this side is (coordinator, ranks), in its sender id.
   */
  constructor(nc: NatsConnection, keys: RunKeys, role: string) {
    this.#nc = nc;
    this.#keys = keys;
    this.#sealer = new ControlSealer(keys, role);
    this.#opener = new ControlOpener(keys);
  }

  /**
   * @param kind The message kind.
   * @param value A JSON-serialisable body.
   */
  send(kind: ControlKind, value: unknown): void {
    const subject = controlSubject(this.#keys.namespace, kind);
    this.#nc.publish(subject, this.#sealer.seal(subject, value));
  }

  /**
   * Subscribes to a kind.
   *
   * @param kind The message kind.
   * @param handle Gets the body of every message that verifies.
   * @param rejected Gets every message that does not (forged, replayed, another run's).
   * @param max Stop after this many verified messages. @default no limit
   */
  listen(
    kind: ControlKind,
    handle: (body: Uint8Array) => void,
    rejected: (error: ControlRejectedError) => void,
    max?: number,
  ): void {
    const subject = controlSubject(this.#keys.namespace, kind);
    let taken = 0;
    const sub = this.#nc.subscribe(subject, {
      callback: (_err, msg) => {
        let body: Uint8Array;
        try {
          body = this.#opener.open(subject, msg.data);
        } catch (error) {
          rejected(error as ControlRejectedError);
          return;
        }
        if (max !== undefined && ++taken >= max) sub.unsubscribe();
        handle(body);
      },
    });
  }
}

/**
 * Checks the `rank` field of a control message.
 *
 * @param value The parsed message.
 * @param what Its kind, for the error.
 * @param p The run's ranks.
 * @returns The rank.
 * @throws {TypeError} Naming the kind and the value if it is not a rank of the run.
 */
export function checkRankField(value: { rank?: unknown }, what: string, p: number): number {
  const rank = value.rank;
  if (typeof rank !== "number" || !Number.isInteger(rank) || rank < 0 || rank >= p) {
    throw new TypeError(
      `${what}.rank (${
        safeText(JSON.stringify(rank) ?? "missing", 40)
      }) is not one of the run's ${p} ranks`,
    );
  }
  return rank;
}

/**
 * Checks a hello and escapes its text fields (they are printed and recorded).
 *
 * @param hello The parsed message.
 * @param p The run's ranks.
 * @returns The hello, with safe text.
 * @throws {TypeError} Naming the field at fault.
 */
export function checkHello(hello: Hello, p: number): Hello {
  checkRankField(hello, "hello", p);
  for (const field of ["pid", "nodeIndex", "localRank"] as const) {
    if (!Number.isInteger(hello[field])) {
      throw new TypeError(
        `hello.${field} (${safeText(String(hello[field]), 40)}) is not an integer`,
      );
    }
  }
  const text = (v: unknown) => safeText(typeof v === "string" ? v : String(v), 200);
  return {
    ...hello,
    host: text(hello.host),
    node: text(hello.node),
    device: hello.device === null ? null : text(hello.device),
    deviceSource: text(hello.deviceSource),
    natsServer: text(hello.natsServer),
  };
}

/**
 * Checks a rank's outcome before anything reads it.
 *
 * @param outcome The parsed message.
 * @param p The run's ranks.
 * @returns The outcome (an error's text escaped).
 * @throws {TypeError} Naming the field at fault.
 */
export function checkOutcome(outcome: RankOutcome, p: number): RankOutcome {
  checkRankField(outcome, "result", p);
  if (outcome.ok === false) {
    return { rank: outcome.rank, ok: false, error: safeText(String(outcome.error)) };
  }
  if (outcome.ok !== true) throw new TypeError(`result.ok is neither true nor false`);
  const numbers = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "number");
  if (typeof outcome.result !== "object" || outcome.result === null) {
    throw new TypeError(`result.result of rank ${outcome.rank} is not an object`);
  }
  if (!Array.isArray(outcome.result.steps)) {
    throw new TypeError(`result.result.steps of rank ${outcome.rank} is not a list`);
  }
  for (const field of ["stepStartsEpochMs", "stepProcessCpuMs"] as const) {
    if (!numbers(outcome[field])) {
      throw new TypeError(`result.${field} of rank ${outcome.rank} is not a list of numbers`);
    }
  }
  if (!Number.isInteger(outcome.pid)) {
    throw new TypeError(`result.pid of rank ${outcome.rank} is not an integer`);
  }
  return outcome;
}

/**
 * Parses a control message.
 *
 * @param data Message bytes.
 * @param what What it should be, for the error.
 * @returns The parsed JSON object.
 * @throws {SyntaxError} Naming `what` if it is not a JSON object.
 */
export function parseControl<T>(data: Uint8Array, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(data));
  } catch (error) {
    throw new SyntaxError(`Cannot parse ${what} message: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null) {
    throw new SyntaxError(`Cannot parse ${what} message: not an object`);
  }
  return value as T;
}

/** A step record streamed by rank 0, with its start on the shared wall clock. */
export interface StepEvent {
  record: StepRecord;
  startEpochMs: number;
}
