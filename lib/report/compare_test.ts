import { compareResults, comparisonMarkdown } from "./compare.ts";
import { toBencher, toGithubBenchmark } from "./exports.ts";
import { parseResults } from "../results/results.ts";
import { fixtureResults } from "../testing/results_fixture.ts";
import { assert, assertEquals } from "../testing/asserts.ts";

const base = fixtureResults([
  { point: "a", stepMs: 100, joulesPerStep: 10 },
  { point: "b", stepMs: 50 },
  { point: "gone", stepMs: 10 },
]);

const verdict = (report: ReturnType<typeof compareResults>, point: string, metric: string) =>
  report.rows.find((r) => r.point === point && r.metric === metric)?.verdict;

Deno.test("compare: a clear slowdown beyond the band is a regression; a speed-up an improvement", () => {
  const cur = fixtureResults([{ point: "a", stepMs: 120, joulesPerStep: 10 }, {
    point: "b",
    stepMs: 40,
  }]);
  const r = compareResults(base, cur);
  assertEquals(verdict(r, "a", "stepTimeMs"), "regression");
  assertEquals(verdict(r, "b", "stepTimeMs"), "improvement");
  assertEquals(verdict(r, "a", "joulesPerStep"), "unchanged");
  assert(r.regressed);
  assertEquals(r.baselineOnly, ["gone"]);
});

Deno.test("compare: a change inside the band, or not significant, is noise", () => {
  const small = compareResults(
    base,
    fixtureResults([{ point: "a", stepMs: 103, joulesPerStep: 10 }]),
  );
  assertEquals(verdict(small, "a", "stepTimeMs"), "noise");
  // +10% median but samples spread +-60%: not significant by Mann-Whitney.
  const noisy = compareResults(
    fixtureResults([{ point: "a", stepMs: 100, spread: 0.6 }]),
    fixtureResults([{ point: "a", stepMs: 110, spread: 0.6 }]),
  );
  const row = noisy.rows.find((r) => r.metric === "stepTimeMs")!;
  assert(row.pValue! > 0.05, String(row.pValue));
  assertEquals(row.verdict, "noise");
  assertEquals(noisy.regressed, false);
  // A wider band per metric swallows the slowdown that regressed above.
  const wide = compareResults(
    base,
    fixtureResults([{ point: "a", stepMs: 120, joulesPerStep: 10 }]),
    {
      noisePctFor: { stepTimeMs: 25 },
    },
  );
  assertEquals(verdict(wide, "a", "stepTimeMs"), "noise");
});

Deno.test("compare: exact metrics need no test; energy methods must match; failures and new points are listed", () => {
  const cur = fixtureResults([
    { point: "a", stepMs: 100, joulesPerStep: 20, energyMethod: "modelled", bytesSent: 1200 },
    { point: "b", status: "failed" },
    { point: "new", stepMs: 1 },
  ]);
  const r = compareResults(base, cur);
  assertEquals(verdict(r, "a", "bytesSentPerRankPerStep"), "regression");
  assertEquals(r.rows.find((x) => x.metric === "bytesSentPerRankPerStep")!.pValue, null);
  const energy = r.rows.find((x) => x.metric === "joulesPerStep")!;
  assertEquals([energy.verdict, energy.note], [
    "incomparable",
    "energy method changed from counter to modelled",
  ]);
  assertEquals(r.failed, [{ point: "b", error: "rank 1: collective timed out" }]);
  assertEquals(r.currentOnly, ["new"]);
  const md = comparisonMarkdown(r);
  assert(md.includes("## phantom-bench: regression"), md);
  assert(
    md.includes("| a | bytesSentPerRankPerStep | 1000 B | 1200 B | +20.0% | exact | regression |"),
    md,
  );
  assert(
    md.includes("only in the current run: new") && md.includes("b: rank 1: collective timed out"),
    md,
  );
});

Deno.test("compare: identical files show no regression", () => {
  const r = compareResults(base, base);
  assertEquals(r.regressed, false);
  assert(r.rows.every((x) => x.verdict === "unchanged"));
});

Deno.test("exports: Bencher Metric Format and github-action-benchmark shapes", () => {
  const bmf = toBencher(base);
  assertEquals(Object.keys(bmf), ["a", "b", "gone"]);
  assertEquals(bmf.a["bytes-sent"], { value: 1000 });
  assert(bmf.a["step-time"].lower_value! <= bmf.a["step-time"].value);
  assert(bmf.a["energy-per-step"] && !bmf.b["energy-per-step"], "energy only where measured");
  const smaller = toGithubBenchmark(base, "smaller");
  assertEquals(smaller[0].name, "a step time");
  assertEquals(smaller[1].extra, "method: counter");
  const bigger = toGithubBenchmark(base, "bigger");
  assertEquals(bigger.map((e) => e.unit), ["GFLOP/s", "GFLOP/s", "GFLOP/s"]);
});

Deno.test("the fixture is a valid results file", () => {
  parseResults(JSON.stringify(base));
});
