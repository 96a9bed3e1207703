/**
 * Drives a run over NATS: waits (with a deadline) until every rank has said hello, starts them
 * together with the run spec, collects their results, and watches heartbeats. A rank that reports
 * an error, stops sending heartbeats for `heartbeatTimeoutMs` (dead or hung), or whose process
 * the launcher sees exit, fails the run with an error naming it; the other ranks are told to abort.
 * The coordinator sends heartbeats of its own (`chb`, every second), so ranks whose coordinator
 * was killed outright stop within 30 s. Every control message is sealed with the run's MAC key
 * (lib/runtime/control_auth.ts): one that does not verify, repeats an earlier one, or has the
 * wrong shape is kept out of the run and reported once per subject through `onRejected`; text
 * from the wire reaches errors only escaped.
 *
 * @module
 */

import { worldSize } from "../config/config.ts";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats, type NatsConnectionOptions } from "../nats/connection.ts";
import { safeText } from "../system/safe_text.ts";
import { withTimeout } from "../system/timeout.ts";
import { type ControlRejectedError, runKeys } from "./control_auth.ts";
import {
  checkHello,
  checkOutcome,
  checkRankField,
  ControlEndpoint,
  type ControlKind,
  type Hello,
  parseControl,
  type RankOutcome,
  type RunSpec,
  type StepEvent,
} from "./run_protocol.ts";

/** A run that failed; `ranks` names the ranks at fault. */
export class RunFailedError extends Error {
  /** The ranks at fault (may be empty when the cause is not a rank). */
  readonly ranks: number[];

  /**
   * @param message What happened.
   * @param ranks The ranks at fault.
   */
  constructor(message: string, ranks: number[]) {
    super(message);
    this.name = "RunFailedError";
    this.ranks = ranks;
  }
}

/** Options of {@linkcode coordinateRun}. */
export interface CoordinatorOptions {
  /** NATS servers and credentials. */
  connection: NatsConnectionOptions;
  /** The run's id (never sent: ranks know it, listeners cannot learn it). */
  runId: string;
  /** The run secret (lib/runtime/control_auth.ts), which the ranks hold too. */
  secret: string;
  /** The run. */
  spec: RunSpec;
  /** How long to wait for every rank to join, in ms. @default 60000 */
  joinTimeoutMs?: number;
  /** Silence after which a training rank counts as dead or hung, in ms. @default 30000 */
  heartbeatTimeoutMs?: number;
  /**
   * Silence allowed to a rank whose last heartbeat said it was still setting up (backend, model
   * weights, first shaders: a long synchronous stretch for large models, with no heartbeats), in
   * ms. @default 600000, or heartbeatTimeoutMs if that is longer
   */
  setupTimeoutMs?: number;
  /** Rejects when the launcher sees a rank's process die. */
  launcherFailure?: Promise<never>;
  /** Rank 0's step records as they come (progress display). */
  onStep?: (event: StepEvent) => void;
  /** Called once every rank has joined. */
  onJoined?: (hellos: Hello[]) => void;
  /** Called for a control message kept out of the run (once per subject; the rest are counted). */
  onRejected?: (error: ControlRejectedError) => void;
}

/** Everything the ranks reported. */
export interface CoordinatedRun {
  /** Hellos by rank. */
  hellos: Hello[];
  /** Outcomes by rank (all ok). */
  outcomes: Extract<RankOutcome, { ok: true }>[];
  /** Control messages kept out of the run, by subject kind (none: empty). */
  rejected: Record<string, number>;
}

/**
 * Runs the coordination protocol to the end.
 *
 * @param options Connection, spec, deadlines.
 * @returns Every rank's result.
 * @throws {RunFailedError} Naming the ranks that failed, died, hung or never joined.
 */
export async function coordinateRun(options: CoordinatorOptions): Promise<CoordinatedRun> {
  const { spec } = options;
  // Every rank of the grid: d replicas of p.
  const p = worldSize(spec.config);
  const keys = runKeys(options.secret, options.runId);
  const nc = await connectNats({ ...options.connection, name: `${keys.namespace} coordinator` });
  const control = new ControlEndpoint(nc, keys, "coordinator");
  const send = (kind: ControlKind, value: unknown) => control.send(kind, value);
  // Ranks stop on their own when these stop: a coordinator killed outright leaves nothing behind.
  const beat = () => send("chb", {});
  beat();
  const coordinatorBeat = setInterval(beat, 1000);
  try {
    return await coordinate(nc, options, p, control);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (!nc.isClosed()) {
      send("abort", { reason });
      // A hung server must not hold the failure: the flush gets 2 s.
      await withTimeout(nc.flush(), 2000).catch(() => {});
    }
    throw error;
  } finally {
    clearInterval(coordinatorBeat);
    await withTimeout(nc.close(), 2000).catch(() => {});
  }
}

async function coordinate(
  nc: NatsConnection,
  options: CoordinatorOptions,
  p: number,
  control: ControlEndpoint,
): Promise<CoordinatedRun> {
  const { spec } = options;
  const send = (kind: ControlKind, value: unknown) => control.send(kind, value);
  const rejected: Record<string, number> = {};
  const hellos: Hello[] = [];
  const outcomes: Extract<RankOutcome, { ok: true }>[] = [];
  const lastBeat = new Map<number, number>();
  let fail!: (error: Error) => void;
  let joined!: () => void;
  let finished!: () => void;
  const failure = new Promise<never>((_, reject) => (fail = reject));
  const allJoined = new Promise<void>((resolve) => (joined = resolve));
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  failure.catch(() => {});
  // A message that does not verify or has the wrong shape is kept out and reported, never
  // obeyed: anyone on a shared server can publish, only the run's ranks can seal.
  const on = (kind: ControlKind, handle: (data: Uint8Array) => void) =>
    control.listen(kind, (body) => {
      try {
        handle(body);
      } catch (error) {
        // Sealed by a rank yet malformed: a bug on the other side, which fails the run.
        fail(new RunFailedError(`Bad ${kind} message: ${safeText((error as Error).message)}`, []));
      }
    }, reject);
  const reject = (error: ControlRejectedError) => {
    const kind = error.subject.split(".").pop()!;
    rejected[kind] = (rejected[kind] ?? 0) + 1;
    if (rejected[kind] === 1) options.onRejected?.(error);
  };
  on("hello", (data) => {
    const hello = checkHello(parseControl<Hello>(data, "hello"), p);
    if (hellos[hello.rank]) {
      throw new Error(
        `rank ${hello.rank} joined twice (pids ${hellos[hello.rank].pid}, ${hello.pid})`,
      );
    }
    hellos[hello.rank] = hello;
    if (hellos.filter(Boolean).length === p) joined();
  });
  const ready = new Set<number>();
  let allReady!: () => void;
  const everyoneReady = new Promise<void>((resolve) => (allReady = resolve));
  on("ready", (data) => {
    ready.add(checkRankField(parseControl<{ rank: number }>(data, "ready"), "ready", p));
    if (ready.size === p) allReady();
  });
  // The step of each rank's last heartbeat: -1 while it sets up (or has not beaten yet).
  const lastStep = new Map<number, number>();
  on("hb", (data) => {
    const beat = parseControl<{ rank: number; step?: number }>(data, "hb");
    const rank = checkRankField(beat, "hb", p);
    const step = beat.step;
    lastBeat.set(rank, Date.now());
    lastStep.set(rank, typeof step === "number" ? step : -1);
  });
  on("step", (data) => options.onStep?.(parseControl<StepEvent>(data, "step")));
  on("result", (data) => {
    const outcome = checkOutcome(parseControl<RankOutcome>(data, "result"), p);
    lastBeat.set(outcome.rank, Date.now());
    if (!outcome.ok) {
      fail(
        new RunFailedError(`Run failed: rank ${outcome.rank}: ${safeText(outcome.error)}`, [
          outcome.rank,
        ]),
      );
      return;
    }
    outcomes[outcome.rank] = outcome;
    if (outcomes.filter(Boolean).length === p) finished();
  });
  await nc.flush();
  options.launcherFailure?.catch((error) => fail(error));

  const joinTimeoutMs = options.joinTimeoutMs ?? 60_000;
  const joinTimer = setTimeout(() => {
    const missing = [...Array(p).keys()].filter((r) => !hellos[r]);
    fail(
      new RunFailedError(
        `Run failed: ranks ${missing.join(", ")} did not join within ${joinTimeoutMs} ms`,
        missing,
      ),
    );
  }, joinTimeoutMs);
  try {
    await Promise.race([allJoined, failure]);
  } finally {
    clearTimeout(joinTimer);
  }
  options.onJoined?.(hellos);
  const startedAt = Date.now();
  for (let r = 0; r < p; r++) lastBeat.set(r, startedAt);
  send("start", spec);
  await nc.flush();

  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 30_000;
  const setupTimeoutMs = options.setupTimeoutMs ?? Math.max(600_000, heartbeatTimeoutMs);
  const settingUp = (r: number) => (lastStep.get(r) ?? -1) < 0;
  const watchdog = setInterval(() => {
    const now = Date.now();
    const silent = [...Array(p).keys()].filter((r) =>
      !outcomes[r] &&
      now - lastBeat.get(r)! > (settingUp(r) ? setupTimeoutMs : heartbeatTimeoutMs)
    );
    if (silent.length) {
      const servers = [...new Set(silent.map((r) => hellos[r]?.natsServer).filter(Boolean))];
      const setup = silent.every(settingUp);
      fail(
        new RunFailedError(
          `Run failed: ranks ${silent.join(", ")} sent no heartbeat for ` +
            `${setup ? setupTimeoutMs : heartbeatTimeoutMs} ms${
              setup ? " while setting up" : ""
            } ` +
            `(dead or hung, or their NATS server is gone: ${servers.join(", ") || "unknown"})`,
          silent,
        ),
      );
    }
  }, Math.min(500, heartbeatTimeoutMs / 4));
  try {
    await Promise.race([everyoneReady, failure]);
    send("go", {});
    await nc.flush();
    await Promise.race([allDone, failure]);
  } finally {
    clearInterval(watchdog);
  }
  return { hellos, outcomes, rejected };
}
