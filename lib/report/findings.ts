/**
 * What a report concludes: phantom against TP at every matching point (same p, n, L, b and
 * workload), as ratios of medians over repeats with bootstrap intervals and one plain sentence
 * each; the headline a site index shows; and the caveat where ranks shared devices. Pure.
 *
 * @module
 */

import { linkBitsPerS } from "../config/link_rate.ts";
import { gridSuffix } from "../config/config.ts";
import type { ResultsFile, RunResult } from "../results/results.ts";
import { median } from "../results/stats.ts";
import { hierarchicalBootstrapRatio } from "./repeat_stats.ts";
import { METRICS as REGISTRY, metricSpec } from "../results/metrics.ts";

/** The suite's metric registry by key: labels and exactness of the metrics it shares. */
const REGISTERED = new Map(REGISTRY.map((m) => [m.key, m]));

/** Runs that succeeded. */
export function ok(results: ResultsFile): RunResult[] {
  return results.runs.filter((r) => r.status === "ok" && r.metrics);
}

/** train, or inference. */
export const workloadOf = (
  r: RunResult,
) => (r.config.workload === "inference" ? "inference" : "train");

/** TP and phantom match when everything but the mode and k agrees. */
export function matchKey(r: RunResult): string {
  const c = r.config;
  const replicas = gridSuffix(c);
  return `p${c.ranks}${replicas}-n${c.width}-L${c.layers}-b${c.batch}${
    workloadOf(r) === "inference" ? "-inference" : ""
  }${r.projected ? `-projected-${r.projected.profile}` : ""}${
    c.link !== undefined ? `-link-${c.link ?? "none"}` : ""
  }`;
}

/** "measured", or "projected: PROFILE". */
export function sourceOf(r: RunResult): string {
  return r.projected ? `projected: ${r.projected.profile}` : "measured";
}

/** One metric of a phantom/TP comparison. */
export interface Ratio {
  /** Key, e.g. `stepTime`. */
  metric: string;
  /** Human label. */
  label: string;
  /** median(phantom) / median(TP) over repeats; null when not available (see `why`). */
  ratio: number | null;
  /** 95% bootstrap interval over repeats; null with fewer than two repeats a side. */
  ci: [number, number] | null;
  /** Repeats on each side (phantom, TP). */
  repeats: [number, number];
  /** Why there is no ratio. */
  why?: string;
  /** Projections: the ratio in the profile's optimistic and pessimistic bands. */
  bands?: { optimistic: number; pessimistic: number };
}

/** Phantom/TP in a projection's optimistic and pessimistic bands. */
function bandRatios(
  phantom: RunResult,
  tp: RunResult,
  key: "stepTimeMs" | "joulesPerStep",
): { optimistic: number; pessimistic: number } | undefined {
  const pb = phantom.projected!.bands;
  const tb = tp.projected!.bands;
  const r = (band: string) => {
    const [a, b] = [pb[band]?.[key], tb[band]?.[key]];
    return a == null || b == null || b === 0 ? null : a / b;
  };
  const [o, p] = [r("optimistic"), r("pessimistic")];
  return o === null || p === null ? undefined : { optimistic: o, pessimistic: p };
}

/** The comparison at one matching point. */
export interface Finding {
  key: string;
  ranks: number;
  workload: "train" | "inference";
  /** "p = 8, n = 1024, L = 2, b = 128". */
  label: string;
  /** The link rate of an emulated network (network sweep; null: unshaped), else absent. */
  link?: string | null;
  ratios: Ratio[];
  /** One plain sentence. */
  sentence: string;
}

interface MetricDef {
  metric: string;
  label: string;
  /** What the ratio describes in a sentence ("the step time"). */
  noun: string;
  value(r: RunResult): number | null;
  /** Why a run lacks it. */
  missing(r: RunResult): string;
  workloads: ("train" | "inference")[];
}

const METRICS: MetricDef[] = [
  {
    metric: "stepTimeMs",
    label: metricSpec("stepTimeMs").label,
    noun: "the step time",
    value: (r) => r.metrics!.stepTimeMs.median,
    missing: () => "no timed steps",
    workloads: ["train"],
  },
  {
    metric: "latency",
    label: "latency per batch",
    noun: "the latency per batch",
    value: (r) => r.metrics!.inference?.latencyMs.median ?? null,
    missing: () => "no inference latency",
    workloads: ["inference"],
  },
  {
    metric: "bytesSentPerRankPerStep",
    label: metricSpec("bytesSentPerRankPerStep").label,
    noun: "the bytes per rank",
    value: (r) => r.metrics!.bytesSentPerRankPerStep,
    missing: () => "no bytes",
    workloads: ["train", "inference"],
  },
  {
    metric: "joulesPerStep",
    label: metricSpec("joulesPerStep").label,
    noun: "the energy per step",
    value: (r) => r.metrics!.energy.joulesPerStep?.median ?? null,
    missing: (r) =>
      r.metrics!.energy.unavailableReason ??
        `not measured on this host (power backend ${r.metrics!.energy.backend})`,
    workloads: ["train"],
  },
  {
    metric: "energyPerSample",
    label: "energy per sample",
    noun: "the energy per sample",
    value: (r) => r.metrics!.inference?.energyPerSampleJ ?? null,
    missing: (r) =>
      r.metrics!.energy.unavailableReason ??
        `not measured on this host (power backend ${r.metrics!.energy.backend})`,
    workloads: ["inference"],
  },
  {
    metric: "memory",
    label: "memory per rank",
    noun: "the memory per rank",
    value: (r) => r.metrics!.memory?.peakTensorBytesPerRank ?? null,
    missing: () => "not recorded in this file",
    workloads: ["train", "inference"],
  },
  {
    metric: "timeToTarget",
    label: "time to target",
    noun: "the time to the target loss",
    value: (r) => r.metrics!.loss?.timeToTargetMs ?? null,
    missing: (
      r,
    ) => (r.metrics!.loss ? "target not reached" : "no loss curve (a projection without --curves)"),
    workloads: ["train"],
  },
  {
    metric: "energyToTarget",
    label: "energy to target",
    noun: "the energy to the target loss",
    value: (r) => r.metrics!.loss?.energyToTargetJ ?? null,
    missing: (r) =>
      r.metrics!.loss?.timeToTargetMs == null ? "target not reached" : "energy not measured",
    workloads: ["train"],
  },
];

/**
 * A 95% bootstrap interval of median(a) / median(b), resampling each side's values (seeded: the
 * same data give the same interval).
 *
 * @param a Values of one side (e.g. per-repeat medians).
 * @param b Values of the other.
 * @param iterations Resamples. @default 2000
 * @returns [low, high], or null with fewer than two values a side.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bootstrapRatio } from "./findings.ts";
 * const [lo, hi] = bootstrapRatio([50, 52, 49], [100, 98, 103])!;
 * assert(lo > 0.45 && hi < 0.55);
 * ```
 */
export function bootstrapRatio(
  a: number[],
  b: number[],
  iterations = 2000,
): [number, number] | null {
  if (a.length < 2 || b.length < 2) return null;
  // The bootstrap compare uses, with each repeat's value as a run of one sample.
  const { low, high } = hierarchicalBootstrapRatio(b.map((x) => [x]), a.map((x) => [x]), {
    iterations,
  });
  return [low, high];
}

/**
 * A sentence for runs whose ranks outnumbered their node's devices (GPUs on webgpu, else CPU
 * cores): there step time and energy measure ranks time-sharing a device, not scaling across
 * devices, and a reader of a published report should not have to work that out from placements.
 *
 * @param results A results file.
 * @returns The sentence, or null where every run had a device per rank.
 */
export function sharingNote(results: ResultsFile): string | null {
  const env = results.environment as {
    cpu?: { cores?: number };
    gpus?: { name?: string }[];
  };
  const cores = env.cpu?.cores ?? 0;
  const gpus = env.gpus ?? [];
  const shared = new Map<number, { most: number; devices: number; gpu: boolean }>();
  for (const r of results.runs) {
    const p = r.config.ranks;
    if (r.status !== "ok" || r.projected || p < 2) continue;
    const gpu = r.config.backend === "webgpu";
    const devices = gpu ? Math.max(1, gpus.length) : cores;
    if (devices <= 0) continue;
    // Ranks per node from the placements (NATS runs); in-process runs keep every rank here.
    const perNode = new Map<string, number>();
    for (const place of r.placement ?? []) {
      perNode.set(place.node, (perNode.get(place.node) ?? 0) + 1);
    }
    const most = perNode.size ? Math.max(...perNode.values()) : p;
    if (most > devices) {
      shared.set(p, { most: Math.max(most, shared.get(p)?.most ?? 0), devices, gpu });
    }
  }
  if (shared.size === 0) return null;
  const ps = [...shared.keys()].sort((a, b) => a - b);
  const { devices, gpu } = shared.get(ps[0])!;
  const most = Math.max(...[...shared.values()].map((v) => v.most));
  const what = gpu
    ? `${devices === 1 ? "one GPU" : `${devices} GPUs`}${gpus[0]?.name ? ` (${gpus[0].name})` : ""}`
    : `${devices} CPU cores`;
  return `At p = ${
    ps.join(", ")
  } ranks outnumbered their node's devices (up to ${most} ranks on ${what}): ` +
    "step time and energy there measure ranks sharing devices, not scaling across them.";
}

/**
 * The headline: phantom against TP at every point where both ran (same p, n, L, b, workload).
 *
 * @param results The results.
 * @returns One finding per matching point, in rank order.
 */
export function findings(results: ResultsFile): Finding[] {
  const runs = ok(results);
  const groups = new Map<string, { tp: RunResult[]; phantom: RunResult[] }>();
  for (const r of runs) {
    if (r.config.mode !== "tp" && r.config.mode !== "phantom") continue;
    const g = groups.get(matchKey(r)) ?? { tp: [], phantom: [] };
    g[r.config.mode as "tp" | "phantom"].push(r);
    groups.set(matchKey(r), g);
  }
  const out: Finding[] = [];
  for (const [key, g] of groups) {
    if (g.tp.length === 0 || g.phantom.length === 0) continue;
    const c = g.tp[0].config;
    const workload = workloadOf(g.tp[0]);
    const ratios = METRICS.filter((m) => m.workloads.includes(workload)).map((m): Ratio => {
      const ph = g.phantom.map(m.value);
      const tp = g.tp.map(m.value);
      const repeats: [number, number] = [ph.length, tp.length];
      const base = { metric: m.metric, label: m.label, repeats };
      if (m.metric === "joulesPerStep" || m.metric.startsWith("energy")) {
        const methods = new Set([...g.phantom, ...g.tp].map((r) => r.metrics!.energy.method));
        if (methods.size > 1) {
          return {
            ...base,
            ratio: null,
            ci: null,
            why: `energy methods differ (${[...methods].join(", ")})`,
          };
        }
      }
      const missingPh = g.phantom.find((_, i) => ph[i] === null);
      const missingTp = g.tp.find((_, i) => tp[i] === null);
      if (missingPh || missingTp) {
        const why = missingPh && missingTp
          ? m.missing(missingTp)
          : missingPh
          ? `phantom: ${m.missing(missingPh)}`
          : `TP: ${m.missing(missingTp!)}`;
        return { ...base, ratio: null, ci: null, why };
      }
      const den = median(tp as number[]);
      const exact = m.metric === "memory" || REGISTERED.get(m.metric)?.kind === "exact";
      const bands = g.phantom[0].projected && g.tp[0].projected &&
          (m.metric === "stepTimeMs" || m.metric === "joulesPerStep")
        ? bandRatios(
          g.phantom[0],
          g.tp[0],
          m.metric,
        )
        : undefined;
      return {
        ...base,
        ratio: den === 0 ? null : median(ph as number[]) / den,
        ci: exact ? null : bootstrapRatio(ph as number[], tp as number[]),
        ...(den === 0 ? { why: "TP's value is 0" } : {}),
        ...(bands ? { bands } : {}),
      };
    });
    const projected = g.tp[0].projected ? `, projected on ${g.tp[0].projected.profile}` : "";
    // The network sweep: runs on different links are different comparisons.
    const link = c.link !== undefined ? `, links ${c.link ?? "unshaped"}` : "";
    const dp = typeof c.replicas === "number" && c.replicas > 1
      ? ` x ${c.replicas} replicas${c.placement === "dp-inner" ? " (dp-inner)" : ""}${
        c.overlap === true ? " (overlapped)" : ""
      }`
      : "";
    const label = `p = ${c.ranks}${dp}, n = ${c.width}, L = ${c.layers}, b = ${c.batch}${
      workload === "inference" ? ", inference" : ""
    }${link}${projected}`;
    out.push({
      key,
      ranks: c.ranks,
      workload,
      label,
      ...(c.link !== undefined ? { link: c.link as string | null } : {}),
      ratios,
      sentence: sentence(label, ratios, g.phantom[0]),
    });
  }
  // Links from unshaped to the slowest, then by key.
  const speed = (f: Finding) =>
    f.link === undefined ? 0 : f.link === null ? -Infinity : -(linkBitsPerS(f.link) ?? 0);
  return out.sort((a, b) => a.ranks - b.ranks || speed(a) - speed(b) || a.key.localeCompare(b.key));
}

/**
 * The finding a site index shows for a results file: the one with the most ranks (p = 1 says
 * nothing about parallelism), and among those the tightest step-time interval.
 *
 * @param results A results file.
 * @returns Its headline finding, or undefined where no point with p > 1 ran both schemes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixtureResults } from "../testing/results_fixture.ts";
 * import { headlineFinding } from "./findings.ts";
 * const results = fixtureResults([
 *   { point: "tp-p1", ranks: 1 }, { point: "phantom-p1", mode: "phantom", ranks: 1 },
 *   { point: "tp-p4", ranks: 4 }, { point: "phantom-p4", mode: "phantom", ranks: 4 },
 * ]);
 * assert.equal(headlineFinding(results)?.ranks, 4);
 * ```
 */
export function headlineFinding(results: ResultsFile): Finding | undefined {
  const width = (f: Finding) => {
    const time = f.ratios.find((r) => r.metric === "stepTimeMs" || r.metric === "latency");
    return time?.ci ? time.ci[1] - time.ci[0] : Infinity;
  };
  return findings(results).filter((f) => f.ranks > 1)
    .sort((a, b) => b.ranks - a.ranks || width(a) - width(b))[0];
}

/** A ratio in a sentence: two decimals, or two significant digits below 0.1 (never "0.00x"). */
function ratioText(v: number): string {
  return Math.abs(v) >= 0.1 || v === 0 ? v.toFixed(2) : v.toPrecision(2);
}

function sentence(label: string, ratios: Ratio[], phantom: RunResult): string {
  const get = (m: string) => ratios.find((r) => r.metric === m);
  const x = (r: Ratio) => `${ratioText(r.ratio!)}x`;
  const ci = (r: Ratio) => (r.ci ? ` (95% CI ${r.ci[0].toFixed(2)}–${r.ci[1].toFixed(2)})` : "");
  const method = phantom.metrics!.energy.method;
  const clauses: string[] = [];
  const notes: string[] = [];
  const time = get("stepTimeMs") ?? get("latency");
  if (time?.ratio != null) {
    clauses.push(
      `took ${x(time)} TP's ${time.metric === "latency" ? "latency per batch" : "step time"}${
        ci(time)
      }`,
    );
  } else if (time) notes.push(`${time.label} not compared (${time.why})`);
  const energy = get("joulesPerStep") ?? get("energyPerSample");
  const band = (r: Ratio) => {
    if (!r.bands) return "";
    const [lo, hi] = [
      ratioText(Math.min(r.bands.optimistic, r.bands.pessimistic)),
      ratioText(Math.max(r.bands.optimistic, r.bands.pessimistic)),
    ];
    return lo === hi
      ? ` (the same in the profile's optimistic and pessimistic bands)`
      : ` (${lo}–${hi}x over the profile's bands)`;
  };
  if (energy?.ratio != null) {
    clauses.push(`used ${x(energy)} its ${energy.label} (${method})${ci(energy)}${band(energy)}`);
  } else if (energy) notes.push(`${energy.label}: ${energy.why}`);
  const bytes = get("bytesSentPerRankPerStep");
  const memory = get("memory");
  const sizes = [
    bytes?.ratio != null ? `sent ${x(bytes)} the bytes` : "",
    memory?.ratio != null ? `held ${x(memory)} the memory per rank` : "",
  ].filter(Boolean);
  if (sizes.length) clauses.push(sizes.join(" and "));
  const tt = get("timeToTarget");
  if (tt?.ratio != null) clauses.push(`reached the target loss in ${x(tt)} TP's time`);
  else if (tt) {
    notes.push(
      tt.why === "target not reached"
        ? "neither reached the target loss"
        : `time to target: ${tt.why}`,
    );
  }
  const reps = Math.min(...ratios.map((r) => Math.min(...r.repeats)));
  const head = `At ${label} (k = ${phantom.config.phantomWidth}${
    reps > 1 ? `, ${reps} repeats each` : ""
  })`;
  const p1 = phantom.config.ranks === 1
    ? " At p = 1 phantom is the same dense model as TP: the ratios show run-to-run noise."
    : "";
  return `${head}, phantom ${
    clauses.length ? listJoin(clauses) : "had no figure comparable with TP"
  }${notes.length ? `; ${notes.join("; ")}` : ""}.${p1}`;
}

function listJoin(parts: string[]): string {
  if (parts.length <= 1) return parts.join("");
  return `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}
