/**
 * How tensors travel over NATS: the wire dtype (float32 by default; float16 or bfloat16 halve the
 * bytes at reduced precision) and the split of a payload into chunks that fit the server's
 * max_payload.
 *
 * @module
 */

/** Element type on the wire. */
export type WireDtype = "float32" | "float16" | "bfloat16";
/** The wire dtypes. */
export const WIRE_DTYPES: readonly WireDtype[] = ["float32", "float16", "bfloat16"];

/**
 * @param dtype A wire dtype.
 * @returns Bytes per element.
 */
export function bytesPerElement(dtype: WireDtype): number {
  return dtype === "float32" ? 4 : 2;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Encodes float32 values for the wire (little-endian).
 *
 * @param values The values.
 * @param dtype The wire dtype.
 * @returns The bytes (for float32, a view of `values`' memory: no copy).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode, encode } from "./wire.ts";
 * const x = new Float32Array([1, -2.5, 65504]);
 * assert.deepEqual([...decode(encode(x, "float16"), "float16")], [1, -2.5, 65504]);
 * ```
 */
export function encode(values: Float32Array, dtype: WireDtype): Uint8Array {
  if (dtype === "float32") {
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
  const out = new Uint16Array(values.length);
  const convert = dtype === "float16" ? toFloat16 : toBfloat16;
  for (let i = 0; i < values.length; i++) out[i] = convert(values[i]);
  return new Uint8Array(out.buffer);
}

/**
 * Decodes wire bytes into float32 values.
 *
 * @param bytes The bytes (any alignment).
 * @param dtype The wire dtype.
 * @param options `owned`: the caller hands `bytes` over (nobody else will touch them), so aligned
 *   float32 data may be returned as a view instead of a copy.
 * @returns Float32 values the caller owns.
 * @throws {RangeError} If the byte count is not a whole number of elements.
 */
export function decode(
  bytes: Uint8Array,
  dtype: WireDtype,
  options: { owned?: boolean } = {},
): Float32Array {
  const size = bytesPerElement(dtype);
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(
      `Cannot decode ${dtype}: ${bytes.byteLength} bytes is not a multiple of ${size}`,
    );
  }
  // new Uint8Array(x) copies (a Node Buffer's slice() would not), giving an aligned offset 0.
  const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  if (dtype === "float32") {
    const view = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
    return options.owned || aligned !== bytes ? view : view.slice();
  }
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  const out = new Float32Array(halves.length);
  const convert = dtype === "float16" ? fromFloat16 : fromBfloat16;
  for (let i = 0; i < halves.length; i++) out[i] = convert(halves[i]);
  return out;
}

/** float32 -> bfloat16 bits, rounding to nearest even. */
function toBfloat16(v: number): number {
  f32[0] = v;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40; // NaN stays NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function fromBfloat16(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** float32 -> IEEE half bits, rounding to nearest even; overflow to infinity. */
function toFloat16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const rest = mant & 0x1fff;
  mant >>>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && (mant & 1))) {
    mant++;
    if (mant === 0x400) {
      mant = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | mant;
}

function fromFloat16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * Decodes wire bytes straight into a slice of a float32 destination (no intermediate array).
 *
 * @param bytes The bytes (any alignment), a whole number of elements.
 * @param dtype The wire dtype.
 * @param out The destination.
 * @param at Where the first element goes in `out`.
 * @throws {RangeError} If the bytes do not fit `out` from `at`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInto, encode } from "./wire.ts";
 * const out = new Float32Array(4);
 * decodeInto(encode(Float32Array.from([1, 2]), "bfloat16"), "bfloat16", out, 2);
 * assert.deepEqual([...out], [0, 0, 1, 2]);
 * ```
 */
export function decodeInto(
  bytes: Uint8Array,
  dtype: WireDtype,
  out: Float32Array,
  at: number,
): void {
  const size = bytesPerElement(dtype);
  const n = bytes.byteLength / size;
  if (!Number.isInteger(n) || at + n > out.length) {
    throw new RangeError(
      `Cannot decode ${bytes.byteLength} bytes of ${dtype} into ${out.length - at} elements`,
    );
  }
  if (dtype === "float32") {
    // A byte copy: the source may sit at any offset of the client's buffer. A plain Uint8Array
    // view copies about a third faster than the client's Node Buffer subclass (measured).
    const source = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    new Uint8Array(out.buffer, out.byteOffset + at * 4, n * 4).set(source);
    return;
  }
  const convert = dtype === "float16" ? fromFloat16 : fromBfloat16;
  for (let i = 0; i < n; i++) {
    out[at + i] = convert(bytes[2 * i] | (bytes[2 * i + 1] << 8));
  }
}

/**
 * Rounds values to what the wire dtype can carry, in place of a send and receive (for ranks that
 * exchange in memory: results must not depend on which ranks share a host).
 *
 * @param values The values.
 * @param dtype The wire dtype.
 * @returns Values as a receiver would decode them (`values` itself for float32).
 */
export function roundToWire(values: Float32Array, dtype: WireDtype): Float32Array {
  return dtype === "float32" ? values : decode(encode(values, dtype), dtype);
}
