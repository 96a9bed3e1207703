/**
 * Phantom x DP against TP x DP at a fixed number of ranks G (the `hybrid` sweep): for each G and
 * each scheme, the fastest (d, p) with d x p = G (median step time over repeats) and the fastest
 * to the target loss, then the phantom/TP ratios of step time, energy per step and time to
 * target. Stated only where some G was run with more than one (d, p), so ordinary sweeps
 * (replicas 1) gain nothing here. Pure.
 *
 * @module
 */

import type { ResultsFile, RunResult } from "../results/results.ts";
import { median } from "../results/stats.ts";
import { ok, workloadOf } from "./findings.ts";

/** One scheme's best layout at a G. */
export interface HybridBest {
  /** Replicas d and model ranks p. */
  replicas: number;
  ranks: number;
  /** Median step time over its repeats, ms. */
  stepMs: number;
  /** Median energy per step, J (null where not measured). */
  joulesPerStep: number | null;
}

/** The comparison at one G. */
export interface HybridFinding {
  /** Ranks G = d x p. */
  world: number;
  /** Fastest per step, per scheme. */
  tp: HybridBest;
  phantom: HybridBest;
  /** Fastest to the target loss, per scheme (null where no layout reached it). */
  tpToTarget: (HybridBest & { timeToTargetMs: number }) | null;
  phantomToTarget: (HybridBest & { timeToTargetMs: number }) | null;
  /** One plain sentence. */
  sentence: string;
}

const replicasOf = (
  r: RunResult,
) => (typeof r.config.replicas === "number" ? r.config.replicas : 1);

/** Layouts of one scheme at one G, repeats merged. */
function layouts(runs: RunResult[]) {
  const by = new Map<string, RunResult[]>();
  for (const r of runs) {
    const key = `${replicasOf(r)}x${r.config.ranks}`;
    by.set(key, [...(by.get(key) ?? []), r]);
  }
  return [...by.values()].map((list) => {
    const energy = list.map((r) => r.metrics!.energy.joulesPerStep?.median ?? null);
    const toTarget = list.map((r) => r.metrics!.loss?.timeToTargetMs ?? null);
    return {
      replicas: replicasOf(list[0]),
      ranks: list[0].config.ranks,
      stepMs: median(list.map((r) => r.metrics!.stepTimeMs.median)),
      joulesPerStep: energy.every((e) => e !== null) ? median(energy as number[]) : null,
      timeToTargetMs: toTarget.every((t) => t !== null) ? median(toTarget as number[]) : null,
    };
  });
}

const layout = (b: HybridBest) => `d = ${b.replicas} x p = ${b.ranks}`;
const ms = (v: number) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
const x = (v: number) => `${v < 0.1 ? v.toPrecision(2) : v.toFixed(2)}x`;

/**
 * The comparisons at every G run with more than one layout.
 *
 * @param results A results file.
 * @returns One finding per such G, ascending.
 */
export function hybridFindings(results: ResultsFile): HybridFinding[] {
  const train = ok(results).filter((r) =>
    workloadOf(r) === "train" && (r.config.mode === "tp" || r.config.mode === "phantom")
  );
  // Compared: the same G, model width and depth, global batch, and source (measured, or the
  // profile it was projected on).
  const groupOf = (r: RunResult) => ({
    world: replicasOf(r) * r.config.ranks,
    key: [
      replicasOf(r) * r.config.ranks,
      r.config.width,
      r.config.layers,
      replicasOf(r) * r.config.batch,
      r.projected?.profile ?? "measured",
    ].join("|"),
    label: `n = ${r.config.width}, L = ${r.config.layers}, global batch ${
      replicasOf(r) * r.config.batch
    }${r.projected ? `, projected on ${r.projected.profile}` : ""}`,
  });
  const groups = new Map<string, { world: number; label: string; runs: RunResult[] }>();
  for (const r of train) {
    const g = groupOf(r);
    const entry = groups.get(g.key) ?? { world: g.world, label: g.label, runs: [] };
    entry.runs.push(r);
    groups.set(g.key, entry);
  }
  const out: HybridFinding[] = [];
  const ordered = [...groups.values()].sort((a, b) => a.world - b.world);
  for (const { world, label, runs: at } of ordered) {
    const tp = layouts(at.filter((r) => r.config.mode === "tp"));
    const ph = layouts(at.filter((r) => r.config.mode === "phantom"));
    if (!tp.length || !ph.length || (tp.length < 2 && ph.length < 2)) continue;
    const fastest = (list: typeof tp) => list.reduce((a, b) => (b.stepMs < a.stepMs ? b : a));
    const toTarget = (list: typeof tp) => {
      const reached = list.filter((l) => l.timeToTargetMs !== null);
      return reached.length
        ? reached.reduce((a, b) => (b.timeToTargetMs! < a.timeToTargetMs! ? b : a)) as
          & HybridBest
          & { timeToTargetMs: number }
        : null;
    };
    const [bt, bp] = [fastest(tp), fastest(ph)];
    const [tt, pt] = [toTarget(tp), toTarget(ph)];
    const energy = bt.joulesPerStep && bp.joulesPerStep
      ? `, ${x(bp.joulesPerStep / bt.joulesPerStep)} its energy per step`
      : "; energy per step not measured";
    const target = at.every((r) => !r.metrics!.loss)
      ? "; time to target not available (no loss curves)"
      : tt && pt
      ? `; to the target loss the best phantom x DP (${layout(pt)}) took ${
        x(pt.timeToTargetMs / tt.timeToTargetMs)
      } the best TP x DP's time (${layout(tt)})`
      : `; to the target loss: ${
        !tt && !pt
          ? "neither reached it"
          : !pt
          ? "phantom x DP did not reach it"
          : "TP x DP did not reach it"
      }`;
    out.push({
      world,
      tp: bt,
      phantom: bp,
      tpToTarget: tt,
      phantomToTarget: pt,
      sentence: `At G = ${world} ranks (${label}), the fastest phantom x DP (${layout(bp)}, ${
        ms(bp.stepMs)
      } per step) took ${x(bp.stepMs / bt.stepMs)} the step time of the fastest TP x DP (${
        layout(bt)
      }, ${ms(bt.stepMs)})${energy}${target} (${tp.length} TP and ${ph.length} phantom layouts).`,
    });
  }
  return out;
}
