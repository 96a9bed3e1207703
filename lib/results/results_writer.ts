/**
 * Keeps a results file current while a sweep runs: the header (environment, sweep, communicator,
 * power) once, then every run as it finishes, the whole file rewritten atomically each time, so
 * an interrupted or crashed sweep keeps everything it measured. A write that fails (a full disk,
 * a folder gone) loses nothing: the runs stay in memory, the next run retries, and at the end
 * {@linkcode ResultsWriter.rescue} saves them elsewhere.
 *
 * @module
 */

import { basename } from "node:path";
import { suiteCacheDir } from "../system/cache_dir.ts";
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
  /** Why the file on disk is behind the runs in memory; undefined after a good write. */
  failure?: Error;
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
   * Adds a run and rewrites the file; a failed write is kept in {@linkcode failure}, not thrown.
   *
   * @param run The run.
   * @returns Whether the file now holds every run.
   */
  async add(run: RunResult): Promise<boolean> {
    this.runs.push(run);
    try {
      await this.write();
      this.failure = undefined;
      return true;
    } catch (error) {
      this.failure = error as Error;
      return false;
    }
  }

  /**
   * Saves the results where the file could not be written: the suite's cache folder
   * (`rescued/`), under the file's name.
   *
   * @returns The path written.
   * @throws {Error} If that cannot be written either.
   */
  async rescue(): Promise<string> {
    const dir = `${suiteCacheDir()}/rescued`;
    await Deno.mkdir(dir, { recursive: true });
    const path = `${dir}/${basename(this.path)}`;
    await writeTextFileAtomic(path, JSON.stringify(this.file(), null, 2) + "\n");
    return path;
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
