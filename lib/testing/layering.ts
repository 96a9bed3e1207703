/**
 * The suite's layering, stated as data and checked against the real import graph: folders in
 * layers, each importing only folders of lower layers; lib/testing may import anything and no
 * production module imports it; no module imports itself through others (no cycle). The README's
 * Architecture section states the same order; tests/layering_test.ts walks `deno info --json` of
 * mod.ts, every entry point and every production module and fails on any edge that breaks it.
 *
 * @module
 */

/** Folders by layer, lowest first: a folder imports only folders of strictly lower layers. */
export const LAYERS: readonly (readonly string[])[] = [
  ["lib/system", "lib/config"],
  ["lib/results", "lib/comm"],
  ["lib/nn", "lib/nats", "lib/power"],
  ["lib/parallel"],
  ["lib/runtime", "lib/projection"],
  ["lib/report", "lib/cli"],
  ["bench", "reports", "workers"],
  ["mod.ts"],
];

/** The folder that may import anything and that no production module may import. */
export const TESTING = "lib/testing";

/**
 * The folder a repository path belongs to: `lib/<name>` for library modules, the top folder for
 * entry points (`bench`, `reports`, `workers`), `mod.ts` for itself.
 *
 * @param path A path relative to the repository root.
 * @returns Its folder.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { folderOf } from "./layering.ts";
 * assert.equal(folderOf("lib/nn/webgpu/gemm_kernels.ts"), "lib/nn");
 * assert.equal(folderOf("bench/gpu/check.ts"), "bench");
 * ```
 */
export function folderOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] === "lib" && parts.length > 2) return `lib/${parts[1]}`;
  return parts.length > 1 ? parts[0] : path;
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder));
}

/**
 * Every import edge that breaks the layering, in words.
 *
 * @param edges [importer, imported] paths relative to the repository root.
 * @returns One line per violation (empty when the graph keeps the order).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layeringViolations } from "./layering.ts";
 * assert.deepEqual(layeringViolations([["lib/nn/ops.ts", "lib/config/config.ts"]]), []);
 * assert.equal(layeringViolations([["lib/results/results.ts", "lib/power/x.ts"]]).length, 1);
 * ```
 */
export function layeringViolations(edges: readonly (readonly [string, string])[]): string[] {
  const out: string[] = [];
  for (const [from, to] of edges) {
    const [a, b] = [folderOf(from), folderOf(to)];
    if (a === b || a === TESTING) continue;
    if (b === TESTING) {
      out.push(`${from} imports ${to}: no production module imports ${TESTING}`);
      continue;
    }
    const [la, lb] = [layerOf(a), layerOf(b)];
    if (la < 0 || lb < 0) {
      out.push(`${from} imports ${to}: ${la < 0 ? a : b} is in no layer (lib/testing/layering.ts)`);
    } else if (lb >= la) {
      out.push(
        `${from} imports ${to}: ${a} (layer ${la}) may import only folders below it, and ${b} ` +
          `is layer ${lb}`,
      );
    }
  }
  return out;
}

/**
 * The import cycles among modules: each strongly connected component of more than one module (or
 * a module importing itself), its modules sorted.
 *
 * @param edges [importer, imported] paths.
 * @returns The cycles (empty when there is none).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importCycles } from "./layering.ts";
 * assert.deepEqual(importCycles([["a", "b"], ["b", "c"], ["c", "a"], ["c", "d"]]), [["a", "b", "c"]]);
 * assert.deepEqual(importCycles([["a", "b"]]), []);
 * ```
 */
export function importCycles(edges: readonly (readonly [string, string])[]): string[][] {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) {
    next.set(a, [...(next.get(a) ?? []), b]);
    if (!next.has(b)) next.set(b, []);
  }
  // Tarjan's algorithm, iterative so deep graphs cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const root of next.keys()) {
    if (index.has(root)) continue;
    const work: [string, number][] = [[root, 0]];
    while (work.length) {
      const frame = work[work.length - 1];
      const [v, i] = frame;
      if (i === 0) {
        index.set(v, counter);
        low.set(v, counter++);
        stack.push(v);
        onStack.add(v);
      }
      const children = next.get(v)!;
      if (i < children.length) {
        frame[1]++;
        const w = children[i];
        if (!index.has(w)) work.push([w, 0]);
        else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent)!, low.get(v)!));
      }
      if (low.get(v) === index.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1 || children.includes(v)) cycles.push(component.sort());
      }
    }
  }
  return cycles;
}
