/**
 * The suite's built-in sweeps. Each is data; `expandSweep` (lib/sweep.ts) turns it into points.
 *
 * @module
 */

import type { Sweep } from "./sweep.ts";

const POWERS_OF_TWO = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** TP and phantom at fixed n, k, b, L for ranks 1 to 256. */
export const scaling: Sweep = {
  id: "scaling",
  version: 1,
  description: "TP vs phantom at fixed n=1024, k=4, b=32, L=2 for p = 1 ... 256",
  base: { width: 1024, phantomWidth: 4, layers: 2, batch: 32, steps: 20, task: { evalEvery: 5 } },
  axes: { mode: ["tp", "phantom"], ranks: POWERS_OF_TWO },
  repeats: 1,
  warmup: 3,
  quick: { base: { steps: 6, task: { evalEvery: 3 } }, axes: { ranks: [1, 2, 4, 8] }, warmup: 1 },
};

/** Phantom width k and layer width n at fixed p. */
export const width: Sweep = {
  id: "width",
  version: 1,
  description: "phantom at p=4 over layer width n and phantom width k",
  base: { mode: "phantom", ranks: 4, layers: 2, batch: 32, steps: 20, task: { evalEvery: 5 } },
  axes: { width: [256, 512, 1024, 2048], phantomWidth: [1, 4, 16, 64] },
  repeats: 1,
  warmup: 3,
  quick: {
    base: { steps: 6, task: { evalEvery: 3 } },
    axes: { width: [256, 512], phantomWidth: [1, 16, 64] },
    warmup: 1,
  },
};

/**
 * Training to a target loss: a wide TP model on many ranks against smaller phantom models on few
 * ranks (the paper's "small phantom model on few GPUs vs large TP model on many GPUs").
 */
export const toTarget: Sweep = {
  id: "to-target",
  version: 1,
  description:
    "steps, time and energy to a held-out MSE of 0.15: TP n=1024 p=8 vs TP and phantom n=256-512 p=2",
  base: {
    layers: 2,
    batch: 64,
    steps: 200,
    optimizer: { name: "adam", learningRate: 0.002 },
    task: { evalEvery: 5 },
  },
  axes: {
    variant: [
      { mode: "tp", ranks: 8, width: 1024 },
      { mode: "tp", ranks: 2, width: 256 },
      { mode: "phantom", ranks: 2, width: 256, phantomWidth: 8 },
      { mode: "phantom", ranks: 2, width: 512, phantomWidth: 16 },
    ],
  },
  repeats: 1,
  warmup: 3,
  // Absolute: models start from different losses, so only an MSE target compares them.
  target: { kind: "absolute", value: 0.15 },
  quick: { base: { steps: 60 }, warmup: 1 },
};

/** What a bare `deno task bench` runs: a mix that exercises every table and chart. */
export const defaultSweep: Sweep = {
  id: "default",
  version: 1,
  description: "TP and phantom at p = 1, 2, 4, 8 (n=1024, k=16, b=128, L=2, 50 steps)",
  base: { width: 1024, phantomWidth: 16, layers: 2, batch: 128, steps: 50, task: { evalEvery: 5 } },
  axes: { mode: ["tp", "phantom"], ranks: [1, 2, 4, 8] },
  repeats: 1,
  warmup: 5,
  target: { kind: "absolute", value: 0.3 },
  quick: { base: { steps: 12, task: { evalEvery: 3 } }, warmup: 2 },
};

/** Sweeps by name. `comm` is the collective benchmark (bench/comm.ts), run by name too. */
export const SWEEPS: Record<string, Sweep> = {
  scaling,
  width,
  "to-target": toTarget,
  default: defaultSweep,
};
