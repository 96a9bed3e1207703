import {
  canonicalJson,
  configHash,
  parseResults,
  ResultsError,
  SCHEMA_VERSION,
} from "./results.ts";
import { assertEquals, assertThrows } from "../testing/asserts.ts";

const dist = { median: 1, p25: 1, p75: 1, samples: [1] };
const okRun = {
  id: "tp-p2#0",
  point: "tp-p2",
  repeat: 0,
  configHash: "0123456789abcdef",
  status: "ok",
  config: {
    mode: "tp",
    ranks: 2,
    width: 8,
    phantomWidth: null,
    layers: 1,
    batch: 2,
    inputWidth: 2,
    outputWidth: 1,
    steps: 3,
    seed: 1,
    backend: "wasm",
    dtype: "float32",
  },
  metrics: {
    stepTimeMs: dist,
    commTimeMs: dist,
    computeTimeMs: dist,
    bytesSentPerRankPerStep: 8,
    bytesReceivedPerRankPerStep: 8,
    achievedGflops: 1,
    predicted: {
      bytesSentPerRankPerStep: 8,
      bytesReceivedPerRankPerStep: 8,
      flopsPerRankPerStep: 1,
      parametersPerRank: 1,
    },
    energy: { method: "unavailable", joulesPerStep: null },
    loss: {
      curve: [[0, 0, null, 1]],
      target: { kind: "fraction", value: 0.5, absolute: 0.5 },
      stepsToTarget: null,
    },
  },
};
const file = {
  schemaVersion: SCHEMA_VERSION,
  createdAt: "2026-11-25T00:00:00Z",
  environment: {},
  sweep: { id: "demo", version: 1, excluded: [] },
  communicator: {},
  power: {},
  runs: [okRun, {
    ...okRun,
    id: "x#0",
    status: "failed",
    error: "rank 3 died",
    metrics: undefined,
  }],
};

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
    'runs[0].status must be "ok" or "failed"',
  ],
  ["missing metric", {
    ...file,
    runs: [{ ...okRun, metrics: { ...okRun.metrics, stepTimeMs: undefined } }],
  }, "runs[0].metrics.stepTimeMs must be an object"],
  [
    "string width",
    { ...file, runs: [{ ...okRun, config: { ...okRun.config, width: "8" } }] },
    'runs[0].config.width must be a finite number (got "8")',
  ],
  ["failed run without error", {
    ...file,
    runs: [{ ...okRun, status: "failed", metrics: undefined }],
  }, "runs[0].error must be a string"],
  ["unknown energy method", {
    ...file,
    runs: [{ ...okRun, metrics: { ...okRun.metrics, energy: { method: "guessed" } } }],
  }, "energy.method must be counter"],
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
