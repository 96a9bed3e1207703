/**
 * The bench's one line per run: point (and repeat), median step time, communication share, sent
 * bytes per rank and step (checked against the prediction), achieved FLOP rate, held-out loss from
 * start to end, steps to the target and energy per step with its method.
 *
 * @module
 */

import { ranksLabel } from "../config/config.ts";
import type { RunResult } from "../results/results.ts";
import { formatBytes } from "../results/units.ts";

/** The column heads, aligned with {@linkcode formatRunRow}. */
export const RUN_TABLE_HEADER =
  "mode       p      n    k  rep   step ms   comm   sent/step (= pred)   GFLOP/s   held-out loss" +
  "      to target   J/step";

/**
 * @param run A finished run.
 * @returns Its line.
 */
export function formatRunRow(run: RunResult): string {
  const c = run.config;
  const head = `${String(c.mode).padEnd(8)}${ranksLabel(c).padStart(4)}${
    String(c.width).padStart(7)
  }${String(c.phantomWidth ?? "-").padStart(5)}${`#${run.repeat}`.padStart(5)}`;
  if (!run.metrics) return `${head}  ${run.status.toUpperCase()}: ${run.error}`;
  const m = run.metrics;
  const step = m.stepTimeMs.median;
  const bytes = m.bytesMatchPrediction
    ? `${formatBytes(m.bytesSentPerRankPerStep)} (=)`
    : `${formatBytes(m.bytesSentPerRankPerStep)} (pred ${
      formatBytes(m.predicted.bytesSentPerRankPerStep)
    }) MISMATCH`;
  const e = m.energy;
  const energy = e.joulesPerStep ? `${e.joulesPerStep.median.toPrecision(3)} (${e.method})` : "n/a";
  // Training: held-out loss and steps to target; inference: p99 latency and throughput.
  const curve = m.loss?.curve;
  const steps = m.loss?.stepsToTarget;
  const [lossText, toTarget] = m.inference
    ? [
      `p99 ${m.inference.latencyMs.p99.toFixed(1)} ms`.padEnd(16),
      `${m.inference.samplesPerSecond.toPrecision(3)}/s`,
    ]
    : [
      curve ? `${curve[0][3].toFixed(4)} -> ${curve.at(-1)![3].toFixed(4)}` : "",
      steps == null ? "not reached" : `${steps} steps`,
    ];
  return [
    head,
    step.toFixed(1).padStart(10),
    `${(100 * m.commTimeMs.median / step).toFixed(0).padStart(6)}%`,
    bytes.padStart(21),
    m.achievedGflops.toFixed(1).padStart(9),
    `   ${lossText}`,
    `  ${toTarget.padStart(11)}`,
    `   ${energy}`,
  ].join("");
}

/**
 * The line under a run for its peer.
 *
 * @param peer The run's peer record.
 * @returns The line.
 */
export function formatPeerRow(peer: NonNullable<RunResult["peer"]>): string {
  if (peer.error) return `  peer ${peer.name}: FAILED: ${peer.error}`;
  return `  peer ${peer.name} ${peer.version} (${peer.blas}, ${peer.threads} threads): ` +
    `${peer.stepTimeMs!.median.toFixed(1)} ms/step, training loss within ` +
    `${peer.maxRelativeLossDifference!.toExponential(1)} of the suite's at every step`;
}
