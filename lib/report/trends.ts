/**
 * Trends across results files (`deno task report --site DIR` writes DIR/trends.html), in the
 * manner of asv's history graphs: for every configuration (config hash) and metric, one point per
 * results file in time order, colored by the verdict `deno task compare` would give against the
 * previous result of the same configuration (noise band, Mann-Whitney significance, exact metrics
 * compared exactly). Only aggregates are embedded (a median and a verdict per point, never the
 * samples), and charts are drawn as they scroll into view, so hundreds of files stay fast.
 *
 * @module
 */

import type { ResultsFile, RunResult } from "../results/results.ts";
import { compareMetric, type CompareOptions, METRICS, pool } from "./compare.ts";
import { CSP, escapeHtml, scriptJson, STYLE } from "./report_html.ts";
import { fmt, FONT_FAMILY, PALETTE } from "./report_model.ts";

/** One results file's value of one metric of one configuration. */
export interface TrendPoint {
  /** Median over the file's samples. */
  value: number;
  /** Against the previous file with this configuration. */
  verdict: "first" | "regression" | "improvement" | "noise" | "unchanged" | "incomparable";
  /** Change against the previous point, in percent. */
  changePct: number | null;
  /** Index of the file (in time order) in {@linkcode Trends.files}. */
  file: number;
}

/** A metric of a configuration over time. */
export interface TrendSeries {
  metric: string;
  label: string;
  unit: string;
  point: string;
  configHash: string;
  points: TrendPoint[];
}

/** The trends of a set of results files. */
export interface Trends {
  /** The files in time order: what a point's hover shows. */
  files: { createdAt: string; commit: string; host: string; backend: string; report: string }[];
  series: TrendSeries[];
}

/**
 * Builds the trends.
 *
 * @param inputs Results files with the name of their report page.
 * @param options Noise bands and alpha, as for compare.
 * @returns Files in time order and series per configuration and metric.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixtureResults } from "../testing/results_fixture.ts";
 * import { buildTrends } from "./trends.ts";
 * const a = fixtureResults([{ point: "tp-p2", stepMs: 100 }], { createdAt: "2026-01-01T00:00:00Z" });
 * const b = fixtureResults([{ point: "tp-p2", stepMs: 200 }], { createdAt: "2026-01-02T00:00:00Z" });
 * const t = buildTrends([{ results: b, report: "b.html" }, { results: a, report: "a.html" }]);
 * const step = t.series.find((s) => s.metric === "stepTimeMs")!;
 * assert.deepEqual(step.points.map((p) => p.verdict), ["first", "regression"]);
 * ```
 */
export function buildTrends(
  inputs: { results: ResultsFile; report: string }[],
  options: CompareOptions = {},
): Trends {
  const sorted = [...inputs].sort((x, y) => (x.results.createdAt < y.results.createdAt ? -1 : 1));
  const files = sorted.map(({ results, report }) => {
    const env = results.environment as Record<string, unknown>;
    const tfjs = env.tfjs as { backend?: string } | undefined;
    return {
      createdAt: results.createdAt,
      commit: String(env.gitCommit ?? ""),
      host: String(env.hostname ?? ""),
      backend: String(tfjs?.backend ?? results.runs[0]?.config.backend ?? ""),
      report,
    };
  });
  const series = new Map<string, TrendSeries>();
  const previous = new Map<string, { samples: number[]; method?: string }>();
  sorted.forEach(({ results }, file) => {
    const byHash = new Map<string, RunResult[]>();
    for (const r of results.runs) {
      if (r.status !== "ok" || !r.metrics) continue;
      byHash.set(r.configHash, [...(byHash.get(r.configHash) ?? []), r]);
    }
    for (const [hash, runs] of byHash) {
      for (const spec of METRICS) {
        const samples = pool(runs, spec);
        if (!samples) continue;
        const key = `${hash}|${spec.key}`;
        const method = spec.key === "joulesPerStep" ? runs[0].metrics!.energy.method : undefined;
        const prev = previous.get(key);
        const row = prev
          ? compareMetric(
            spec,
            prev.samples,
            samples,
            options.noisePctFor?.[spec.key] ?? options.noisePct ?? 5,
            options.alpha ?? 0.05,
          )
          : undefined;
        const verdict: TrendPoint["verdict"] = !row
          ? "first"
          : prev!.method !== method
          ? "incomparable"
          : row.verdict;
        const s = series.get(key) ?? {
          metric: spec.key,
          label: spec.label,
          unit: spec.unit,
          point: runs[0].point,
          configHash: hash,
          points: [],
        };
        s.points.push({
          value: row?.current ?? median(samples),
          verdict,
          changePct: row ? round(row.changePct) : null,
          file,
        });
        series.set(key, s);
        previous.set(key, { samples, method });
      }
    }
  });
  const order = (metric: string) => METRICS.findIndex((m) => m.key === metric);
  return {
    files,
    series: [...series.values()].sort((a, b) =>
      a.point.localeCompare(b.point) || order(a.metric) - order(b.metric)
    ),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const round = (v: number) => (Number.isFinite(v) ? Math.round(v * 100) / 100 : v);

/** Colors of the verdicts. */
export const VERDICT_COLORS: Record<TrendPoint["verdict"], string> = {
  first: "#000000",
  regression: "#D55E00",
  improvement: "#009E73",
  noise: "#999999",
  unchanged: "#999999",
  incomparable: "#CC79A7",
};

/**
 * The trends page.
 *
 * @param trends The trends.
 * @param chartJs The Chart.js UMD build's source.
 * @param options The bands used, stated on the page.
 * @returns The page.
 */
export function renderTrends(
  trends: Trends,
  chartJs: string,
  options: CompareOptions = {},
): string {
  const points = [...new Set(trends.series.map((s) => s.point))];
  const regressions = trends.series.reduce(
    (n, s) => n + s.points.filter((p) => p.verdict === "regression").length,
    0,
  );
  const sections = points.map((point, i) => {
    const list = trends.series.filter((s) => s.point === point);
    // A metric that never changed needs no chart: one line says so.
    const flat = list.filter((s) =>
      s.points.every((p) => p.verdict === "first" || p.verdict === "unchanged")
    );
    const moving = list.filter((s) => !flat.includes(s));
    const flatHtml = flat.length
      ? `<p class="meta">Unchanged across ${flat[0].points.length} file${
        flat[0].points.length > 1 ? "s" : ""
      }: ${
        flat.map((s) => `${escapeHtml(s.label)} ${fmt(s.points[0].value)} ${escapeHtml(s.unit)}`)
          .join("; ")
      }.</p>`
      : "";
    return `<section id="cfg-${i}"><h2>${escapeHtml(point)}</h2>${flatHtml}${
      moving.map((s) => {
        const id = `t-${trends.series.indexOf(s)}`;
        const bad = s.points.filter((p) => p.verdict === "regression").length;
        return `<figure><figcaption>${escapeHtml(s.label)} (${escapeHtml(s.unit)})${
          bad ? ` — ${bad} regression${bad > 1 ? "s" : ""}` : ""
        }</figcaption><canvas id="${id}" class="trend" width="520" height="240"></canvas></figure>`;
      }).join("")
    }</section>`;
  });
  const legend = Object.entries(VERDICT_COLORS).filter(([v]) => v !== "unchanged").map(([v, c]) =>
    `<span style="color:${c}">●</span> ${escapeHtml(v)}`
  ).join(" &nbsp; ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>phantom-bench trends</title><style>${STYLE}</style></head><body>
<h1>phantom-bench: trends across results files</h1>
<p class="meta">${trends.files.length} results files, ${points.length} configurations, ${regressions} regression${
    regressions === 1 ? "" : "s"
  } flagged. <a href="index.html">All reports</a>.</p>
<p class="meta">Each point is one results file (median over its samples), in time order; its color is the verdict <code>deno task compare</code> gives against the previous result of the same configuration: a change beyond the noise band of ${
    options.noisePct ?? 5
  }% that is also significant by a two-sided Mann-Whitney U test at alpha ${
    options.alpha ?? 0.05
  } (bytes and steps to target: exact). ${legend}</p>
<nav class="toc"><b>Configurations</b><ol>${
    points.map((p, i) => `<li><a href="#cfg-${i}">${escapeHtml(p)}</a></li>`).join("")
  }</ol></nav>
${sections.join("\n")}
<div id="selfcheck" data-errors="" data-violations="" data-charts="" data-regressions="${regressions}" data-marked=""></div>
<script type="application/json" id="trends">${scriptJson(trends)}</script>
<script type="application/json" id="style">${
    scriptJson({ font: FONT_FAMILY, colors: VERDICT_COLORS, line: PALETTE[0] })
  }</script>
<script>${chartJs.replace(/<\/script/gi, "<\\/script")}</script>
<script>${TRENDS_CLIENT}</script>
</body></html>
`;
}

const TRENDS_CLIENT = `
(function () {
  var errors = [], violations = [], drawn = 0, marked = 0;
  window.addEventListener("error", function (e) { errors.push(String(e.message)); });
  document.addEventListener("securitypolicyviolation", function (e) { violations.push(e.blockedURI); });
  var data = JSON.parse(document.getElementById("trends").textContent);
  var style = JSON.parse(document.getElementById("style").textContent);
  Chart.defaults.font.family = style.font;
  function draw(canvas) {
    if (canvas.dataset.drawn) return;
    canvas.dataset.drawn = "1";
    var s = data.series[Number(canvas.id.slice(2))];
    try {
      new Chart(canvas, {
        type: "line",
        data: {
          labels: s.points.map(function (p) { var f = data.files[p.file]; return (f.commit || "").slice(0, 7) || f.createdAt.slice(0, 10); }),
          datasets: [{
            label: s.label, data: s.points.map(function (p) { return p.value; }), borderColor: style.line, borderWidth: 1,
            pointBackgroundColor: s.points.map(function (p) { return style.colors[p.verdict]; }),
            pointBorderColor: s.points.map(function (p) { return style.colors[p.verdict]; }),
            pointRadius: s.points.map(function (p) { return p.verdict === "regression" ? 6 : 3; })
          }]
        },
        options: {
          animation: false, responsive: false, plugins: { legend: { display: false }, tooltip: { callbacks: {
            title: function (items) { var f = data.files[s.points[items[0].dataIndex].file]; return f.createdAt + "  " + f.commit.slice(0, 12); },
            label: function (item) {
              var p = s.points[item.dataIndex], f = data.files[p.file];
              return [p.value.toPrecision(4) + " " + s.unit + (p.changePct === null ? "" : " (" + (p.changePct >= 0 ? "+" : "") + p.changePct + "%)"),
                "verdict: " + p.verdict, "host: " + f.host, "backend: " + f.backend, "report: " + f.report];
            } } } },
          scales: { y: { title: { display: true, text: s.unit } } }
        }
      });
      drawn++;
      marked += s.points.filter(function (p) { return p.verdict === "regression"; }).length;
    } catch (e) { errors.push(String(e)); }
    update();
  }
  function update() {
    var c = document.getElementById("selfcheck");
    c.setAttribute("data-errors", String(errors.length));
    c.setAttribute("data-error-text", errors.join(" | "));
    c.setAttribute("data-violations", String(violations.length));
    c.setAttribute("data-charts", drawn + "/" + document.querySelectorAll("canvas.trend").length);
    c.setAttribute("data-marked", String(marked));
  }
  var canvases = document.querySelectorAll("canvas.trend");
  if (location.hash === "#all" || !("IntersectionObserver" in window)) {
    canvases.forEach(draw);
  } else {
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) { if (e.isIntersecting) { draw(e.target); io.unobserve(e.target); } });
    }, { rootMargin: "400px" });
    canvases.forEach(function (c) { io.observe(c); });
  }
  update();
})();
`;
