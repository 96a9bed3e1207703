/**
 * The results format (schema version 1): one JSON file per `deno task bench` invocation, and the
 * loader that validates a file against it. A corrupt file, an unknown or newer schema version, or
 * a field of the wrong type is an error naming the file and the field, never an empty result.
 *
 * @module
 */

import type { Distribution } from "./stats.ts";

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = 1;

/** How the loss target of a run was set. */
export interface LossTarget {
  /** `absolute`: an MSE; `fraction`: a fraction of the initial held-out loss. */
  kind: "absolute" | "fraction";
  /** The number given. */
  value: number;
  /** The target as an MSE (for `fraction`, value x initial loss). */
  absolute: number;
}

/** Loss-to-target figures. */
export interface LossMetrics {
  /** Held-out loss: [steps done, training time ms, energy J so far or null, loss]. */
  curve: [number, number, number | null, number][];
  /** The target. */
  target: LossTarget;
  /** First evaluated step count at which the held-out loss reached the target; null if never. */
  stepsToTarget: number | null;
  /** Training time to that evaluation, in ms; null if never. */
  timeToTargetMs: number | null;
  /** Energy to that evaluation, in J; null if never reached or energy unavailable. */
  energyToTargetJ: number | null;
}

/** Energy figures of a run. */
export interface EnergyResult {
  /** `counter`, `integrated`, `modelled` or `unavailable`. */
  method: "counter" | "integrated" | "modelled" | "unavailable";
  /** Power backend. */
  backend: string;
  /** Joules per timed step; null when unavailable. */
  joulesPerStep: Distribution | null;
  /** Joules above the idle baseline per timed step; null without a baseline. */
  aboveIdleJoulesPerStep: Distribution | null;
  /** Joules per timed step by phase (forward; backward with the update); null when unavailable. */
  perPhase: { forward: Distribution; backward: Distribution } | null;
  /** Average power over the timed steps, W; null when unavailable. */
  averageW: number | null;
  /** Windows shorter than 10 hardware updates. */
  shortWindows: number;
}

/** What every run of a results file records. */
export interface RunResult {
  /** Unique within the file: point id and repeat. */
  id: string;
  /** The point (same for every repeat). */
  point: string;
  /** Repeat index from 0. */
  repeat: number;
  /** SHA-256 (hex, 16 chars) of the canonical configuration: equal for equal points. */
  configHash: string;
  /** Outcome. */
  status: "ok" | "failed";
  /** Why it failed. */
  error?: string;
  /** The full configuration. */
  config: Record<string, unknown> & {
    mode: string;
    ranks: number;
    width: number;
    phantomWidth: number | null;
    layers: number;
    batch: number;
    inputWidth: number;
    outputWidth: number;
    steps: number;
    seed: number;
    backend: string;
    dtype: string;
  };
  /** Measurements (ok runs). */
  metrics?: {
    warmupSteps: number;
    stepTimeMs: Distribution;
    commTimeMs: Distribution;
    computeTimeMs: Distribution;
    bytesSentPerRankPerStep: number;
    bytesReceivedPerRankPerStep: number;
    wireBytesSentPerRankPerStep: number | null;
    wireBytesReceivedPerRankPerStep: number | null;
    bytesMatchPrediction: boolean;
    predicted: {
      bytesSentPerRankPerStep: number;
      bytesReceivedPerRankPerStep: number;
      flopsPerRankPerStep: number;
      parametersPerRank: number;
      parametersTotal: number;
    };
    achievedGflops: number;
    energy: EnergyResult;
    loss: LossMetrics;
  };
}

/** A results file. */
export interface ResultsFile {
  schemaVersion: typeof SCHEMA_VERSION;
  createdAt: string;
  environment: Record<string, unknown>;
  sweep: {
    id: string;
    version: number;
    description: string;
    quick: boolean;
    filter: string | null;
    repeats: number;
    excluded: { point: string; reason: string }[];
  };
  communicator: Record<string, unknown>;
  power: Record<string, unknown>;
  runs: RunResult[];
}

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
  const at = (path: string) => `Cannot read ${source}: ${path}`;
  const obj = (v: unknown, path: string): Record<string, unknown> => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new ResultsError(`${at(path)} must be an object`);
    }
    return v as Record<string, unknown>;
  };
  const num = (v: unknown, path: string, nullable = false) => {
    if (nullable && v === null) return;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new ResultsError(`${at(path)} must be a finite number (got ${JSON.stringify(v)})`);
    }
  };
  const str = (v: unknown, path: string) => {
    if (typeof v !== "string") {
      throw new ResultsError(`${at(path)} must be a string (got ${JSON.stringify(v)})`);
    }
  };
  const dist = (v: unknown, path: string, nullable = false) => {
    if (nullable && v === null) return;
    const d = obj(v, path);
    for (const k of ["median", "p25", "p75"]) num(d[k], `${path}.${k}`);
    if (!Array.isArray(d.samples)) {
      throw new ResultsError(`${at(`${path}.samples`)} must be an array`);
    }
  };
  const root = obj(json, "the file");
  const version = root.schemaVersion;
  if (typeof version !== "number") throw new ResultsError(`${at("schemaVersion")} is missing`);
  if (version > SCHEMA_VERSION) {
    throw new ResultsError(
      `${
        at("schemaVersion")
      } is ${version}, newer than this suite reads (${SCHEMA_VERSION}); update phantom-bench`,
    );
  }
  if (version !== SCHEMA_VERSION) {
    throw new ResultsError(
      `${at("schemaVersion")} is ${version}; this suite reads only version ${SCHEMA_VERSION}`,
    );
  }
  str(root.createdAt, "createdAt");
  obj(root.environment, "environment");
  const sweep = obj(root.sweep, "sweep");
  str(sweep.id, "sweep.id");
  num(sweep.version, "sweep.version");
  if (!Array.isArray(sweep.excluded)) {
    throw new ResultsError(`${at("sweep.excluded")} must be an array`);
  }
  if (!Array.isArray(root.runs)) throw new ResultsError(`${at("runs")} must be an array`);
  root.runs.forEach((r, i) => {
    const p = `runs[${i}]`;
    const run = obj(r, p);
    str(run.id, `${p}.id`);
    str(run.configHash, `${p}.configHash`);
    if (run.status !== "ok" && run.status !== "failed") {
      throw new ResultsError(`${at(`${p}.status`)} must be "ok" or "failed"`);
    }
    const config = obj(run.config, `${p}.config`);
    for (
      const k of ["ranks", "width", "layers", "batch", "inputWidth", "outputWidth", "steps", "seed"]
    ) num(config[k], `${p}.config.${k}`);
    for (const k of ["mode", "backend", "dtype"]) str(config[k], `${p}.config.${k}`);
    num(config.phantomWidth, `${p}.config.phantomWidth`, true);
    if (run.status === "failed") {
      str(run.error, `${p}.error`);
      return;
    }
    const m = obj(run.metrics, `${p}.metrics`);
    for (const k of ["stepTimeMs", "commTimeMs", "computeTimeMs"]) dist(m[k], `${p}.metrics.${k}`);
    for (const k of ["bytesSentPerRankPerStep", "bytesReceivedPerRankPerStep", "achievedGflops"]) {
      num(m[k], `${p}.metrics.${k}`);
    }
    const pred = obj(m.predicted, `${p}.metrics.predicted`);
    for (
      const k of [
        "bytesSentPerRankPerStep",
        "bytesReceivedPerRankPerStep",
        "flopsPerRankPerStep",
        "parametersPerRank",
      ]
    ) {
      num(pred[k], `${p}.metrics.predicted.${k}`);
    }
    const e = obj(m.energy, `${p}.metrics.energy`);
    if (!["counter", "integrated", "modelled", "unavailable"].includes(e.method as string)) {
      throw new ResultsError(
        `${at(`${p}.metrics.energy.method`)} must be counter, integrated, modelled or unavailable`,
      );
    }
    dist(e.joulesPerStep, `${p}.metrics.energy.joulesPerStep`, true);
    const loss = obj(m.loss, `${p}.metrics.loss`);
    if (!Array.isArray(loss.curve)) {
      throw new ResultsError(`${at(`${p}.metrics.loss.curve`)} must be an array`);
    }
    obj(loss.target, `${p}.metrics.loss.target`);
    num(loss.stepsToTarget, `${p}.metrics.loss.stepsToTarget`, true);
  });
  return root as unknown as ResultsFile;
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
