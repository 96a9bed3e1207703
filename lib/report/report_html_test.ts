import { escapeHtml, renderReport, renderSiteIndex } from "./report_html.ts";
import { reportCharts } from "./charts.ts";
import { bootstrapRatio, findings, sharingNote } from "./findings.ts";
import { tableCsv } from "./table.ts";
import { runsTable, summaryTable } from "./tables.ts";
import { escapeLatex, tableLatex } from "./latex.ts";
import { buildTrends, renderTrends } from "./trends.ts";
import { fixtureResults, fixtureRun, repeated } from "../testing/results_fixture.ts";
import { reportPlan } from "./report_plan.ts";
import { hybridFindings } from "./hybrid.ts";
import { resultsLatex } from "./write_report.ts";
import { assert, assertEquals } from "../testing/asserts.ts";

const EVIL = `<script>document.title="pwned"</script>`;

function evilResults() {
  const r = fixtureResults([
    { point: "tp-p2", stepMs: 100, joulesPerStep: 10 },
    { point: "phantom-p2", mode: "phantom", stepMs: 60, joulesPerStep: 6 },
    { point: `bad${EVIL}`, status: "failed" },
    { point: `ok${EVIL}`, mode: "serial", ranks: 1, stepMs: 70 },
  ]);
  r.runs[2].error = `boom ${EVIL}`;
  r.sweep.description = EVIL;
  r.sweep.excluded = [{ point: `x${EVIL}`, reason: `because ${EVIL}` }];
  return r;
}

Deno.test("report: text from results is escaped everywhere, the embedded JSON cannot close its script", () => {
  const html = renderReport(evilResults(), "/* chart.js */", {
    title: `title ${EVIL}`,
    svgs: { "chart-step-time": `<svg><text>${EVIL}</text></svg>` },
  });
  assertEquals(html.includes(EVIL), false, "raw script from results in the page");
  assert(html.includes("&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;"));
  for (const id of ["charts", "svgs"]) {
    const json = html.slice(
      html.indexOf(`id="${id}">`),
      html.indexOf("</script>", html.indexOf(`id="${id}">`)),
    );
    assert(!json.includes("<script") && !json.includes("<svg"), `the ${id} JSON escapes <`);
  }
  assertEquals(escapeHtml(`a&b"'`), "a&amp;b&quot;&#39;");
});

Deno.test("report: the summary states phantom/TP ratios at matching points, in a sentence and a table", () => {
  const results = fixtureResults([
    { point: "tp-p2", stepMs: 100, joulesPerStep: 10, bytesSent: 1000, repeat: 0 },
    { point: "tp-p2", stepMs: 104, joulesPerStep: 10.4, bytesSent: 1000, repeat: 1 },
    {
      point: "phantom-p2",
      mode: "phantom",
      stepMs: 43,
      joulesPerStep: 5,
      bytesSent: 125,
      repeat: 0,
    },
    {
      point: "phantom-p2",
      mode: "phantom",
      stepMs: 44,
      joulesPerStep: 5.1,
      bytesSent: 125,
      repeat: 1,
    },
  ]);
  const [f] = findings(results);
  assertEquals(f.label, "p = 2, n = 1024, L = 2, b = 64");
  const step = f.ratios.find((r) => r.metric === "stepTimeMs")!;
  assert(Math.abs(step.ratio! - 43.5 / 102) < 0.01, `${step.ratio}`);
  assert(step.ci && step.ci[0] <= step.ratio! && step.ratio! <= step.ci[1], `${step.ci}`);
  assertEquals(f.ratios.find((r) => r.metric === "bytesSentPerRankPerStep")!.ratio, 0.125);
  assert(
    f.sentence.startsWith(
      "At p = 2, n = 1024, L = 2, b = 64 (k = 16, 2 repeats each), phantom took 0.43x TP's step time (95% CI",
    ),
    f.sentence,
  );
  assert(f.sentence.includes("sent 0.13x the bytes"), f.sentence);
  const html = renderReport(results, "");
  assert(html.includes('<section id="summary">') && html.includes(escapeHtml(f.sentence)));
  assert(/<table id="ratios">/.test(html));
  const table = summaryTable([f]);
  assert(/^0\.4\d\d \[0\.\d+, 0\.\d+\]$/.test(table.rows[0][1].text), table.rows[0][1].text);
});

Deno.test("report: without energy, no empty energy chart is drawn; each is listed with the reason", () => {
  const results = fixtureResults([
    { point: "tp-p2", stepMs: 100 },
    { point: "phantom-p2", mode: "phantom", stepMs: 60 },
    { point: "tp-p4", ranks: 4, stepMs: 120 },
  ]);
  results.runs.forEach((r) => (r.metrics!.energy.backend = "none"));
  const charts = reportCharts(results);
  const omitted = Object.fromEntries(
    charts.filter((c) => "omitted" in c).map((c) => [c.id, (c as { omitted: string }).omitted]),
  );
  for (const id of ["chart-energy", "chart-phases", "chart-loss-energy", "chart-pareto"]) {
    assert(
      omitted[id]?.startsWith("energy was not measured on this host (power backend none)"),
      `${id}: ${omitted[id]}`,
    );
  }
  const html = renderReport(results, "");
  assertEquals(html.includes('id="chart-energy"'), false);
  assert(html.includes("Energy per step against ranks: energy was not measured on this host"));
  const [f] = findings(results);
  assert(f.sentence.includes("energy per step: not measured on this host"), f.sentence);
  // Every drawn chart has data.
  for (const c of charts) {
    if (!("config" in c)) continue;
    const sets = (c.config.data as { datasets: { data: unknown[] }[] }).datasets;
    assert(sets.length > 0 && sets.every((s) => s.data.length > 0), c.id);
  }
});

Deno.test("report: tables right-align numbers, scroll, carry CSV buttons; figures carry PNG and SVG buttons", () => {
  const html = renderReport(evilResults(), "", { svgs: { "chart-step-time": "<svg/>" } });
  assert(html.includes('<div class="scroll"><table id="runs">'));
  assert(/<td class="n">100<\/td>|<td class="n">\d/.test(html));
  assert(html.includes('data-csv="runs"') && html.includes('data-png="chart-step-time"'));
  assert(html.includes('data-svg="chart-step-time"'));
  assert(html.includes("@media print") && html.includes("@media (max-width:700px)"));
  assert(html.includes('<nav class="toc"'));
  assert(
    html.includes("Content-Security-Policy") && !/(src|href)="https?:/.test(html),
    "no external reference",
  );
});

Deno.test("CSV and LaTeX: quoting, escaping, balanced environments", () => {
  const results = evilResults();
  const csv = tableCsv(runsTable(results));
  assert(csv.split("\r\n")[0].startsWith("run,mode,p,step time (ms),energy / step (J),method"));
  assert(csv.includes('"failed: boom <script>document.title=""pwned""</script>"'), csv);
  // The page's download is this CSV, embedded as data (full precision), not the shown text.
  const html = renderReport(results, "");
  const embedded = html.match(/<script type="application\/json" id="csv-runs">(.*?)<\/script>/)!;
  assertEquals(JSON.parse(embedded[1]), csv);
  const step = String(results.runs[0].metrics!.stepTimeMs.median);
  assert(step.length > 6 && csv.includes(step), `full precision ${step}`);
  const tex = tableLatex(runsTable(results));
  for (const env of ["table", "tabular"]) {
    assertEquals(tex.split(`\\begin{${env}}`).length, tex.split(`\\end{${env}}`).length, env);
  }
  assert(tex.includes("\\toprule") && tex.includes("\\midrule") && tex.includes("\\bottomrule"));
  // Every _ % & # is escaped: none stands unescaped.
  const body = tex.replace(/\\[_%&#]/g, "");
  assert(!/[_%#]/.test(body), body.match(/.{20}[_%#].{20}/)?.[0]);
  assert(!/(^|[^\\])&(?! )/.test(body.replace(/ & /g, " ")), "a bare & outside column separators");
  assertEquals(
    escapeLatex("a_b 5% #1 {x} ~ ^ \\"),
    "a\\_b 5\\% \\#1 \\{x\\} \\textasciitilde{} \\textasciicircum{} \\textbackslash{}",
  );
});

Deno.test("bootstrap intervals are seeded and need two repeats a side", () => {
  assertEquals(bootstrapRatio([1], [2, 3]), null);
  assertEquals(bootstrapRatio([1, 2, 3], [2, 3, 4]), bootstrapRatio([1, 2, 3], [2, 3, 4]));
});

Deno.test("trends: a 2x slower result is a regression against the previous one of the same configuration; text stays inert", () => {
  const day = (d: number, stepMs: number, commit: string) =>
    fixtureResults(repeated({ point: `tp-p2${EVIL}`, stepMs }), {
      createdAt: `2026-11-0${d}T00:00:00.000Z`,
      environment: { gitCommit: commit, hostname: `host${EVIL}` },
    });
  const trends = buildTrends([
    { results: day(3, 200, "ccc"), report: "c.html" },
    { results: day(1, 100, "aaa"), report: "a.html" },
    { results: day(2, 101, "bbb"), report: "b.html" },
  ]);
  const step = trends.series.find((s) => s.metric === "stepTimeMs")!;
  assertEquals(step.points.map((p) => p.verdict), ["first", "noise", "regression"]);
  assertEquals(trends.files.map((f) => f.commit), ["aaa", "bbb", "ccc"]);
  const html = renderTrends(trends, "");
  assert(
    html.includes('data-regressions="2"'),
    "step time and communication time (half of it) both doubled",
  );
  assertEquals(html.includes(EVIL), false);
  assert(!html.includes('"samples"'), "aggregates only: no samples embedded");
});

Deno.test("trends: one series per configuration hash, told apart by the fields that differ; the backend as a phrase", () => {
  const file = (day: number, steps: number[]) => {
    const results = fixtureResults(
      steps.flatMap((_, i) => repeated({ point: "tp-p2", stepMs: 100 + i })),
      {
        createdAt: `2026-11-0${day}T00:00:00.000Z`,
        environment: {
          gitCommit: `c${day}`,
          tfjs: {
            version: "4.22.0",
            backend: { name: "blas", flags: { blasConfig: "OpenBLAS 0.3.21 X", blasThreads: 2 } },
          },
        },
      },
    );
    // The same point name at two step counts (a quick and a full run, say): two configurations.
    results.runs.forEach((r, i) => {
      r.config.steps = steps[Math.floor(i / 3)];
      r.configHash = `hash-${r.config.steps}`;
    });
    return { results, report: `r${day}.html` };
  };
  const trends = buildTrends([file(1, [6, 20]), file(2, [6, 20])]);
  const step = trends.series.filter((s) => s.metric === "stepTimeMs");
  assertEquals(step.map((s) => s.variant).sort(), ["steps 20", "steps 6"]);
  assert(step.every((s) => s.points.length === 2), "each series gets one point per file");
  assertEquals(trends.files[0].backend, "blas (OpenBLAS 0.3.21, 2 threads)");
  assertEquals(trends.files.map((f) => f.time), [Date.UTC(2026, 10, 1), Date.UTC(2026, 10, 2)]);
  const html = renderTrends(trends, "");
  assert(!html.includes("[object Object]"));
  assert(html.includes("tp-p2 (steps 6)") && html.includes("tp-p2 (steps 20)"), "two sections");
  // Bytes never changed: one line, not a chart; measured metrics are never called "unchanged".
  assert(/Unchanged across 2 files: bytes sent per rank per step 1000 B/.test(html), html);
  assert(!/Unchanged across[^<]*step time/.test(html));
});

Deno.test("site index: links every report and the trends page, escaped", () => {
  const html = renderSiteIndex([{
    report: "bench-a.html",
    results: `a${EVIL}.json`,
    sweep: "default",
    createdAt: "2026",
    commit: "abc",
    host: "h",
    runs: 3,
    failed: 1,
    headline: `At p = 2 ${EVIL}`,
  }], "trends.html");
  assert(html.includes('href="bench-a.html"') && html.includes('href="trends.html"'));
  assertEquals(html.includes(EVIL), false);
});

Deno.test("report: a caveat says where ranks outnumbered their node's devices, and only there", () => {
  const runs = fixtureResults([
    { point: "tp-p2", stepMs: 100 },
    { point: "tp-p4", ranks: 4, stepMs: 150 },
    { point: "phantom-p4", mode: "phantom", ranks: 4, stepMs: 90 },
  ]);
  // The fixture's host has 2 cores: p = 4 shares them (in one process, or 4 ranks on one node).
  runs.runs[1].placement = [0, 1, 2, 3].map((rank) => ({
    rank,
    host: "h",
    pid: 1,
    node: "h",
    nodeIndex: 0,
    localRank: rank,
    device: null,
    deviceSource: "no GPU is visible (nvidia-smi lists none)",
    natsServer: "127.0.0.1:4222",
  }));
  const note = sharingNote(runs);
  assertEquals(
    note,
    "At p = 4 ranks outnumbered their node's devices (up to 4 ranks on 2 CPU cores): " +
      "step time and energy there measure ranks sharing devices, not scaling across them.",
  );
  assert(renderReport(runs, "").includes(`id="sharing">${escapeHtml(note!)}`));
  // Two nodes of two ranks each, or a host with enough cores: no caveat.
  runs.runs[1].placement!.forEach((place, i) => (place.node = `n${i % 2}`));
  runs.runs[2].placement = runs.runs[1].placement;
  assertEquals(sharingNote(runs), null);
  (runs.environment as { cpu: { cores: number } }).cpu.cores = 16;
  runs.runs[1].placement = undefined;
  runs.runs[2].placement = undefined;
  assertEquals(sharingNote(runs), null);
  assert(!renderReport(runs, "").includes('id="sharing"'));
  // On webgpu the devices are the node's GPUs (one when nvidia-smi listed none).
  for (const r of runs.runs) r.config.backend = "webgpu";
  assert(sharingNote(runs)?.includes("up to 4 ranks on one GPU"));
});

Deno.test("report plan: the page and the LaTeX tables show the same sections' tables", () => {
  const results = evilResults();
  const plan = reportPlan(results);
  const html = renderReport(results, "");
  const shown = plan.filter((s) => !s.absent && s.tables.length);
  for (const s of shown) {
    for (const t of s.tables) {
      assert(
        html.includes(`<table id="${t.id}">`) || html.includes(`<dl class="pairs" id="${t.id}">`),
        `page lacks ${t.id}`,
      );
    }
  }
  const tex = resultsLatex(results);
  const paperTables = shown.filter((s) => s.paper).flatMap((s) => s.tables);
  assert(paperTables.length >= 2, "summary and runs at least");
  assertEquals(tex.split("\\begin{table}").length - 1, paperTables.length);
  assert(!tex.includes("Provenance") && !tex.includes("% Failures"), "not for papers");
  for (const s of plan.filter((s) => s.absent)) {
    assert(html.includes(escapeHtml(`${s.title}: ${s.absent}`)), `not-shown lacks ${s.title}`);
  }
});

Deno.test("projection report: opens with the projection; tiny ratios keep two digits; equal bands said once", () => {
  const results = fixtureResults([
    { point: "tp-p8", ranks: 8, bytesSent: 100_000 },
    { point: "phantom-p8", mode: "phantom", ranks: 8, bytesSent: 300 },
  ]);
  for (const r of results.runs) {
    r.projected = {
      profile: "frontier-mi250x",
      band: "nominal",
      breakdown: { computeMs: 1, hostMs: 0, latencyMs: 0, bandwidthMs: 0 },
      bands: {
        optimistic: { stepTimeMs: 1, joulesPerStep: 1 },
        pessimistic: { stepTimeMs: 1, joulesPerStep: 1 },
      },
      fitsMemory: true,
      nodes: 1,
      devicesCharged: 8,
      lossCurveFrom: null,
    };
  }
  assertEquals(reportPlan(results)[0].id, "projection-section");
  const [f] = findings(results);
  assert(f.sentence.includes("sent 0.0030x the bytes"), f.sentence);
  assert(!/0\.00x/.test(f.sentence), f.sentence);
});

Deno.test("charts: dashed series get dashed legend swatches (no point style, a box of no height)", () => {
  const results = fixtureResults([
    ...repeated({ point: "tp-p2", stepMs: 100 }),
    ...repeated({ point: "phantom-p2", mode: "phantom", stepMs: 60 }),
  ]);
  const charts = reportCharts(results).filter((c) => "config" in c) as {
    config: {
      data?: { datasets?: { borderDash?: number[] }[] };
      options?: Record<string, unknown>;
    };
  }[];
  const dashed = charts.filter((c) => c.config.data?.datasets?.some((d) => d.borderDash?.length));
  assert(dashed.length > 0, "some chart has a dashed series");
  for (const c of dashed) {
    const labels =
      (c.config.options as { plugins?: { legend?: { labels?: Record<string, unknown> } } })
        .plugins?.legend?.labels ?? {};
    assertEquals([labels.usePointStyle ?? false, labels.boxHeight], [false, 0]);
  }
});

Deno.test("report: a network sweep compares TP and phantom per link rate, unshaped first, and draws step time against the link", () => {
  const runs = ["25mbit", null, "100mbit"].flatMap((link, i) =>
    (["tp", "phantom"] as const).map((mode) => {
      const run = fixtureRun({
        point: `${mode}-p4-link-${link}`,
        mode,
        ranks: 4,
        stepMs: (mode === "tp" ? 1000 : 100) * (i + 1),
      });
      return { ...run, config: { ...run.config, link } };
    })
  );
  const results = fixtureResults([]);
  results.runs = runs;
  const f = findings(results);
  assertEquals(f.map((x) => x.link), [null, "100mbit", "25mbit"], "one comparison per link");
  assert(f[2].label.endsWith("links 25mbit"), f[2].label);
  const chart = reportCharts(results).find((c) => c.id === "chart-link-step-time")!;
  assert("config" in chart, JSON.stringify(chart));
  const data = chart.config.data as {
    labels: string[];
    datasets: { label: string; data: number[] }[];
  };
  assertEquals(data.labels, ["unshaped", "100mbit", "25mbit"]);
  assertEquals(data.datasets.map((d) => [d.label, d.data.map((v) => Math.round(v / 100))]), [
    ["tp p=4", [20, 30, 10]],
    ["phantom p=4", [2, 3, 1]],
  ]);
  // Files without links draw no such chart.
  const plain = fixtureResults([{ point: "tp-p2" }, { point: "phantom-p2", mode: "phantom" }]);
  assert(!reportCharts(plain).some((c) => c.id.startsWith("chart-link")));
});

Deno.test("report: hybrid runs compare the fastest phantom x DP with the fastest TP x DP at each G, and split the step three ways", () => {
  const layout = (mode: "tp" | "phantom", d: number, p: number, stepMs: number) => {
    const run = fixtureRun({ point: `${mode}-${d}x${p}`, mode, ranks: p, stepMs });
    const config = { ...run.config, batch: 64 / d, ...(d > 1 ? { replicas: d } : {}) };
    const m = run.metrics!;
    return {
      ...run,
      config,
      metrics: {
        ...m,
        ...(d > 1
          ? {
            dataParallel: {
              replicas: d,
              commTimeMs: { ...m.commTimeMs, median: 5 },
              bytesSentPerRankPerStep: 100,
              bytesReceivedPerRankPerStep: 100,
              predictedBytesSentPerRankPerStep: 100,
              predictedBytesReceivedPerRankPerStep: 100,
            },
          }
          : {}),
      },
    };
  };
  const results = fixtureResults([]);
  results.runs = [
    layout("tp", 1, 4, 90),
    layout("tp", 2, 2, 60),
    layout("phantom", 1, 4, 30),
    layout("phantom", 2, 2, 45),
  ];
  const [h, ...rest] = hybridFindings(results);
  assertEquals(rest, []);
  assertEquals([h.world, h.tp.replicas, h.tp.ranks, h.phantom.replicas, h.phantom.ranks], [
    4,
    2,
    2,
    1,
    4,
  ]);
  assert(
    h.sentence.startsWith(
      "At G = 4 ranks (n = 1024, L = 2, global batch 64), the fastest phantom x DP (d = 1 x p = 4, 30.0 ms per step) took 0.50x the step time of the fastest TP x DP (d = 2 x p = 2, 60.0 ms)",
    ),
    h.sentence,
  );
  assert(renderReport(results, "").includes('id="hybrid-findings"'));
  const split = reportCharts(results).find((c) => c.id === "chart-time-split")!;
  assert("config" in split);
  const sets = (split.config.data as { datasets: { label: string; data: number[] }[] }).datasets;
  assertEquals(sets.map((s) => s.label), [
    "compute",
    "model-parallel communication",
    "data-parallel communication",
  ]);
  assertEquals(sets[2].data.map((v) => Math.round(v)), [0, 5, 0, 5]);
  // Runs of one layout per G: nothing to compare, no finding; no replicas: no split chart.
  const plain = fixtureResults([{ point: "tp-p2" }, { point: "phantom-p2", mode: "phantom" }]);
  assertEquals(hybridFindings(plain), []);
  assert(!reportCharts(plain).some((c) => c.id === "chart-time-split"));
});
