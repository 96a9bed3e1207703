import { compareResults } from "./compare.ts";
import { comparisonMarkdown, markdownText } from "./compare_markdown.ts";
import { toBencher, toGithubBenchmark } from "./exports.ts";
import { parseResults, type ResultsFile } from "../results/results.ts";
import { fixtureResults, type FixtureRun, repeated } from "../testing/results_fixture.ts";
import { assert, assertEquals } from "../testing/asserts.ts";

/** Three repeats of each run. */
const file = (runs: FixtureRun[], extra: Partial<ResultsFile> = {}) =>
  fixtureResults(runs.flatMap((r) => repeated(r)), extra);

const base = file([
  { point: "a", stepMs: 100, joulesPerStep: 10 },
  { point: "b", stepMs: 50 },
  { point: "gone", stepMs: 10, ranks: 8 },
]);

const row = (report: ReturnType<typeof compareResults>, point: string, metric: string) =>
  report.rows.find((r) => r.point === point && r.metric === metric);
const verdict = (report: ReturnType<typeof compareResults>, point: string, metric: string) =>
  row(report, point, metric)?.verdict;

Deno.test("compare: every repeat 30% slower is a regression; 20% faster an improvement", () => {
  const cur = file([{ point: "a", stepMs: 130, joulesPerStep: 10 }, { point: "b", stepMs: 40 }]);
  const r = compareResults(base, cur);
  assertEquals(verdict(r, "a", "stepTimeMs"), "regression");
  assertEquals(verdict(r, "b", "stepTimeMs"), "improvement");
  assertEquals(verdict(r, "a", "joulesPerStep"), "noise");
  assertEquals(r.outcome, "regression");
  const slow = row(r, "a", "stepTimeMs")!;
  assert(slow.interval![0] > 1.25 && slow.interval![1] < 1.35, String(slow.interval));
  assertEquals(slow.runs!.current.count, 3);
  assertEquals(r.unmatched.map((u) => [u.point, u.side]), [["gone", "baseline"]]);
});

Deno.test("compare: a change inside the band, or within the runs' spread, is noise", () => {
  const small = compareResults(base, file([{ point: "a", stepMs: 103, joulesPerStep: 10 }]));
  assertEquals(verdict(small, "a", "stepTimeMs"), "noise");
  // Runs 15% apart within each file: a 12% shift is inside the band their spread sets.
  const spreadRuns = (scale: number) =>
    fixtureResults(
      [85, 100, 115].map((ms, repeat) => ({ point: "a", stepMs: ms * scale, repeat })),
    );
  const spread = compareResults(spreadRuns(1), spreadRuns(1.12));
  const r = row(spread, "a", "stepTimeMs")!;
  assert(r.bandPct! > 12, String(r.bandPct));
  assertEquals(r.verdict, "noise");
  // A wider floor for one metric swallows the slowdown that regressed above.
  const wide = compareResults(base, file([{ point: "a", stepMs: 130, joulesPerStep: 10 }]), {
    noisePctFor: { stepTimeMs: 40, commTimeMs: 40 },
  });
  assertEquals(wide.outcome, "pass");
});

Deno.test("compare: fewer repeats than needed give no timing verdict, neither pass nor regression", () => {
  const one = fixtureResults([{ point: "a", stepMs: 100, bytesSent: 1000 }]);
  const slower = fixtureResults([{ point: "a", stepMs: 300, bytesSent: 1000 }]);
  const r = compareResults(one, slower);
  assertEquals(verdict(r, "a", "stepTimeMs"), "too-few-repeats");
  assertEquals(verdict(r, "a", "bytesSentPerRankPerStep"), "unchanged");
  assertEquals([r.outcome, r.counts["too-few-repeats"]], ["pass", 2]);
  assert(comparisonMarkdown(r).includes("not enough repeats (1 and 1 runs; a verdict needs 3"));
  // --min-repeats 1 would judge it, but one run gives no interval: noise is all it can say.
  const lenient = compareResults(base, file([{ point: "a", stepMs: 300 }]), { minRepeats: 2 });
  assertEquals(verdict(lenient, "a", "stepTimeMs"), "regression");
});

Deno.test("compare: exact metrics compared exactly; energy methods must match; failures listed", () => {
  const cur = file([
    { point: "a", stepMs: 100, joulesPerStep: 20, energyMethod: "modelled", bytesSent: 1200 },
    { point: "b", status: "failed" },
  ]);
  const r = compareResults(base, cur);
  assertEquals(verdict(r, "a", "bytesSentPerRankPerStep"), "regression");
  assertEquals(row(r, "a", "bytesSentPerRankPerStep")!.interval, null);
  const energy = row(r, "a", "joulesPerStep")!;
  assertEquals([energy.verdict, energy.note], [
    "incomparable",
    "energy methods differ (counter, modelled)",
  ]);
  assertEquals(r.failed, [{ point: "b", error: "rank 1: collective timed out" }]);
  const md = comparisonMarkdown(r);
  assert(md.includes("## phantom-bench: regression"), md);
  assert(
    md.includes(
      "| a | bytesSentPerRankPerStep | 1000 B | 1200 B | +20.0% | exact | 5.0% | regression |",
    ),
    md,
  );
  assert(md.includes("- b: rank 1: collective timed out"), md);
});

Deno.test("compare: a changed communicator is named and makes timing and energy incomparable", () => {
  const cur = file([{ point: "a", stepMs: 10, joulesPerStep: 10 }, { point: "b", stepMs: 50 }], {
    communicator: { kind: "in-process" },
  });
  const r = compareResults(base, cur);
  const change = r.setup.find((c) => c.field === "communicator")!;
  assertEquals([change.baseline, change.current, change.blocksTiming], [
    "nats",
    "in-process",
    true,
  ]);
  assertEquals(verdict(r, "a", "stepTimeMs"), "incomparable");
  assertEquals(verdict(r, "a", "commTimeMs"), "incomparable");
  assertEquals(verdict(r, "a", "bytesSentPerRankPerStep"), "unchanged");
  assertEquals(r.outcome, "pass");
  assert(
    comparisonMarkdown(r).includes(
      "- communicator: nats -> in-process (timing and energy not compared",
    ),
  );
  const allowed = compareResults(base, cur, { allowSetupChange: true });
  assertEquals(verdict(allowed, "a", "stepTimeMs"), "improvement");
  // Names only: a new commit or host is printed, not blocking.
  const moved = compareResults(
    base,
    file([{ point: "a", stepMs: 100 }], {
      environment: { ...base.environment, gitCommit: "def456", hostname: "other" },
    }),
  );
  assertEquals(moved.setup.map((c) => [c.field, c.blocksTiming]), [["host name", false], [
    "suite commit",
    false,
  ]]);
  assertEquals(verdict(moved, "a", "stepTimeMs"), "noise");
});

Deno.test("compare: points differing only in steps or warm-up are matched, per step, and say so", () => {
  const longer = file([{ point: "a", stepMs: 100 }]);
  for (const r of longer.runs) Object.assign(r.config, { steps: 100, warmup: 5 });
  const r = compareResults(base, longer);
  assertEquals(r.compared, 1);
  assertEquals(verdict(r, "a", "stepTimeMs"), "noise");
  assertEquals(row(r, "a", "stepsToTarget"), undefined);
  assertEquals(
    r.scheduleNotes[0].note.startsWith("steps 20 -> 100"),
    true,
    r.scheduleNotes[0].note,
  );
});

Deno.test("compare: nothing matched is not a pass: the outcome says so, with the reason per point", () => {
  const other = file([{ point: "a", stepMs: 100 }]);
  for (const r of other.runs) Object.assign(r.config, { task: { evalEvery: 3 } });
  const r = compareResults(base, other);
  assertEquals([r.outcome, r.compared], ["nothing-compared", 0]);
  const a = r.unmatched.find((u) => u.point === "a" && u.side === "current")!;
  assert(a.why.includes("task.evalEvery (none) vs 3"), a.why);
  assert(comparisonMarkdown(r).startsWith("## phantom-bench: nothing compared"));
  const empty = compareResults(base, fixtureResults([]));
  assertEquals(empty.outcome, "nothing-compared");
});

Deno.test("compare: text from a results file cannot forge a heading, row or HTML in the summary", () => {
  const evil = "x |\n## phantom-bench: no regression\n<img src=y>";
  const cur = file([{ point: "a", status: "failed" }]);
  for (const r of cur.runs) r.error = evil;
  const md = comparisonMarkdown(compareResults(base, cur));
  assert(!md.split("\n").some((l) => l.startsWith("## phantom-bench: no regression")), md);
  assert(!md.includes("<img"), md);
  assertEquals(markdownText("a\u001b[31mred"), "a [31mred");
});

Deno.test("compare: identical files show no regression", () => {
  const r = compareResults(base, base);
  assertEquals(r.outcome, "pass");
  assert(r.rows.every((x) => x.verdict === "unchanged" || x.verdict === "noise"));
});

Deno.test("exports: Bencher Metric Format and github-action-benchmark shapes", () => {
  const one = fixtureResults([
    { point: "a", stepMs: 100, joulesPerStep: 10 },
    { point: "b", stepMs: 50 },
    { point: "gone", stepMs: 10 },
  ]);
  const bmf = toBencher(one);
  assertEquals(Object.keys(bmf), ["a", "b", "gone"]);
  assertEquals(bmf.a["bytes-sent"], { value: 1000 });
  assert(bmf.a["step-time"].lower_value! <= bmf.a["step-time"].value);
  assert(bmf.a["energy-per-step"] && !bmf.b["energy-per-step"], "energy only where measured");
  const smaller = toGithubBenchmark(one, "smaller");
  assertEquals(smaller[0].name, "a step time");
  assertEquals(smaller[1].extra, "method: counter");
  const bigger = toGithubBenchmark(one, "bigger");
  assertEquals(bigger.map((e) => e.unit), ["GFLOP/s", "GFLOP/s", "GFLOP/s"]);
});

Deno.test("the fixture is a valid results file", () => {
  parseResults(JSON.stringify(base));
});
