import { deriveSeed, Rng } from "./rng.ts";
import { assert, assertEquals } from "../testing/asserts.ts";

Deno.test("rng: the same seed gives the same stream; streams differ by seed and label", () => {
  const a = new Rng(5).normalArray(100, 1);
  assertEquals([...new Rng(5).normalArray(100, 1)], [...a]);
  assert(new Rng(6).normalArray(100, 1).some((v, i) => v !== a[i]));
  assert(deriveSeed(1, "hidden", 0, "A", 1) !== deriveSeed(1, "hidden", 0, "A", 2));
  assert(deriveSeed(1, "x", 12) !== deriveSeed(1, "x1", 2), "labels are separated");
});

Deno.test("rng: normal draws have mean 0 and standard deviation as asked", () => {
  const v = new Rng(9).normalArray(200_000, 2);
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
  assert(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert(Math.abs(sd - 2) < 0.02, `sd ${sd}`);
});

Deno.test("rng: uniform draws stay in [0, 1) and fill it", () => {
  const rng = new Rng(1);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const u = rng.uniform();
    assert(u >= 0 && u < 1, String(u));
    buckets[Math.floor(u * 10)]++;
  }
  for (const b of buckets) assert(Math.abs(b - 10_000) < 500, `bucket ${b}`);
});

Deno.test("rng: pinned values guard against accidental changes of the generator", () => {
  // Changing these breaks reproducibility of every published result: do it only on purpose.
  assertEquals(deriveSeed(1, "a"), 3529857131);
  assertEquals(new Rng(42).nextUint32(), 905145426);
  assertEquals(
    [...new Rng(42).normalArray(3, 1)],
    [0.14541582763195038, 1.3288700580596924, -1.2401667833328247],
  );
});
