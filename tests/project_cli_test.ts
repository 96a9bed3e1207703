// deno task project end to end: a projection written as results whose every run is labelled
// projected (and its report says so), calibration writing a profile that loads, validation ending
// with its median error line, and the refusals: a bad profile, compare against projections.
import { fixtureResults } from "../lib/testing/results_fixture.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { runDeno, runTask, taskArgs } from "../lib/testing/run_deno.ts";
import { loadResults } from "../lib/results/results.ts";
import { loadProfile } from "../lib/projection/profile.ts";
import { deadlineTest } from "../lib/testing/system.ts";

const PROJECT = taskArgs("project");

deadlineTest(
  "project: every run of a projection is labelled projected, in results and report; compare refuses it",
  async () => {
    const dir = await Deno.makeTempDir();
    const r = await runDeno([
      ...PROJECT,
      "--mode",
      "tp,phantom",
      "--ranks",
      "8,64",
      "--width",
      "8192",
      "--profile",
      "dgx-h100",
      "--out",
      dir,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))!.name;
    const results = await loadResults(`${dir}/${file}`);
    assertEquals(results.runs.length, 4);
    for (const run of results.runs) {
      assertEquals(run.projected?.profile, "dgx-h100");
      assertEquals(run.metrics!.energy.method, "projected");
      assert(
        run.projected!.bands.pessimistic.stepTimeMs > run.projected!.bands.optimistic.stepTimeMs,
      );
    }
    const html = await Deno.readTextFile(`${dir}/${file.replace(/\.json$/, ".html")}`);
    assert(
      html.includes('id="projection"') && html.includes('id="paper-claim"'),
      "projection tables",
    );
    assert(
      /<title>phantom-bench projection: \S+ on dgx-h100 /.test(html),
      "the title says projection",
    );
    assert(
      html.indexOf('id="projection-section"') < html.indexOf('id="summary"'),
      "the projection comes first",
    );
    assert(!html.includes("Infinity"), "no infinite figures");
    assert(!/>measured<\/th>/.test(html), "nothing projected is called measured");
    assertEquals(
      (html.match(/\(projected: dgx-h100\)<\/td>/g) ?? []).length,
      4,
      "every run row says projected",
    );
    assert(html.includes("projected on dgx-h100"), "the summary says projected");
    const compare = await runTask("compare", [
      `${dir}/${file}`,
      `${dir}/${file}`,
    ]);
    assertEquals(compare.code, 2);
    assert(compare.stderr.includes("holds 4 projected runs"), compare.stderr);
  },
);

deadlineTest(
  "project: --calibrate writes a profile that loads; --validate ends with the median error",
  async () => {
    const dir = await Deno.makeTempDir();
    const runs = [1, 2, 4, 8].flatMap((ranks) => [
      { point: `tp-p${ranks}`, ranks, stepMs: 10 + 3 * ranks, joulesPerStep: 5 + ranks },
      {
        point: `phantom-p${ranks}`,
        mode: "phantom",
        ranks,
        stepMs: 8 + 2 * ranks,
        joulesPerStep: 4 + ranks,
      },
    ]);
    const results = fixtureResults(runs);
    results.runs.forEach((r, i) => (r.configHash = `h${i}`));
    await Deno.writeTextFile(`${dir}/bench-a.json`, JSON.stringify(results));
    const cal = await runDeno([
      ...PROJECT,
      "--calibrate",
      `${dir}/bench-a.json`,
      "--out",
      `${dir}/host.json`,
    ]);
    assertEquals(cal.code, 0, cal.stderr);
    const profile = await loadProfile(`${dir}/host.json`);
    assertEquals(profile.collectives.algorithm, "nats");
    const val = await runDeno([...PROJECT, "--validate", `${dir}/bench-a.json`]);
    assertEquals(val.code, 0, val.stderr);
    assert(/median absolute error \d+\.\d%\n$/.test(val.stdout), val.stdout.slice(-200));
    const projected = await runDeno([
      ...PROJECT,
      "--mode",
      "tp",
      "--ranks",
      "4",
      "--profile",
      `${dir}/host.json`,
      "--out",
      dir,
    ]);
    assertEquals(projected.code, 0, projected.stderr);
  },
);

deadlineTest(
  "project --validate on runs with replicas: the data-parallel all-reduce measured and predicted apart",
  async () => {
    const val = await runDeno([
      ...PROJECT,
      "--validate",
      "reports/examples/hybrid/hybrid-quick.json",
    ]);
    assertEquals(val.code, 0, val.stderr);
    const lines = val.stdout.split("\n");
    assert(lines[0].includes("data-par meas   pred"), lines[0]);
    // tp 1 x 8: all its communication is the all-reduce, measured 1005.1 ms in that file.
    const row = lines.find((l) => l.startsWith("tp-p1-d8-"))!.trim().split(/\s+/);
    assertEquals(row.slice(4, 7), ["1005.1", row[5], "1005.1"]);
    assert(
      /the data-parallel all-reduce alone: median absolute error \d+\.\d%/.test(val.stdout),
      val.stdout.slice(-400),
    );
  },
);

deadlineTest("project: bad input is one line naming the flag, exit 2", async () => {
  for (
    const [args, message] of [
      [["--profile", "nowhere.json"], '--profile ("nowhere.json") cannot be read'],
      [
        ["--profile", "tpu"],
        '--profile ("tpu") must be one of frontier-mi250x, dgx-h100 or a .json file',
      ],
      [["--calibrate"], "--calibrate (missing) needs RESULTS files"],
      [["--sweep", "comm"], "deno task bench:comm"],
    ] as const
  ) {
    const r = await runDeno([...PROJECT, ...args]);
    assertEquals(r.code, 2, `${args}: ${r.stderr}`);
    assert(r.stderr.includes(message), r.stderr);
    assert(!r.stderr.includes("    at "), r.stderr);
  }
});

deadlineTest(
  "project --link RATE: the profile's hosts behind shaped links, named in the results",
  async () => {
    const step = async (extra: string[]) => {
      const dir = await Deno.makeTempDir();
      const r = await runDeno([
        ...PROJECT,
        "--mode",
        "tp",
        "--ranks",
        "4",
        "--width",
        "1024",
        "--batch",
        "128",
        "--profile",
        "dgx-h100",
        "--out",
        dir,
        ...extra,
      ]);
      assertEquals(r.code, 0, r.stderr);
      const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))!.name;
      return (await loadResults(`${dir}/${file}`)).runs[0];
    };
    const free = await step([]);
    const slow = await step(["--link", "25mbit"]);
    assertEquals(slow.projected!.profile, "dgx-h100+link-25mbit");
    // TP p = 4 receives 4 x 3/4 x 512 KiB per gather: seconds at 25 Mbit/s, microseconds in a DGX.
    const [a, b] = [free.metrics!.stepTimeMs.median, slow.metrics!.stepTimeMs.median];
    assert(b > 1000 && b > 1000 * a, `${a} ms -> ${b} ms`);
    const bad = await runDeno([...PROJECT, "--mode", "tp", "--ranks", "4", "--link", "fast"]);
    assertEquals(bad.code, 2);
    assert(bad.stderr.includes('--link ("fast") must be a rate like 1gbit'), bad.stderr);
  },
);
