/**
 * Loss to target: the held-out loss curve with cumulative energy, the target as an MSE, and the
 * steps, training time and energy until the held-out loss first reached it.
 *
 * @module
 */

import type { LossMetrics } from "../results/results.ts";
import type { TargetSpec } from "../config/sweep.ts";
import type { EvalPoint } from "./trainer.ts";

/**
 * @param evals Held-out evaluations (step 0 first).
 * @param stepJoules Energy of every training step in order, or null when unavailable.
 * @param target The target spec.
 * @returns The curve and the figures to target.
 * @throws {RangeError} If there is no evaluation.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossToTarget } from "./loss_target.ts";
 * const m = lossToTarget(
 *   [{ step: 0, trainMs: 0, loss: 1 }, { step: 2, trainMs: 20, loss: 0.4 }],
 *   [1, 2, 3],
 *   { kind: "fraction", value: 0.5 },
 * );
 * assert(m.stepsToTarget === 2 && m.energyToTargetJ === 3 && m.target.absolute === 0.5);
 * ```
 */
export function lossToTarget(
  evals: readonly EvalPoint[],
  stepJoules: readonly number[] | null,
  target: TargetSpec,
): LossMetrics {
  if (evals.length === 0) throw new RangeError("Cannot compute loss to target: no evaluation");
  const absolute = target.kind === "fraction" ? target.value * evals[0].loss : target.value;
  const energyAt = (steps: number) =>
    stepJoules === null ? null : stepJoules.slice(0, steps).reduce((s, j) => s + j, 0);
  const curve: LossMetrics["curve"] = evals.map((
    e,
  ) => [e.step, e.trainMs, energyAt(e.step), e.loss]);
  const hit = evals.find((e) => e.loss <= absolute);
  return {
    curve,
    target: { kind: target.kind, value: target.value, absolute },
    stepsToTarget: hit ? hit.step : null,
    timeToTargetMs: hit ? hit.trainMs : null,
    energyToTargetJ: hit ? energyAt(hit.step) : null,
  };
}
