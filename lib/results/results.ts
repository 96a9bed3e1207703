/**
 * The results format (schema version 1): one JSON file per `deno task bench` invocation, and the
 * loader that validates a file against it. A corrupt file, an unknown or newer schema version, or
 * a field of the wrong type is an error naming the file and the field, never an empty result.
 *
 * @module
 */

import { ENERGY_METHODS } from "./energy_method.ts";
import { type Infer, s, validate } from "./schema.ts";

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = 1;

const distributionSchema = s.object({
  median: s.number(),
  p25: s.number(),
  p75: s.number(),
  samples: s.array(s.number()),
});

/** A distribution of what cannot be negative (a time, an energy): a negative one is refused. */
const measuredSchema = s.object({
  median: s.nonNegative(),
  p25: s.nonNegative(),
  p75: s.nonNegative(),
  samples: s.array(s.nonNegative()),
});

const energySchema = s.object({
  /** How the numbers were obtained. */
  method: s.enum(ENERGY_METHODS),
  /** Power backend. */
  backend: s.string(),
  /** Joules per timed step; null when unavailable. */
  joulesPerStep: s.nullable(measuredSchema),
  /** Joules above the idle baseline per timed step; null without a baseline. */
  aboveIdleJoulesPerStep: s.nullable(distributionSchema),
  /** Joules per timed step by phase (forward; backward with the update); null when unavailable. */
  perPhase: s.nullable(s.object({ forward: measuredSchema, backward: measuredSchema })),
  /** Average power over the timed steps, W; null when unavailable. */
  averageW: s.nullable(s.number()),
  /** Windows shorter than 10 hardware updates. */
  shortWindows: s.integer(),
  /** Why the energy is unavailable where a source failed (e.g. one node's sampler). */
  unavailableReason: s.optional(s.string()),
  /** Median joules per timed step of each device (`node:device` over several nodes). */
  devices: s.optional(
    s.array(s.object({ name: s.string(), joulesPerStep: s.nullable(s.number()) })),
  ),
  /** Median joules per timed step of each node (Slurm runs). */
  nodes: s.optional(s.array(s.object({ node: s.string(), joulesPerStep: s.nullable(s.number()) }))),
});

const lossSchema = s.object({
  /** Held-out loss: [steps done, training time ms, energy J so far or null, loss]. */
  curve: s.array(s.tuple(s.number(), s.number(), s.nullable(s.number()), s.number())),
  /** The target: an MSE (`absolute`) or a fraction of the initial loss, and the MSE it means. */
  target: s.object({
    kind: s.enum(["absolute", "fraction"] as const),
    value: s.number(),
    absolute: s.number(),
  }),
  /** First evaluated step count at which the held-out loss reached the target; null if never. */
  stepsToTarget: s.nullable(s.number()),
  /** Training time to that evaluation, in ms; null if never. */
  timeToTargetMs: s.nullable(s.number()),
  /** Energy to that evaluation, in J; null if never reached or energy unavailable. */
  energyToTargetJ: s.nullable(s.number()),
});

const memorySchema = s.object({
  /** Peak tensor bytes of the most loaded rank (each buffer once; lib/nn/tensor_memory.ts). */
  peakTensorBytesPerRank: s.number(),
  /** Peak tensor bytes of every rank, by rank. */
  tensorBytesPerRank: s.array(s.number()),
  /** Most ranks sharing one tfjs engine (above 1 the per-rank figures are the engine's share). */
  ranksPerEngine: s.integer(),
  /** Peak resident set of each process hosting ranks. */
  peakRssBytes: s.array(s.object({ pid: s.integer(), bytes: s.number() })),
  /** Device memory in use per rank on GPUs; null where not measured (CPU backends). */
  deviceBytesPerRank: s.nullable(s.array(s.number())),
});

const inferenceSchema = s.object({
  /** Latency of one batch (forward pass, collectives included; the slowest rank), in ms. */
  latencyMs: s.object({
    median: s.nonNegative(),
    p25: s.nonNegative(),
    p75: s.nonNegative(),
    p99: s.nonNegative(),
    samples: s.array(s.nonNegative()),
  }),
  /** Batch rows / median latency. */
  samplesPerSecond: s.nonNegative(),
  /** Energy per sample (J per batch / rows); null when energy is unavailable. */
  energyPerSampleJ: s.nullable(s.number()),
});

const metricsSchema = s.object({
  /** Steps excluded from the timing distributions. */
  warmupSteps: s.integer(),
  /** Wall time per timed step (the slowest rank per step), in ms. */
  stepTimeMs: measuredSchema,
  /** Time inside collectives per step (same rank and step), in ms. */
  commTimeMs: measuredSchema,
  /** stepTimeMs minus commTimeMs, per step. */
  computeTimeMs: distributionSchema,
  /** Payload bytes each rank sent per step (the largest over ranks and steps). */
  bytesSentPerRankPerStep: s.number(),
  /** Payload bytes each rank received per step (the largest). */
  bytesReceivedPerRankPerStep: s.number(),
  /** Bytes on the wire (payload, subjects, framing, chunking) sent per rank per step; null in process. */
  wireBytesSentPerRankPerStep: s.nullable(s.number()),
  /** This rank's share of the bytes its host's socket received per step; null in process. */
  wireBytesReceivedPerRankPerStep: s.nullable(s.number()),
  /**
   * Payload bytes per rank per step that came in memory from ranks sharing its NATS connection
   * (never on the wire); null in process. Absent in files written before it existed.
   */
  localBytesReceivedPerRankPerStep: s.optional(s.nullable(s.number())),
  /** Whether every rank's payload bytes in every step equal the prediction. */
  bytesMatchPrediction: s.boolean(),
  /** The cost model's figures for this configuration. */
  predicted: s.object({
    bytesSentPerRankPerStep: s.number(),
    bytesReceivedPerRankPerStep: s.number(),
    flopsPerRankPerStep: s.number(),
    parametersPerRank: s.number(),
    parametersTotal: s.number(),
    /** Peak tensor bytes per rank (lib/config/cost_model.ts predictMemory). */
    memoryBytesPerRank: s.optional(s.number()),
  }),
  /**
   * With replicas (config.replicas d > 1): the data-parallel group's share: its time in the
   * gradient all-reduce per step (the same slowest rank and step as commTimeMs), and its payload
   * bytes per rank per step, measured (rank 0, the most loaded) and predicted; the rest of
   * commTimeMs and of the bytes is the model-parallel group's.
   */
  dataParallel: s.optional(s.object({
    replicas: s.integer(),
    commTimeMs: distributionSchema,
    bytesSentPerRankPerStep: s.number(),
    bytesReceivedPerRankPerStep: s.number(),
    predictedBytesSentPerRankPerStep: s.number(),
    predictedBytesReceivedPerRankPerStep: s.number(),
    /** Host memory of the gradient all-reduce per rank, predicted (lib/config/cost_model.ts). */
    predictedBufferBytesPerRank: s.optional(s.number()),
  })),
  /** Predicted FLOPs of all ranks per step / median step time, in GFLOP/s. */
  achievedGflops: s.number(),
  /** Energy per step and phase, with its method. */
  energy: energySchema,
  /** Loss curve and loss to target (training runs). */
  loss: s.optional(lossSchema),
  /** Peak memory per rank and process (absent in files written before it existed). */
  memory: s.optional(memorySchema),
  /** Latency, throughput and energy per sample (inference runs). */
  inference: s.optional(inferenceSchema),
});

const configSchema = s.object({
  mode: s.string(),
  ranks: s.integer(),
  width: s.integer(),
  phantomWidth: s.nullable(s.integer()),
  layers: s.integer(),
  batch: s.integer(),
  inputWidth: s.integer(),
  outputWidth: s.integer(),
  steps: s.integer(),
  seed: s.integer(),
  backend: s.string(),
  dtype: s.string(),
  /** train or inference (absent: train, in files written before it existed). */
  workload: s.optional(s.enum(["train", "inference"] as const)),
  /**
   * The rate every link of the emulated network was shaped to for this run (tc notation; null:
   * unshaped); absent where the point did not set one (`communicator.network` then holds it).
   */
  link: s.optional(s.nullable(s.string())),
  /** Data-parallel replicas d (absent: 1): d x ranks ranks trained the point. */
  replicas: s.optional(s.integer()),
  /** dp-inner: data-parallel groups packed on nodes (absent: mp-inner, model groups packed). */
  placement: s.optional(s.string()),
  /** true: each layer's gradient all-reduce overlapped the rest of the backward pass. */
  overlap: s.optional(s.boolean()),
});

const peerSchema = s.object({
  /** Which peer (numpy). */
  name: s.string(),
  /** Why it did not run, if it failed (the rest is then absent). */
  error: s.optional(s.string()),
  /** Its library version and BLAS. */
  version: s.optional(s.string()),
  blas: s.optional(s.string()),
  /** Its BLAS threads. */
  threads: s.optional(s.integer()),
  /** Its wall time per step after warm-up, in ms. */
  stepTimeMs: s.optional(measuredSchema),
  /** Its held-out loss: [steps done, loss]. */
  lossCurve: s.optional(s.array(s.tuple(s.number(), s.number()))),
  /** Largest |suite - peer| / |peer| over every step's training loss. */
  maxRelativeLossDifference: s.optional(s.number()),
});

const placementSchema = s.object({
  rank: s.integer(),
  /** Host name, Slurm node name and index, and the rank's index on its node. */
  host: s.string(),
  node: s.string(),
  nodeIndex: s.integer(),
  localRank: s.integer(),
  pid: s.integer(),
  /** The GPU the rank chose (null without one) and how. */
  device: s.nullable(s.string()),
  deviceSource: s.string(),
  /** The NATS server its connection used (host:port). */
  natsServer: s.optional(s.string()),
  /** With replicas: its replica i and model rank r (rank = i p + r). */
  replica: s.optional(s.integer()),
  modelRank: s.optional(s.integer()),
});

const projectedSchema = s.object({
  /** The hardware profile and band of the projection. */
  profile: s.string(),
  band: s.string(),
  /** Where the projected step time goes, in ms: compute, collective host overhead, latency, bandwidth. */
  breakdown: s.object({
    computeMs: s.number(),
    hostMs: s.number(),
    latencyMs: s.number(),
    bandwidthMs: s.number(),
    /** The data-parallel gradient all-reduce (replicas > 1). */
    dataParallelMs: s.optional(s.number()),
  }),
  /** The same point in the profile's optimistic and pessimistic bands. */
  bands: s.record(s.object({ stepTimeMs: s.number(), joulesPerStep: s.nullable(s.number()) })),
  /** Whether the predicted memory per rank fits the device. */
  fitsMemory: s.boolean(),
  /** Nodes and devices charged for power. */
  nodes: s.integer(),
  devicesCharged: s.integer(),
  /** The measured run whose loss curve gave the steps to target, if any. */
  lossCurveFrom: s.nullable(s.string()),
});

const runSchema = s.refine(
  s.object({
    /** Unique within the file: point id and repeat. */
    id: s.string(),
    /** The point (the same for every repeat). */
    point: s.string(),
    /** Repeat index from 0. */
    repeat: s.integer(),
    /** SHA-256 (hex, 16 chars) of the canonical configuration: equal for equal points. */
    configHash: s.string(),
    /** Outcome. */
    status: s.enum(["ok", "failed", "interrupted", "out-of-memory"] as const),
    /** Why it failed or was interrupted. */
    error: s.optional(s.string()),
    /** The full configuration (more fields than checked here are kept). */
    config: configSchema,
    /** Measurements (ok runs). */
    metrics: s.optional(metricsSchema),
    /** The same run in an independent implementation (--peer), where asked for. */
    peer: s.optional(peerSchema),
    /** out-of-memory runs: the predicted peak per rank and the cap it was held against. */
    predictedMemoryBytesPerRank: s.optional(s.number()),
    memoryCapBytes: s.optional(s.number()),
    /** webgpu runs: per rank the GPU asked for, how it was selected, the adapter it got, warnings. */
    gpu: s.optional(s.array(s.object({
      rank: s.integer(),
      requested: s.nullable(s.string()),
      method: s.string(),
      adapter: s.string(),
      fallbackAdapter: s.boolean(),
      warnings: s.array(s.string()),
    }))),
    /** Present when every number of the run is projected by a model (deno task project), not measured. */
    projected: s.optional(projectedSchema),
    /** Where each rank ran (NATS runs): node, local rank, GPU. */
    placement: s.optional(s.array(placementSchema)),
  }),
  (run, path, fail) => {
    if (run.status !== "ok" && typeof run.error !== "string") {
      fail(`${path}.error`, `must be a string for a ${run.status} run`);
    }
    if (run.status === "ok" && run.metrics === undefined) fail(`${path}.metrics`, "is missing");
  },
);

const backendSchema = s.object({
  /** The suite's backend name (blas, wasm, cpu, webgpu, tensorflow). */
  name: s.string(),
  /** The tfjs backend actually active and tfjs-core's version. */
  tfjsBackend: s.optional(s.string()),
  tfjsVersion: s.optional(s.string()),
  /** Backend flags and facts: GEMM, BLAS library and threads, adapter, transpose strategy. */
  flags: s.optional(s.record(s.unknown())),
});

/**
 * Where and with what the runs were measured (lib/runtime/environment.ts collects it). Every
 * field may be absent: facts this suite could not read, and projected files, which copy what
 * they were calibrated beside.
 */
const environmentSchema = s.object({
  runtime: s.optional(s.object({
    deno: s.string(),
    v8: s.optional(s.string()),
    typescript: s.optional(s.string()),
  })),
  os: s.optional(s.object({ name: s.string(), arch: s.string(), release: s.string() })),
  cpu: s.optional(s.object({ model: s.string(), cores: s.integer() })),
  /** Total memory in bytes (0 when unknown). */
  memoryBytes: s.optional(s.number()),
  tfjs: s.optional(s.object({ version: s.string(), backend: backendSchema })),
  /** Git commit of the suite, `-dirty` when the tree had changes; or "unknown". */
  gitCommit: s.optional(s.string()),
  hostname: s.optional(s.string()),
  /** NVIDIA GPUs as nvidia-smi lists them; empty where there is none. */
  gpus: s.optional(s.array(s.object({ name: s.string(), driver: s.string() }))),
  /** nats-server's version ("external" for a server the suite did not start); null in process. */
  natsServer: s.optional(s.nullable(s.string())),
  /** Projected files: the command that projected them. */
  projection: s.optional(s.string()),
});

const resultsSchema = s.object({
  schemaVersion: s.integer(),
  createdAt: s.string(),
  /** Runtime, OS, CPU, GPUs, tfjs backend, git commit, nats-server. */
  environment: environmentSchema,
  sweep: s.object({
    id: s.string(),
    version: s.number(),
    description: s.string(),
    quick: s.boolean(),
    filter: s.nullable(s.string()),
    repeats: s.integer(),
    excluded: s.array(s.object({ point: s.string(), reason: s.string() })),
    /** The memory cap per rank the runs were held against (--memory-cap or the sweep's). */
    memoryCapBytes: s.optional(s.number()),
  }),
  /** In process or NATS (servers without secrets, launcher, processes, wire dtype). */
  communicator: s.refine(s.record(s.unknown()), (c, path, fail) => {
    if (typeof c.kind !== "string") fail(`${path}.kind`, "must be a string");
  }),
  /** Power backend, devices, selection reasons, notes, period, idle baseline, model. */
  power: s.record(s.unknown()),
  /** Projected files (deno task project): the profile with its sources, and the k search if asked for. */
  projection: s.optional(s.object({
    profile: s.object({ id: s.string(), description: s.string(), sources: s.record(s.string()) }),
    kSearch: s.optional(s.array(s.record(s.unknown()))),
  })),
  runs: s.array(runSchema),
});

/** Where and with what a results file was measured. */
export type Environment = Infer<typeof environmentSchema>;
/** The tfjs backend a results file was measured on, with its flags. */
export type BackendRecord = Infer<typeof backendSchema>;
/** A distribution of samples. */
export type DistributionResult = Infer<typeof distributionSchema>;
/** Energy figures of a run. */
export type EnergyResult = Infer<typeof energySchema>;
/** Loss-to-target figures. */
export type LossMetrics = Infer<typeof lossSchema>;
/** How the loss target of a run was set. */
export type LossTarget = LossMetrics["target"];
/** The measurements of an ok run. */
export type RunMetrics = Infer<typeof metricsSchema>;
/** The configuration recorded with a run (validated fields; the file keeps all). */
export type RunConfig = Infer<typeof configSchema> & Record<string, unknown>;
/** What every run of a results file records. */
export type RunResult = Omit<Infer<typeof runSchema>, "config"> & { config: RunConfig };
/** A results file. */
export type ResultsFile = Omit<Infer<typeof resultsSchema>, "runs"> & { runs: RunResult[] };

/** Raised when a results file cannot be used; names the file and the field. */
export class ResultsError extends Error {
  /**
   * @param message What is wrong, with the file and field.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ResultsError";
  }
}

/**
 * A stable hash of a configuration: SHA-256 of its JSON with sorted keys, 16 hex characters.
 *
 * @param config The configuration.
 * @returns The hash.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configHash } from "./results.ts";
 * assert((await configHash({ a: 1, b: 2 })) === (await configHash({ b: 2, a: 1 })));
 * ```
 */
export async function configHash(config: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalJson(config));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * JSON with object keys sorted at every level.
 *
 * @param value Any JSON value.
 * @returns Its canonical text.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * A JSON object's leaves by dotted path, each as JSON text (strings as they are), for naming the
 * fields in which two configurations differ.
 *
 * @param value Any JSON value.
 * @returns Path to leaf text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flattenJson } from "./results.ts";
 * assert.deepEqual(flattenJson({ a: 1, task: { evalEvery: 3 }, m: "tp" }), { a: "1", "task.evalEvery": "3", m: "tp" });
 * ```
 */
export function flattenJson(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (v: unknown, prefix: string) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) walk(x, prefix ? `${prefix}.${k}` : k);
    } else if (v !== undefined) out[prefix] = typeof v === "string" ? v : JSON.stringify(v);
  };
  walk(value, "");
  return out;
}

/**
 * Parses and validates a results file's text.
 *
 * @param text The file's content.
 * @param source The file name, for errors.
 * @returns The results.
 * @throws {ResultsError} If the text is not JSON, the schema version is missing, unknown or
 *   newer, or a required field is missing or of the wrong type (naming the field).
 */
export function parseResults(text: string, source = "results"): ResultsFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ResultsError(`Cannot read ${source}: not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (typeof version !== "number") {
    throw new ResultsError(`Cannot read ${source}: schemaVersion is missing`);
  }
  if (version > SCHEMA_VERSION) {
    throw new ResultsError(
      `Cannot read ${source}: schemaVersion is ${version}, newer than this suite reads ` +
        `(${SCHEMA_VERSION}); update phantom-bench`,
    );
  }
  if (version !== SCHEMA_VERSION) {
    throw new ResultsError(
      `Cannot read ${source}: schemaVersion is ${version}; this suite reads only version ${SCHEMA_VERSION}`,
    );
  }
  return validate(
    resultsSchema,
    json,
    (path, message) => new ResultsError(`Cannot read ${source}: ${path || "the file"} ${message}`),
  ) as ResultsFile;
}

/**
 * Reads and validates a results file.
 *
 * @param path The file.
 * @returns The results.
 * @throws {ResultsError} If it is missing or invalid (see {@linkcode parseResults}).
 */
export async function loadResults(path: string): Promise<ResultsFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ResultsError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseResults(text, path);
}
