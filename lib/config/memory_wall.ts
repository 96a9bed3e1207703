/**
 * The memory-wall search: given points that differ in width (and anything else), find for each
 * series (same mode, ranks, depth, batch, ...) the widest point whose predicted peak memory per
 * rank fits under a cap. Only that point runs (measuring that it really fits); the next wider
 * one is kept to be recorded as out-of-memory against the cap (not run); the others are excluded
 * with the reason, so a wall over 256 ranks takes minutes, not hours. Pure: the prediction is
 * lib/config/cost_model.ts.
 *
 * @module
 */

import { predictMemory } from "./cost_model.ts";
import type { Expansion, SweepPoint } from "./sweep.ts";

/**
 * Plans the memory-wall search of an expansion.
 *
 * @param expansion The points (all widths of every series).
 * @param capBytes The cap per rank.
 * @returns The expansion with only the points at the wall (the widest fitting and the first over
 *   the cap of each series) and the rest excluded with the reason.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandSweep } from "./sweep.ts";
 * import { planMemoryWall } from "./memory_wall.ts";
 * const e = expandSweep({
 *   id: "w", version: 1, description: "", repeats: 1, warmup: 1,
 *   base: { mode: "tp", ranks: 8, layers: 2, batch: 8 }, axes: { width: [1024, 2048, 4096, 8192] },
 * });
 * const plan = planMemoryWall(e, 32 * 2 ** 20);
 * assert.deepEqual(plan.points.map((p) => p.config.width), [2048, 4096]);
 * assert.equal(plan.excluded.length, 2);
 * ```
 */
export function planMemoryWall(expansion: Expansion, capBytes: number): Expansion {
  const series = new Map<string, SweepPoint[]>();
  for (const point of expansion.points) {
    const { width: _w, ...rest } = point.config;
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), point]);
  }
  const points: SweepPoint[] = [];
  const excluded = [...expansion.excluded];
  const peak = (p: SweepPoint) =>
    predictMemory(p.config, p.config.optimizer, p.config.workload).peakBytes;
  for (const list of series.values()) {
    list.sort((a, b) => a.config.width - b.config.width);
    const fits = list.filter((p) => peak(p) <= capBytes);
    const widest = fits.at(-1);
    const over = list.find((p) => peak(p) > capBytes);
    for (const p of list) {
      if (p === widest || p === over) points.push(p);
      else if (peak(p) <= capBytes) {
        excluded.push({
          point: p.id,
          reason: `memory-wall search: fits, below the widest fitting width ${
            widest!.config.width
          }`,
        });
      } else {
        excluded.push({
          point: p.id,
          reason: `memory-wall search: beyond the wall (width ${
            over!.config.width
          } is already over the cap)`,
        });
      }
    }
  }
  return { ...expansion, points, excluded };
}
