// The report and the trends page opened in real headless Chromium (Debian's chromium; .ci/run
// installs it): no script errors, no request of any kind (the pages' content security policy
// reports any), every chart drawn with ink, download buttons producing PNG, SVG and CSV data, the
// regression marked on the trends page, and results text rendered as text.
import { fixtureResults, repeated } from "../lib/testing/results_fixture.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { runDeno, runTask, taskArgs } from "../lib/testing/run_deno.ts";
import { CHROMIUM, deadlineTest, systemTest } from "../lib/testing/system.ts";
import { buildTrends, renderTrends } from "../lib/report/trends.ts";
import { chartJsSource } from "../lib/report/write_report.ts";

const EVIL = `<script>document.title="pwned"</script>`;

async function dumpDom(url: string): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "chromium-" });
  const out = await new Deno.Command("chromium", {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=8000",
      "--dump-dom",
      url,
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  await Deno.remove(profile, { recursive: true }).catch(() => {});
  return new TextDecoder().decode(out.stdout);
}

const selfcheck = (dom: string) => {
  const tag = dom.match(/<div id="selfcheck"[^>]*>/)?.[0] ?? "";
  const attr = (name: string) => tag.match(new RegExp(`${name}="([^"]*)"`))?.[1] ?? "";
  return { tag, attr };
};

systemTest([CHROMIUM], {
  name:
    "report in headless Chromium: no errors, no requests, charts drawn, downloads give PNG/SVG/CSV, text stays text",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const results = fixtureResults([
      { point: "tp-p2", stepMs: 100, joulesPerStep: 10 },
      { point: "phantom-p2", mode: "phantom", stepMs: 60, joulesPerStep: 6 },
      { point: "tp-p4", ranks: 4, stepMs: 120, joulesPerStep: 12 },
      { point: "phantom-p4", mode: "phantom", ranks: 4, stepMs: 70, joulesPerStep: 7 },
      { point: `evil${EVIL}`, status: "failed" },
    ]);
    await Deno.writeTextFile(`${dir}/bench-fixture.json`, JSON.stringify(results));
    const report = await runTask("report", [
      `${dir}/bench-fixture.json`,
      "--out",
      `${dir}/report.html`,
    ]);
    assertEquals(report.code, 0, report.stderr);
    const dom = await dumpDom(`file://${dir}/report.html#selftest`);
    const { tag, attr } = selfcheck(dom);
    assertEquals(attr("data-errors"), "0", attr("data-error-text"));
    assertEquals(attr("data-violations"), "0", tag);
    const [painted, canvases, drawn] = attr("data-charts").split("/").map(Number);
    assert(canvases >= 8 && painted === canvases && drawn === canvases, tag);
    // Every button was pressed: a PNG and an SVG per chart, a CSV per table, each with content.
    const downloads = attr("data-downloads").split(" ").map((d) => d.split(":"));
    const count = (ext: string) =>
      downloads.filter(([n, size]) => n.endsWith(ext) && Number(size) > 100).length;
    assertEquals(count(".png"), canvases, tag);
    assertEquals(count(".svg"), canvases, tag);
    assert(count(".csv") >= 5, tag);
    for (
      const id of [
        "summary",
        "findings",
        "ratios",
        "runs",
        "to-target",
        "failures",
        "provenance",
        "configs",
        "omitted",
      ]
    ) {
      assert(dom.includes(`id="${id}"`), `no #${id}`);
    }
    assert(
      dom.includes("At p = 2, n = 1024, L = 2, b = 64 (k = 16), phantom took 0.60x TP's step time"),
      "the headline",
    );
    assert(
      dom.includes("<title>phantom-bench: fixture"),
      "the page title was changed by results text",
    );
    assert(!dom.includes("pwned</title>"));
  },
});

systemTest([CHROMIUM], {
  name:
    "trends page in headless Chromium: every chart drawn, the 2x slower commit marked, no errors or requests",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const file = (day: number, stepMs: number, commit: string) => ({
      results: fixtureResults(
        [
          ...repeated({ point: `tp-p2${EVIL}`, stepMs }),
          ...repeated({ point: "phantom-p2", mode: "phantom", stepMs: 60 }),
        ],
        {
          createdAt: `2026-11-0${day}T00:00:00.000Z`,
          environment: { gitCommit: commit, hostname: "ci" },
        },
      ),
      report: `bench-${day}.html`,
    });
    const trends = buildTrends([file(1, 100, "aaa"), file(2, 99, "bbb"), file(3, 200, "ccc")]);
    await Deno.writeTextFile(`${dir}/trends.html`, renderTrends(trends, chartJsSource()));
    const dom = await dumpDom(`file://${dir}/trends.html#all`);
    const { tag, attr } = selfcheck(dom);
    assertEquals(attr("data-errors"), "0", attr("data-error-text"));
    assertEquals(attr("data-violations"), "0", tag);
    const [drawn, total] = attr("data-charts").split("/").map(Number);
    assert(total > 0 && drawn === total, tag);
    assertEquals(attr("data-marked"), "2", tag); // step and communication time of tp-p2 at ccc
    assert(!dom.includes("pwned</title>"));
  },
});

systemTest([CHROMIUM], {
  name:
    "trends of 300 results files stay small and load without error (charts drawn as they scroll in)",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const inputs = Array.from({ length: 300 }, (_, i) => ({
      results: fixtureResults(
        ["tp-p2", "tp-p4", "phantom-p2", "phantom-p4"].map((point) => ({
          point,
          mode: point.split("-")[0],
          ranks: Number(point.slice(-1)),
          stepMs: 100 + (i % 7),
          joulesPerStep: 10,
        })),
        {
          createdAt: new Date(Date.UTC(2026, 0, 1) + i * 3600_000).toISOString(),
          environment: { gitCommit: `c${i}` },
        },
      ),
      report: `bench-${i}.html`,
    }));
    const start = performance.now();
    const html = renderTrends(buildTrends(inputs), chartJsSource());
    const ms = performance.now() - start;
    await Deno.writeTextFile(`${dir}/trends.html`, html);
    assert(html.length < 3_000_000, `${html.length} bytes`);
    console.log(
      `trends of 300 files: ${(html.length / 1e6).toFixed(2)} MB, built in ${ms.toFixed(0)} ms`,
    );
    const { tag, attr } = selfcheck(await dumpDom(`file://${dir}/trends.html`));
    assertEquals(attr("data-errors"), "0", attr("data-error-text"));
    assert(Number(attr("data-charts").split("/")[0]) > 0, tag);
  },
});

deadlineTest(
  "report: unusable input exits 2; --site writes an index and trends page linking every report",
  async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/bench-bad.json`, "{ not json");
    const args = taskArgs("report");
    const bad = await runDeno([...args, `${dir}/bench-bad.json`]);
    assertEquals(bad.code, 2);
    assert(bad.stderr.includes("not valid JSON"));
    await Deno.writeTextFile(
      `${dir}/bench-a.json`,
      JSON.stringify(fixtureResults([{ point: "a" }])),
    );
    await Deno.writeTextFile(
      `${dir}/bench-b.json`,
      JSON.stringify(fixtureResults([{ point: "b" }])),
    );
    const site = await runDeno([
      ...args,
      `${dir}/bench-a.json`,
      `${dir}/bench-b.json`,
      "--site",
      `${dir}/site`,
    ]);
    assertEquals(site.code, 0, site.stderr);
    const index = await Deno.readTextFile(`${dir}/site/index.html`);
    assert(index.includes('href="bench-a.html"') && index.includes('href="bench-b.html"'));
    assert(index.includes('href="trends.html"'));
    assert((await Deno.readTextFile(`${dir}/site/trends.html`)).includes('id="trends"'));
    const report = await Deno.readTextFile(`${dir}/site/bench-a.html`);
    assert(report.includes('id="runs"') && report.includes('href="trends.html"'));
    // A site folder can be served as it is: every file readable by group and others.
    for (const e of Deno.readDirSync(`${dir}/site`)) {
      const mode = (await Deno.stat(`${dir}/site/${e.name}`)).mode!;
      assert((mode & 0o044) === 0o044, `${e.name} has mode ${mode.toString(8)}`);
    }
  },
);

deadlineTest(
  "report: a bench:comm file is reported; --site lists comm files and projections and says they are not trends",
  async () => {
    const dir = await Deno.makeTempDir();
    const row = {
      op: "allGather",
      ranks: 2,
      ranksPerConnection: 1,
      bytes: 1024,
      timeMs: 0.2,
      algbwGBs: 0.005,
      busbwGBs: 0.0025,
      correct: true,
      iterations: 50,
      peakRssBytes: 2e8,
      baseRssBytes: 1e8,
      heldBytes: 3072,
      wireBytesReceivedPerRank: 600,
      localBytesReceivedPerRank: 0,
    };
    const comm = {
      kind: "comm",
      schemaVersion: 1,
      createdAt: "2026-12-06T00:00:00.000Z",
      url: "nats://127.0.0.1:4222",
      rows: [row, { ...row, bytes: 4096, timeMs: 0.3 }],
      fits: [],
    };
    await Deno.writeTextFile(`${dir}/comm-a.json`, JSON.stringify(comm));
    const one = await runTask("report", [`${dir}/comm-a.json`, "--out", `${dir}/comm.html`]);
    assertEquals(one.code, 0, one.stderr);
    const page = await Deno.readTextFile(`${dir}/comm.html`);
    assert(page.includes('<table id="measurements">') && page.includes("every result correct"));
    const projected = fixtureResults([{ point: "tp-p8" }]);
    projected.runs[0].projected = {
      profile: "dgx-h100",
      band: "nominal",
      breakdown: { computeMs: 1, hostMs: 0, latencyMs: 0, bandwidthMs: 0 },
      bands: {},
      fitsMemory: true,
      nodes: 1,
      devicesCharged: 8,
      lossCurveFrom: null,
    };
    await Deno.writeTextFile(`${dir}/projection-x.json`, JSON.stringify(projected));
    await Deno.writeTextFile(
      `${dir}/bench-m.json`,
      JSON.stringify(fixtureResults([{ point: "a" }])),
    );
    const site = await runTask("report", [
      `${dir}/bench-m.json`,
      `${dir}/comm-a.json`,
      `${dir}/projection-x.json`,
      "--site",
      `${dir}/site`,
    ]);
    assertEquals(site.code, 0, site.stderr);
    assert(
      site.stdout.includes(
        "trends.html over the 1 measured; not in trends: 1 projection, 1 collective benchmark",
      ),
      site.stdout,
    );
    const index = await Deno.readTextFile(`${dir}/site/index.html`);
    assert(index.includes('href="comm-a.html"') && index.includes('href="projection-x.html"'));
    assert(index.includes("collective benchmark over NATS: 2 measurements at p = 2"));
  },
);
