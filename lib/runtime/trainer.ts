/**
 * The training loop of one rank, and a convenience that runs all p ranks in this process.
 * Every rank draws the same batch from the seed, runs forward (collectives included), computes the
 * same loss, runs backward and updates its private parameters. Per step it records the wall time,
 * the time inside collectives, and the payload bytes; at a fixed cadence it evaluates the loss on
 * the fixed held-out set (evaluation traffic is not counted in the step's bytes). It also records
 * the rank's peak tensor bytes and its process's peak resident set. The inference workload runs
 * forward passes only, on held-out batches, with the same records per batch.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { TrainConfig } from "../config/config.ts";
import { type Communicator, diffStats } from "../comm/communicator.ts";
import { RankFfn } from "../parallel/ffn.ts";
import { createInProcessGrid } from "../comm/grid.ts";
import { mseLoss, mseValue } from "../nn/loss.ts";
import { createOptimizer } from "../nn/optimizer.ts";
import { type Batch, TeacherTask } from "../nn/task.ts";
import { TimedCommunicator } from "../comm/timed_communicator.ts";
import { bufferBytes } from "../nn/tensor_memory.ts";
import { assertNoGpuErrors } from "../nn/webgpu/errors.ts";

/** Measurements of one training step on one rank. */
export interface StepRecord {
  /** Step index from 0. */
  step: number;
  /** Wall time of forward, loss, backward and update, in ms. */
  stepMs: number;
  /** Part of stepMs spent inside collectives, in ms. */
  commMs: number;
  /** Time from the step's start to the loss (forward pass, output all-reduce included), in ms. */
  forwardMs: number;
  /** Payload bytes sent during the step. */
  bytesSent: number;
  /** Payload bytes received during the step. */
  bytesReceived: number;
  /** Training loss of the step's batch (before the update). */
  loss: number;
  /** Wire bytes sent (payload, headers, chunking) where the transport counts them. */
  wireBytesSent?: number;
  /** Wire bytes received, where the transport counts them. */
  wireBytesReceived?: number;
  /** Payload bytes received in memory from ranks of the same host, where the transport counts them. */
  localBytesReceived?: number;
  /**
   * With replicas: the data-parallel group's part of commMs, bytesSent and bytesReceived (the
   * gradient all-reduce); the rest is the model-parallel group's.
   */
  dataParallel?: { commMs: number; bytesSent: number; bytesReceived: number };
}

/** A held-out evaluation. */
export interface EvalPoint {
  /** Training steps completed before this evaluation. */
  step: number;
  /** Training time up to this point (evaluations excluded), in ms. */
  trainMs: number;
  /** Held-out MSE. */
  loss: number;
}

/** Memory of one rank over its run. */
export interface RankMemory {
  /**
   * Peak bytes of the rank's tensor data (each buffer once: lib/nn/tensor_memory.ts; sampled after the forward pass
   * and after every layer of the backward pass), less the fixed held-out set. Where ranks share
   * a tfjs engine (one thread) it is the engine's figure divided by `ranksOnEngine`.
   */
  peakTensorBytes: number;
  /** Ranks sharing this rank's tfjs engine (1: the figure is this rank's alone). */
  ranksOnEngine: number;
  /** Peak resident set size of the rank's process, in bytes. */
  peakRssBytes: number;
  /** The process. */
  pid: number;
}

/** What one rank measured. */
export interface RankRunResult {
  /** The rank. */
  rank: number;
  /** Its memory. */
  memory: RankMemory;
  /** On webgpu: the GPU it asked for, how it was selected, the adapter it got, warnings. */
  gpu?: {
    requested: string | null;
    method: string;
    adapter: string;
    fallbackAdapter: boolean;
    warnings: string[];
  };
  /** One record per step. */
  steps: StepRecord[];
  /** Held-out losses at step 0, every `task.evalEvery` steps and after the last step. */
  evals: EvalPoint[];
}

/** Options of {@linkcode trainRank}. */
export interface TrainOptions {
  /** Clock in ms. @default performance.now */
  now?: () => number;
  /** Called when a step's timing starts (after the ranks' barrier), e.g. to open an energy window. */
  onStepStart?: (step: number) => void;
  /** Called after every step (progress display, closing an energy window). */
  onStep?: (record: StepRecord) => void;
  /**
   * Stops the run (trainInProcess: every rank's pending and later collectives fail with the
   * reason, so all ranks stop at once).
   */
  signal?: AbortSignal;
  /**
   * The tfjs engine this rank shares: its tensor bytes before any rank built a model, and how
   * many ranks train on it. @default this rank alone, measured at the start
   */
  engine?: EngineShare;
  /**
   * With `config.replicas` d > 1: this rank's data-parallel group (the d ranks of its model rank,
   * ranked by replica). Its replica trains rows replica x b .. (replica + 1) x b - 1 of the global
   * batch of d x b rows, and averages its gradients (and loss) over the group after each backward
   * pass, before the update.
   */
  data?: Communicator;
}

/** A tfjs engine shared by ranks of one thread. */
export interface EngineShare {
  /** bufferBytes() before the ranks built their models. */
  baselineBytes: number;
  /** Ranks on the engine. */
  ranks: number;
}

/**
 * Trains one rank. Every rank of the group must call it with the same configuration.
 *
 * @param config The validated configuration (backend already selected).
 * @param comm This rank's communicator.
 * @param options Clock and progress callback.
 * @returns This rank's measurements.
 */
export async function trainRank(
  config: TrainConfig,
  comm: Communicator,
  options: TrainOptions = {},
): Promise<RankRunResult> {
  const now = options.now ?? (() => performance.now());
  const memory = new MemoryProbe(options.engine ?? { baselineBytes: bufferBytes(), ranks: 1 });
  const timed = new TimedCommunicator(comm, now);
  const replicas = config.replicas ?? 1;
  if ((options.data?.size ?? 1) !== replicas) {
    throw new RangeError(
      `Cannot train: ${replicas} replicas need a data-parallel group of ${replicas} ranks ` +
        `(got ${options.data ? options.data.size : "none"})`,
    );
  }
  const data = options.data && new TimedCommunicator(options.data, now);
  const task = new TeacherTask(config, config.task);
  using model = RankFfn.create(config, timed);
  const evalSet = toTensors(task.evalSet());
  const evalBytes = (evalSet.x.size + evalSet.y.size) * 4;
  try {
    const run = config.workload === "inference"
      ? await inferSteps(config, model, task, timed, now, memory, options)
      : await trainSteps(config, model, task, evalSet, timed, data, now, memory, options);
    // The global rank: replica i, model rank r is i p + r.
    const rank = (options.data?.rank ?? 0) * comm.size + comm.rank;
    return { rank, ...run, memory: memory.result(evalBytes) };
  } finally {
    tf.dispose([evalSet.x, evalSet.y]);
  }
}

/** Peaks of the engine's tensor bytes and of the process's resident set. */
class MemoryProbe {
  #engine: EngineShare;
  #peakTensor = 0;
  #peakRss = 0;

  constructor(engine: EngineShare) {
    this.#engine = engine;
  }

  /** Samples the engine's tensor bytes (cheap: a counter). */
  tensors(): void {
    this.#peakTensor = Math.max(this.#peakTensor, bufferBytes());
  }

  /** Samples the process's resident set. */
  rss(): void {
    this.#peakRss = Math.max(this.#peakRss, Deno.memoryUsage().rss);
  }

  result(evalBytes: number): RankMemory {
    const { baselineBytes, ranks } = this.#engine;
    return {
      peakTensorBytes: Math.max(
        0,
        Math.round((this.#peakTensor - baselineBytes) / ranks - evalBytes),
      ),
      ranksOnEngine: ranks,
      peakRssBytes: this.#peakRss,
      pid: Deno.pid,
    };
  }
}

type Steps = Pick<RankRunResult, "steps" | "evals">;

let lastBreath = performance.now();

/**
 * Lets timers run (heartbeats, the coordinator watchdog) at least every 200 ms, outside any timed
 * region: where no collective waits on the network (p = 1, or every rank in one process) a
 * training loop otherwise only ever awaits settled promises and starves them for the whole run.
 */
async function breathe(): Promise<void> {
  if (performance.now() - lastBreath < 200) return;
  await new Promise((resolve) => setTimeout(resolve, 0));
  lastBreath = performance.now();
}

async function trainSteps(
  config: TrainConfig,
  model: RankFfn,
  task: TeacherTask,
  evalSet: { x: tf.Tensor2D; y: tf.Tensor2D },
  timed: TimedCommunicator,
  data: TimedCommunicator | undefined,
  now: () => number,
  memory: MemoryProbe,
  options: TrainOptions,
): Promise<Steps> {
  using optimizer = createOptimizer(config.optimizer);
  const params = model.parameters();
  const steps: StepRecord[] = [];
  const evals: EvalPoint[] = [];
  let trainMs = 0;
  const evaluate = async (step: number) => {
    timed.setStep(step);
    const y = await model.forward(evalSet.x, "eval");
    evals.push({ step, trainMs, loss: await mseValue(y, evalSet.y) });
    y.dispose();
  };
  await evaluate(0);
  for (let step = 0; step < config.steps; step++) {
    // The global batch, drawn as one replica with d x b rows would draw it; this replica's rows.
    const drawn = data
      ? replicaRows(task.batch(step, data.size * config.batch), data.rank, config.batch)
      : task.batch(step, config.batch);
    const dataBefore = data && data.stats();
    const { batch, before, commBefore, start } = await beginStep(step, drawn, timed, now, options);
    const y = await model.forward(batch.x, "train");
    const local = await mseLoss(y, batch.y);
    const { dY } = local;
    let loss = local.loss;
    const forwardMs = now() - start;
    memory.tensors(); // activations cached for the backward pass
    // With replicas every layer's gradients are averaged over them (during or after backward).
    const average = data && new ReplicaAverage(data, config.overlap === true, loss);
    let grads = await model.backward(dY, false, (layer, entries) => {
      memory.tensors();
      average?.layerDone(layer, entries);
    });
    let dataMs = 0;
    if (average) ({ grads, loss, waitedMs: dataMs } = await average.finish(now));
    optimizer.apply(params, grads);
    // Wait for the update so its time lands in this step on asynchronous backends.
    await params.values().next().value?.data();
    const stepMs = now() - start;
    trainMs += stepMs;
    tf.dispose([y, dY, batch.x, batch.y, ...grads.values()]);
    memory.rss();
    const record = stepRecord(step, stepMs, forwardMs, loss, timed, before, commBefore);
    if (data && dataBefore) {
      const bytes = diffStats(data.stats(), dataBefore);
      record.dataParallel = {
        commMs: dataMs,
        bytesSent: bytes.bytesSent,
        bytesReceived: bytes.bytesReceived,
      };
      record.commMs += record.dataParallel.commMs;
      record.bytesSent += bytes.bytesSent;
      record.bytesReceived += bytes.bytesReceived;
    }
    steps.push(record);
    options.onStep?.(record);
    const done = step + 1;
    if (done % config.task.evalEvery === 0 || done === config.steps) await evaluate(done);
  }
  assertNoGpuErrors("in the last step or evaluation");
  return { steps, evals };
}

/**
 * Rows replica x rows .. (replica + 1) x rows - 1 of a batch.
 *
 * @param batch The global batch.
 * @param replica i.
 * @param rows b.
 * @returns Its block, as a batch.
 */
export function replicaRows(batch: Batch, replica: number, rows: number): Batch {
  const dIn = batch.x.length / batch.rows;
  const dOut = batch.y.length / batch.rows;
  return {
    rows,
    x: batch.x.slice(replica * rows * dIn, (replica + 1) * rows * dIn),
    y: batch.y.slice(replica * rows * dOut, (replica + 1) * rows * dOut),
  };
}

/** The output layer's name in {@linkcode RankFfn}: its bucket carries the replica's loss. */
const OUTPUT_LAYER = "output";

/**
 * The data-parallel average of one layer: the gradients of the rank's parameters of that layer
 * (and, for the output layer, its replica's loss) summed over the replicas in replica order and
 * divided by d, so every replica applies the gradient of the mean loss over the global batch,
 * bit-identical on all of them. The local gradients are freed as they are read.
 *
 * @param data The data-parallel group.
 * @param layer The layer's name.
 * @param index Its tag (the order its bucket was issued in).
 * @param entries Its gradients, by parameter name (`layer.param`).
 * @param loss Its replica's loss (the mean over its rows).
 * @returns The averaged gradients (new tensors) and, for the output layer, the global loss.
 */
async function averageLayer(
  data: Communicator,
  layer: string,
  index: number,
  entries: [string, tf.Tensor][],
  loss: number,
): Promise<{ grads: [string, tf.Tensor][]; loss?: number }> {
  const withLoss = layer === OUTPUT_LAYER;
  const bucket = new Float32Array(
    entries.reduce((a, [, g]) => a + g.size, 0) + (withLoss ? 1 : 0),
  );
  let at = 0;
  const shapes: [string, number[], number][] = [];
  for (const [name, g] of entries) {
    bucket.set(await g.data() as Float32Array, at);
    shapes.push([name, g.shape, g.size]);
    at += g.size;
    g.dispose();
  }
  if (withLoss) bucket[at] = loss;
  const sum = await data.allReduce(bucket, { phase: "gradients", layer: index });
  const d = data.size;
  at = 0;
  const grads = shapes.map(([name, shape, size]): [string, tf.Tensor] => {
    const averaged = new Float32Array(size);
    for (let j = 0; j < size; j++) averaged[j] = sum[at + j] / d;
    at += size;
    return [name, tf.tensor(averaged, shape)];
  });
  return withLoss ? { grads, loss: sum[at] / d } : { grads };
}

/**
 * Averages every layer's gradients over the replicas: each layer's all-reduce started as the
 * backward pass hands its gradients over (`overlap`), or all of them after it, in layer order.
 * With overlap the time the step waits for them after the backward pass is what it costs (the
 * rest ran during the backward pass); without, the all-reduces' own time.
 */
class ReplicaAverage {
  #pending: Promise<{ grads: [string, tf.Tensor][]; loss?: number }>[] = [];
  #layers: [string, [string, tf.Tensor][]][] = [];

  constructor(
    readonly data: TimedCommunicator,
    readonly overlap: boolean,
    readonly loss: number,
  ) {}

  /** The backward pass's per-layer hand-over. */
  layerDone(layer: string, entries: [string, tf.Tensor][]): void {
    if (this.overlap) {
      this.#pending.push(averageLayer(this.data, layer, this.#pending.length, entries, this.loss));
    } else this.#layers.push([layer, entries]);
  }

  /** Every layer averaged: the gradients, the global loss, and the ms the step waited here. */
  async finish(now: () => number): Promise<
    { grads: Map<string, tf.Tensor>; loss: number; waitedMs: number }
  > {
    const start = now();
    const commBefore = this.data.commMs;
    const done = await Promise.all(this.#pending);
    // Without overlap: the same buckets in the same order (the backward pass's), one at a time
    // after it, so both ways give the same sums bit for bit.
    for (const [i, [layer, entries]] of this.#layers.entries()) {
      done.push(await averageLayer(this.data, layer, i, entries, this.loss));
    }
    const grads = new Map(done.flatMap((x) => x.grads));
    const loss = done.find((x) => x.loss !== undefined)?.loss;
    if (loss === undefined) {
      throw new Error(
        `no "${OUTPUT_LAYER}" layer handed its gradients over: the loss was not averaged`,
      );
    }
    const waitedMs = this.overlap ? now() - start : this.data.commMs - commBefore;
    return { grads, loss, waitedMs };
  }
}

/** Inference: forward passes only, on held-out batches; a "step" is one batch. */
async function inferSteps(
  config: TrainConfig,
  model: RankFfn,
  task: TeacherTask,
  timed: TimedCommunicator,
  now: () => number,
  memory: MemoryProbe,
  options: TrainOptions,
): Promise<Steps> {
  const steps: StepRecord[] = [];
  for (let step = 0; step < config.steps; step++) {
    const { batch, before, commBefore, start } = await beginStep(
      step,
      task.heldOutBatch(step, config.batch),
      timed,
      now,
      options,
    );
    const y = await model.forward(batch.x, "eval", () => memory.tensors());
    await y.data(); // the batch's answer is ready
    const stepMs = now() - start;
    const loss = await mseValue(y, batch.y);
    tf.dispose([y, batch.x, batch.y]);
    memory.rss();
    const record = stepRecord(step, stepMs, stepMs, loss, timed, before, commBefore);
    steps.push(record);
    options.onStep?.(record);
  }
  assertNoGpuErrors("in the last step");
  return { steps, evals: [] };
}

/**
 * Starts a timed step: lets timers run, uploads the batch, and waits for every rank, so that a
 * rank's step time does not include waiting for ranks still drawing their batch (in one process,
 * literally their batch-drawing time). Then the clock starts.
 */
async function beginStep(
  step: number,
  data: Batch,
  timed: TimedCommunicator,
  now: () => number,
  options: TrainOptions,
) {
  await breathe();
  assertNoGpuErrors(step === 0 ? "before the first step" : `in step ${step - 1}`);
  const batch = toTensors(data);
  timed.setStep(step);
  await timed.barrier({ phase: "step" });
  const before = timed.stats();
  const commBefore = timed.commMs;
  options.onStepStart?.(step);
  return { batch, before, commBefore, start: now() };
}

function stepRecord(
  step: number,
  stepMs: number,
  forwardMs: number,
  loss: number,
  timed: TimedCommunicator,
  before: ReturnType<TimedCommunicator["stats"]>,
  commBefore: number,
): StepRecord {
  const bytes = diffStats(timed.stats(), before);
  const record: StepRecord = {
    step,
    stepMs,
    commMs: timed.commMs - commBefore,
    forwardMs,
    bytesSent: bytes.bytesSent,
    bytesReceived: bytes.bytesReceived,
    loss,
  };
  if (bytes.wireBytesSent !== undefined) {
    record.wireBytesSent = bytes.wireBytesSent;
    record.wireBytesReceived = bytes.wireBytesReceived;
    record.localBytesReceived = bytes.localBytesReceived;
  }
  return record;
}

/**
 * Trains all p ranks in this process over an in-process communicator (one thread: the ranks
 * interleave, so a step's wall time covers the compute of all p ranks).
 *
 * @param config The validated configuration (backend already selected).
 * @param options Clock and progress callback (called by rank 0).
 * @returns Every rank's measurements, by rank.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectBackend } from "../nn/backend.ts";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { validateTrainConfig } from "../config/config.ts";
 * import { trainInProcess } from "./trainer.ts";
 * await selectBackend("cpu");
 * const config = validateTrainConfig({ mode: "phantom", ranks: 2, width: 16, phantomWidth: 2, steps: 2, batch: 4 });
 * const results = await trainInProcess(config);
 * assert(results[1].steps[0].loss === results[0].steps[0].loss);
 * ```
 */
export function trainInProcess(
  config: TrainConfig,
  options: TrainOptions = {},
): Promise<RankRunResult[]> {
  // A d x p grid: a model group per replica and, with replicas, a data group per model rank.
  const grid = createInProcessGrid(config.replicas ?? 1, config.ranks, { signal: options.signal });
  const engine = { baselineBytes: bufferBytes(), ranks: grid.length };
  return Promise.all(
    grid.map(({ position, model, data }) =>
      trainRank(config, model, {
        ...(position.rank === 0 ? options : { now: options.now }),
        engine,
        ...(data ? { data } : {}),
      })
    ),
  );
}

function toTensors(batch: Batch): { x: tf.Tensor2D; y: tf.Tensor2D } {
  return {
    x: tf.tensor2d(batch.x, [batch.rows, batch.x.length / batch.rows]),
    y: tf.tensor2d(batch.y, [batch.rows, batch.y.length / batch.rows]),
  };
}
