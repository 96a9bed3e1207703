// The regression verdict on real repeat distributions (tests/data/step_time_repeats.json: ten
// separate invocations of one configuration on this project's 2-vCPU build machine, three runs
// each): unchanged code must not be called a regression in more than 1 of 20 pairs, and a real
// slowdown of every run must be caught.
import { compareMetric } from "../lib/report/compare.ts";
import { mannWhitneyU } from "../lib/report/mann_whitney.ts";
import { metricSpec } from "../lib/results/metrics.ts";
import { median } from "../lib/results/stats.ts";
import { assert } from "../lib/testing/asserts.ts";

interface Recorded {
  files: { createdAt: string; points: Record<string, number[][]> }[];
}
const data: Recorded = JSON.parse(
  await Deno.readTextFile(new URL("./data/step_time_repeats.json", import.meta.url)),
);
const spec = metricSpec("stepTimeMs");
const points = Object.keys(data.files[0].points);
const pairs = data.files.flatMap((a, i) =>
  data.files.slice(i + 1).flatMap((b) => points.map((p) => [a.points[p], b.points[p]] as const))
);

Deno.test("compare on recorded repeats: separate runs of the same code give no regression in 19 of 20 pairs", () => {
  const verdicts = pairs.map(([a, b]) => compareMetric(spec, a, b)!.verdict);
  const regressions = verdicts.filter((v) => v === "regression").length;
  console.log(`${regressions} regressions in ${pairs.length} pairs of the same configuration`);
  assert(regressions <= pairs.length / 20, `${regressions} of ${pairs.length}`);
  // The method it replaced (every step pooled, Mann-Whitney U, 5% band) fails this on the same
  // pairs: the test tells them apart.
  const old = pairs.filter(([a, b]) => {
    const [pa, pb] = [a.flat(), b.flat()];
    const change = (median(pb) - median(pa)) / median(pa);
    return change > 0.05 && mannWhitneyU(pa, pb).pValue < 0.05;
  }).length;
  console.log(`the pooled-step U test called ${old} of them regressions`);
  assert(old > pairs.length / 20, `old method: ${old} of ${pairs.length}`);
});

Deno.test("compare on recorded repeats: every run 1.3x slower is a regression wherever the runs agree", () => {
  const slow = (runs: number[][]) => runs.map((r) => r.map((x) => 1.3 * x));
  let judged = 0;
  for (const file of data.files) {
    for (const p of points) {
      const runs = file.points[p];
      const medians = runs.map((r) => median(r));
      // A file whose own runs differ by more than the slowdown cannot show it: not judged here.
      if (Math.max(...medians) / Math.min(...medians) > 1.15) continue;
      judged++;
      const row = compareMetric(spec, runs, slow(runs))!;
      assert(row.verdict === "regression", `${file.createdAt} ${p}: ${JSON.stringify(row)}`);
    }
  }
  assert(judged >= 0.8 * data.files.length * points.length, `only ${judged} judged`);
  // Across pairs of separate invocations too, at least 90% of slowed pairs are caught.
  const caught = pairs.filter(([a, b]) =>
    compareMetric(spec, a, slow(b))!.verdict === "regression"
  );
  assert(caught.length >= 0.9 * pairs.length, `${caught.length} of ${pairs.length}`);
});
