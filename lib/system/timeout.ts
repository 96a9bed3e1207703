/**
 * A bound on how long to wait for something that may never answer (a hung server).
 *
 * @module
 */

/**
 * @param promise What to wait for.
 * @param ms The bound, in ms.
 * @returns What `promise` resolves to.
 * @throws {Error} "no answer within MS ms" past the bound; whatever `promise` rejects with.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withTimeout } from "./timeout.ts";
 * assert.equal(await withTimeout(Promise.resolve(1), 100), 1);
 * await assert.rejects(() => withTimeout(new Promise(() => {}), 10), /no answer within 10 ms/);
 * ```
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
