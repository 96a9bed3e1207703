/**
 * What a report says, as data: the headline comparison of phantom against TP at every matching
 * point (ratios with bootstrap intervals over repeats, and one plain sentence each), the tables
 * (typed cells, so the same table becomes HTML, CSV or LaTeX), and the charts as Chart.js
 * configurations of plain JSON (so the page and `--figures` draw the same figure), each either
 * drawable or omitted with the reason. Pure: no DOM, no files.
 *
 * @module
 */

import { Rng } from "../nn/rng.ts";
import type { ResultsFile, RunResult } from "../results/results.ts";
import { median, percentile } from "../results/stats.ts";
import { formatBytes } from "../results/units.ts";

/** Okabe-Ito, a colorblind-safe palette; TP and phantom always get the first two. */
export const PALETTE = [
  "#0072B2",
  "#D55E00",
  "#009E73",
  "#CC79A7",
  "#E69F00",
  "#56B4E9",
  "#000000",
];
/** Color of each mode, the same in every figure. */
export const MODE_COLORS: Record<string, string> = {
  tp: "#0072B2",
  phantom: "#D55E00",
  serial: "#009E73",
};
/** The font of every figure, in the page and in --figures alike. */
export const FONT_FAMILY = "DejaVu Sans, Helvetica, Arial, sans-serif";

/** A table column. */
export interface Column {
  label: string;
  /** Unit shown in the header. */
  unit?: string;
  /** Right-aligned numbers. */
  numeric?: boolean;
}

/** A table cell: its text, and for numbers the value (CSV keeps full precision). */
export interface Cell {
  text: string;
  value?: number | null;
  /** A note shown on hover. */
  title?: string;
}

/** A table. */
export interface Table {
  id: string;
  caption: string;
  columns: Column[];
  rows: Cell[][];
}

/** A chart: a Chart.js configuration of plain JSON, or why it is left out. */
export type ChartSpec =
  & { id: string; title: string; section: string }
  & ({ config: Record<string, unknown> } | { omitted: string });

/**
 * Numbers at three significant digits, plainly (no exponent below 1e6).
 *
 * @param v A number.
 * @param digits Significant digits. @default 3
 * @returns The text, or "–" for null, undefined or non-finite.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fmt } from "./report_model.ts";
 * assert.equal(fmt(0.123456), "0.123");
 * assert.equal(fmt(1234.5), "1235");
 * assert.equal(fmt(null), "–");
 * ```
 */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 10 ** digits) return Math.round(v).toString();
  return Number(v.toPrecision(digits)).toString();
}

const num = (v: number | null | undefined, digits = 3): Cell => ({
  text: fmt(v, digits),
  value: v ?? null,
});
const text = (t: unknown): Cell => ({ text: String(t) });
const bytes = (v: number | null | undefined): Cell =>
  v == null ? { text: "–", value: null } : { text: formatBytes(v), value: v };

/** Runs that succeeded. */
function ok(results: ResultsFile): RunResult[] {
  return results.runs.filter((r) => r.status === "ok" && r.metrics);
}

const workloadOf = (r: RunResult) => (r.config.workload === "inference" ? "inference" : "train");

/** TP and phantom match when everything but the mode and k agrees. */
export function matchKey(r: RunResult): string {
  const c = r.config;
  return `p${c.ranks}-n${c.width}-L${c.layers}-b${c.batch}${
    workloadOf(r) === "inference" ? "-inference" : ""
  }${r.projected ? `-projected-${r.projected.profile}` : ""}`;
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
    metric: "stepTime",
    label: "step time",
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
    metric: "bytes",
    label: "bytes sent per rank",
    noun: "the bytes per rank",
    value: (r) => r.metrics!.bytesSentPerRankPerStep,
    missing: () => "no bytes",
    workloads: ["train", "inference"],
  },
  {
    metric: "energy",
    label: "energy per step",
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
 * import { bootstrapRatio } from "./report_model.ts";
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
  const rng = new Rng(0x5eed + a.length * 31 + b.length);
  const pick = (xs: number[]) => xs.map(() => xs[Math.floor(rng.uniform() * xs.length)]);
  const ratios: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const den = median(pick(b));
    if (den !== 0) ratios.push(median(pick(a)) / den);
  }
  return [percentile(ratios, 0.025), percentile(ratios, 0.975)];
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
      if (m.metric.startsWith("energy")) {
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
      const exact = m.metric === "bytes" || m.metric === "memory";
      const bands = g.phantom[0].projected && g.tp[0].projected &&
          (m.metric === "stepTime" || m.metric === "energy")
        ? bandRatios(
          g.phantom[0],
          g.tp[0],
          m.metric === "stepTime" ? "stepTimeMs" : "joulesPerStep",
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
    const label = `p = ${c.ranks}, n = ${c.width}, L = ${c.layers}, b = ${c.batch}${
      workload === "inference" ? ", inference" : ""
    }${projected}`;
    out.push({
      key,
      ranks: c.ranks,
      workload,
      label,
      ratios,
      sentence: sentence(label, ratios, g.phantom[0]),
    });
  }
  return out.sort((a, b) => a.ranks - b.ranks || a.key.localeCompare(b.key));
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
 * import { headlineFinding } from "./report_model.ts";
 * const results = fixtureResults([
 *   { point: "tp-p1", ranks: 1 }, { point: "phantom-p1", mode: "phantom", ranks: 1 },
 *   { point: "tp-p4", ranks: 4 }, { point: "phantom-p4", mode: "phantom", ranks: 4 },
 * ]);
 * assert.equal(headlineFinding(results)?.ranks, 4);
 * ```
 */
export function headlineFinding(results: ResultsFile): Finding | undefined {
  const width = (f: Finding) => {
    const time = f.ratios.find((r) => r.metric === "stepTime" || r.metric === "latency");
    return time?.ci ? time.ci[1] - time.ci[0] : Infinity;
  };
  return findings(results).filter((f) => f.ranks > 1)
    .sort((a, b) => b.ranks - a.ranks || width(a) - width(b))[0];
}

function sentence(label: string, ratios: Ratio[], phantom: RunResult): string {
  const get = (m: string) => ratios.find((r) => r.metric === m);
  const x = (r: Ratio) => `${r.ratio!.toFixed(2)}x`;
  const ci = (r: Ratio) => (r.ci ? ` (95% CI ${r.ci[0].toFixed(2)}–${r.ci[1].toFixed(2)})` : "");
  const method = phantom.metrics!.energy.method;
  const clauses: string[] = [];
  const notes: string[] = [];
  const time = get("stepTime") ?? get("latency");
  if (time?.ratio != null) {
    clauses.push(
      `took ${x(time)} TP's ${time.metric === "latency" ? "latency per batch" : "step time"}${
        ci(time)
      }`,
    );
  } else if (time) notes.push(`${time.label} not compared (${time.why})`);
  const energy = get("energy") ?? get("energyPerSample");
  const band = (r: Ratio) =>
    r.bands
      ? ` (${Math.min(r.bands.optimistic, r.bands.pessimistic).toFixed(2)}–${
        Math.max(r.bands.optimistic, r.bands.pessimistic).toFixed(2)
      }x over the profile's bands)`
      : "";
  if (energy?.ratio != null) {
    clauses.push(`used ${x(energy)} its ${energy.label} (${method})${ci(energy)}${band(energy)}`);
  } else if (energy) notes.push(`${energy.label}: ${energy.why}`);
  const bytes = get("bytes");
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

/** The summary as a table (ratios with intervals). */
export function summaryTable(found: Finding[]): Table {
  const metrics = [...new Set(found.flatMap((f) => f.ratios.map((r) => r.metric)))];
  const label = (m: string) => METRICS.find((d) => d.metric === m)!.label;
  return {
    id: "ratios",
    caption:
      "Phantom / TP at matching points (median over repeats; 95% bootstrap interval where there are repeats)",
    columns: [
      { label: "point" },
      ...metrics.map((m) => ({ label: label(m), unit: "phantom/TP", numeric: true })),
    ],
    rows: found.map((f) => [
      text(f.label),
      ...metrics.map((m) => {
        const r = f.ratios.find((x) => x.metric === m);
        if (!r) return text("");
        if (r.ratio === null) return { text: "–", value: null, title: r.why };
        return {
          text: r.ci
            ? `${fmt(r.ratio, 3)} [${fmt(r.ci[0], 2)}, ${fmt(r.ci[1], 2)}]`
            : fmt(r.ratio, 3),
          value: r.ratio,
        };
      }),
    ]),
  };
}

/**
 * The paper's headline claim (about 50% less training energy than TP) at every projected
 * matching point: the nominal phantom/TP energy ratio, its range over the profile's bands, and
 * whether the claim holds there (the ratio at or below 0.5 across the bands, or only in some).
 *
 * @param found The findings.
 * @returns The table, or null without projected energy.
 */
export function paperClaimTable(found: Finding[]): Table | null {
  const rows = found.filter((f) =>
    f.label.includes("projected") && f.ratios.some((r) => r.metric === "energy" && r.ratio !== null)
  );
  if (rows.length === 0) return null;
  return {
    id: "paper-claim",
    caption: "The paper's claim, about 50% less training energy than TP, at each projected point",
    columns: [
      { label: "point" },
      { label: "energy phantom/TP", numeric: true },
      { label: "over the bands", numeric: true },
      { label: "step time phantom/TP", numeric: true },
      { label: "claim (≤ 0.5)" },
    ],
    rows: rows.map((f) => {
      const e = f.ratios.find((r) => r.metric === "energy")!;
      const s = f.ratios.find((r) => r.metric === "stepTime");
      const all = [e.ratio!, ...(e.bands ? [e.bands.optimistic, e.bands.pessimistic] : [])];
      const [lo, hi] = [Math.min(...all), Math.max(...all)];
      const verdict = hi <= 0.5
        ? "holds in every band"
        : lo <= 0.5
        ? "holds in some bands"
        : "does not hold";
      return [
        text(f.label),
        num(e.ratio),
        text(`${fmt(lo, 2)}–${fmt(hi, 2)}`),
        num(s?.ratio),
        text(verdict),
      ];
    }),
  };
}

/** Projected runs: where the step time goes, the bands, and the loss curve used. */
export function projectionTable(results: ResultsFile): Table | null {
  const runs = results.runs.filter((r) => r.projected);
  if (runs.length === 0) return null;
  return {
    id: "projection",
    caption:
      "Projected runs: the step time split into compute, collective host overhead, latency and bandwidth terms, and the bands",
    columns: [
      { label: "run" },
      { label: "profile" },
      { label: "step", unit: "ms", numeric: true },
      { label: "compute", unit: "ms", numeric: true },
      { label: "host", unit: "ms", numeric: true },
      { label: "latency", unit: "ms", numeric: true },
      { label: "bandwidth", unit: "ms", numeric: true },
      { label: "step optimistic – pessimistic", unit: "ms", numeric: true },
      { label: "energy", unit: "J/step", numeric: true },
      { label: "nodes", numeric: true },
      { label: "loss curve from" },
    ],
    rows: runs.map((r) => {
      const p = r.projected!;
      const b = p.breakdown;
      return [
        text(`${r.id} (projected)`),
        text(p.profile),
        num(r.metrics?.stepTimeMs.median),
        num(b.computeMs),
        num(b.hostMs),
        num(b.latencyMs),
        num(b.bandwidthMs),
        text(`${fmt(p.bands.optimistic?.stepTimeMs)} – ${fmt(p.bands.pessimistic?.stepTimeMs)}`),
        num(r.metrics?.energy.joulesPerStep?.median),
        num(p.nodes),
        text(r.status === "ok" ? p.lossCurveFrom ?? "none" : `${r.status}: ${r.error}`),
      ];
    }),
  };
}

/** A row of a phantom-width search, as stored in a projected file. */
interface KRow {
  point: string;
  k: number;
  stepsToTarget: number | null;
  from: string | null;
  stepTimeMs: number;
  energyToTargetJ: number | null;
  timeToTargetMs: number | null;
}

/** The phantom-width search of a projected file. */
export function kSearchTable(results: ResultsFile): Table | null {
  const rows = results.projection?.kSearch as unknown as KRow[] | undefined;
  if (!rows?.length) return null;
  return {
    id: "k-search",
    caption:
      "Phantom width k that minimises projected energy to target (steps to target measured at small scale, assumed to carry over)",
    columns: [
      { label: "point" },
      { label: "k", numeric: true },
      { label: "steps to target", numeric: true },
      { label: "step (projected)", unit: "ms", numeric: true },
      { label: "energy to target (projected)", unit: "J", numeric: true },
      { label: "time to target (projected)", unit: "ms", numeric: true },
      { label: "steps measured in" },
    ],
    rows: rows.map((r) => [
      text(r.point),
      num(r.k),
      r.stepsToTarget === null ? text("no measured run") : num(r.stepsToTarget),
      num(r.stepTimeMs),
      num(r.energyToTargetJ),
      num(r.timeToTargetMs),
      text(r.from ?? "–"),
    ]),
  };
}

/** Every run, one row each. */
export function runsTable(results: ResultsFile): Table {
  return {
    id: "runs",
    caption: "Every run (energy with the method that measured it)",
    columns: [
      { label: "run" },
      { label: "mode" },
      { label: "p", numeric: true },
      { label: "n", numeric: true },
      { label: "k", numeric: true },
      { label: "b", numeric: true },
      { label: "step time", unit: "ms", numeric: true },
      { label: "comm share", unit: "%", numeric: true },
      { label: "bytes sent / rank / step", numeric: true },
      { label: "predicted", numeric: true },
      { label: "memory / rank", numeric: true },
      { label: "energy / step", unit: "J", numeric: true },
      { label: "method" },
      { label: "loss: first → last", numeric: true },
      { label: "to target", unit: "steps", numeric: true },
    ],
    rows: results.runs.map((r) => {
      const c = r.config;
      const head = [
        text(r.projected ? `${r.id} (projected: ${r.projected.profile})` : r.id),
        text(c.mode),
        num(c.ranks),
        num(c.width),
        num(c.phantomWidth),
        num(c.batch),
      ];
      const m = r.metrics;
      if (r.status !== "ok" || !m) {
        return [
          ...head,
          { text: `${r.status}: ${r.error ?? ""}`, title: r.error },
          ...Array(8).fill(text("")),
        ];
      }
      const curve = m.loss?.curve;
      return [
        ...head,
        num(m.stepTimeMs.median),
        num((100 * m.commTimeMs.median) / m.stepTimeMs.median, 2),
        bytes(m.bytesSentPerRankPerStep),
        {
          ...bytes(m.predicted.bytesSentPerRankPerStep),
          title: m.bytesMatchPrediction ? "measured = predicted" : "MISMATCH",
        },
        bytes(m.memory?.peakTensorBytesPerRank),
        num(m.energy.joulesPerStep?.median),
        text(m.energy.method),
        curve
          ? text(`${fmt(curve[0][3])} → ${fmt(curve.at(-1)![3])}`)
          : text(m.inference ? "inference" : "–"),
        m.loss
          ? {
            text: m.loss.stepsToTarget == null ? "not reached" : String(m.loss.stepsToTarget),
            value: m.loss.stepsToTarget,
          }
          : text("–"),
      ];
    }),
  };
}

/** Memory per rank: measured against predicted, and the out-of-memory points. */
export function memoryTable(results: ResultsFile): Table | null {
  const rows = results.runs.filter((r) => r.metrics?.memory || r.status === "out-of-memory");
  if (rows.length === 0) return null;
  return {
    id: "memory",
    caption:
      "Peak tensor memory per rank (the most loaded rank), measured and predicted, and processes' peak resident memory",
    columns: [
      { label: "run" },
      { label: "mode" },
      { label: "p", numeric: true },
      { label: "n", numeric: true },
      { label: "measured", numeric: true },
      { label: "predicted", numeric: true },
      { label: "measured / predicted", numeric: true },
      { label: "ranks per engine", numeric: true },
      { label: "peak RSS (largest process)", numeric: true },
      { label: "status" },
    ],
    rows: rows.map((r) => {
      const m = r.metrics?.memory;
      const predicted = r.metrics?.predicted.memoryBytesPerRank ?? r.predictedMemoryBytesPerRank;
      return [
        text(r.id),
        text(r.config.mode),
        num(r.config.ranks),
        num(r.config.width),
        bytes(m?.peakTensorBytesPerRank),
        bytes(predicted),
        num(m && predicted ? m.peakTensorBytesPerRank / predicted : null),
        num(m?.ranksPerEngine),
        bytes(m ? Math.max(...m.peakRssBytes.map((p) => p.bytes)) : null),
        text(r.status === "out-of-memory" ? `out of memory: ${r.error}` : r.status),
      ];
    }),
  };
}

/** Inference runs: latency, throughput, energy per sample. */
export function inferenceTable(results: ResultsFile): Table | null {
  const runs = ok(results).filter((r) => r.metrics!.inference);
  if (runs.length === 0) return null;
  return {
    id: "inference",
    caption: "Inference: latency per batch (the slowest rank), throughput and energy per sample",
    columns: [
      { label: "run" },
      { label: "mode" },
      { label: "p", numeric: true },
      { label: "b", numeric: true },
      { label: "latency p50", unit: "ms", numeric: true },
      { label: "p99", unit: "ms", numeric: true },
      { label: "throughput", unit: "samples/s", numeric: true },
      { label: "bytes / rank / batch", numeric: true },
      { label: "energy / sample", unit: "J", numeric: true },
      { label: "method" },
    ],
    rows: runs.map((r) => {
      const m = r.metrics!;
      const i = m.inference!;
      return [
        text(r.id),
        text(r.config.mode),
        num(r.config.ranks),
        num(r.config.batch),
        num(i.latencyMs.median),
        num(i.latencyMs.p99),
        num(i.samplesPerSecond),
        bytes(m.bytesSentPerRankPerStep),
        num(i.energyPerSampleJ),
        text(m.energy.method),
      ];
    }),
  };
}

/** Loss to target, fastest first. */
export function targetTable(results: ResultsFile): Table | null {
  const runs = ok(results).filter((r) => r.metrics!.loss);
  if (runs.length === 0) return null;
  const key = (r: RunResult) => r.metrics!.loss!.timeToTargetMs ?? Infinity;
  return {
    id: "to-target",
    caption: "Loss to target, fastest first: models of different size and rank count side by side",
    columns: [
      { label: "run" },
      { label: "mode" },
      { label: "p", numeric: true },
      { label: "n", numeric: true },
      { label: "k", numeric: true },
      { label: "parameters", numeric: true },
      { label: "target MSE", numeric: true },
      { label: "steps", numeric: true },
      { label: "time", unit: "ms", numeric: true },
      { label: "energy", unit: "J", numeric: true },
      { label: "method" },
    ],
    rows: [...runs].sort((a, b) => key(a) - key(b)).map((r) => {
      const m = r.metrics!;
      const l = m.loss!;
      return [
        text(r.id),
        text(r.config.mode),
        num(r.config.ranks),
        num(r.config.width),
        num(r.config.phantomWidth),
        num(m.predicted.parametersTotal),
        num(l.target.absolute),
        l.stepsToTarget == null ? text("not reached") : num(l.stepsToTarget),
        num(l.timeToTargetMs),
        num(l.energyToTargetJ),
        text(m.energy.method),
      ];
    }),
  };
}

/** Energy per node and device, and why energy was unavailable where it was. */
export function energyTable(results: ResultsFile): Table | null {
  const rows: Cell[][] = [];
  for (const r of ok(results)) {
    const e = r.metrics!.energy;
    if (e.unavailableReason) {
      rows.push([text(r.id), text("unavailable"), { text: e.unavailableReason }]);
    }
    for (const n of e.nodes ?? []) {
      rows.push([text(r.id), text(`node ${n.node}`), num(n.joulesPerStep)]);
    }
    for (const d of e.devices ?? []) rows.push([text(r.id), text(d.name), num(d.joulesPerStep)]);
  }
  if (rows.length === 0) return null;
  return {
    id: "energy-breakdown",
    caption: "Energy per step by node and device (median)",
    columns: [{ label: "run" }, { label: "node / device" }, {
      label: "energy / step",
      unit: "J",
      numeric: true,
    }],
    rows,
  };
}

/** Failures, interruptions, out-of-memory points and exclusions. */
export function failuresTable(results: ResultsFile): Table {
  const rows: Cell[][] = [
    ...results.runs.filter((r) => r.status !== "ok").map((
      r,
    ) => [text(r.id), text(r.status), text(r.error ?? "")]),
    ...results.sweep.excluded.map((x) => [text(x.point), text("excluded"), text(x.reason)]),
  ];
  return {
    id: "failures",
    caption: "Points that failed, were interrupted, ran out of memory, or were excluded",
    columns: [{ label: "point" }, { label: "status" }, { label: "why" }],
    rows,
  };
}

// ---- charts ----

interface Series {
  label: string;
  mode: string;
  runs: RunResult[];
  /** The profile of projected series. */
  projected?: string;
}

/** Runs split into series that differ only in p (a line per mode and shape). */
function seriesByRanks(runs: RunResult[]): Series[] {
  const map = new Map<string, Series>();
  for (const r of runs) {
    const c = r.config;
    const shape = `n=${c.width}${
      c.mode === "phantom" ? ` k=${c.phantomWidth}` : ""
    } L=${c.layers} b=${c.batch}`;
    const key = `${c.mode}|${shape}|${workloadOf(r)}|${sourceOf(r)}`;
    const s = map.get(key) ??
      { label: `${c.mode} ${shape}`, mode: c.mode, runs: [], projected: r.projected?.profile };
    s.runs.push(r);
    map.set(key, s);
  }
  const list = [...map.values()];
  // One series per mode needs no shape in its label; projected series say so.
  const modes = list.map((s) => s.mode);
  for (const s of list) if (modes.filter((m) => m === s.mode).length === 1) s.label = s.mode;
  for (const s of list) if (s.projected) s.label += ` (projected: ${s.projected})`;
  return list;
}

const DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3]];

function lineByRanks(
  id: string,
  title: string,
  section: string,
  runs: RunResult[],
  value: (r: RunResult) => number | null,
  yTitle: string,
  options: { logY?: boolean; predicted?: (r: RunResult) => number | null; omitted?: string } = {},
): ChartSpec {
  const usable = runs.filter((r) => value(r) !== null);
  if (options.omitted) return { id, title, section, omitted: options.omitted };
  if (usable.length === 0) return { id, title, section, omitted: "no run has this figure" };
  const ranks = [...new Set(usable.map((r) => r.config.ranks))].sort((a, b) => a - b);
  const series = seriesByRanks(usable);
  const perMode = new Map<string, number>();
  const datasets: Record<string, unknown>[] = [];
  for (const s of series) {
    const i = perMode.get(s.mode) ?? 0;
    perMode.set(s.mode, i + 1);
    const color = MODE_COLORS[s.mode] ?? PALETTE[4];
    const at = (f: (r: RunResult) => number | null) =>
      ranks.map((p) => {
        const vals = s.runs.filter((r) => r.config.ranks === p).map(f).filter((v): v is number =>
          v !== null
        );
        return vals.length ? median(vals) : null;
      });
    datasets.push({
      label: s.label,
      data: at(value),
      borderColor: color,
      backgroundColor: color,
      // Projected lines are dashed, measured ones solid (varied by shape).
      borderDash: s.projected ? [8, 5] : DASHES[i % DASHES.length],
      pointStyle: s.projected ? "crossRot" : ["circle", "rect", "triangle", "rectRot"][i % 4],
      spanGaps: true,
    });
    if (options.predicted) {
      datasets.push({
        label: `${s.label} (predicted)`,
        data: at(options.predicted),
        borderColor: color,
        backgroundColor: color,
        borderDash: [2, 3],
        borderWidth: 1,
        pointRadius: 0,
        spanGaps: true,
      });
    }
  }
  return {
    id,
    title,
    section,
    config: {
      type: "line",
      data: { labels: ranks.map(String), datasets },
      options: axes("ranks p", yTitle, { logY: options.logY }),
    },
  };
}

function axes(xTitle: string, yTitle: string, o: { logY?: boolean; linearX?: boolean } = {}) {
  return {
    animation: false,
    responsive: false,
    plugins: {
      legend: {
        position: "bottom",
        labels: { usePointStyle: true, pointStyle: "line", boxWidth: 30 },
      },
    },
    scales: {
      x: { ...(o.linearX ? { type: "linear" } : {}), title: { display: true, text: xTitle } },
      y: { ...(o.logY ? { type: "logarithmic" } : {}), title: { display: true, text: yTitle } },
    },
  };
}

function energyMissing(runs: RunResult[]): string | undefined {
  if (runs.some((r) => r.metrics!.energy.joulesPerStep)) return undefined;
  const reasons = [
    ...new Set(
      runs.map((r) =>
        r.metrics!.energy.unavailableReason ?? `power backend ${r.metrics!.energy.backend}`
      ),
    ),
  ];
  return `energy was not measured on this host (${reasons.join("; ")})`;
}

/**
 * The report's charts, each drawable or omitted with the reason.
 *
 * @param results The results.
 * @returns The charts, in page order.
 */
export function reportCharts(results: ResultsFile): ChartSpec[] {
  const all = ok(results);
  const train = all.filter((r) => workloadOf(r) === "train");
  const infer = all.filter((r) => workloadOf(r) === "inference");
  const charts: ChartSpec[] = [];
  const noTrain = train.length === 0 ? "no training runs" : undefined;
  const noInfer = infer.length === 0 ? "no inference runs" : undefined;
  const multiRank = (runs: RunResult[]) =>
    new Set(runs.map((r) => r.config.ranks)).size > 1 ? undefined : "all runs use one rank count";
  charts.push(
    lineByRanks(
      "chart-step-time",
      "Step time (median) against ranks",
      "Time",
      train,
      (r) => r.metrics!.stepTimeMs.median,
      "ms per step",
      { omitted: noTrain },
    ),
  );
  charts.push(
    lineByRanks(
      "chart-comm",
      "Communication share of the step against ranks",
      "Time",
      train,
      (r) => (100 * r.metrics!.commTimeMs.median) / r.metrics!.stepTimeMs.median,
      "% of the step in collectives",
      { omitted: noTrain ?? multiRank(train) },
    ),
  );
  charts.push(
    lineByRanks(
      "chart-bytes",
      "Payload bytes sent per rank per step: measured (solid) and predicted (dotted)",
      "Communication",
      all,
      (r) => r.metrics!.bytesSentPerRankPerStep,
      "bytes",
      {
        predicted: (r) => r.metrics!.predicted.bytesSentPerRankPerStep,
        omitted: all.length ? undefined : "no runs",
      },
    ),
  );
  charts.push(
    lineByRanks(
      "chart-energy",
      "Energy per step against ranks",
      "Energy",
      train,
      (r) => r.metrics!.energy.joulesPerStep?.median ?? null,
      "J per step",
      { omitted: noTrain ?? energyMissing(train) },
    ),
  );
  charts.push(phaseChart(train));
  const withMemory = all.filter((r) => r.metrics!.memory);
  charts.push(
    lineByRanks(
      "chart-memory",
      "Peak tensor memory per rank: measured (solid) and predicted (dotted)",
      "Memory",
      withMemory,
      (r) => r.metrics!.memory!.peakTensorBytesPerRank / 2 ** 20,
      "MiB per rank",
      {
        logY: true,
        predicted: (r) => (r.metrics!.predicted.memoryBytesPerRank ?? NaN) / 2 ** 20,
        omitted: withMemory.length
          ? undefined
          : "no run recorded memory (results written before it existed)",
      },
    ),
  );
  charts.push(...lossCharts(train));
  charts.push(
    lineByRanks(
      "chart-latency",
      "Inference latency per batch (median) against ranks",
      "Inference",
      infer,
      (r) => r.metrics!.inference!.latencyMs.median,
      "ms per batch",
      { omitted: noInfer },
    ),
  );
  charts.push(
    lineByRanks(
      "chart-energy-sample",
      "Inference energy per sample against ranks",
      "Inference",
      infer,
      (r) => r.metrics!.inference!.energyPerSampleJ,
      "J per sample",
      { omitted: noInfer ?? energyMissing(infer) },
    ),
  );
  charts.push(paretoChart(train));
  return charts;
}

function phaseChart(train: RunResult[]): ChartSpec {
  const base = {
    id: "chart-phases",
    title: "Energy per step by phase (forward; backward with the update)",
    section: "Energy",
  };
  const runs = train.filter((r) => r.metrics!.energy.perPhase);
  if (train.length === 0) return { ...base, omitted: "no training runs" };
  if (runs.length === 0) return { ...base, omitted: energyMissing(train)! };
  const points = [...new Set(runs.map((r) => r.point))];
  const phase = (point: string, key: "forward" | "backward") =>
    median(
      runs.filter((r) => r.point === point).map((r) => r.metrics!.energy.perPhase![key].median),
    );
  return {
    ...base,
    config: {
      type: "bar",
      data: {
        labels: points,
        datasets: [
          {
            label: "forward",
            data: points.map((p) => phase(p, "forward")),
            backgroundColor: PALETTE[5],
          },
          {
            label: "backward + update",
            data: points.map((p) => phase(p, "backward")),
            backgroundColor: PALETTE[4],
          },
        ],
      },
      options: {
        ...axes("run", "J per step"),
        scales: {
          x: { stacked: true },
          y: { stacked: true, title: { display: true, text: "J per step" } },
        },
      },
    },
  };
}

function lossCharts(train: RunResult[]): ChartSpec[] {
  const defs: [string, string, number, string][] = [
    ["chart-loss-step", "Held-out loss against training steps", 0, "steps"],
    ["chart-loss-time", "Held-out loss against training time", 1, "training time (ms)"],
    ["chart-loss-energy", "Held-out loss against energy", 2, "energy (J)"],
  ];
  return defs.map(([id, title, column, xTitle]): ChartSpec => {
    const base = { id, title, section: "Loss" };
    if (train.length === 0) return { ...base, omitted: "no training runs" };
    if (column === 2) {
      const missing = energyMissing(train);
      if (missing) return { ...base, omitted: missing };
    }
    const perMode = new Map<string, number>();
    // One line per point: its first repeat (repeats train the same model on the same batches).
    const withLoss = train.filter((r) => r.metrics!.loss);
    if (withLoss.length === 0) {
      return { ...base, omitted: "no run has a loss curve (projections without --curves)" };
    }
    const firsts = [
      ...new Map(withLoss.map((r) => [`${r.point}|${sourceOf(r)}`, r] as const)).values(),
    ];
    const datasets = firsts.map((r) => {
      const i = perMode.get(r.config.mode) ?? 0;
      perMode.set(r.config.mode, i + 1);
      const color = MODE_COLORS[r.config.mode] ?? PALETTE[4];
      return {
        label: r.projected ? `${r.point} (projected: ${r.projected.profile})` : r.point,
        showLine: true,
        pointRadius: 1,
        borderColor: color,
        backgroundColor: color,
        borderDash: r.projected ? [8, 5] : DASHES[i % DASHES.length],
        data: r.metrics!.loss!.curve.filter((c) => c[column] !== null).map((c) => ({
          x: c[column],
          y: c[3],
        })),
      };
    });
    return {
      ...base,
      config: {
        type: "scatter",
        data: { datasets },
        options: axes(xTitle, "held-out MSE", { logY: true, linearX: true }),
      },
    };
  });
}

function paretoChart(train: RunResult[]): ChartSpec {
  const base = {
    id: "chart-pareto",
    title: "Time against energy per step, every run (lower left is better)",
    section: "Energy",
  };
  if (train.length === 0) return { ...base, omitted: "no training runs" };
  const missing = energyMissing(train);
  if (missing) return { ...base, omitted: missing };
  const modes = [...new Set(train.map((r) => r.config.mode))];
  return {
    ...base,
    config: {
      type: "scatter",
      data: {
        datasets: modes.map((mode) => ({
          label: mode,
          borderColor: MODE_COLORS[mode] ?? PALETTE[4],
          backgroundColor: MODE_COLORS[mode] ?? PALETTE[4],
          data: train.filter((r) => r.config.mode === mode && r.metrics!.energy.joulesPerStep)
            .map((r) => ({
              x: r.metrics!.stepTimeMs.median,
              y: r.metrics!.energy.joulesPerStep!.median,
            })),
        })),
      },
      options: axes("step time (ms)", "J per step", { linearX: true }),
    },
  };
}

/**
 * A table as CSV (RFC 4180: quoted where needed; numbers at full precision).
 *
 * @param table The table.
 * @returns CSV text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tableCsv } from "./report_model.ts";
 * const csv = tableCsv({ id: "t", caption: "", columns: [{ label: "a" }, { label: "b", unit: "ms" }],
 *   rows: [[{ text: 'x,"y"' }, { text: "1.23", value: 1.2345 }]] });
 * assert.equal(csv, 'a,b (ms)\r\n"x,""y""",1.2345\r\n');
 * ```
 */
export function tableCsv(table: Table): string {
  const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const header = table.columns.map((c) => quote(c.unit ? `${c.label} (${c.unit})` : c.label));
  const rows = table.rows.map((row) =>
    row.map((cell) =>
      quote(cell.value !== undefined && cell.value !== null ? String(cell.value) : cell.text)
    )
  );
  return [header, ...rows].map((r) => r.join(",") + "\r\n").join("");
}
