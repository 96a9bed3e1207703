/**
 * Run configuration: the model, the optimizer, the backend and the task, validated up front so a
 * bad value fails before anything is built, with an error naming the field and value.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";

/** How the hidden layers are parallelised. `serial` is the single-rank dense reference. */
export type Mode = "serial" | "tp" | "phantom";
/** The modes, in display order. */
export const MODES: readonly Mode[] = ["serial", "tp", "phantom"];

/** A TensorFlow.js backend the suite can run on. */
export type BackendName = "blas" | "wasm" | "cpu" | "webgpu" | "tensorflow";
/** The backends. */
export const BACKENDS: readonly BackendName[] = ["blas", "wasm", "cpu", "webgpu", "tensorflow"];

/** What a run does: train (forward, backward, update) or inference (forward passes only). */
export type Workload = "train" | "inference";
/** The workloads. */
export const WORKLOADS: readonly Workload[] = ["train", "inference"];

/** An optimizer applied per rank to its private parameters. */
/** Where a grid's ranks go: model groups packed (mp-inner) or data groups packed (dp-inner). */
export const PLACEMENTS = ["mp-inner", "dp-inner"] as const;

export type OptimizerName = "sgd" | "adam";
/** The optimizers. */
export const OPTIMIZERS: readonly OptimizerName[] = ["sgd", "adam"];

/** The shape of the FFN and how it is split over ranks (see docs/phantom.md). */
export interface ModelConfig {
  /** Parallelisation scheme of the hidden layers. */
  mode: Mode;
  /** p: ranks in the model-parallel group; 1 for `serial`. */
  ranks: number;
  /** n: width of every hidden layer; ranks divides it. */
  width: number;
  /** k: ghost neurons per rank per layer (phantom only), 1 <= k < n/p. */
  phantomWidth?: number;
  /** L: hidden-to-hidden layers. */
  layers: number;
  /** b: mini-batch rows. */
  batch: number;
  /** d_in: input width. */
  inputWidth: number;
  /** d_out: output width. */
  outputWidth: number;
  /** Seed of weights, batches and the teacher. */
  seed: number;
}

/** Optimizer settings. */
export interface OptimizerConfig {
  /** Which optimizer. @default "adam" */
  name: OptimizerName;
  /** Step size. @default 0.001 */
  learningRate: number;
  /** SGD momentum (0 = plain SGD). @default 0 */
  momentum: number;
  /** Adam first-moment decay. @default 0.9 */
  beta1: number;
  /** Adam second-moment decay. @default 0.999 */
  beta2: number;
  /** Adam denominator guard. @default 1e-8 */
  epsilon: number;
}

/** The teacher-student regression task. */
export interface TaskConfig {
  /** Hidden width of the fixed teacher FFN. @default 64 */
  teacherWidth: number;
  /** Hidden layers of the teacher. @default 2 */
  teacherLayers: number;
  /** Rows of the fixed held-out evaluation set. @default 256 */
  evalSize: number;
  /** Evaluate the held-out loss every this many steps (and after the last). @default 10 */
  evalEvery: number;
}

/** Everything a training run needs. */
export interface TrainConfig extends ModelConfig {
  /** Training, or inference on held-out batches. @default "train" */
  workload: Workload;
  /** Training steps (inference: batches). */
  steps: number;
  /** TensorFlow.js backend. @default "wasm" */
  backend: BackendName;
  /** The optimizer. */
  optimizer: OptimizerConfig;
  /** The task. */
  task: TaskConfig;
  /**
   * d: data-parallel replicas of the model-parallel group (training only): G = d x ranks ranks in
   * all, the global batch d x batch split in contiguous row blocks, gradients averaged over the
   * replicas (docs/phantom.md). Absent for 1, so today's configurations are unchanged.
   */
  replicas?: number;
  /**
   * Where the grid's ranks go (with replicas): `dp-inner` puts each data-parallel group on
   * consecutive launch slots (a node, a worker process) and spreads model-parallel groups across
   * them; absent: `mp-inner`, each replica's model group packed together.
   */
  placement?: "dp-inner";
  /**
   * With replicas: start each layer's gradient all-reduce as soon as the backward pass has its
   * gradients, overlapping the rest of the backward pass; absent: after the whole backward pass.
   */
  overlap?: true;
}

/** Defaults applied by {@linkcode validateTrainConfig}. */
export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, "mode" | "phantomWidth"> = {
  ranks: 1,
  width: 256,
  layers: 2,
  batch: 64,
  inputWidth: 32,
  outputWidth: 16,
  seed: 1,
  workload: "train",
  steps: 100,
  backend: "wasm",
  optimizer: {
    name: "adam",
    learningRate: 0.001,
    momentum: 0,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
  },
  task: { teacherWidth: 64, teacherLayers: 2, evalSize: 256, evalEvery: 10 },
};

/**
 * Validates a model configuration.
 *
 * @param input The raw configuration (e.g. parsed JSON or CLI flags).
 * @returns The same configuration, typed.
 * @throws {ConfigError} Naming the first invalid field and its value.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateModelConfig } from "./config.ts";
 * const config = validateModelConfig({
 *   mode: "phantom", ranks: 4, width: 64, phantomWidth: 2, layers: 2, batch: 8,
 *   inputWidth: 4, outputWidth: 2, seed: 1,
 * });
 * assert(config.width / config.ranks === 16);
 * ```
 */
export function validateModelConfig(input: Record<string, unknown>): ModelConfig {
  const mode = oneOf("mode", input.mode, MODES);
  const ranks = positiveInteger("ranks", input.ranks);
  const width = positiveInteger("width", input.width);
  const config: ModelConfig = {
    mode,
    ranks,
    width,
    layers: positiveInteger("layers", input.layers),
    batch: positiveInteger("batch", input.batch),
    inputWidth: positiveInteger("inputWidth", input.inputWidth),
    outputWidth: positiveInteger("outputWidth", input.outputWidth),
    seed: seedValue(input.seed),
  };
  if (mode === "serial" && ranks !== 1) {
    throw new ConfigError("ranks", ranks, "must be 1 for mode serial");
  }
  if (width % ranks !== 0) {
    throw new ConfigError("ranks", ranks, `must divide width (${width})`);
  }
  if (mode === "phantom") {
    const k = positiveInteger("phantomWidth", input.phantomWidth);
    const m = width / ranks;
    if (k >= m && ranks > 1) {
      throw new ConfigError("phantomWidth", k, `must be smaller than width/ranks (${m})`);
    }
    if (k >= width && ranks === 1) {
      throw new ConfigError("phantomWidth", k, `must be smaller than width (${width})`);
    }
    config.phantomWidth = k;
  } else if (input.phantomWidth !== undefined) {
    throw new ConfigError("phantomWidth", input.phantomWidth, `applies only to mode phantom`);
  }
  return config;
}

/**
 * The data-parallel part of a point's id: `-d<d>`, then `-dpinner` and `-overlap` where set;
 * empty without replicas.
 *
 * @param c Point or configuration fields.
 * @returns E.g. `-d4-overlap`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gridSuffix } from "./config.ts";
 * assert.equal(gridSuffix({ replicas: 2, placement: "dp-inner" }), "-d2-dpinner");
 * assert.equal(gridSuffix({ ranks: 4 }), "");
 * ```
 */
export function gridSuffix(c: Record<string, unknown>): string {
  if (typeof c.replicas !== "number" || c.replicas <= 1) return "";
  return `-d${c.replicas}${c.placement === "dp-inner" ? "-dpinner" : ""}${
    c.overlap === true ? "-overlap" : ""
  }`;
}

/**
 * A point's ranks for a table: p, or d x p with replicas.
 *
 * @param c Point or configuration fields.
 * @returns E.g. "8" or "2x4".
 */
export function ranksLabel(c: Record<string, unknown>): string {
  return typeof c.replicas === "number" && c.replicas > 1
    ? `${c.replicas}x${c.ranks}`
    : String(c.ranks);
}

/**
 * The ranks a configuration runs on: d x p (replicas of the model-parallel group).
 *
 * @param config The configuration.
 * @returns G.
 */
export function worldSize(config: { ranks: number; replicas?: number }): number {
  return config.ranks * (config.replicas ?? 1);
}

/**
 * Validates a full training configuration, filling defaults for absent optional fields.
 *
 * @param input Raw configuration; `mode` is required, the rest defaults to
 *   {@linkcode DEFAULT_TRAIN_CONFIG}.
 * @returns The complete, validated configuration.
 * @throws {ConfigError} Naming the first invalid field and its value.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateTrainConfig } from "./config.ts";
 * const config = validateTrainConfig({ mode: "tp", ranks: 2, width: 32 });
 * assert(config.backend === "wasm" && config.optimizer.name === "adam");
 * ```
 */
export function validateTrainConfig(input: Record<string, unknown>): TrainConfig {
  const d = DEFAULT_TRAIN_CONFIG;
  const model = validateModelConfig({ ...d, ...stripUndefined(input) });
  const optimizer = validateOptimizer(objectField("optimizer", input.optimizer));
  const task = validateTask(objectField("task", input.task));
  const workload = oneOf("workload", input.workload ?? d.workload, WORKLOADS);
  const replicas = input.replicas === undefined ? 1 : positiveInteger("replicas", input.replicas);
  if (replicas > 1 && workload === "inference") {
    throw new ConfigError("replicas", replicas, "applies to training only (workload train)");
  }
  const placement = oneOf("placement", input.placement ?? "mp-inner", PLACEMENTS);
  if (placement === "dp-inner" && replicas === 1) {
    throw new ConfigError("placement", placement, "applies with replicas (d > 1) only");
  }
  if (input.overlap !== undefined && typeof input.overlap !== "boolean") {
    throw new ConfigError("overlap", input.overlap, "must be true or false");
  }
  if (input.overlap === true && replicas === 1) {
    throw new ConfigError("overlap", true, "applies with replicas (d > 1) only");
  }
  return {
    ...model,
    workload,
    steps: positiveInteger("steps", input.steps ?? d.steps),
    backend: oneOf("backend", input.backend ?? d.backend, BACKENDS),
    optimizer,
    task,
    // d = 1 is today's run: no field, the same configuration and hash.
    ...(replicas > 1 ? { replicas } : {}),
    // mp-inner, the default, leaves no field either.
    ...(placement === "dp-inner" ? { placement } : {}),
    ...(input.overlap === true ? { overlap: true as const } : {}),
  };
}

function validateOptimizer(input: Record<string, unknown>): OptimizerConfig {
  const d = DEFAULT_TRAIN_CONFIG.optimizer;
  return {
    name: oneOf("optimizer.name", input.name ?? d.name, OPTIMIZERS),
    learningRate: finiteNumber("optimizer.learningRate", input.learningRate ?? d.learningRate, {
      min: 0,
      minExclusive: true,
    }),
    momentum: finiteNumber("optimizer.momentum", input.momentum ?? d.momentum, { min: 0, max: 1 }),
    beta1: finiteNumber("optimizer.beta1", input.beta1 ?? d.beta1, { min: 0, max: 1 }),
    beta2: finiteNumber("optimizer.beta2", input.beta2 ?? d.beta2, { min: 0, max: 1 }),
    epsilon: finiteNumber("optimizer.epsilon", input.epsilon ?? d.epsilon, {
      min: 0,
      minExclusive: true,
    }),
  };
}

function validateTask(input: Record<string, unknown>): TaskConfig {
  const d = DEFAULT_TRAIN_CONFIG.task;
  return {
    teacherWidth: positiveInteger("task.teacherWidth", input.teacherWidth ?? d.teacherWidth),
    teacherLayers: positiveInteger("task.teacherLayers", input.teacherLayers ?? d.teacherLayers),
    evalSize: positiveInteger("task.evalSize", input.evalSize ?? d.evalSize),
    evalEvery: positiveInteger("task.evalEvery", input.evalEvery ?? d.evalEvery),
  };
}

function stripUndefined(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
}

function objectField(field: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(field, value, "must be an object");
  }
  return value as Record<string, unknown>;
}

/**
 * Checks that a value is a positive safe integer.
 *
 * @param field The field name, for the error.
 * @param value The value.
 * @returns The value as a number.
 * @throws {ConfigError} If it is not a positive integer.
 */
export function positiveInteger(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(field, value, "must be a positive integer");
  }
  return value;
}

/**
 * Checks that a value is one of a fixed set of names.
 *
 * @param field The field name, for the error.
 * @param value The value.
 * @param allowed The accepted names.
 * @returns The value, typed.
 * @throws {ConfigError} If it is not one of `allowed`.
 */
export function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(field, value, `must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

interface Bounds {
  min?: number;
  max?: number;
  minExclusive?: boolean;
}

/**
 * Checks that a value is a finite number within bounds (min inclusive unless `minExclusive`, max
 * exclusive).
 *
 * @param field The field name, for the error.
 * @param value The value.
 * @param bounds The accepted range.
 * @returns The value.
 * @throws {ConfigError} If it is not finite or out of range.
 */
export function finiteNumber(field: string, value: unknown, bounds: Bounds = {}): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ConfigError(field, value, "must be a finite number");
  }
  const { min, max, minExclusive } = bounds;
  if (min !== undefined && (minExclusive ? value <= min : value < min)) {
    throw new ConfigError(
      field,
      value,
      `must be ${minExclusive ? "greater than" : "at least"} ${min}`,
    );
  }
  if (max !== undefined && value >= max) {
    throw new ConfigError(field, value, `must be smaller than ${max}`);
  }
  return value;
}

function seedValue(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new ConfigError("seed", value, "must be an integer from 0 to 4294967295");
  }
  return value;
}
