/**
 * Peers: independent implementations of the same FFN training (today: numpy, in
 * lib/runtime/numpy_peer.py) run on the same points. The suite writes a run's initial weights,
 * batches and held-out set to a file (a JSON description and a float32 array file: no shared RNG
 * needed), the peer trains the same steps, and the run records the peer's loss curve and step
 * time beside the suite's, with the largest relative difference between the two loss curves.
 *
 * @module
 */

import type { TrainConfig } from "../config/config.ts";
import { initRankWeights, type Matrix } from "../nn/init.ts";
import { TeacherTask } from "../nn/task.ts";
import { distribution } from "../results/stats.ts";
import type { RankRunResult } from "./trainer.ts";

/** The peers the suite knows. */
export const PEERS = ["numpy"] as const;
/** A peer's name. */
export type PeerName = typeof PEERS[number];

/** Raised when a peer cannot run here (python3 or numpy missing). */
export class PeerUnavailableError extends Error {
  /** @param message What is missing and how to install it. */
  constructor(message: string) {
    super(message);
    this.name = "PeerUnavailableError";
  }
}

/** What a peer reported for one run. */
export interface PeerOutput {
  /** numpy's version. */
  numpy: string;
  /** The BLAS numpy uses. */
  blas: string;
  /** Its BLAS threads. */
  threads: number;
  /** Training loss per step. */
  losses: number[];
  /** [steps done, held-out loss]. */
  evals: [number, number][];
  /** Wall time per step, in ms. */
  stepMs: number[];
}

const SCRIPT = new URL("./numpy_peer.py", import.meta.url).pathname;

/**
 * Checks that the numpy peer can run: python3 on PATH with numpy importable.
 *
 * @returns numpy's version.
 * @throws {PeerUnavailableError} Saying what is missing and how to install it.
 */
export async function checkNumpyPeer(): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("python3", {
      args: ["-c", "import numpy; print(numpy.__version__)"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    throw new PeerUnavailableError(
      "Cannot use --peer numpy: python3 is not installed (Debian/Ubuntu: sudo apt-get install python3-numpy)",
    );
  }
  if (!out.success) {
    throw new PeerUnavailableError(
      "Cannot use --peer numpy: python3 cannot import numpy (Debian/Ubuntu: sudo apt-get install python3-numpy)",
    );
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * Writes what a peer needs to train a run exactly as the suite does: the configuration, every
 * rank's initial weights, every step's batch and the held-out set.
 *
 * @param config The run.
 * @param dir Folder for the two files.
 * @returns The description file's path (the arrays are beside it, `.bin`).
 */
export async function writePeerInputs(config: TrainConfig, dir: string): Promise<string> {
  const arrays: { name: string; shape: number[]; data: Float32Array }[] = [];
  const add = (name: string, m: Matrix, vector = false) =>
    arrays.push({ name, shape: vector ? [m.cols] : [m.rows, m.cols], data: m.data });
  for (let r = 0; r < config.ranks; r++) {
    const w = initRankWeights(config, r);
    add(`rank${r}.input.W`, w.input.W);
    add(`rank${r}.input.b`, w.input.b, true);
    w.hidden.forEach((h, l) => {
      for (const key of ["W", "A", "C", "D"] as const) {
        if (h[key]) add(`rank${r}.hidden.${l}.${key}`, h[key]!);
      }
      add(`rank${r}.hidden.${l}.b`, h.b, true);
    });
    add(`rank${r}.output.W`, w.output.W);
    if (w.output.b) add(`rank${r}.output.b`, w.output.b, true);
  }
  const task = new TeacherTask(config, config.task);
  const batch = (name: string, b: { rows: number; x: Float32Array; y: Float32Array }) => {
    arrays.push({ name: `${name}.x`, shape: [b.rows, config.inputWidth], data: b.x });
    arrays.push({ name: `${name}.y`, shape: [b.rows, config.outputWidth], data: b.y });
  };
  for (let s = 0; s < config.steps; s++) batch(`batch${s}`, task.batch(s, config.batch));
  batch("eval", task.evalSet());
  let offset = 0;
  const table = arrays.map((a) => {
    const entry = { name: a.name, shape: a.shape, offset };
    offset += a.data.length;
    return entry;
  });
  const bin = new Float32Array(offset);
  arrays.forEach((a, i) => bin.set(a.data, table[i].offset));
  const path = `${dir}/peer-inputs.json`;
  await Deno.writeFile(`${dir}/peer-inputs.bin`, new Uint8Array(bin.buffer));
  await Deno.writeTextFile(path, JSON.stringify({ config, arrays: table }));
  return path;
}

/**
 * Trains a run in the numpy peer.
 *
 * @param config The run.
 * @param threads BLAS threads for numpy (the suite's own count for a fair comparison).
 * @returns What the peer reported.
 * @throws {PeerUnavailableError} If the peer fails to run.
 */
export async function runNumpyPeer(config: TrainConfig, threads: number): Promise<PeerOutput> {
  const dir = await Deno.makeTempDir({ prefix: "phantom-peer-" });
  try {
    const inputs = await writePeerInputs(config, dir);
    const env = Object.fromEntries(
      ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"].map((
        k,
      ) => [k, String(threads)]),
    );
    const out = await new Deno.Command("python3", {
      args: [SCRIPT, inputs],
      env,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      throw new PeerUnavailableError(`numpy peer failed: ${err}`);
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)) as PeerOutput;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** What a run records of its peer. */
export interface PeerComparison {
  name: PeerName;
  version: string;
  blas: string;
  threads: number;
  /** The peer's wall time per step after warm-up, in ms. */
  stepTimeMs: ReturnType<typeof distribution>;
  /** The peer's held-out loss: [steps done, loss]. */
  lossCurve: [number, number][];
  /** Largest |suite - peer| / |peer| over every step's training loss. */
  maxRelativeLossDifference: number;
}

/**
 * Compares a peer's output with rank 0 of the suite's run.
 *
 * @param peer The peer's output.
 * @param rank0 The suite's rank 0.
 * @param warmup Steps left out of the timing.
 * @returns The comparison to record.
 */
export function comparePeer(
  peer: PeerOutput,
  rank0: RankRunResult,
  warmup: number,
): PeerComparison {
  const suite = rank0.steps.map((s) => s.loss);
  const diffs = suite.map((l, i) =>
    Math.abs(l - peer.losses[i]) / Math.max(Math.abs(peer.losses[i]), 1e-12)
  );
  return {
    name: "numpy",
    version: peer.numpy,
    blas: peer.blas,
    threads: peer.threads,
    stepTimeMs: distribution(peer.stepMs.slice(warmup)),
    lossCurve: peer.evals,
    maxRelativeLossDifference: Math.max(0, ...diffs.filter((d) => Number.isFinite(d))),
  };
}
