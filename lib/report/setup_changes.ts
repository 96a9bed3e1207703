/**
 * What changed between two results files beyond the configurations their hashes cover: the
 * transport, the backend and its flags, the hardware, the power source, the software around the
 * suite. Each change is named; a changed communicator, launcher, backend, CPU, GPU or power
 * backend makes timing and energy incomparable (a different machine or transport measures
 * something else), while the rest (host name, commit, versions, threads) is printed beside the
 * verdicts for the reader to weigh.
 *
 * @module
 */

import type { ResultsFile } from "../results/results.ts";

/** One difference in setup. */
export interface SetupChange {
  /** What changed, e.g. "communicator". */
  field: string;
  baseline: string;
  current: string;
  /** Whether the change makes timing and energy incomparable (else it is only named). */
  blocksTiming: boolean;
}

interface Field {
  field: string;
  read(f: ResultsFile): unknown;
  blocksTiming: boolean;
}

const comm = (f: ResultsFile) => f.communicator as Record<string, unknown>;
const flags = (f: ResultsFile) => f.environment.tfjs?.backend.flags ?? {};

const FIELDS: Field[] = [
  { field: "communicator", read: (f) => comm(f).kind, blocksTiming: true },
  { field: "launcher", read: (f) => comm(f).launcher, blocksTiming: true },
  // Ports differ on every invocation of a suite-started server: compare where servers are.
  {
    field: "NATS servers",
    read: (f) =>
      typeof comm(f).servers === "string"
        ? (comm(f).servers as string).replace(/:\d+\b/g, "")
        : comm(f).servers,
    blocksTiming: false,
  },
  { field: "worker processes", read: (f) => comm(f).processes, blocksTiming: false },
  { field: "wire dtype", read: (f) => comm(f).dtype, blocksTiming: false },
  { field: "backend", read: (f) => f.environment.tfjs?.backend.name, blocksTiming: true },
  { field: "CPU model", read: (f) => f.environment.cpu?.model, blocksTiming: true },
  { field: "CPU cores", read: (f) => f.environment.cpu?.cores, blocksTiming: true },
  {
    field: "GPUs",
    read: (f) => f.environment.gpus?.map((g) => g.name).join(", "),
    blocksTiming: true,
  },
  {
    field: "GPU driver",
    read: (f) => [...new Set(f.environment.gpus?.map((g) => g.driver))].join(", "),
    blocksTiming: false,
  },
  {
    field: "power backend",
    read: (f) => (f.power as { backend?: unknown }).backend,
    blocksTiming: true,
  },
  { field: "host name", read: (f) => f.environment.hostname, blocksTiming: false },
  { field: "memory", read: (f) => f.environment.memoryBytes, blocksTiming: false },
  { field: "suite commit", read: (f) => f.environment.gitCommit, blocksTiming: false },
  { field: "Deno", read: (f) => f.environment.runtime?.deno, blocksTiming: false },
  { field: "tfjs", read: (f) => f.environment.tfjs?.version, blocksTiming: false },
  { field: "OS release", read: (f) => f.environment.os?.release, blocksTiming: false },
  { field: "nats-server", read: (f) => f.environment.natsServer, blocksTiming: false },
];

/**
 * The setup differences between two results files.
 *
 * @param baseline The reference file.
 * @param current The candidate file.
 * @returns Every difference, those that block timing first.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixtureResults } from "../testing/results_fixture.ts";
 * import { setupChanges } from "./setup_changes.ts";
 * const a = fixtureResults([{ point: "tp-p2" }]);
 * const b = fixtureResults([{ point: "tp-p2" }], { communicator: { kind: "in-process" } });
 * const change = setupChanges(a, b).find((c) => c.field === "communicator")!;
 * assert.deepEqual([change.baseline, change.current, change.blocksTiming], ["nats", "in-process", true]);
 * ```
 */
export function setupChanges(baseline: ResultsFile, current: ResultsFile): SetupChange[] {
  const out: SetupChange[] = [];
  const add = (field: string, b: unknown, c: unknown, blocksTiming: boolean) => {
    const [bt, ct] = [show(b), show(c)];
    if (bt !== ct) out.push({ field, baseline: bt, current: ct, blocksTiming });
  };
  for (const f of FIELDS) add(f.field, f.read(baseline), f.read(current), f.blocksTiming);
  const [fb, fc] = [flags(baseline), flags(current)];
  for (const key of [...new Set([...Object.keys(fb), ...Object.keys(fc)])].sort()) {
    add(`backend ${key}`, fb[key], fc[key], false);
  }
  return out.sort((a, b) => Number(b.blocksTiming) - Number(a.blocksTiming));
}

function show(v: unknown): string {
  if (v === undefined || v === null || v === "") return "(none)";
  return typeof v === "string" ? v : JSON.stringify(v);
}
