/**
 * The control protocol between a coordinator and its rank workers, over NATS subjects
 * `pb.<run>.ctl.<kind>`: ranks announce themselves (`hello`), the coordinator sends the run spec to
 * all at once (`start`), ranks send heartbeats (`hb`) and so does the coordinator (`chb`: ranks
 * whose coordinator is gone stop within 30 s), rank 0 streams step records (`step`), each
 * rank sends its result (`result`) or its error (`error`), and the coordinator can stop everyone
 * (`abort`). Between `start` and training, ranks report `ready` once their data subscriptions are
 * live and wait for `go`: NATS keeps no messages, so no rank may publish before all listen. Every message is JSON and is validated on receipt.
 *
 * @module
 */

import type { TrainConfig } from "../config/config.ts";
import type { WireDtype } from "../nats/wire.ts";
import type { RankRunResult, StepRecord } from "./trainer.ts";

/** What every rank needs to run. */
export interface RunSpec {
  /** The run id (also the NATS subject namespace). */
  runId: string;
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

/** Subject of a control message kind. */
export function controlSubject(
  runId: string,
  kind: "hello" | "start" | "ready" | "go" | "hb" | "chb" | "step" | "result" | "abort",
): string {
  return `pb.${runId}.ctl.${kind}`;
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

/**
 * @param value A JSON-serialisable value.
 * @returns Its bytes.
 */
export function encodeControl(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** A step record streamed by rank 0, with its start on the shared wall clock. */
export interface StepEvent {
  record: StepRecord;
  startEpochMs: number;
}
