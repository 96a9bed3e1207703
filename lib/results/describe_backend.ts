/**
 * A backend record in a few words, for a terminal line, a tooltip or a report cell: the name,
 * then what decides its speed (BLAS library and threads, GPU adapter, SIMD and threads of wasm).
 *
 * @module
 */

import type { BackendRecord } from "./results.ts";

/**
 * @param backend The backend as a results file records it (or undefined where it did not).
 * @returns A short phrase, e.g. "blas (OpenBLAS 0.3.21, 2 threads)"; "unknown" without a record.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeBackend } from "./describe_backend.ts";
 * const flags = { blasConfig: "OpenBLAS 0.3.21 NO_LAPACKE SkylakeX", blasThreads: 2 };
 * assert.equal(describeBackend({ name: "blas", flags }), "blas (OpenBLAS 0.3.21, 2 threads)");
 * assert.equal(describeBackend(undefined), "unknown");
 * ```
 */
export function describeBackend(backend: BackendRecord | undefined): string {
  if (!backend) return "unknown";
  const f = backend.flags ?? {};
  const parts: string[] = [];
  const text = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim() : undefined);
  const blas = text(f.blasConfig)?.split(/\s+/).slice(0, 2).join(" ") ?? text(f.blasLibrary);
  if (blas) parts.push(blas);
  const adapter = text(f.adapterDescription);
  if (adapter) parts.push(adapter + (f.isFallbackAdapter === true ? " (software)" : ""));
  if (typeof f.simd === "boolean") parts.push(f.simd ? "SIMD" : "no SIMD");
  const threads = f.blasThreads ?? f.threads;
  if (typeof threads === "number") parts.push(`${threads} thread${threads === 1 ? "" : "s"}`);
  return parts.length ? `${backend.name} (${parts.join(", ")})` : backend.name;
}
