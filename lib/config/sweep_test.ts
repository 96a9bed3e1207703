import { ConfigError } from "./config_error.ts";
import { expandSweep, parseFilter, type Sweep } from "./sweep.ts";
import { scaling, SWEEPS, width } from "./sweeps.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";

Deno.test("scaling: TP and phantom for p = 1..256; impossible points excluded with the rule's reason", () => {
  const e = expandSweep(scaling);
  const ids = e.points.map((p) => p.id);
  assert(ids.includes("tp-p256-n1024-L2-b32"));
  assert(ids.includes("phantom-p128-n1024-k4-L2-b32"));
  // n/p = 4 at p = 256: k = 4 is not below it.
  assertEquals(e.excluded, [{
    point: "phantom-p256-n1024-k4-L2-b32",
    reason: "Invalid config: phantomWidth (4) must be smaller than width/ranks (4)",
  }]);
  assertEquals(e.points.length + e.excluded.length, 18);
  assertEquals(e.points.find((p) => p.config.mode === "tp")?.config.phantomWidth, undefined);
});

Deno.test("width: k >= n/p is excluded; quick shrinks the axes and steps", () => {
  const full = expandSweep(width);
  assert(full.excluded.some((x) => x.point === "phantom-p4-n256-k64-L2-b32"));
  const quick = expandSweep(width, { quick: true });
  assert(quick.points.length < full.points.length);
  assert(quick.points.every((p) => p.config.steps === 6));
  assertEquals(quick.warmup, 1);
});

Deno.test("every built-in sweep expands to valid points", () => {
  for (const sweep of Object.values(SWEEPS)) {
    for (const quick of [false, true]) {
      const e = expandSweep(sweep, { quick });
      assert(e.points.length > 0, `${sweep.id} has no points`);
      assert(e.warmup < Math.min(...e.points.map((p) => p.config.steps)), `${sweep.id}: warm-up`);
    }
  }
});

const demo: Sweep = {
  id: "demo",
  version: 1,
  description: "",
  base: { width: 64, layers: 1, batch: 4, steps: 3, phantomWidth: 2 },
  axes: { mode: ["tp", "phantom"], ranks: [1, 2, 4, 5] },
  repeats: 2,
  warmup: 1,
  exclusions: [{ when: { mode: "tp", ranks: 4 }, reason: "not today" }],
};

Deno.test("explicit exclusions, filters, repeat and field overrides", () => {
  const e = expandSweep(demo, {
    filter: "ranks<=4,mode!=serial",
    overrides: { backend: "cpu" },
    repeats: 3,
  });
  assertEquals(e.repeats, 3);
  assertEquals(e.excluded.map((x) => x.point), ["tp-p4-n64-L1-b4"]);
  assertEquals(e.points.map((p) => p.id), [
    "tp-p1-n64-L1-b4",
    "tp-p2-n64-L1-b4",
    "phantom-p1-n64-k2-L1-b4",
    "phantom-p2-n64-k2-L1-b4",
    "phantom-p4-n64-k2-L1-b4",
  ]);
  assert(e.points.every((p) => p.config.backend === "cpu"));
  // Without the filter, p = 5 (not dividing 64) is excluded by rule.
  assert(
    expandSweep(demo).excluded.some((x) => x.reason.includes("ranks (5) must divide width (64)")),
  );
});

Deno.test("filters: every operator, and errors that name the condition", () => {
  const p = { mode: "phantom", ranks: 8, width: 1024 };
  for (
    const [f, want] of [["mode=phantom", true], ["ranks<8", false], ["ranks>=8,width>512", true], [
      "width!=1024",
      false,
    ], ["ranks>2,ranks<=4", false]] as const
  ) {
    assertEquals(parseFilter(f)(p), want, f);
  }
  assertThrows(() => parseFilter("ranks~8"), ConfigError, '"ranks~8"');
  assertThrows(() => expandSweep(demo, { repeats: 0 }), ConfigError, "--repeats (0)");
});
