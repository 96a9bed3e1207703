// The report opened in real headless Chromium (Debian's chromium; .ci/run installs it): no
// console errors, no network requests (the page's content security policy reports any),
// every chart canvas drawn, every table present, and results text rendered as text.
import { fixtureResults } from "../lib/testing/results_fixture.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { runDeno } from "../lib/testing/run_deno.ts";
import { CHROMIUM, systemTest } from "../lib/testing/system.ts";

const chromium = "chromium";

async function dumpDom(url: string): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "chromium-" });
  const out = await new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=5000",
      "--dump-dom",
      url,
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  await Deno.remove(profile, { recursive: true }).catch(() => {});
  return new TextDecoder().decode(out.stdout);
}

systemTest([CHROMIUM], {
  name:
    "report in headless Chromium: no errors, no requests, every chart drawn, every table, text stays text",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const results = fixtureResults([
      { point: "tp-p2", stepMs: 100, joulesPerStep: 10 },
      { point: "phantom-p2", mode: "phantom", stepMs: 60, joulesPerStep: 6 },
      { point: "tp-p4", ranks: 4, stepMs: 120, joulesPerStep: 12 },
      { point: `evil<script>document.title="pwned"</script>`, status: "failed" },
    ]);
    await Deno.writeTextFile(`${dir}/bench-fixture.json`, JSON.stringify(results));
    const report = await runDeno([
      "run",
      "--allow-read",
      "--allow-write",
      "reports/main.ts",
      `${dir}/bench-fixture.json`,
      "--out",
      `${dir}/report.html`,
    ]);
    assertEquals(report.code, 0, report.stderr);
    const dom = await dumpDom(`file://${dir}/report.html`);
    const check = dom.match(/<div id="selfcheck"[^>]*>/)?.[0] ?? "";
    assert(check.includes('data-errors="0"'), check);
    assert(check.includes('data-violations="0"'), check);
    assert(check.includes('data-charts="8/8/8"'), check);
    for (const id of ["runs", "ratios", "to-target", "failures", "provenance", "configs"]) {
      assert(dom.includes(`id="${id}"`), `no #${id}`);
    }
    assert(
      dom.includes("<title>phantom-bench: fixture"),
      "the page title was changed by results text",
    );
    assert(!dom.includes("pwned</title>"));
  },
});

Deno.test("report: unusable input exits 2; --site writes an index linking every report", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/bench-bad.json`, "{ not json");
  const bad = await runDeno([
    "run",
    "--allow-read",
    "--allow-write",
    "reports/main.ts",
    `${dir}/bench-bad.json`,
  ]);
  assertEquals(bad.code, 2);
  assert(bad.stderr.includes("not valid JSON"));
  await Deno.writeTextFile(`${dir}/bench-a.json`, JSON.stringify(fixtureResults([{ point: "a" }])));
  await Deno.writeTextFile(`${dir}/bench-b.json`, JSON.stringify(fixtureResults([{ point: "b" }])));
  const site = await runDeno([
    "run",
    "--allow-read",
    "--allow-write",
    "reports/main.ts",
    `${dir}/bench-a.json`,
    `${dir}/bench-b.json`,
    "--site",
    `${dir}/site`,
  ]);
  assertEquals(site.code, 0, site.stderr);
  const index = await Deno.readTextFile(`${dir}/site/index.html`);
  assert(index.includes('href="bench-a.html"') && index.includes('href="bench-b.html"'));
  assert((await Deno.readTextFile(`${dir}/site/bench-a.html`)).includes('id="runs"'));
});
