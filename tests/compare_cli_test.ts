// `deno task compare` as CI runs it: exit codes on regression, improvement, noise and unusable
// input, the markdown summary, and the exports.
import { fixtureResults } from "../lib/testing/results_fixture.ts";
import { SCHEMA_VERSION } from "../lib/results/results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { runDeno } from "../lib/testing/run_deno.ts";

const dir = await Deno.makeTempDir();
const write = async (name: string, content: unknown) => {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
};

function compare(...args: string[]) {
  return runDeno(["run", "--allow-read", "--allow-write", "reports/compare.ts", ...args]);
}

const baseline = await write(
  "base.json",
  fixtureResults([{ point: "tp-p8", stepMs: 100 }, { point: "phantom-p8", stepMs: 60 }]),
);

Deno.test("compare exits 1 on a regression and writes the markdown summary", async () => {
  const current = await write(
    "slow.json",
    fixtureResults([{ point: "tp-p8", stepMs: 100 }, { point: "phantom-p8", stepMs: 80 }]),
  );
  const summary = `${dir}/summary.md`;
  const r = await compare(baseline, current, "--markdown", summary);
  assertEquals(r.code, 1, r.stderr);
  assert(r.stdout.includes("## phantom-bench: regression"), r.stdout);
  assert((await Deno.readTextFile(summary)).includes("| phantom-p8 | stepTimeMs |"));
});

Deno.test("compare exits 0 on an improvement and on noise", async () => {
  const faster = await write(
    "fast.json",
    fixtureResults([{ point: "tp-p8", stepMs: 80 }, { point: "phantom-p8", stepMs: 60 }]),
  );
  const r = await compare(baseline, faster);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assert(r.stdout.includes("improvement"));
  const noise = await write(
    "noise.json",
    fixtureResults([{ point: "tp-p8", stepMs: 102 }, { point: "phantom-p8", stepMs: 61 }]),
  );
  assertEquals((await compare(baseline, noise)).code, 0);
  // Wider bands per metric swallow the 33% slowdown (step and communication time).
  const slow = await write(
    "slow2.json",
    fixtureResults([{ point: "tp-p8", stepMs: 100 }, { point: "phantom-p8", stepMs: 80 }]),
  );
  assertEquals(
    (await compare(baseline, slow, "--noise-for", "stepTimeMs=40", "--noise-for", "commTimeMs=40"))
      .code,
    0,
  );
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
  Deno.test(`compare exits 2 on ${label}, saying why`, async () => {
    const r = await compare(...(await args()));
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(r.stderr.includes(message), r.stderr);
    assert(!r.stderr.includes("    at "), r.stderr);
  });
}

Deno.test("compare --export writes Bencher and github-action-benchmark JSON", async () => {
  const bmfPath = `${dir}/bmf.json`;
  assertEquals((await compare("--export", "bencher", baseline, "--out", bmfPath)).code, 0);
  const bmf = JSON.parse(await Deno.readTextFile(bmfPath));
  assert(bmf["tp-p8"]["step-time"].value > 0);
  const gh = await compare("--export", "github-smaller", baseline);
  assertEquals(gh.code, 0);
  assertEquals(JSON.parse(gh.stdout)[0].unit, "ms");
  assertEquals((await compare("--export", "csv", baseline)).code, 2);
});
