import {
  canonicalJson,
  configHash,
  parseResults,
  ResultsError,
  SCHEMA_VERSION,
} from "./results.ts";
import { assertEquals, assertThrows } from "../testing/asserts.ts";
import { fixtureResults } from "../testing/results_fixture.ts";

const file = fixtureResults([{ point: "tp-p2" }, { point: "x", status: "failed" }]);
const [okRun] = file.runs;

Deno.test("results loader: a valid file loads", () => {
  const r = parseResults(JSON.stringify(file));
  assertEquals(r.runs.length, 2);
});

const BAD: [string, unknown, string][] = [
  ["corrupt JSON", '{"schemaVersion": 1,', "not valid JSON"],
  ["newer schema", { ...file, schemaVersion: SCHEMA_VERSION + 1 }, "newer than this suite reads"],
  ["older schema", { ...file, schemaVersion: 0 }, "reads only version 1"],
  ["missing schema", { ...file, schemaVersion: undefined }, "schemaVersion is missing"],
  ["runs not an array", { ...file, runs: {} }, "runs must be an array"],
  [
    "bad status",
    { ...file, runs: [{ ...okRun, status: "maybe" }] },
    'runs[0].status must be one of ok, failed, interrupted, out-of-memory (got "maybe")',
  ],
  ["missing metric", {
    ...file,
    runs: [{ ...okRun, metrics: { ...okRun.metrics, stepTimeMs: undefined } }],
  }, "runs[0].metrics.stepTimeMs is missing"],
  [
    "string width",
    { ...file, runs: [{ ...okRun, config: { ...okRun.config, width: "8" } }] },
    'runs[0].config.width must be an integer (got "8")',
  ],
  ["failed run without error", {
    ...file,
    runs: [{ ...okRun, status: "failed", metrics: undefined }],
  }, "runs[0].error must be a string for a failed run"],
  ["unknown energy method", {
    ...file,
    runs: [{
      ...okRun,
      metrics: { ...okRun.metrics, energy: { ...okRun.metrics!.energy, method: "guessed" } },
    }],
  }, "energy.method must be one of counter, integrated, modelled, projected, unavailable"],
  ["a sample that is not a number", {
    ...file,
    runs: [{
      ...okRun,
      metrics: {
        ...okRun.metrics,
        commTimeMs: { ...okRun.metrics!.commTimeMs, samples: [1, "2"] },
      },
    }],
  }, 'runs[0].metrics.commTimeMs.samples[1] must be a finite number, 0 or more (got "2")'],
  ["a negative median step time", {
    ...file,
    runs: [{
      ...okRun,
      metrics: { ...okRun.metrics, stepTimeMs: { ...okRun.metrics!.stepTimeMs, median: -1 } },
    }],
  }, "runs[0].metrics.stepTimeMs.median must be a finite number, 0 or more (got -1)"],
  ["a loss-curve entry of the wrong length", {
    ...file,
    runs: [{
      ...okRun,
      metrics: { ...okRun.metrics, loss: { ...okRun.metrics!.loss, curve: [[0, 1]] } },
    }],
  }, "runs[0].metrics.loss.curve[0] must be an array of 4"],
];

for (const [label, content, message] of BAD) {
  Deno.test(`results loader refuses ${label}, naming the field`, () => {
    const text = typeof content === "string" ? content : JSON.stringify(content);
    const error = assertThrows(() => parseResults(text, "history/a.json"), ResultsError, message);
    assertEquals(error.message.startsWith("Cannot read history/a.json"), true);
  });
}

Deno.test("config hash: key order does not matter, values do", async () => {
  assertEquals(
    canonicalJson({ b: [1, { d: 2, c: 3 }], a: null }),
    '{"a":null,"b":[1,{"c":3,"d":2}]}',
  );
  assertEquals(await configHash({ a: 1, b: { c: 2 } }), await configHash({ b: { c: 2 }, a: 1 }));
  const h = await configHash({ a: 1 });
  assertEquals(h.length, 16);
  assertEquals(h === (await configHash({ a: 2 })), false);
});
