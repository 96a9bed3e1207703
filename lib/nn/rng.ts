/**
 * Deterministic, platform-independent random numbers. Weights, batches and teachers are drawn in
 * plain TypeScript (not by a tfjs backend) so the same seed gives bit-identical values on every
 * backend and every run.
 *
 * @module
 */

/**
 * Derives a 32-bit seed from a base seed and labels, so each tensor gets its own independent
 * stream (e.g. `deriveSeed(seed, "hidden", 2, "A", rank)`).
 *
 * @param seed The base seed.
 * @param labels Labels naming the stream.
 * @returns A 32-bit unsigned seed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deriveSeed } from "./rng.ts";
 * assert(deriveSeed(1, "a") === deriveSeed(1, "a"));
 * assert(deriveSeed(1, "a") !== deriveSeed(1, "b"));
 * ```
 */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  // FNV-1a over the textual labels, then mixed with the seed by splitmix32.
  let h = 0x811c9dc5;
  const text = `${seed}|${labels.join("|")}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return splitmix32(h >>> 0);
}

function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A seeded generator (xoshiro128**) with uniform and normal draws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "./rng.ts";
 * const a = new Rng(42).normalArray(4, 1);
 * const b = new Rng(42).normalArray(4, 1);
 * assert(a.every((v, i) => v === b[i]));
 * ```
 */
export class Rng {
  #s = new Uint32Array(4);

  /** @param seed Any 32-bit integer. */
  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = splitmix32(x + i);
      this.#s[i] = x;
    }
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** @returns A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** @returns A uniform number in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** @returns A standard normal draw (Box-Muller; one value per call, the pair is not cached). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /**
   * @param length Number of values.
   * @param std Standard deviation.
   * @returns Float32 normal draws with mean 0.
   */
  normalArray(length: number, std: number): Float32Array {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = this.normal() * std;
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
