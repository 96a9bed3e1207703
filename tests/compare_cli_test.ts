// `deno task compare` as CI runs it: exit codes on regression, improvement, noise, nothing
// compared and unusable input, the markdown summary, the exports; and on real bench runs: the
// same configuration run twice, a quick run against a full one, NATS against in-process.
import { fixtureResults, repeated } from "../lib/testing/results_fixture.ts";
import { SCHEMA_VERSION } from "../lib/results/results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { runTask } from "../lib/testing/run_deno.ts";
import { deadlineTest, NATS_SERVER, systemTest } from "../lib/testing/system.ts";

const dir = await Deno.makeTempDir();
const write = async (name: string, content: unknown) => {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
};

function compare(...args: string[]) {
  return runTask("compare", args);
}

/** tp-p8 and phantom-p8, three repeats each. */
const points = (tpMs: number, phantomMs: number) =>
  fixtureResults([
    ...repeated({ point: "tp-p8", stepMs: tpMs }),
    ...repeated({ point: "phantom-p8", stepMs: phantomMs }),
  ]);

const baseline = await write("base.json", points(100, 60));

deadlineTest("compare exits 1 on a regression and writes the markdown summary", async () => {
  const current = await write("slow.json", points(100, 80));
  const summary = `${dir}/summary.md`;
  const r = await compare(baseline, current, "--markdown", summary);
  assertEquals(r.code, 1, r.stderr);
  assert(r.stdout.includes("## phantom-bench: regression"), r.stdout);
  assert((await Deno.readTextFile(summary)).includes("| phantom-p8 | stepTimeMs |"));
  assert(r.stderr.includes("compare: 2 points compared, 2 regressions"), r.stderr);
});

deadlineTest("compare exits 0 on an improvement and on noise", async () => {
  const r = await compare(baseline, await write("fast.json", points(80, 60)));
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assert(r.stdout.includes("improvement"));
  assertEquals((await compare(baseline, await write("noise.json", points(102, 61)))).code, 0);
  // A wider floor per metric swallows the 33% slowdown (step and communication time).
  const slow = await write("slow2.json", points(100, 80));
  const wide = await compare(
    baseline,
    slow,
    "--noise-for",
    "stepTimeMs=40",
    "--noise-for",
    "commTimeMs=40",
  );
  assertEquals(wide.code, 0, wide.stdout);
});

deadlineTest("compare: too few repeats is no verdict: exit 0, or 3 with --strict", async () => {
  const one = await write("one.json", fixtureResults([{ point: "tp-p8", stepMs: 100 }]));
  const worse = await write("one-slow.json", fixtureResults([{ point: "tp-p8", stepMs: 300 }]));
  const r = await compare(one, worse);
  assertEquals(r.code, 0, r.stdout);
  assert(r.stdout.includes("not enough repeats"), r.stdout);
  assertEquals((await compare(one, worse, "--strict")).code, 3);
  assertEquals((await compare(one, worse, "--min-repeats", "1")).code, 2);
});

const UNUSABLE: [string, () => string[] | Promise<string[]>, string][] = [
  ["a missing file", () => [baseline, `${dir}/nope.json`], "Cannot read"],
  [
    "corrupt JSON",
    async () => [baseline, await write("corrupt.json", '{"schemaVersion": 1, "runs": [')],
    "not valid JSON",
  ],
  [
    "a newer schema",
    async () => [
      baseline,
      await write("newer.json", { ...fixtureResults([]), schemaVersion: SCHEMA_VERSION + 1 }),
    ],
    "newer than this suite reads",
  ],
  ["one file only", () => [baseline], "must be two results files"],
  ["a bad band", () => [baseline, baseline, "--noise", "lots"], '--noise ("lots")'],
  [
    "an unknown metric",
    () => [baseline, baseline, "--noise-for", "speed=5"],
    '--noise-for ("speed=5")',
  ],
];

for (const [label, args, message] of UNUSABLE) {
  deadlineTest(`compare exits 2 on ${label}, saying why`, async () => {
    const r = await compare(...(await args()));
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(r.stderr.includes(message), r.stderr);
    assert(!r.stderr.includes("    at "), r.stderr);
  });
}

deadlineTest("compare --export writes Bencher and github-action-benchmark JSON", async () => {
  const bmfPath = `${dir}/bmf.json`;
  assertEquals((await compare("--export", "bencher", baseline, "--out", bmfPath)).code, 0);
  const bmf = JSON.parse(await Deno.readTextFile(bmfPath));
  assert(bmf["tp-p8"]["step-time"].value > 0);
  const gh = await compare("--export", "github-smaller", baseline);
  assertEquals(gh.code, 0);
  assertEquals(JSON.parse(gh.stdout)[0].unit, "ms");
  assertEquals((await compare("--export", "csv", baseline)).code, 2);
});

// Real runs: a tiny point, three repeats, so each bench takes seconds.
const POINT = [
  "--mode",
  "tp",
  "--ranks",
  "1",
  "--width",
  "128",
  "--batch",
  "16",
  "--steps",
  "25",
  "--warmup",
  "3",
  "--repeats",
  "3",
  "--cooldown",
  "0",
  "--power",
  "none",
];

async function benchInto(name: string, ...args: string[]): Promise<string> {
  const out = `${dir}/${name}`;
  const r = await runTask("bench", [...args, "--out", out]);
  assertEquals(r.code, 0, r.stderr);
  const file = [...Deno.readDirSync(out)].find((e) => e.name.endsWith(".json"))!;
  return `${out}/${file.name}`;
}

const inProcess = (name: string) => benchInto(name, ...POINT, "--communicator", "inprocess");

deadlineTest(
  "compare on real runs: the same configuration run twice as separate processes is no regression",
  async () => {
    // Run side by side, so load on a busy machine falls on both alike.
    const [a, b] = await Promise.all([inProcess("same-a"), inProcess("same-b")]);
    const r = await compare(a, b);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assert(r.stdout.includes("## phantom-bench: no regression"), r.stdout);
    assert(/\| tp-p1-n128-L2-b16 \| stepTimeMs \| .* \(3 runs /.test(r.stdout), r.stdout);
  },
);

deadlineTest(
  "compare on real runs: a quick run against a full one compares nothing and exits 3, saying why",
  async () => {
    const sweep = await write("tiny-sweep.json", {
      id: "tiny",
      version: 1,
      description: "one tiny point",
      base: { width: 128, batch: 16, steps: 10, task: { evalEvery: 5 } },
      axes: { mode: ["tp"], ranks: [1] },
      repeats: 1,
      warmup: 2,
      quick: { base: { steps: 4, task: { evalEvery: 2 } }, warmup: 1 },
    });
    const common = ["--sweep", sweep, "--communicator", "inprocess", "--power", "none"];
    const full = await benchInto("full", ...common);
    const quick = await benchInto("quick", ...common, "--quick");
    const r = await compare(full, quick);
    assertEquals(r.code, 3, r.stdout + r.stderr);
    assert(r.stdout.includes("## phantom-bench: nothing compared"), r.stdout);
    assert(r.stdout.includes("task.evalEvery 5 vs 2"), r.stdout);
    assert(r.stderr.includes("0 points compared"), r.stderr);
  },
);

systemTest([NATS_SERVER], {
  name: "compare on real runs: NATS against in-process names the change and refuses timing",
  fn: async () => {
    const [nats, local] = await Promise.all([
      benchInto("nats", ...POINT, "--communicator", "nats"),
      inProcess("local"),
    ]);
    const r = await compare(nats, local);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assert(
      r.stdout.includes("- communicator: nats -> in-process (timing and energy not compared"),
      r.stdout,
    );
    assert(
      /\| stepTimeMs \|[^\n]*incomparable \(setup changed: communicator, launcher/.test(r.stdout),
      r.stdout,
    );
    assert(/\| bytesSentPerRankPerStep \|[^\n]*unchanged/.test(r.stdout), r.stdout);
    const allowed = await compare(nats, local, "--allow-setup-change");
    assert(!/\| stepTimeMs \|[^\n]*incomparable/.test(allowed.stdout), allowed.stdout);
  },
});

deadlineTest(
  "report and compare: an output path that cannot be written is one line naming the flag, exit 2",
  async () => {
    const file = await write("blocker", "a file where a folder is expected");
    const cases: [string, string[], string][] = [
      ["compare", [baseline, baseline, "--markdown", `${file}/x.md`], "--markdown"],
      ["report", [baseline, "--out", `${file}/x.html`], "--out"],
      ["report", [baseline, "--out", `${dir}/r.html`, "--latex", `${file}/x.tex`], "--latex"],
      ["report", [baseline, "--out", `${dir}/r.html`, "--figures", `${file}/fig`], "--figures"],
      ["report", [baseline, "--site", `${file}/site`], "--site"],
    ];
    for (const [task, args, flag] of cases) {
      const r = await runTask(task, args);
      assertEquals(r.code, 2, `${task} ${args.join(" ")}: ${r.stderr}`);
      const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
      assertEquals(errors.length, 1, r.stderr);
      assert(errors[0].includes(`${flag} (`) && errors[0].includes(file), errors[0]);
      assert(!r.stderr.includes("    at "), `stack trace: ${r.stderr}`);
    }
  },
);
