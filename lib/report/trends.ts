/**
 * Trends across results files (`deno task report --site DIR` writes DIR/trends.html), in the
 * manner of asv's history graphs: one series per configuration (configuration hash) and metric,
 * one point per results file placed by its date, colored by the verdict `deno task compare` gives
 * against the previous file with that configuration (statistics over repeats, the band from the
 * noise floor and the runs' spread, setup changes that make timing incomparable, exact metrics
 * compared exactly). Configurations that share a point name are told apart by the fields that
 * differ. Only aggregates are embedded (a value and a verdict per point, never the samples), and
 * charts are drawn as they scroll into view, so hundreds of files stay fast.
 *
 * @module
 */

import { flattenJson, type ResultsFile, type RunResult } from "../results/results.ts";
import { METRICS } from "../results/metrics.ts";
import { median } from "../results/stats.ts";
import { describeBackend } from "../results/describe_backend.ts";
import { type CompareOptions, compareRuns, samplesOf, type Verdict } from "./compare.ts";
import { VERDICT_TEXT } from "./compare_markdown.ts";
import { runMedians } from "./repeat_stats.ts";
import { setupChanges } from "./setup_changes.ts";
import { CSP, escapeHtml, scriptJson, STYLE } from "./report_html.ts";
import { FONT_FAMILY, PALETTE } from "./charts.ts";
import { fmt } from "./table.ts";

/** A trend point's verdict: compare's, or "first" for a configuration's first file. */
export type TrendVerdict = "first" | Verdict;

/** One results file's value of one metric of one configuration. */
export interface TrendPoint {
  /** The median of the file's run medians (exact metrics: the value). */
  value: number;
  /** Against the previous file with this configuration. */
  verdict: TrendVerdict;
  /** Change against the previous point, in percent. */
  changePct: number | null;
  /** Index of the file (in time order) in {@linkcode Trends.files}. */
  file: number;
  /** Runs (repeats) of the configuration in the file. */
  runs: number;
}

/** A metric of a configuration over time. */
export interface TrendSeries {
  metric: string;
  label: string;
  unit: string;
  /** Whether the metric is exact (bytes, steps) or measured (time, energy). */
  kind: "exact" | "measured";
  point: string;
  configHash: string;
  /** What tells this configuration from others of the same point name ("" when none shares it). */
  variant: string;
  points: TrendPoint[];
}

/** The trends of a set of results files. */
export interface Trends {
  /** The files in time order: what a point's hover shows. */
  files: {
    createdAt: string;
    /** createdAt in ms since the epoch: the x position. */
    time: number;
    commit: string;
    host: string;
    backend: string;
    report: string;
  }[];
  series: TrendSeries[];
}

/**
 * Builds the trends.
 *
 * @param inputs Results files with the name of their report page.
 * @param options Noise floor, alpha and repeats needed, as for compare.
 * @returns Files in time order and series per configuration hash and metric.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixtureResults } from "../testing/results_fixture.ts";
 * import { buildTrends } from "./trends.ts";
 * const runs = (stepMs: number) => [0, 1, 2].map((repeat) => ({ point: "tp-p2", stepMs, repeat }));
 * const a = fixtureResults(runs(100), { createdAt: "2026-01-01T00:00:00Z" });
 * const b = fixtureResults(runs(200), { createdAt: "2026-01-02T00:00:00Z" });
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
  const files = sorted.map(({ results, report }) => ({
    createdAt: results.createdAt,
    time: Date.parse(results.createdAt),
    commit: results.environment.gitCommit ?? "",
    host: results.environment.hostname ?? "",
    backend: describeBackend(results.environment.tfjs?.backend) === "unknown"
      ? String(results.runs[0]?.config.backend ?? "unknown")
      : describeBackend(results.environment.tfjs?.backend),
    report,
  }));
  const series = new Map<string, TrendSeries>();
  const previous = new Map<string, { file: number; runs: RunResult[] }>();
  const configs = new Map<string, RunResult["config"]>();
  const blocked = new Map<string, string | undefined>();
  const timingBlock = (from: number, to: number) => {
    const key = `${from}>${to}`;
    if (!blocked.has(key)) {
      const fields = setupChanges(sorted[from].results, sorted[to].results)
        .filter((c) => c.blocksTiming).map((c) => c.field);
      blocked.set(key, fields.length ? `setup changed: ${fields.join(", ")}` : undefined);
    }
    return blocked.get(key);
  };
  sorted.forEach(({ results }, file) => {
    const byHash = new Map<string, RunResult[]>();
    for (const r of results.runs) {
      if (r.status !== "ok" || !r.metrics) continue;
      byHash.set(r.configHash, [...(byHash.get(r.configHash) ?? []), r]);
      configs.set(r.configHash, r.config);
    }
    for (const [hash, runs] of byHash) {
      const prev = previous.get(hash);
      for (const spec of METRICS) {
        const samples = samplesOf(runs, spec);
        if (!samples) continue;
        // Against the previous file with this configuration, as compare judges it; "first" where
        // there is none or it lacked the metric.
        const row = prev && samplesOf(prev.runs, spec)
          ? compareRuns(spec, prev.runs, runs, options, timingBlock(prev.file, file))
          : undefined;
        if (row === null) continue; // zero in every sample: nothing measured
        const medians = spec.kind === "measured" ? runMedians(samples) : [];
        if (!row && spec.kind === "measured" && medians.every((x) => x === 0)) continue;
        const verdict: TrendVerdict = row ? row.verdict : "first";
        const value = row?.current ?? (spec.kind === "exact" ? samples[0][0] : median(medians));
        const key = `${hash}|${spec.key}`;
        const s = series.get(key) ?? {
          metric: spec.key,
          label: spec.label,
          unit: spec.unit,
          kind: spec.kind,
          point: runs[0].point,
          configHash: hash,
          variant: "",
          points: [],
        };
        s.points.push({
          value,
          verdict,
          changePct: row ? round(row.changePct) : null,
          file,
          runs: runs.length,
        });
        series.set(key, s);
      }
      previous.set(hash, { file, runs });
    }
  });
  labelVariants([...series.values()], configs);
  const order = (metric: string) => METRICS.findIndex((m) => m.key === metric);
  return {
    files,
    series: [...series.values()].sort((a, b) =>
      a.point.localeCompare(b.point) || a.variant.localeCompare(b.variant) ||
      order(a.metric) - order(b.metric)
    ),
  };
}

/** Names, for configurations sharing a point name, the fields in which they differ. */
function labelVariants(series: TrendSeries[], configs: Map<string, RunResult["config"]>): void {
  const hashesByPoint = new Map<string, Set<string>>();
  for (const s of series) {
    hashesByPoint.set(s.point, (hashesByPoint.get(s.point) ?? new Set()).add(s.configHash));
  }
  const labels = new Map<string, string>();
  for (const hashes of hashesByPoint.values()) {
    if (hashes.size < 2) continue;
    const flat = [...hashes].map((h) => [h, flattenJson(configs.get(h))] as const);
    const keys = [...new Set(flat.flatMap(([, f]) => Object.keys(f)))].filter((k) =>
      new Set(flat.map(([, f]) => f[k])).size > 1
    ).sort();
    for (const [h, f] of flat) {
      labels.set(h, keys.map((k) => `${k} ${f[k] ?? "(none)"}`).join(", "));
    }
  }
  for (const s of series) s.variant = labels.get(s.configHash) ?? "";
}

const round = (v: number) => (Number.isFinite(v) ? Math.round(v * 100) / 100 : v);

/** Colors of the verdicts. */
export const VERDICT_COLORS: Record<TrendVerdict, string> = {
  first: "#000000",
  regression: "#D55E00",
  improvement: "#009E73",
  noise: "#999999",
  unchanged: "#999999",
  incomparable: "#CC79A7",
  "too-few-repeats": "#56B4E9",
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
  const configs = [...new Set(trends.series.map((s) => s.configHash))];
  const regressions = trends.series.reduce(
    (n, s) => n + s.points.filter((p) => p.verdict === "regression").length,
    0,
  );
  const title = (hash: string) => {
    const s = trends.series.find((x) => x.configHash === hash)!;
    return s.variant ? `${s.point} (${s.variant})` : s.point;
  };
  const sections = configs.map((hash, i) => {
    const list = trends.series.filter((s) => s.configHash === hash);
    // An exact metric that never changed, or a metric with one file so far, needs no chart.
    const steady = list.filter((s) =>
      s.kind === "exact" && s.points.length > 1 &&
      s.points.every((p) => p.verdict === "first" || p.verdict === "unchanged")
    );
    const single = list.filter((s) => s.points.length === 1);
    const charted = list.filter((s) => !steady.includes(s) && !single.includes(s));
    const value = (s: TrendSeries) =>
      `${escapeHtml(s.label)} ${fmt(s.points.at(-1)!.value)} ${escapeHtml(s.unit)}`;
    const steadyHtml = steady.length
      ? `<p class="meta">Unchanged across ${steady[0].points.length} files: ${
        steady.map(value).join("; ")
      }.</p>`
      : "";
    const singleHtml = single.length
      ? `<p class="meta">One file so far (${
        escapeHtml(trends.files[single[0].points[0].file].createdAt.slice(0, 10))
      }): ${single.map(value).join("; ")}.</p>`
      : "";
    const s0 = list[0];
    return `<section id="cfg-${i}"><h2>${escapeHtml(s0.point)}</h2>${
      s0.variant
        ? `<p class="meta">${escapeHtml(s0.variant)}; configuration ${escapeHtml(hash)}</p>`
        : ""
    }${steadyHtml}${singleHtml}${
      charted.map((s) => {
        const id = `t-${trends.series.indexOf(s)}`;
        const bad = s.points.filter((p) => p.verdict === "regression").length;
        return `<figure><figcaption>${escapeHtml(s.label)} (${escapeHtml(s.unit)})${
          bad ? ` — ${bad} regression${bad > 1 ? "s" : ""}` : ""
        }</figcaption><canvas id="${id}" class="trend" width="520" height="240"></canvas></figure>`;
      }).join("")
    }</section>`;
  });
  const legend = Object.entries(VERDICT_COLORS).filter(([v]) => v !== "unchanged").map(([v, c]) =>
    `<span style="color:${c}">●</span> ${
      escapeHtml({ first: "first", ...VERDICT_TEXT }[v as TrendVerdict])
    }`
  ).join(" &nbsp; ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>phantom-bench trends</title><style>${STYLE}</style></head><body>
<h1>phantom-bench: trends across results files</h1>
<p class="meta">${trends.files.length} results files, ${configs.length} configurations, ${regressions} regression${
    regressions === 1 ? "" : "s"
  } flagged. <a href="index.html">All reports</a>.</p>
<p class="meta">Each point is one results file at its date (the median of its runs' median steps; hover for the commit); its color is the verdict <code>deno task compare</code> gives against the previous file with the same configuration: time and energy need ${
    options.minRepeats ?? 3
  } runs on both sides and a change beyond the band (the larger of ${
    options.noisePct ?? 5
  }% and the runs' spread) whose ${
    Math.round(100 * (1 - (options.alpha ?? 0.05)))
  }% bootstrap interval excludes no change; a changed communicator, backend, hardware or power backend makes them incomparable. Bytes and steps to target are exact. ${legend}</p>
<nav class="toc"><b>Configurations</b><ol>${
    configs.map((h, i) => `<li><a href="#cfg-${i}">${escapeHtml(title(h))}</a></li>`).join("")
  }</ol></nav>
${sections.join("\n")}
<div id="selfcheck" data-errors="" data-violations="" data-charts="" data-regressions="${regressions}" data-marked=""></div>
<script type="application/json" id="trends">${scriptJson(trends)}</script>
<script type="application/json" id="style">${
    scriptJson({
      font: FONT_FAMILY,
      colors: VERDICT_COLORS,
      line: PALETTE[0],
      text: { first: "first", ...VERDICT_TEXT },
    })
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
  // Dates as tick labels, as fine as the axis's span needs (no label repeated).
  function dateLabel(v, ticks) {
    var span = ticks.length > 1 ? ticks[ticks.length - 1].value - ticks[0].value : 0;
    var iso = new Date(v).toISOString();
    return span > 2 * 86400000 ? iso.slice(0, 10) : span > 120000 ? iso.slice(5, 16).replace("T", " ") : iso.slice(11, 19);
  }
  function draw(canvas) {
    if (canvas.dataset.drawn) return;
    canvas.dataset.drawn = "1";
    var s = data.series[Number(canvas.id.slice(2))];
    try {
      new Chart(canvas, {
        type: "line",
        data: {
          datasets: [{
            label: s.label, data: s.points.map(function (p) { return { x: data.files[p.file].time, y: p.value }; }), borderColor: style.line, borderWidth: 1,
            pointBackgroundColor: s.points.map(function (p) { return style.colors[p.verdict]; }),
            pointBorderColor: s.points.map(function (p) { return style.colors[p.verdict]; }),
            pointRadius: s.points.map(function (p) { return p.verdict === "regression" ? 6 : 3; })
          }]
        },
        options: {
          animation: false, responsive: false, plugins: { legend: { display: false }, tooltip: { callbacks: {
            title: function (items) { var f = data.files[s.points[items[0].dataIndex].file]; return f.createdAt.replace("T", " ").slice(0, 19) + "  commit " + (f.commit || "unknown").slice(0, 12); },
            label: function (item) {
              var p = s.points[item.dataIndex], f = data.files[p.file];
              return [p.value.toPrecision(4) + " " + s.unit + (p.changePct === null ? "" : " (" + (p.changePct >= 0 ? "+" : "") + p.changePct + "%)"),
                "verdict: " + style.text[p.verdict] + " (" + p.runs + " run" + (p.runs === 1 ? "" : "s") + ")",
                "host: " + f.host, "backend: " + f.backend, "report: " + f.report];
            } } } },
          scales: {
            x: { type: "linear", ticks: { maxTicksLimit: 6, callback: function (v, i, ticks) {
              var t = dateLabel(v, ticks);
              return i > 0 && dateLabel(ticks[i - 1].value, ticks) === t ? "" : t;
            } } },
            y: { title: { display: true, text: s.unit } }
          }
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
