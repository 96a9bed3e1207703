/**
 * The report's charts as Chart.js configurations of plain JSON, so the page and `--figures` draw
 * the same figure: step time, communication and energy against p, the time split by phase, loss
 * curves, time and energy to target; each drawable or omitted with the reason. The palette and
 * font every figure shares. Pure.
 *
 * @module
 */

import type { ResultsFile, RunResult } from "../results/results.ts";
import { median } from "../results/stats.ts";
import { ok, sourceOf, workloadOf } from "./findings.ts";
import { linkBitsPerS } from "../config/link_rate.ts";

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

/** A chart: a Chart.js configuration of plain JSON, or why it is left out. */
export type ChartSpec =
  & { id: string; title: string; section: string }
  & ({ config: Record<string, unknown> } | { omitted: string });

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
    } L=${c.layers} b=${c.batch}${
      typeof c.replicas === "number" && c.replicas > 1
        ? ` d=${c.replicas}${c.placement === "dp-inner" ? " dp-inner" : ""}${
          c.overlap === true ? " overlap" : ""
        }`
        : ""
    }`;
    // Runs on different links of an emulated network (the network sweep) are different series.
    const link = c.link !== undefined ? ` links ${c.link ?? "unshaped"}` : "";
    const key = `${c.mode}|${shape}${link}|${workloadOf(r)}|${sourceOf(r)}`;
    const s = map.get(key) ??
      {
        label: `${c.mode} ${shape}${link}`,
        mode: c.mode,
        runs: [],
        projected: r.projected?.profile,
      };
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
const POINTS = ["circle", "rect", "triangle", "rectRot"];

/**
 * The look of a mode's next measured line: its mode's color, and a dash and point style that
 * vary over the mode's lines (counted in `perMode`).
 */
function lineStyle(mode: string, perMode: Map<string, number>) {
  const i = perMode.get(mode) ?? 0;
  perMode.set(mode, i + 1);
  const color = MODE_COLORS[mode] ?? PALETTE[4];
  return {
    borderColor: color,
    backgroundColor: color,
    borderDash: DASHES[i % DASHES.length],
    pointStyle: POINTS[i % POINTS.length],
    spanGaps: true,
  };
}

/** A line chart of the datasets over the labels. */
function lineChart(
  head: { id: string; title: string; section: string },
  labels: string[],
  datasets: Record<string, unknown>[],
  xTitle: string,
  yTitle: string,
  logY?: boolean,
): ChartSpec {
  return {
    ...head,
    config: { type: "line", data: { labels, datasets }, options: axes(xTitle, yTitle, { logY }) },
  };
}

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
    const style = lineStyle(s.mode, perMode);
    const color = style.borderColor;
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
      ...style,
      // Projected lines are dashed, measured ones solid (varied by shape).
      ...(s.projected ? { borderDash: [8, 5], pointStyle: "crossRot" } : {}),
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
  return lineChart(
    { id, title, section },
    ranks.map(String),
    datasets,
    "ranks p",
    yTitle,
    options.logY,
  );
}

/** A link's name on an axis, and its order: unshaped first, then the fastest. */
const linkName = (link: unknown) => (typeof link === "string" ? link : "unshaped");
const linkOrder = (link: unknown) =>
  -(typeof link === "string" ? linkBitsPerS(link) ?? 0 : Infinity);

/**
 * A figure against the link rate of an emulated network (the network sweep): a line per mode
 * and p, the links from unshaped to the slowest.
 */
function lineByLink(
  id: string,
  title: string,
  section: string,
  runs: RunResult[],
  value: (r: RunResult) => number | null,
  yTitle: string,
  omitted?: string,
): ChartSpec {
  if (omitted) return { id, title, section, omitted };
  const usable = runs.filter((r) => r.config.link !== undefined && value(r) !== null);
  const links = [...new Set(usable.map((r) => r.config.link))].sort((a, b) =>
    linkOrder(a) - linkOrder(b)
  );
  if (links.length < 2) return { id, title, section, omitted: "the runs use one link rate" };
  const series = new Map<string, RunResult[]>();
  for (const r of usable) {
    const key = `${r.config.mode} p=${r.config.ranks}`;
    series.set(key, [...(series.get(key) ?? []), r]);
  }
  const perMode = new Map<string, number>();
  const datasets = [...series.entries()].map(([label, list]) => ({
    label,
    data: links.map((l) => {
      const vals = list.filter((r) => r.config.link === l).map(value) as number[];
      return vals.length ? median(vals) : null;
    }),
    ...lineStyle(String(list[0].config.mode), perMode),
  }));
  return lineChart(
    { id, title, section },
    links.map(linkName),
    datasets,
    "link rate of every host (emulated network)",
    yTitle,
    true,
  );
}

function axes(xTitle: string, yTitle: string, o: { logY?: boolean; linearX?: boolean } = {}) {
  return {
    animation: false,
    responsive: false,
    plugins: {
      legend: {
        position: "bottom",
        // A box of no height is stroked as a line with the dataset's own dash (a point style
        // would take the point's, which has none: dashed series showed solid swatches).
        labels: { boxHeight: 0, boxWidth: 30 },
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
  // Data parallelism: the step split three ways.
  if (train.some((r) => r.metrics!.dataParallel)) charts.push(timeSplitChart(train));
  // The network sweep: step time and energy against the link rate.
  if (train.some((r) => r.config.link !== undefined)) {
    charts.push(
      lineByLink(
        "chart-link-step-time",
        "Step time (median) against the link rate",
        "Time",
        train,
        (r) => r.metrics!.stepTimeMs.median,
        "ms per step",
      ),
      lineByLink(
        "chart-link-energy",
        "Energy per step against the link rate",
        "Energy",
        train,
        (r) => r.metrics!.energy.joulesPerStep?.median ?? null,
        "J per step",
        energyMissing(train),
      ),
    );
  }
  return charts;
}

/**
 * The step time split into compute, model-parallel communication and data-parallel communication
 * (the gradient all-reduce), per point: medians over the timed steps of the slowest rank, then
 * over repeats.
 */
function timeSplitChart(train: RunResult[]): ChartSpec {
  const points = [...new Set(train.map((r) => r.point))];
  const at = (point: string, f: (r: RunResult) => number) =>
    median(train.filter((r) => r.point === point).map(f));
  const dp = (r: RunResult) => r.metrics!.dataParallel?.commTimeMs.median ?? 0;
  const parts: [string, (r: RunResult) => number, string][] = [
    ["compute", (r) => r.metrics!.computeTimeMs.median, PALETTE[2]],
    ["model-parallel communication", (r) => r.metrics!.commTimeMs.median - dp(r), PALETTE[0]],
    ["data-parallel communication", dp, PALETTE[3]],
  ];
  return {
    id: "chart-time-split",
    title: "Step time: compute, model-parallel and data-parallel communication (medians)",
    section: "Time",
    config: {
      type: "bar",
      data: {
        labels: points,
        datasets: parts.map(([label, f, color]) => ({
          label,
          data: points.map((p) => at(p, f)),
          backgroundColor: color,
        })),
      },
      options: {
        ...axes("run", "ms per step"),
        scales: {
          x: { stacked: true },
          y: { stacked: true, title: { display: true, text: "ms per step" } },
        },
      },
    },
  };
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
