import { ConfigError } from "./config_error.ts";
import { expandSweep, parseFilter, parseSweepFile, type Sweep } from "./sweep.ts";
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

Deno.test("every built-in sweep passes the sweep-file checks (what users copy is valid)", () => {
  for (const [name, sweep] of Object.entries(SWEEPS)) {
    const parsed = parseSweepFile(JSON.stringify(sweep), `${name}.json`);
    assertEquals(parsed.id, sweep.id);
  }
});

Deno.test("a malformed sweep file is one ConfigError naming the field, never a TypeError", () => {
  const base = {
    id: "x",
    version: 1,
    base: { mode: "tp" },
    axes: { ranks: [1] },
    repeats: 1,
    warmup: 0,
  };
  const cases: [Record<string, unknown>, string][] = [
    [{ axes: { ranks: 4 } }, "axes.ranks (4) must be a non-empty list"],
    [{ axes: { ranks: [] } }, "axes.ranks ([]) must be a non-empty list"],
    [{ exclusions: 5 }, "exclusions (5) must be a list"],
    [{ exclusions: [{ when: 1, reason: "r" }] }, "exclusions[0]"],
    [
      { exclusions: [{ when: { widht: 1 }, reason: "r" }] },
      'exclusions[0].when ("widht") is not a known field',
    ],
    [{ quick: { axes: 7 } }, "quick.axes (7) must be an object"],
    [{ quick: { axes: { ranks: "1" } } }, "quick.axes.ranks"],
    [{ quick: { bsae: {} } }, 'quick ("bsae") is not a known field'],
    [{ base: { widht: 64 } }, 'base ("widht") is not a known field'],
    [{ base: { optimizer: { learningrate: 1 } } }, 'base.optimizer ("learningrate")'],
    [{ axes: { widht: [64] } }, 'axes.widht ("widht") is not a known field'],
    [{ warmup: -1 }, "warmup (-1) must be a whole number"],
    [{ warmup: 1.5 }, "warmup (1.5) must be a whole number"],
    [{ repeats: 0 }, "repeats (0) must be a positive integer"],
    [{ target: { kind: "bogus", value: 1 } }, "target ("],
    [{ target: { kind: "fraction", value: 2 } }, "target.value (2) must be a fraction"],
    [{ target: { kind: "absolute", value: -1 } }, "target.value (-1) must be a positive loss"],
    [{ steps: 5 }, '(top level) ("steps") is not a known field'],
  ];
  for (const [change, message] of cases) {
    const text = JSON.stringify({ ...base, ...change });
    const error = assertThrows(() => parseSweepFile(text, "s.json"), ConfigError);
    assert(error.message.includes(message), `${JSON.stringify(change)}: ${error.message}`);
  }
});

Deno.test("network: links are the outer axis; a point's link is kept out of its training config", () => {
  const e = expandSweep(SWEEPS.network);
  assertEquals(e.points.length, 16);
  assertEquals(
    e.points.map((p) => p.link),
    [null, "1gbit", "100mbit", "25mbit"].flatMap((l) => Array(4).fill(l)),
  );
  assertEquals(e.points[0].id, "tp-p4-n1024-L2-b128-link-none");
  assertEquals(e.points[15].id, "phantom-p8-n1024-k16-L2-b128-link-25mbit");
  assert(!("link" in e.points[15].config), "link is not a training field");
  // A sweep without links has none on its points (and the same ids as before).
  assert(expandSweep(scaling).points.every((p) => !("link" in p)));
  // Filters pick rates; an unshaped link is "none".
  const slow = expandSweep(SWEEPS.network, { filter: "link=25mbit,mode=tp" });
  assertEquals(slow.points.map((p) => p.id), [
    "tp-p4-n1024-L2-b128-link-25mbit",
    "tp-p8-n1024-L2-b128-link-25mbit",
  ]);
  assertEquals(
    expandSweep(SWEEPS.network, { filter: "link=none" }).points.map((p) => p.link),
    [null, null, null, null],
  );
});

Deno.test("a sweep file's link must be null or a rate, named with its place", () => {
  const file = (link: unknown) =>
    JSON.stringify({
      id: "x",
      version: 1,
      base: { mode: "tp" },
      axes: { link: [null, link] },
      repeats: 1,
      warmup: 0,
    });
  assertEquals(parseSweepFile(file("10mbit"), "x.json").axes.link, [null, "10mbit"]);
  for (const bad of ["fast", "10 mbit", 25, "0mbit"]) {
    const error = assertThrows(() => parseSweepFile(file(bad), "x.json"), ConfigError);
    assert(
      error.message.includes("axes.link") && error.message.includes("must be null"),
      error.message,
    );
  }
});
