/**
 * The results kind of the collective benchmark (`deno task bench:comm`): one JSON file per
 * invocation with every measurement (a row per operation, p and size) and the alpha-beta fits,
 * validated on load like the training results (lib/results/results.ts), so a corrupt or foreign
 * file is an error naming the field, never an empty table.
 *
 * @module
 */

import { type Infer, s, validate } from "./schema.ts";
import { ResultsError } from "./results.ts";

/** The schema version of comm files this code writes and reads. */
export const COMM_SCHEMA_VERSION = 1;

const OPS = ["allGather", "reduceScatter", "allReduce"] as const;

/** A collective the benchmark measures. */
export type CommOp = typeof OPS[number];

const rowSchema = s.object({
  /** The collective, or the raw NATS fan-out moving the same bytes as allGather. */
  op: s.enum([...OPS, "raw-fanout"] as const),
  ranks: s.integer(),
  ranksPerConnection: s.integer(),
  /** S: the whole buffer, in bytes. */
  bytes: s.number(),
  /** Median time per call, in ms. */
  timeMs: s.number(),
  algbwGBs: s.number(),
  busbwGBs: s.number(),
  /** Whether every rank received the expected data. */
  correct: s.boolean(),
  iterations: s.integer(),
  /** Peak resident memory of the process during the measurement, and before it, in bytes. */
  peakRssBytes: s.number(),
  baseRssBytes: s.number(),
  /** What the ranks hold once the call returns (results and inputs), in bytes. */
  heldBytes: s.number(),
  /** Per call, rank 0's share of the bytes its connection received (raw: all it received). */
  wireBytesReceivedPerRank: s.number(),
  /** Per call, payload rank 0 received in memory from ranks sharing its connection. */
  localBytesReceivedPerRank: s.number(),
});

const fitSchema = s.object({
  op: s.enum([...OPS, "raw-fanout"] as const),
  ranks: s.integer(),
  ranksPerConnection: s.integer(),
  /** Latency term per call, in microseconds. */
  alphaUs: s.number(),
  /** Fitted bandwidth S / t as algbw, in GB/s. */
  algbwGBs: s.number(),
  /** Coefficient of determination of the fit (on log times). */
  r2: s.number(),
  /** Measurements the fit used. */
  points: s.integer(),
  /** The latency term per message a rank receives (p - 1 per call). */
  alphaPerMessageUs: s.number(),
  /** The fitted bandwidth as busbw. */
  busbwGBs: s.number(),
});

const commSchema = s.object({
  // First, so a training results file given here says what it is not.
  kind: s.enum(["comm"] as const),
  schemaVersion: s.integer(),
  createdAt: s.string(),
  /** The NATS server(s), without secrets. */
  url: s.string(),
  rows: s.array(rowSchema),
  fits: s.array(fitSchema),
});

/** One measurement. */
export type CommRow = Infer<typeof rowSchema>;
/** One alpha-beta fit. */
export type CommFit = Infer<typeof fitSchema>;
/** A collective benchmark results file. */
export type CommResultsFile = Infer<typeof commSchema>;

/**
 * Parses and validates a collective benchmark results file.
 *
 * @param text The file's content.
 * @param source The file name, for errors.
 * @returns The results.
 * @throws {ResultsError} If it is not JSON, not a comm file of this schema version, or a field is
 *   missing or of the wrong type (named).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCommResults } from "./comm_results.ts";
 * const file = { schemaVersion: 1, kind: "comm", createdAt: "2026", url: "nats://h", rows: [], fits: [] };
 * assert.equal(parseCommResults(JSON.stringify(file)).rows.length, 0);
 * assert.throws(() => parseCommResults("{}", "x.json"), /x.json: kind is missing/);
 * ```
 */
export function parseCommResults(text: string, source = "comm results"): CommResultsFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ResultsError(`Cannot read ${source}: not valid JSON (${(error as Error).message})`);
  }
  return validateCommResults(json, source);
}

/**
 * Validates an already parsed collective benchmark results file.
 *
 * @param json The parsed JSON.
 * @param source The file name, for errors.
 * @returns The results.
 * @throws {ResultsError} As {@linkcode parseCommResults}, for everything but the JSON syntax.
 */
export function validateCommResults(json: unknown, source = "comm results"): CommResultsFile {
  const file = validate(
    commSchema,
    json,
    (path, message) => new ResultsError(`Cannot read ${source}: ${path || "the file"} ${message}`),
  );
  if (file.schemaVersion !== COMM_SCHEMA_VERSION) {
    throw new ResultsError(
      `Cannot read ${source}: schemaVersion is ${file.schemaVersion}; this suite reads only ` +
        `version ${COMM_SCHEMA_VERSION}`,
    );
  }
  return file;
}
