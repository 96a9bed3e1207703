/**
 * The report's tables, each built from a results file (or its findings) as typed cells: summary,
 * the paper's claim, projections and the phantom-width search, runs, memory, inference, loss to
 * target, energy per node and device, failures. Pure.
 *
 * @module
 */

import type { ResultsFile, RunResult } from "../results/results.ts";
import { describeBackend } from "../results/describe_backend.ts";
import { type Finding, ok } from "./findings.ts";
import { bytesCell, type Cell, fmt, numCell, type Table, textCell } from "./table.ts";

/** The summary as a table (ratios with intervals). */
export function summaryTable(found: Finding[]): Table {
  const metrics = [...new Set(found.flatMap((f) => f.ratios.map((r) => r.metric)))];
  const label = (m: string) => found.flatMap((f) => f.ratios).find((r) => r.metric === m)!.label;
  return {
    id: "ratios",
    caption:
      "Phantom / TP at matching points (median over repeats; 95% bootstrap interval where there are repeats)",
    columns: [
      { label: "point" },
      ...metrics.map((m) => ({ label: label(m), unit: "phantom/TP", numeric: true })),
    ],
    rows: found.map((f) => [
      textCell(f.label),
      ...metrics.map((m) => {
        const r = f.ratios.find((x) => x.metric === m);
        if (!r) return textCell("");
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
    f.label.includes("projected") &&
    f.ratios.some((r) => r.metric === "joulesPerStep" && r.ratio !== null)
  );
  if (rows.length === 0) return null;
  return {
    id: "paper-claim",
    caption: "The paper's claim, about 50% less training energy than TP, at each projected point",
    // The verdict next to the point (what a reader scans for, on a phone too); the profile is in
    // the section's introduction, so the point drops its "projected on" suffix.
    columns: [
      { label: "point" },
      { label: "claim (≤ 0.5)" },
      { label: "energy phantom/TP", numeric: true },
      { label: "over the bands", numeric: true },
      { label: "step time phantom/TP", numeric: true },
    ],
    rows: rows.map((f) => {
      const e = f.ratios.find((r) => r.metric === "joulesPerStep")!;
      const s = f.ratios.find((r) => r.metric === "stepTimeMs");
      const all = [e.ratio!, ...(e.bands ? [e.bands.optimistic, e.bands.pessimistic] : [])];
      const [lo, hi] = [Math.min(...all), Math.max(...all)];
      const verdict = hi <= 0.5
        ? "holds in every band"
        : lo <= 0.5
        ? "holds in some bands"
        : "does not hold";
      return [
        textCell(f.label.replace(/, projected on .*$/, "")),
        textCell(verdict),
        numCell(e.ratio),
        textCell(`${fmt(lo, 2)}–${fmt(hi, 2)}`),
        numCell(s?.ratio),
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
        textCell(`${r.id} (projected)`),
        textCell(p.profile),
        numCell(r.metrics?.stepTimeMs.median),
        numCell(b.computeMs),
        numCell(b.hostMs),
        numCell(b.latencyMs),
        numCell(b.bandwidthMs),
        textCell(
          `${fmt(p.bands.optimistic?.stepTimeMs)} – ${fmt(p.bands.pessimistic?.stepTimeMs)}`,
        ),
        numCell(r.metrics?.energy.joulesPerStep?.median),
        numCell(p.nodes),
        textCell(r.status === "ok" ? p.lossCurveFrom ?? "none" : `${r.status}: ${r.error}`),
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
      textCell(r.point),
      numCell(r.k),
      r.stepsToTarget === null ? textCell("no measured run") : numCell(r.stepsToTarget),
      numCell(r.stepTimeMs),
      numCell(r.energyToTargetJ),
      numCell(r.timeToTargetMs),
      textCell(r.from ?? "–"),
    ]),
  };
}

/** Every run, one row each. */
export function runsTable(results: ResultsFile): Table {
  return {
    id: "runs",
    caption: "Every run (energy with the method that measured it)",
    // What a reader compares first (time, energy), then traffic and memory, then the loss; the
    // shape (n, k, b), which the run id already names, last: a narrow screen scrolls the rest.
    columns: [
      { label: "run" },
      { label: "mode" },
      { label: "p", numeric: true },
      { label: "step time", unit: "ms", numeric: true },
      { label: "energy / step", unit: "J", numeric: true },
      { label: "method" },
      { label: "comm share", unit: "%", numeric: true },
      { label: "bytes sent / rank / step", numeric: true },
      { label: "predicted", numeric: true },
      { label: "memory / rank", numeric: true },
      { label: "loss: first → last", numeric: true },
      { label: "to target", unit: "steps", numeric: true },
      { label: "n", numeric: true },
      { label: "k", numeric: true },
      { label: "b", numeric: true },
    ],
    rows: results.runs.map((r) => {
      const c = r.config;
      const head = [
        textCell(r.projected ? `${r.id} (projected: ${r.projected.profile})` : r.id),
        textCell(c.mode),
        numCell(c.ranks),
      ];
      const shape = [numCell(c.width), numCell(c.phantomWidth), numCell(c.batch)];
      const m = r.metrics;
      if (r.status !== "ok" || !m) {
        return [
          ...head,
          { text: `${r.status}: ${r.error ?? ""}`, title: r.error },
          ...Array(8).fill(textCell("")),
          ...shape,
        ];
      }
      const curve = m.loss?.curve;
      return [
        ...head,
        numCell(m.stepTimeMs.median),
        numCell(m.energy.joulesPerStep?.median),
        textCell(m.energy.method),
        numCell((100 * m.commTimeMs.median) / m.stepTimeMs.median, 2),
        bytesCell(m.bytesSentPerRankPerStep),
        {
          ...bytesCell(m.predicted.bytesSentPerRankPerStep),
          title: m.bytesMatchPrediction ? "measured = predicted" : "MISMATCH",
        },
        bytesCell(m.memory?.peakTensorBytesPerRank),
        curve
          ? textCell(`${fmt(curve[0][3])} → ${fmt(curve.at(-1)![3])}`)
          : textCell(m.inference ? "inference" : "–"),
        m.loss
          ? {
            text: m.loss.stepsToTarget == null ? "not reached" : String(m.loss.stepsToTarget),
            value: m.loss.stepsToTarget,
          }
          : textCell("–"),
        ...shape,
      ];
    }),
  };
}

/** Memory per rank: measured against predicted, and the out-of-memory points. */
export function memoryTable(results: ResultsFile): Table | null {
  const rows = results.runs.filter((r) => r.metrics?.memory || r.status === "out-of-memory");
  if (rows.length === 0) return null;
  // A projection's "measured" memory is the model's own figure: say so rather than "measured".
  const projected = rows.every((r) => r.projected);
  return {
    id: "memory",
    caption: projected
      ? "Peak tensor memory per rank (the most loaded rank), projected by the cost model: no process ran"
      : "Peak tensor memory per rank (the most loaded rank), measured and predicted, and processes' peak resident memory",
    columns: [
      { label: "run" },
      { label: "mode" },
      { label: "p", numeric: true },
      { label: "n", numeric: true },
      { label: projected ? "projected" : "measured", numeric: true },
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
        textCell(r.id),
        textCell(r.config.mode),
        numCell(r.config.ranks),
        numCell(r.config.width),
        bytesCell(m?.peakTensorBytesPerRank),
        bytesCell(predicted),
        numCell(m && predicted ? m.peakTensorBytesPerRank / predicted : null),
        numCell(m?.ranksPerEngine),
        bytesCell(m?.peakRssBytes.length ? Math.max(...m.peakRssBytes.map((p) => p.bytes)) : null),
        textCell(r.status === "out-of-memory" ? `out of memory: ${r.error}` : r.status),
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
        textCell(r.id),
        textCell(r.config.mode),
        numCell(r.config.ranks),
        numCell(r.config.batch),
        numCell(i.latencyMs.median),
        numCell(i.latencyMs.p99),
        numCell(i.samplesPerSecond),
        bytesCell(m.bytesSentPerRankPerStep),
        numCell(i.energyPerSampleJ),
        textCell(m.energy.method),
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
        textCell(r.id),
        textCell(r.config.mode),
        numCell(r.config.ranks),
        numCell(r.config.width),
        numCell(r.config.phantomWidth),
        numCell(m.predicted.parametersTotal),
        numCell(l.target.absolute),
        l.stepsToTarget == null ? textCell("not reached") : numCell(l.stepsToTarget),
        numCell(l.timeToTargetMs),
        numCell(l.energyToTargetJ),
        textCell(m.energy.method),
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
      rows.push([textCell(r.id), textCell("unavailable"), { text: e.unavailableReason }]);
    }
    for (const n of e.nodes ?? []) {
      rows.push([textCell(r.id), textCell(`node ${n.node}`), numCell(n.joulesPerStep)]);
    }
    for (const d of e.devices ?? []) {
      rows.push([textCell(r.id), textCell(d.name), numCell(d.joulesPerStep)]);
    }
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
    ) => [textCell(r.id), textCell(r.status), textCell(r.error ?? "")]),
    ...results.sweep.excluded.map((
      x,
    ) => [textCell(x.point), textCell("excluded"), textCell(x.reason)]),
  ];
  return {
    id: "failures",
    caption: "Points that failed, were interrupted, ran out of memory, or were excluded",
    columns: [{ label: "point" }, { label: "status" }, { label: "why" }],
    rows,
  };
}

/** Where and how the numbers were measured: environment, communicator, power, seeds. */
export function provenanceTable(results: ResultsFile): Table {
  const env = results.environment;
  const comm = results.communicator as Record<string, unknown>;
  const power = results.power as Record<string, unknown>;
  const missing = env.projection ? "not recorded (a projection)" : "not recorded";
  const show = (v: unknown) =>
    v === undefined || v === null || v === ""
      ? missing
      : typeof v === "string"
      ? v
      : JSON.stringify(v);
  const rows: [string, unknown][] = [
    ["created", results.createdAt],
    [
      "sweep",
      `${results.sweep.id} v${results.sweep.version}${
        results.sweep.quick ? " (quick)" : ""
      }: ${results.sweep.description}`,
    ],
    ...(env.projection ? [["projected by", env.projection] as [string, unknown]] : []),
    ["git commit", env.gitCommit],
    ["host", env.hostname],
    [
      "runtime",
      env.runtime &&
      `Deno ${env.runtime.deno}${env.runtime.v8 ? `, V8 ${env.runtime.v8}` : ""}${
        env.runtime.typescript ? `, TypeScript ${env.runtime.typescript}` : ""
      }`,
    ],
    ["OS", env.os && `${env.os.name} ${env.os.arch}, kernel ${env.os.release}`],
    ["CPU", env.cpu && `${env.cpu.model}, ${env.cpu.cores} cores`],
    [
      "GPUs",
      env.gpus &&
      (env.gpus.length
        ? env.gpus.map((g) => `${g.name} (driver ${g.driver})`).join(", ")
        : "none (nvidia-smi lists none)"),
    ],
    ["tfjs backend", env.tfjs && `${describeBackend(env.tfjs.backend)}, tfjs ${env.tfjs.version}`],
    ["backend flags", env.tfjs?.backend.flags],
    ["nats-server", env.natsServer],
    [
      "communicator",
      [comm.kind, comm.servers, comm.launcher && `${comm.launcher} launcher`, comm.dtype]
        .filter(Boolean).join(", "),
    ],
    ["power", [power.backend, ...(Array.isArray(power.notes) ? power.notes : [])].join("; ")],
    ["seeds", [...new Set(results.runs.map((r) => r.config.seed))].join(", ")],
  ];
  return {
    id: "provenance",
    caption: "Where and how these numbers were measured",
    columns: [{ label: "what" }, { label: "value" }],
    rows: rows.map(([k, v]) => [{ text: k }, { text: show(v) }]),
  };
}

/** The full configuration of every run. */
export function configsTable(results: ResultsFile): Table {
  return {
    id: "configs",
    caption: "The full configuration of every run",
    columns: [{ label: "run" }, { label: "config hash" }, { label: "configuration" }],
    rows: results.runs.map((
      r,
    ) => [{ text: r.id }, { text: r.configHash }, { text: JSON.stringify(r.config) }]),
  };
}
