/**
 * The flags that say what to run, shared by every command that runs or projects points
 * (`bench`, `project`): a sweep by name or file with its quick variant, filter and repeats, or a
 * single point (or a small product of points) given by axis flags. {@linkcode planFromFlags}
 * turns their values into a sweep and its expansion, and refuses an explicitly requested point
 * that cannot exist before anything starts.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { MODES, OPTIMIZERS, PLACEMENTS, WORKLOADS } from "../config/config.ts";
import {
  expandSweep,
  type Expansion,
  parseSweepFile,
  type Sweep,
  type TargetSpec,
} from "../config/sweep.ts";
import { SWEEPS } from "../config/sweeps.ts";
import { flag, type FlagValues, parseNumber, UsageError } from "./flags.ts";

/**
 * Parses a loss target: a fraction of the initial held-out loss (0.2) or an MSE (0.05abs).
 *
 * @param text The value.
 * @param name The flag, for the error.
 * @returns The target.
 * @throws {ConfigError} If it does not parse or the fraction is not below 1.
 */
export function parseTarget(text: string, name = "--target"): TargetSpec {
  const m = text.trim().match(/^(\d*\.?\d+(?:e-?\d+)?)(abs)?$/);
  const value = m ? Number(m[1]) : NaN;
  if (!m || !(value > 0) || (!m[2] && value >= 1)) {
    throw new ConfigError(
      name,
      text,
      "must be a fraction of the initial loss below 1 (0.2) or an MSE with abs (0.05abs)",
    );
  }
  return { kind: m[2] ? "absolute" : "fraction", value };
}

function parseSeed(text: string, name: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value > 0xffffffff) {
    throw new ConfigError(name, text, "must be an integer from 0 to 4294967295");
  }
  return value;
}

function parseLearningRate(text: string, name: string): number {
  const value = parseNumber(text, name);
  if (!(value > 0)) throw new ConfigError(name, text, "must be greater than 0");
  return value;
}

function parseSweepName(text: string, name: string): Sweep {
  if (text === "comm") {
    throw new ConfigError(
      name,
      text,
      "is not a sweep: the collective benchmark runs with deno task bench:comm",
    );
  }
  if (SWEEPS[text]) return SWEEPS[text];
  if (!text.endsWith(".json")) {
    throw new ConfigError(
      name,
      text,
      `must be one of ${Object.keys(SWEEPS).join(", ")} or a .json file`,
    );
  }
  let body: string;
  try {
    body = Deno.readTextFileSync(text);
  } catch (error) {
    throw new ConfigError(name, text, `cannot be read as JSON: ${(error as Error).message}`);
  }
  return parseSweepFile(body, text);
}

const SWEEP = "Sweep options";
const POINT =
  "Point options (any of --mode, --ranks, --width, --phantom-width, --layers, --batch runs a single point or their product instead of a sweep)";

/** The flags choosing what to run. */
export const SWEEP_FLAGS = {
  sweep: flag.custom(parseSweepName, "NAME|FILE")({
    group: SWEEP,
    help: `a built-in sweep (${Object.keys(SWEEPS).join(", ")}) or a JSON sweep file (the ` +
      "collective benchmark is deno task bench:comm)",
    defaultHelp: "default",
  }),
  quick: flag.bool({ group: SWEEP, help: "the sweep's quick variant (fewer steps and points)" }),
  filter: flag.string({
    group: SWEEP,
    arg: "EXPR",
    help: "keep points matching all conditions, e.g. mode=phantom,ranks<=8",
  }),
  repeats: flag.int({ group: SWEEP, help: "repeats of every point", defaultHelp: "the sweep's" }),
  workload: flag.listOf(WORKLOADS)({
    group: SWEEP,
    help: "train, or inference (forward passes on held-out batches: latency, throughput, " +
      "energy per sample); several values make an axis of a point run",
    defaultHelp: "the sweep's; else train",
  }),
  mode: flag.listOf(MODES)({
    group: POINT,
    help: "parallelisation of the hidden layers, one or several",
    defaultHelp: "tp,phantom",
  }),
  ranks: flag.intList({
    group: POINT,
    help: "ranks p, one or several; p must divide the width",
    defaultHelp: "1",
  }),
  overlap: flag.bool({
    group: POINT,
    help: "with --replicas: start each layer's gradient all-reduce during the backward pass",
  }),
  placement: flag.oneOf(PLACEMENTS)({
    group: POINT,
    help: "with --replicas: mp-inner packs each replica's model-parallel group on a node or " +
      "worker process, dp-inner packs each data-parallel group instead",
    defaultHelp: "mp-inner",
  }),
  width: flag.int({ group: POINT, help: "hidden width n", defaultHelp: "1024" }),
  "phantom-width": flag.int({
    group: POINT,
    arg: "K",
    help: "ghost neurons per rank, 1 <= K < n/p (phantom only)",
    defaultHelp: "16",
  }),
  layers: flag.int({ group: POINT, arg: "L", help: "hidden-to-hidden layers", defaultHelp: "2" }),
  replicas: flag.intList({
    group: POINT,
    arg: "D",
    help: "data-parallel replicas d of every point, one or several: d x p ranks, the global " +
      "batch d x B split over the replicas, gradients averaged",
    defaultHelp: "1",
  }),
  batch: flag.int({ group: POINT, arg: "B", help: "mini-batch rows", defaultHelp: "128" }),
  "input-width": flag.int({ group: POINT, help: "input width d_in", defaultHelp: "32" }),
  "output-width": flag.int({ group: POINT, help: "output width d_out", defaultHelp: "16" }),
  steps: flag.int({
    group: POINT,
    help: "training steps",
    defaultHelp: "the sweep's; a point: 50, --quick 12",
  }),
  warmup: flag.count({
    group: POINT,
    help: "steps left out of timing",
    defaultHelp: "the sweep's; a point: 5, --quick 2",
  }),
  seed: flag.custom(parseSeed, "S")({
    group: POINT,
    help: "seed of weights, batches and teacher",
    defaultHelp: "1",
  }),
  optimizer: flag.oneOf(OPTIMIZERS)({ group: POINT, help: "optimizer", defaultHelp: "adam" }),
  lr: flag.custom(parseLearningRate, "X")({
    group: POINT,
    help: "learning rate",
    defaultHelp: "0.001",
  }),
  target: flag.custom(parseTarget, "X|Xabs")({
    group: POINT,
    help: "loss target: a fraction of the initial held-out loss (0.2) or an MSE (0.05abs)",
    defaultHelp: "the sweep's; else 0.5",
  }),
};

/** The flags that turn a sweep into a single point (or a product of points). */
export const POINT_FLAGS = ["mode", "ranks", "width", "phantom-width", "layers", "batch"] as const;

/** What to run. */
export interface SweepPlan {
  /** The sweep (a generated `point` sweep for point flags). */
  sweep: Sweep;
  /** Whether the points were requested explicitly with point flags. */
  single: boolean;
  /** Fields forced onto every point (e.g. the backend). */
  overrides: Record<string, unknown>;
}

/**
 * Builds the sweep that the flags ask for.
 *
 * @param values Parsed {@linkcode SWEEP_FLAGS} values.
 * @param given The flags given on the command line.
 * @param overrides Fields forced onto every point besides those flags set (e.g. backend).
 * @returns The plan.
 * @throws {ConfigError} If --sweep is combined with point flags.
 */
export function planFromFlags(
  values: FlagValues<typeof SWEEP_FLAGS>,
  given: Set<string>,
  overrides: Record<string, unknown> = {},
): SweepPlan {
  const single = POINT_FLAGS.some((f) => given.has(f));
  if (single && values.sweep) {
    throw new ConfigError(
      "--sweep",
      given.has("sweep") ? values.sweep.id : "",
      "cannot be combined with point options (--mode, --ranks, ...)",
    );
  }
  const fields: Record<string, unknown> = { ...overrides };
  if (values.seed !== undefined) fields.seed = values.seed;
  if (values.lr !== undefined || values.optimizer !== undefined) {
    fields.optimizer = { name: values.optimizer ?? "adam", learningRate: values.lr ?? 0.001 };
  }
  if (values.steps !== undefined) fields.steps = values.steps;
  if (values.placement !== undefined) fields.placement = values.placement;
  if (values.overlap) fields.overlap = true;
  // A list flag over a sweep sets one field of every point: one value only.
  const one = <T>(flag: string, list: T[]) => {
    if (list.length > 1) {
      throw new ConfigError(flag, list.join(","), "takes one value with a sweep");
    }
    return list[0];
  };
  if (values.replicas !== undefined && !single) {
    fields.replicas = one("--replicas", values.replicas);
  }
  if (values.workload !== undefined && !single) {
    fields.workload = one("--workload", values.workload);
  }
  if (values["input-width"] !== undefined) fields.inputWidth = values["input-width"];
  if (values["output-width"] !== undefined) fields.outputWidth = values["output-width"];
  let sweep = single ? pointSweep(values) : values.sweep ?? SWEEPS.default;
  if (values.warmup !== undefined) {
    sweep = { ...sweep, warmup: values.warmup, quick: { ...sweep.quick, warmup: values.warmup } };
  }
  if (values.target) sweep = { ...sweep, target: values.target };
  return { sweep, single, overrides: fields };
}

function pointSweep(values: FlagValues<typeof SWEEP_FLAGS>): Sweep {
  const steps = values.steps ?? (values.quick ? 12 : 50);
  return {
    id: "point",
    version: 1,
    description: "points from command-line options",
    base: {
      width: values.width ?? 1024,
      layers: values.layers ?? 2,
      batch: values.batch ?? 128,
      inputWidth: 32,
      outputWidth: 16,
      phantomWidth: values["phantom-width"] ?? 16,
      steps,
      task: { evalEvery: Math.max(1, Math.floor(steps / 10)) },
    },
    axes: {
      mode: values.mode ?? ["tp", "phantom"],
      ranks: values.ranks ?? [1],
      ...(values.replicas ? { replicas: values.replicas } : {}),
      ...(values.workload ? { workload: values.workload } : {}),
    },
    repeats: 1,
    warmup: values.quick ? 2 : 5,
  };
}

/**
 * Expands a plan's sweep. Points requested explicitly must all be able to run: one that cannot
 * is an error (a sweep excludes it with the reason instead).
 *
 * @param plan The plan (not the collective benchmark).
 * @param values The sweep flags (quick, repeats, filter).
 * @returns The expansion.
 * @throws {UsageError} Naming the first requested point that cannot run, and why.
 */
export function expandPlan(
  plan: SweepPlan & { sweep: Sweep },
  values: Pick<FlagValues<typeof SWEEP_FLAGS>, "quick" | "repeats" | "filter">,
): Expansion {
  const expansion = expandSweep(plan.sweep, {
    quick: values.quick,
    repeats: values.repeats,
    filter: values.filter,
    overrides: plan.overrides,
  });
  if (plan.single && expansion.excluded.length > 0) {
    const [first] = expansion.excluded;
    throw new UsageError(`cannot run the requested point ${first.point}: ${first.reason}`);
  }
  return expansion;
}
