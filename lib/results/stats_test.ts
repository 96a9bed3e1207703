import { distribution, median, percentile } from "./stats.ts";
import { assertEquals, assertThrows } from "../testing/asserts.ts";

Deno.test("percentiles interpolate linearly between order statistics", () => {
  assertEquals(percentile([3, 1, 2], 0), 1);
  assertEquals(percentile([3, 1, 2], 1), 3);
  assertEquals(median([4, 1, 3, 2]), 2.5);
  assertEquals(percentile([10, 20, 30, 40, 50], 0.25), 20);
  assertEquals(percentile([1, 2], 0.75), 1.75);
  assertEquals(Number.isNaN(median([])), true);
});

Deno.test("distribution keeps the samples in order", () => {
  const d = distribution([5, 1, 3]);
  assertEquals(d, { median: 3, p25: 2, p75: 4, samples: [5, 1, 3] });
});

Deno.test("a quantile outside [0, 1] is a range error", () => {
  assertThrows(() => percentile([1], 1.5), RangeError, "q (1.5)");
});
