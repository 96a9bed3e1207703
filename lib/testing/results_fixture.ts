/**
 * Synthetic results files for tests of the comparison, exports and report: every field a real
 * `deno task bench` file has, with step-time samples drawn around a chosen median.
 *
 * @module
 */

import { type ResultsFile, type RunResult, SCHEMA_VERSION } from "../results/results.ts";
import { distribution } from "../results/stats.ts";
import { Rng } from "../nn/rng.ts";

/** Knobs of one synthetic run. */
export interface FixtureRun {
  point: string;
  mode?: string;
  ranks?: number;
  phantomWidth?: number | null;
  stepMs?: number;
  /** Relative spread of the step-time samples. @default 0.02 */
  spread?: number;
  joulesPerStep?: number | null;
  energyMethod?: "counter" | "integrated" | "modelled" | "unavailable";
  bytesSent?: number;
  stepsToTarget?: number | null;
  status?: "ok" | "failed";
  repeat?: number;
}

/** Deterministic pseudo-random samples around a median. */
function samples(center: number, spread: number, seed: number, n = 20): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => center * (1 + spread * (2 * rng.uniform() - 1)));
}

/**
 * @param spec A run.
 * @param seed Seed of its samples.
 * @returns The run.
 */
export function fixtureRun(spec: FixtureRun, seed = 1): RunResult {
  const mode = spec.mode ?? "tp";
  const ranks = spec.ranks ?? 2;
  const step = samples(spec.stepMs ?? 100, spec.spread ?? 0.02, seed);
  const energyMethod = spec.energyMethod ??
    (spec.joulesPerStep == null ? "unavailable" : "counter");
  const joules = spec.joulesPerStep == null
    ? null
    : distribution(samples(spec.joulesPerStep, spec.spread ?? 0.02, seed + 7));
  const config = {
    // Points of a real file differ in their configuration; synthetic ones differ by name.
    fixturePoint: spec.point,
    mode,
    ranks,
    width: 1024,
    phantomWidth: spec.phantomWidth ?? (mode === "phantom" ? 16 : null),
    layers: 2,
    batch: 64,
    inputWidth: 32,
    outputWidth: 16,
    steps: 20,
    seed: 1,
    backend: "wasm",
    dtype: "float32",
  };
  const base = {
    id: `${spec.point}#${spec.repeat ?? 0}`,
    point: spec.point,
    repeat: spec.repeat ?? 0,
    configHash: `hash-${spec.point}`,
    config,
  };
  if (spec.status === "failed") {
    return { ...base, status: "failed", error: "rank 1: collective timed out" };
  }
  const bytes = spec.bytesSent ?? 1000;
  return {
    ...base,
    status: "ok",
    metrics: {
      warmupSteps: 2,
      stepTimeMs: distribution(step),
      commTimeMs: distribution(step.map((s) => s / 2)),
      computeTimeMs: distribution(step.map((s) => s / 2)),
      bytesSentPerRankPerStep: bytes,
      bytesReceivedPerRankPerStep: bytes * (ranks - 1),
      wireBytesSentPerRankPerStep: bytes + 100,
      wireBytesReceivedPerRankPerStep: bytes * (ranks - 1) + 100,
      bytesMatchPrediction: true,
      predicted: {
        bytesSentPerRankPerStep: bytes,
        bytesReceivedPerRankPerStep: bytes * (ranks - 1),
        flopsPerRankPerStep: 1e9,
        parametersPerRank: 1e6,
        parametersTotal: 2e6,
      },
      achievedGflops: 2e9 / (spec.stepMs ?? 100) / 1e6,
      energy: {
        method: energyMethod,
        backend: energyMethod === "unavailable" ? "none" : "nvml",
        joulesPerStep: joules,
        aboveIdleJoulesPerStep: null,
        perPhase: joules ? { forward: joules, backward: joules } : null,
        averageW: joules ? joules.median / ((spec.stepMs ?? 100) / 1000) : null,
        shortWindows: 0,
      },
      loss: {
        curve: [
          [0, 0, joules ? 0 : null, 1.5],
          [10, 1000, joules ? 10 * joules.median : null, 0.4],
          [20, 2000, null, 0.2],
        ],
        target: { kind: "absolute", value: 0.3, absolute: 0.3 },
        stepsToTarget: spec.stepsToTarget === undefined ? 20 : spec.stepsToTarget,
        timeToTargetMs: spec.stepsToTarget === null ? null : 2000,
        energyToTargetJ: null,
      },
    },
  };
}

/**
 * A point's repeats: the same run `n` times with repeat indices 0..n-1 (each drawn with its own
 * seed by {@linkcode fixtureResults}).
 *
 * @param spec The run.
 * @param n Repeats. @default 3
 * @returns The repeats.
 */
export function repeated(spec: FixtureRun, n = 3): FixtureRun[] {
  return Array.from({ length: n }, (_, repeat) => ({ ...spec, repeat }));
}

/**
 * @param runs The runs.
 * @param extra Top-level fields to override.
 * @returns A results file.
 */
export function fixtureResults(runs: FixtureRun[], extra: Partial<ResultsFile> = {}): ResultsFile {
  return {
    schemaVersion: SCHEMA_VERSION,
    createdAt: "2026-11-25T12:00:00.000Z",
    environment: {
      runtime: { deno: "2.9.6" },
      gitCommit: "abc123",
      cpu: { model: "AMD EPYC", cores: 2 },
    },
    sweep: {
      id: "fixture",
      version: 1,
      description: "synthetic",
      quick: false,
      filter: null,
      repeats: 1,
      excluded: [],
    },
    communicator: { kind: "nats", servers: "nats://127.0.0.1:4222 (no auth)", dtype: "float32" },
    power: { backend: "nvml" },
    runs: runs.map((r, i) => fixtureRun(r, i + 1)),
    ...extra,
  };
}
