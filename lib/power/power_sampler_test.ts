import { CounterUnwrapper } from "./power_sampler.ts";
import { assertEquals, assertThrows } from "../testing/asserts.ts";

Deno.test("counter unwrapping: increases, single and repeated wraps", () => {
  const u = new CounterUnwrapper(1000n);
  assertEquals(u.update(990n), 0n);
  assertEquals(u.update(995n), 5n);
  assertEquals(u.update(3n), 13n); // wrapped: 5 to the top, 3 after
  assertEquals(u.update(3n), 13n); // no change
  assertEquals(u.update(999n), 1009n);
  assertEquals(u.update(0n), 1010n);
});

Deno.test("counter unwrapping: 64-bit NVML counters near the top", () => {
  const u = new CounterUnwrapper(1n << 64n);
  u.update((1n << 64n) - 2n);
  assertEquals(u.update(3n), 5n);
});

Deno.test("counter unwrapping: a non-positive range is refused", () => {
  assertThrows(() => new CounterUnwrapper(0n), RangeError, "range (0)");
});
