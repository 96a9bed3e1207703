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
 * Splits a payload into chunks of at most `maxChunkBytes` (an empty payload is one empty chunk).
 *
 * @param bytes The payload.
 * @param maxChunkBytes Largest chunk.
 * @returns Views of `bytes`, in order.
 * @throws {RangeError} If maxChunkBytes is not positive.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitChunks } from "./wire.ts";
 * assert.deepEqual(splitChunks(new Uint8Array(10), 4).map((c) => c.length), [4, 4, 2]);
 * ```
 */
export function splitChunks(bytes: Uint8Array, maxChunkBytes: number): Uint8Array[] {
  if (!(maxChunkBytes > 0)) {
    throw new RangeError(`Cannot chunk: max chunk (${maxChunkBytes}) must be > 0`);
  }
  if (bytes.byteLength === 0) return [bytes];
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += maxChunkBytes) {
    chunks.push(bytes.subarray(offset, Math.min(offset + maxChunkBytes, bytes.byteLength)));
  }
  return chunks;
}

/**
 * Joins chunks back into one payload.
 *
 * @param chunks The chunks, in order.
 * @returns One buffer.
 */
export function joinChunks(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
