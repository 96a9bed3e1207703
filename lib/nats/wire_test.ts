import { Buffer as NodeBuffer } from "node:buffer";
import { bytesPerElement, decode, decodeInto, encode, roundToWire } from "./wire.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";

Deno.test("float32 round-trips exactly; half types round to nearest and halve the bytes", () => {
  const x = Float32Array.from([0, -0, 1, -1, 0.1, 3.14159, 1e-3, 65504, -65504, 1e-8, 2 ** -20]);
  assertEquals([...decode(encode(x, "float32"), "float32")], [...x]);
  for (const dtype of ["float16", "bfloat16"] as const) {
    const bytes = encode(x, dtype);
    assertEquals(bytes.byteLength, x.length * 2);
    assertEquals(bytesPerElement(dtype), 2);
    const y = decode(bytes, dtype);
    x.forEach((v, i) => {
      const rel = dtype === "float16" ? 2 ** -11 : 2 ** -8;
      const tiny = dtype === "float16" ? 2 ** -24 : 0;
      assert(Math.abs(y[i] - v) <= rel * Math.abs(v) + tiny, `${dtype}: ${v} -> ${y[i]}`);
    });
  }
});

Deno.test("float16 edge cases: overflow, infinities, NaN, ties to even", () => {
  const x = Float32Array.from([70000, -Infinity, NaN, 1 + 2 ** -11, 1 + 3 * 2 ** -11]);
  const y = decode(encode(x, "float16"), "float16");
  assertEquals(y[0], Infinity);
  assertEquals(y[1], -Infinity);
  assert(Number.isNaN(y[2]));
  assertEquals(y[3], 1); // tie rounds to even (1.0)
  assertEquals(y[4], 1 + 2 * 2 ** -10); // tie rounds to even (up)
  assert(Number.isNaN(decode(encode(Float32Array.from([NaN]), "bfloat16"), "bfloat16")[0]));
});

Deno.test("decode refuses a partial element and copes with unaligned views", () => {
  assertThrows(() => decode(new Uint8Array(5), "float32"), RangeError, "5 bytes");
  const buf = new Uint8Array(9);
  buf.set(encode(Float32Array.from([1.5, -2]), "float32"), 1);
  assertEquals([...decode(buf.subarray(1), "float32")], [1.5, -2]);
  // A Node Buffer at an odd offset (what the NATS client hands over): its slice() is a view.
  const node = NodeBuffer.from(buf.buffer, 1, 8);
  assertEquals([...decode(node, "float32")], [1.5, -2]);
});

Deno.test("decodeInto writes any dtype at an offset, from unaligned bytes, and refuses overflow", () => {
  const x = Float32Array.from([1.5, -2, 3.25]);
  for (const dtype of ["float32", "float16", "bfloat16"] as const) {
    const bytes = encode(x, dtype);
    const unaligned = new Uint8Array(bytes.byteLength + 1);
    unaligned.set(bytes, 1);
    const out = new Float32Array(5);
    decodeInto(unaligned.subarray(1), dtype, out, 2);
    assertEquals([...out], [0, 0, 1.5, -2, 3.25]);
    assertThrows(() => decodeInto(bytes, dtype, out, 3), RangeError, "into 2 elements");
  }
});

Deno.test("roundToWire gives what a receiver decodes, and float32 untouched", () => {
  const x = Float32Array.from([0.1, 1 / 3, 65504]);
  assert(roundToWire(x, "float32") === x);
  for (const dtype of ["float16", "bfloat16"] as const) {
    assertEquals([...roundToWire(x, dtype)], [...decode(encode(x, dtype), dtype)]);
  }
});
