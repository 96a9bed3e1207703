/**
 * The cost formulas of docs/phantom.md in one place: payload elements and bytes sent and
 * received per rank per training step, matmul FLOPs per rank per step, and parameters per rank,
 * for the serial, tensor-parallel and phantom-parallel FFN, input and output layers included.
 * Every run records these next to the measured bytes; the two must agree exactly.
 *
 * Conventions that the code follows too:
 * - Transport accounting is publish/subscribe: a block every other rank needs is sent once and
 *   received p-1 times; with p = 1 nothing is sent.
 * - The output all-reduce of b x d_out is done as "every rank publishes its partial, every rank
 *   sums in rank order": sent b d_out, received (p-1) b d_out.
 * - With p = 1 a phantom layer has no other rank to talk to, so it has no compression C and no
 *   decompression D: it is the dense serial layer.
 * - FLOPs count matrix products only (2 per multiply-add); element-wise work (bias, ReLU,
 *   optimizer) is excluded.
 * - Parameters include biases; the output bias (d_out) lives on rank 0 only, so rank 0 holds the
 *   most parameters and that is what `parametersPerRank` reports.
 *
 * @module
 */

import { payloadPerRank, stepCollectives } from "./collectives.ts";
import type { ModelConfig } from "./config.ts";

/** The compute and parameters of one layer kind on one rank for one step (payload: collectives.ts). */
export interface LayerCost {
  /** `input`, `hidden` (one hidden-to-hidden layer) or `output`. */
  kind: "input" | "hidden" | "output";
  /** How many layers of this kind. */
  count: number;
  /** Matmul FLOPs per layer, forward. */
  forwardFlops: number;
  /** Matmul FLOPs per layer, backward. */
  backwardFlops: number;
  /** Parameters per layer on rank 0 (weights and biases). */
  parameters: number;
}

/** Predicted per-rank, per-step costs of a configuration. */
export interface CostPrediction {
  /** Payload bytes each rank sends per training step (rank 0; data-parallel traffic included). */
  bytesSentPerRankPerStep: number;
  /** Payload bytes each rank receives per training step. */
  bytesReceivedPerRankPerStep: number;
  /** Of which in the data-parallel group (the gradient all-reduce; 0 without replicas). */
  dataParallelBytesSentPerRankPerStep: number;
  dataParallelBytesReceivedPerRankPerStep: number;
  /** Forward plus backward matmul FLOPs per rank per step. */
  flopsPerRankPerStep: number;
  /** Forward matmul FLOPs per rank per step. */
  forwardFlopsPerRankPerStep: number;
  /** Backward matmul FLOPs per rank per step. */
  backwardFlopsPerRankPerStep: number;
  /** Parameters on rank 0 (the most loaded rank). */
  parametersPerRank: number;
  /** Parameters over all ranks. */
  parametersTotal: number;
  /** Bytes per payload element used for the byte figures. */
  bytesPerElement: number;
  /** Per layer kind. */
  layers: LayerCost[];
}

/** Options of {@linkcode predictCosts}. */
export interface PredictOptions {
  /** Bytes per element on the wire. @default 4 */
  bytesPerElement?: number;
  /** Training step, or an inference batch (forward pass only: forward traffic and FLOPs). @default "train" */
  workload?: "train" | "inference";
}

/**
 * Predicts the costs of one training step (forward and backward) on one rank, or of one
 * inference batch (the forward pass: its all-gathers and the output all-reduce only).
 *
 * @param config The model (mode, p, n, k, L, b, d_in, d_out).
 * @param options Element size, workload.
 * @returns Bytes, FLOPs and parameters, in total and per layer kind.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { predictCosts } from "./cost_model.ts";
 * const base = { ranks: 8, width: 1024, layers: 4, batch: 64, inputWidth: 32, outputWidth: 16, seed: 1 };
 * const tp = predictCosts({ ...base, mode: "tp" });
 * const ph = predictCosts({ ...base, mode: "phantom", phantomWidth: 16 });
 * // Hidden-layer traffic scales by k/m = 16/128; the output all-reduce is the same for both.
 * assert(ph.bytesSentPerRankPerStep < tp.bytesSentPerRankPerStep / 4);
 * ```
 */
export function predictCosts(config: ModelConfig, options: PredictOptions = {}): CostPrediction {
  const bytesPerElement = options.bytesPerElement ?? 4;
  const inference = options.workload === "inference";
  const layers = [inputCost(config), hiddenCost(config), outputCost(config)];
  const sum = (f: (c: LayerCost) => number) => layers.reduce((acc, c) => acc + c.count * f(c), 0);
  // Payload from the step's collectives (lib/config/collectives.ts), the list the projection uses.
  let sent = 0;
  let received = 0;
  for (const call of stepCollectives(config, options)) {
    const per = payloadPerRank(call.op, call.bytes, config.ranks);
    sent += call.count * per.sent;
    received += call.count * per.received;
  }
  const forward = sum((c) => c.forwardFlops);
  const backward = inference ? 0 : sum((c) => c.backwardFlops);
  const parametersPerRank = sum((c) => c.parameters);
  const outputBias = config.outputWidth;
  // Data parallelism (training): rank 0's gradient all-reduce over its replicas.
  const replicas = "replicas" in config && typeof config.replicas === "number"
    ? config.replicas
    : 1;
  const dp = replicas > 1 && !inference
    ? predictDataParallel(config, replicas, bytesPerElement).nats
    : { sentBytes: 0, receivedBytes: 0 };
  return {
    bytesSentPerRankPerStep: sent + dp.sentBytes,
    bytesReceivedPerRankPerStep: received + dp.receivedBytes,
    dataParallelBytesSentPerRankPerStep: dp.sentBytes,
    dataParallelBytesReceivedPerRankPerStep: dp.receivedBytes,
    flopsPerRankPerStep: forward + backward,
    forwardFlopsPerRankPerStep: forward,
    backwardFlopsPerRankPerStep: backward,
    parametersPerRank,
    parametersTotal: (parametersPerRank - outputBias) * config.ranks + outputBias,
    bytesPerElement,
    layers,
  };
}

/** Data-parallel gradient traffic of one rank per training step (docs/phantom.md). */
export interface DataParallelPrediction {
  /** Replicas d. */
  replicas: number;
  /** Parameters of the model rank (rank 0 by default, the most loaded) the group all-reduces. */
  parametersPerRank: number;
  /**
   * The suite's all-reduce (in process and NATS): each rank publishes its gradients and its
   * replica's loss (one element, averaged with them) once and receives d - 1 copies.
   */
  nats: { sentBytes: number; receivedBytes: number };
  /** A ring all-reduce: 2 (d - 1)/d of the gradient bytes each way. */
  ring: { sentBytes: number; receivedBytes: number };
}

/**
 * Predicts the gradient all-reduce of a data-parallel group: d replicas of the model-parallel
 * configuration `config` (TP or phantom at p ranks), each rank averaging the gradients of the
 * parameters it owns with the d - 1 ranks that hold the same ones.
 *
 * @param config The model-parallel configuration (one replica).
 * @param replicas d, 1 or more.
 * @param bytesPerElement Bytes per gradient element on the wire. @default 4
 * @param modelRank The model rank r whose data-parallel group it is (rank 0 alone holds the
 *   output bias). @default 0
 * @returns Bytes sent and received per rank per step, on the suite's transport and on a ring.
 * @throws {RangeError} If replicas is not a positive integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { predictDataParallel } from "./cost_model.ts";
 * const base = { ranks: 8, width: 1024, layers: 2, batch: 64, inputWidth: 32, outputWidth: 16, seed: 1 };
 * const tp = predictDataParallel({ ...base, mode: "tp" }, 4);
 * const ph = predictDataParallel({ ...base, mode: "phantom", phantomWidth: 16 }, 4);
 * assert(ph.ring.sentBytes < 0.3 * tp.ring.sentBytes);
 * assert.equal(predictDataParallel({ ...base, mode: "tp" }, 1).nats.sentBytes, 0);
 * ```
 */
export function predictDataParallel(
  config: ModelConfig,
  replicas: number,
  bytesPerElement = 4,
  modelRank = 0,
): DataParallelPrediction {
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new RangeError(`replicas must be a positive integer (got ${replicas})`);
  }
  const parametersPerRank = parametersOfRank(config, modelRank);
  const bytes = parametersPerRank * bytesPerElement;
  const nats = payloadPerRank("allReduce", bytes + bytesPerElement, replicas);
  const ring = replicas > 1 ? (2 * (replicas - 1) / replicas) * bytes : 0;
  return {
    replicas,
    parametersPerRank,
    nats: { sentBytes: nats.sent, receivedBytes: nats.received },
    ring: { sentBytes: ring, receivedBytes: ring },
  };
}

/**
 * Parameters a model rank holds: every rank the same, but for the output bias (d_out), which only
 * rank 0 holds.
 *
 * @param config The model-parallel configuration.
 * @param modelRank r.
 * @returns Its parameter count.
 */
export function parametersOfRank(config: ModelConfig, modelRank: number): number {
  const perRank = modelParameters(config);
  return modelRank > 0 && config.ranks > 1 ? perRank - config.outputWidth : perRank;
}

function modelParameters(config: ModelConfig): number {
  return [inputCost(config), hiddenCost(config), outputCost(config)]
    .reduce((acc, c) => acc + c.count * c.parameters, 0);
}

/**
 * The phantom/TP communication ratio per hidden layer, k/m = pk/n.
 *
 * @param config A phantom configuration.
 * @returns k / (n / p).
 */
export function phantomCommunicationRatio(config: ModelConfig): number {
  return (config.phantomWidth ?? 0) / (config.width / config.ranks);
}

function inputCost(c: ModelConfig): LayerCost {
  const m = c.width / c.ranks;
  const flops = 2 * c.batch * c.inputWidth * m;
  return {
    kind: "input",
    count: 1,
    forwardFlops: flops,
    backwardFlops: flops, // dW_in only: the input X needs no gradient
    parameters: c.inputWidth * m + m,
  };
}

function hiddenCost(c: ModelConfig): LayerCost {
  const { ranks: p, width: n, batch: b, layers } = c;
  const m = n / p;
  if (c.mode !== "phantom" || p === 1) {
    // Serial, TP, and phantom at p = 1 (no ghosts): the dense layer over columns m of n.
    return {
      kind: "hidden",
      count: layers,
      forwardFlops: 2 * b * n * m,
      backwardFlops: 4 * b * n * m,
      parameters: n * m + m,
    };
  }
  const k = c.phantomWidth ?? 0;
  return {
    kind: "hidden",
    count: layers,
    forwardFlops: 2 * b * m * (m + p * k),
    backwardFlops: 4 * b * m * (m + p * k),
    parameters: m * m + m * k + (p - 1) * k * m + m,
  };
}

function outputCost(c: ModelConfig): LayerCost {
  const { ranks: p, batch: b, outputWidth: dOut } = c;
  const m = c.width / p;
  return {
    kind: "output",
    count: 1,
    forwardFlops: 2 * b * m * dOut,
    backwardFlops: 4 * b * m * dOut,
    parameters: m * dOut + dOut,
  };
}

/** One matrix product [rows, inner] x [inner, cols] of a training step. */
export interface MatMulShape {
  /** Which product, e.g. `hidden.fwd.own`. */
  name: string;
  /** Rows of the left operand. */
  rows: number;
  /** Shared dimension. */
  inner: number;
  /** Columns of the right operand. */
  cols: number;
  /** How many times per step (e.g. L for hidden layers). */
  count: number;
}

/**
 * The matrix products one rank performs in one training step (on CPU backends a product may be
 * computed transposed, see lib/nn/ops.ts: same FLOPs, other orientation). Their FLOPs (2 rows inner cols each) add up to `flopsPerRankPerStep`; the core benchmark
 * times them alone as the matMul ceiling of a step.
 *
 * @param c The model.
 * @returns The products.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmulShapes, predictCosts } from "./cost_model.ts";
 * const c = { mode: "phantom" as const, ranks: 4, width: 64, phantomWidth: 2, layers: 2, batch: 8, inputWidth: 4, outputWidth: 3, seed: 1 };
 * const flops = matmulShapes(c).reduce((s, x) => s + 2 * x.rows * x.inner * x.cols * x.count, 0);
 * assert(flops === predictCosts(c).flopsPerRankPerStep);
 * ```
 */
export function matmulShapes(c: ModelConfig): MatMulShape[] {
  const { ranks: p, width: n, batch: b, layers: L, inputWidth: dIn, outputWidth: dOut } = c;
  const m = n / p;
  const k = c.phantomWidth ?? 0;
  const g = (p - 1) * k;
  const s = (name: string, rows: number, inner: number, cols: number, count = 1) => ({
    name,
    rows,
    inner,
    cols,
    count,
  });
  const hidden = c.mode === "phantom" && p > 1
    ? [
      s("hidden.fwd.compress", b, m, k, L),
      s("hidden.fwd.own", b, m, m, L),
      s("hidden.fwd.decompress", b, g, m, L),
      s("hidden.bwd.dA", m, b, m, L),
      s("hidden.bwd.dD", g, b, m, L),
      s("hidden.bwd.E", g, m, b, L),
      s("hidden.bwd.dC", m, b, k, L),
      s("hidden.bwd.dH.own", b, m, m, L),
      s("hidden.bwd.dH.ghost", b, k, m, L),
    ]
    : [
      s("hidden.fwd", b, n, m, L),
      s("hidden.bwd.dW", n, b, m, L),
      s("hidden.bwd.dH", n, m, b, L),
    ];
  return [
    s("input.fwd", b, dIn, m),
    s("input.bwd.dW", dIn, b, m),
    ...hidden,
    s("output.fwd", b, m, dOut),
    s("output.bwd.dW", m, b, dOut),
    s("output.bwd.dH", b, dOut, m),
  ];
}

/** Predicted peak tensor memory of one rank, in bytes, and what it is made of. */
export interface MemoryPrediction {
  /** Parameters (weights and biases; rank 0's, which holds the output bias). */
  parameterBytes: number;
  /** Optimizer state: Adam's two moments (2x parameters), SGD momentum (1x), plain SGD none. */
  optimizerBytes: number;
  /** The batch (X and targets) and the output Y with its gradient dY. */
  dataBytes: number;
  /** Activations the forward pass keeps for the backward pass (all-gathered blocks included). */
  activationBytes: number;
  /** At the peak: gradients and backward buffers alive beside what is still cached. */
  backwardBytes: number;
  /** The peak: parameters, optimizer state and data, plus the largest of the phases. */
  peakBytes: number;
  /** Where the peak falls: "forward" (all activations cached) or "backward, after LAYER". */
  peakAt: string;
  /**
   * With replicas: host (not tensor) memory of the gradient all-reduce at its peak: per layer in
   * flight its bucket, the sum and the averaged copy, 3 x 4 x (the layer's parameters, + 1 for the
   * loss in the output layer's); one layer at a time, or every layer at once with overlap. The
   * transport's own receive buffers are not counted. 0 without replicas.
   */
  gradientBufferBytes: number;
}

/**
 * Predicts a rank's peak tensor memory for a training step (or an inference batch), float32,
 * counting each data buffer once, as the layers hold them: the forward pass keeps each layer's
 * output (b x m; b x n for serial), TP's all-gathered input (b x n, for p > 1) and phantom's
 * received ghosts (b x (p-1)k); the backward pass then walks the layers from the output down,
 * adding each layer's gradients (the size of its parameters) and releasing its cached
 * activations, with one input gradient (b x m) alive at a time. The peak is the largest total
 * over the end of the forward pass and after each layer's backward pass. Inference keeps nothing:
 * parameters, the batch, and the widest activation in flight. Memory is counted in float32 (4
 * bytes) whatever the wire dtype.
 *
 * @param config The model.
 * @param optimizer The optimizer (its state is part of the peak); ignored for inference.
 * @param workload Training or inference. @default "train"
 * @returns The prediction with its parts.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { predictMemory } from "./cost_model.ts";
 * const base = { ranks: 8, width: 4096, layers: 2, batch: 32, inputWidth: 32, outputWidth: 16, seed: 1 };
 * const adam = { name: "adam" as const, momentum: 0 };
 * const tp = predictMemory({ ...base, mode: "tp" }, adam);
 * const ph = predictMemory({ ...base, mode: "phantom", phantomWidth: 16 }, adam);
 * // TP holds n x m of every hidden layer; phantom m x m plus its small C and D.
 * assert(ph.peakBytes < tp.peakBytes / 4);
 * ```
 */
export function predictMemory(
  config: ModelConfig & { replicas?: number; overlap?: boolean },
  optimizer: { name: "sgd" | "adam"; momentum: number },
  workload: "train" | "inference" = "train",
): MemoryPrediction {
  const { ranks: p, width: n, batch: b, inputWidth: dIn, outputWidth: dOut, layers: L } = config;
  const serial = config.mode === "serial";
  const m = serial ? n : n / p;
  const costs = predictCosts(config);
  const paramsOf = (kind: LayerCost["kind"]) =>
    costs.layers.find((c) => c.kind === kind)!.parameters;
  const parameters = costs.parametersPerRank;
  const slots = workload === "inference"
    ? 0
    : optimizer.name === "adam"
    ? 2
    : optimizer.momentum > 0
    ? 1
    : 0;
  const phantom = config.mode === "phantom" && p > 1;
  const tpGathered = config.mode === "tp" && p > 1 ? b * n : 0;
  const ghosts = phantom ? b * (p - 1) * (config.phantomWidth ?? 0) : 0;
  const out = b * m; // each layer's output
  const base = 4 * (parameters * (1 + slots));
  if (workload === "inference") {
    const data = b * dIn + b * dOut + Math.max(out, b * dOut);
    return {
      parameterBytes: 4 * parameters,
      optimizerBytes: 0,
      dataBytes: 4 * data,
      activationBytes: 0,
      backwardBytes: 0,
      peakBytes: base + 4 * data,
      peakAt: "forward",
      gradientBufferBytes: 0,
    };
  }
  const data = b * dIn + 2 * b * dOut + b * dOut; // batch X and targets, Y, dY
  const hiddenCache = out + tpGathered + ghosts;
  const activations = out + L * hiddenCache; // the input layer keeps its output (X is the batch's)
  let peak = activations;
  let peakAt = "forward";
  // Backward: output layer, hidden layers from the last, input layer; sample after each.
  let live = activations + paramsOf("output") + out; // its gradients and dInput (b x m)
  if (live > peak) [peak, peakAt] = [live, "backward, after the output layer"];
  for (let l = L - 1; l >= 0; l--) {
    live += paramsOf("hidden") - hiddenCache; // the old dInput is replaced by one of equal size
    if (live > peak) [peak, peakAt] = [live, `backward, after hidden layer ${l}`];
  }
  live += paramsOf("input") - out - out; // its cached output and the last dInput released
  if (live > peak) [peak, peakAt] = [live, "backward, after the input layer"];
  return {
    parameterBytes: 4 * parameters,
    optimizerBytes: 4 * parameters * slots,
    dataBytes: 4 * data,
    activationBytes: 4 * activations,
    backwardBytes: 4 * (peak - activations),
    peakBytes: base + 4 * (data + peak),
    peakAt,
    gradientBufferBytes: (config.replicas ?? 1) > 1
      ? 3 * 4 *
        (config.overlap
          ? parameters + 1
          : Math.max(paramsOf("input"), paramsOf("hidden"), paramsOf("output") + 1))
      : 0,
  };
}
