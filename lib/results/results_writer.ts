/**
 * Keeps a results file current while a sweep runs: the header (environment, sweep, communicator,
 * power) once, then every run as it finishes, the whole file rewritten atomically each time, so
 * an interrupted or crashed sweep keeps everything it measured.
 *
 * @module
 */

import { writeTextFileAtomic } from "./atomic_write.ts";
import { type ResultsFile, type RunResult, SCHEMA_VERSION } from "./results.ts";

/** Everything of a results file but its runs and the fields the writer fills in. */
export type ResultsHeader = Omit<ResultsFile, "schemaVersion" | "createdAt" | "runs">;

/**
 * A results file being written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResultsWriter } from "./results_writer.ts";
 * const path = `${await Deno.makeTempDir()}/r.json`;
 * const writer = new ResultsWriter(path, () => ({
 *   environment: {}, communicator: { kind: "in-process" }, power: {},
 *   sweep: { id: "x", version: 1, description: "", quick: false, filter: null, repeats: 1, excluded: [] },
 * }));
 * await writer.write();
 * assert(JSON.parse(await Deno.readTextFile(path)).runs.length === 0);
 * ```
 */
export class ResultsWriter {
  /** The file. */
  readonly path: string;
  /** The runs written so far. */
  readonly runs: RunResult[] = [];
  #header: () => ResultsHeader;
  #createdAt = new Date().toISOString();

  /**
   * @param path The file (its folder must exist).
   * @param header The header, read at every write (fields such as the idle baseline may change).
   */
  constructor(path: string, header: () => ResultsHeader) {
    this.path = path;
    this.#header = header;
  }

  /**
   * Adds a run and rewrites the file.
   *
   * @param run The run.
   */
  async add(run: RunResult): Promise<void> {
    this.runs.push(run);
    await this.write();
  }

  /** @returns The results as the file holds them after the last write. */
  file(): ResultsFile {
    return {
      schemaVersion: SCHEMA_VERSION,
      createdAt: this.#createdAt,
      ...this.#header(),
      runs: this.runs,
    };
  }

  /** Rewrites the file with the runs so far. */
  async write(): Promise<void> {
    await writeTextFileAtomic(this.path, JSON.stringify(this.file(), null, 2) + "\n");
  }
}
