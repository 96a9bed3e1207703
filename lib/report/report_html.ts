/**
 * The HTML report: one self-contained page (Chart.js inlined, data embedded as JSON, a content
 * security policy that forbids every request) with tables of every run, phantom/TP ratios at
 * matching points, failures and exclusions, charts, and provenance. Every text taken from
 * results is escaped; the embedded JSON escapes `<` so no value can close its script element.
 *
 * @module
 */

import type { ResultsFile, RunResult } from "../results/results.ts";

/**
 * Escapes text for HTML content and attribute values.
 *
 * @param value Any value (stringified).
 * @returns Safe HTML text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeHtml } from "./report_html.ts";
 * assert(escapeHtml("<script>") === "&lt;script&gt;");
 * ```
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** JSON that is safe inside a script element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(
    /\u2028|\u2029/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
}

const num = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? "–"
    : Number(v.toPrecision(digits)).toString();

/** Matching key of TP and phantom points: same ranks, width, depth, batch. */
function matchKey(r: RunResult): string {
  const c = r.config;
  return `p${c.ranks}-n${c.width}-L${c.layers}-b${c.batch}`;
}

/** Median joules per step of each node and device, and why energy was unavailable where it was. */
function energyBreakdown(results: ResultsFile): string {
  const fmt = (j: number | null) => (j === null ? "n/a" : j.toFixed(3));
  const rows = results.runs.flatMap((r) => {
    const e = r.metrics?.energy;
    if (!e) return [];
    if (e.unavailableReason) {
      return [
        `<tr><td>${escapeHtml(r.id)}</td><td colspan="2">unavailable: ${
          escapeHtml(e.unavailableReason)
        }</td></tr>`,
      ];
    }
    const parts = [
      ...(e.nodes ?? []).map((n) => [`node ${n.node}`, n.joulesPerStep] as const),
      ...(e.devices ?? []).map((d) => [d.name, d.joulesPerStep] as const),
    ];
    return parts.map(([name, j]) =>
      `<tr><td>${escapeHtml(r.id)}</td><td>${escapeHtml(name)}</td><td>${fmt(j)}</td></tr>`
    );
  });
  if (rows.length === 0) return "<p>No per-device energy in these runs (no telemetry).</p>";
  return `<table id="energy-breakdown"><thead><tr><th>run</th><th>node / device</th><th>J per step (median)</th></tr></thead><tbody>${
    rows.join("")
  }</tbody></table>`;
}

function runsTable(results: ResultsFile): string {
  const rows = results.runs.map((r) => {
    const c = r.config;
    if (r.status !== "ok" || !r.metrics) {
      return `<tr class="failed"><td>${escapeHtml(r.id)}</td><td colspan="11">${r.status}: ${
        escapeHtml(r.error)
      }</td></tr>`;
    }
    const m = r.metrics;
    const e = m.energy;
    const l = m.loss ?? { stepsToTarget: null, timeToTargetMs: null, energyToTargetJ: null };
    const energy = e.joulesPerStep
      ? `${num(e.joulesPerStep.median)} J (${escapeHtml(e.method)})`
      : `unavailable`;
    return `<tr><td>${escapeHtml(r.id)}</td><td>${
      escapeHtml(c.mode)
    }</td><td>${c.ranks}</td><td>${c.width}</td><td>${c.phantomWidth ?? "–"}</td><td>${
      num(m.stepTimeMs.median)
    } ms</td><td>${
      num((100 * m.commTimeMs.median) / m.stepTimeMs.median, 2)
    }%</td><td>${m.bytesSentPerRankPerStep} / ${m.predicted.bytesSentPerRankPerStep}${
      m.bytesMatchPrediction ? "" : " (mismatch)"
    }</td><td>${energy}</td><td>${l.stepsToTarget ?? "not reached"}</td><td>${
      num(l.timeToTargetMs)
    } ms</td><td>${
      l.energyToTargetJ === null ? "–" : `${num(l.energyToTargetJ)} J (${escapeHtml(e.method)})`
    }</td></tr>`;
  });
  return `<table id="runs"><thead><tr><th>run</th><th>mode</th><th>p</th><th>n</th><th>k</th><th>step time</th><th>comm share</th><th>bytes sent/rank/step measured / predicted</th><th>energy/step (method)</th><th>steps to target</th><th>time to target</th><th>energy to target</th></tr></thead><tbody>${
    rows.join("")
  }</tbody></table>`;
}

function ratioTable(results: ResultsFile): string {
  const ok = results.runs.filter((r) => r.status === "ok" && r.metrics);
  const tp = new Map(ok.filter((r) => r.config.mode === "tp").map((r) => [matchKey(r), r]));
  const rows = ok.filter((r) => r.config.mode === "phantom" && tp.has(matchKey(r))).map((ph) => {
    const t = tp.get(matchKey(ph))!.metrics!;
    const p = ph.metrics!;
    const ratio = (a: number | null | undefined, b: number | null | undefined) =>
      a == null || b == null || b === 0 ? "–" : num(a / b);
    const energyNote = p.energy.method === t.energy.method
      ? escapeHtml(p.energy.method)
      : "methods differ";
    return `<tr><td>${escapeHtml(ph.id)}</td><td>${escapeHtml(matchKey(ph))}</td><td>${
      ratio(p.bytesSentPerRankPerStep, t.bytesSentPerRankPerStep)
    }</td><td>${ratio(p.stepTimeMs.median, t.stepTimeMs.median)}</td><td>${
      p.energy.method === t.energy.method
        ? ratio(p.energy.joulesPerStep?.median, t.energy.joulesPerStep?.median)
        : "–"
    } (${energyNote})</td><td>${ratio(p.loss?.timeToTargetMs, t.loss?.timeToTargetMs)}</td><td>${
      ratio(p.loss?.energyToTargetJ, t.loss?.energyToTargetJ)
    }</td></tr>`;
  });
  if (rows.length === 0) {
    return `<p id="ratios-none">No phantom point has a TP point with the same ranks, width, depth and batch.</p><table id="ratios"></table>`;
  }
  return `<table id="ratios"><thead><tr><th>phantom run</th><th>matched TP point</th><th>bytes sent</th><th>step time</th><th>energy/step</th><th>time to target</th><th>energy to target</th></tr></thead><tbody>${
    rows.join("")
  }</tbody></table>`;
}

function targetTable(results: ResultsFile): string {
  const ok = results.runs.filter((r) => r.status === "ok" && r.metrics?.loss);
  const key = (r: RunResult) => r.metrics!.loss!.timeToTargetMs ?? Infinity;
  const rows = [...ok].sort((a, b) => key(a) - key(b)).map((r) => {
    const m = r.metrics!;
    const l = m.loss!;
    return `<tr><td>${escapeHtml(r.id)}</td><td>${
      escapeHtml(r.config.mode)
    }</td><td>${r.config.ranks}</td><td>${r.config.width}</td><td>${
      r.config.phantomWidth ?? "–"
    }</td><td>${m.predicted.parametersTotal}</td><td>${num(l.target.absolute)}</td><td>${
      l.stepsToTarget ?? "not reached"
    }</td><td>${num(l.timeToTargetMs)} ms</td><td>${
      l.energyToTargetJ === null
        ? "–"
        : `${num(l.energyToTargetJ)} J (${escapeHtml(m.energy.method)})`
    }</td></tr>`;
  });
  return `<table id="to-target"><thead><tr><th>run</th><th>mode</th><th>p</th><th>n</th><th>k</th><th>parameters</th><th>target MSE</th><th>steps</th><th>time</th><th>energy</th></tr></thead><tbody>${
    rows.join("")
  }</tbody></table>`;
}

function provenance(results: ResultsFile): string {
  const env = results.environment as Record<string, unknown>;
  const item = (k: string, v: unknown) =>
    `<tr><th>${escapeHtml(k)}</th><td><code>${
      escapeHtml(typeof v === "string" ? v : JSON.stringify(v))
    }</code></td></tr>`;
  return `<table id="provenance"><tbody>${
    [
      item("created", results.createdAt),
      item(
        "sweep",
        `${results.sweep.id} v${results.sweep.version}${
          results.sweep.quick ? " (quick)" : ""
        }: ${results.sweep.description}`,
      ),
      item("git commit", env.gitCommit),
      item("runtime", env.runtime),
      item("CPU", env.cpu),
      item("GPUs", env.gpus),
      item("tfjs backend", env.tfjs),
      item("nats-server", env.natsServer),
      item("communicator", results.communicator),
      item("power", results.power),
      item("seeds", [...new Set(results.runs.map((r) => r.config.seed))]),
    ].join("")
  }</tbody></table>`;
}

/**
 * Renders one results file as a self-contained HTML page.
 *
 * @param results The results.
 * @param chartJs The Chart.js UMD build's source.
 * @param title Page title.
 * @returns The page.
 */
export function renderReport(
  results: ResultsFile,
  chartJs: string,
  title = "phantom-bench report",
): string {
  const failed = results.runs.filter((r) => r.status !== "ok");
  const excluded = results.sweep.excluded;
  const data = results.runs.filter((r) => r.status === "ok" && r.metrics).map((r) => ({
    id: r.id,
    mode: r.config.mode,
    ranks: r.config.ranks,
    stepMs: r.metrics!.stepTimeMs.median,
    joules: r.metrics!.energy.joulesPerStep?.median ?? null,
    method: r.metrics!.energy.method,
    forwardJ: r.metrics!.energy.perPhase?.forward.median ?? null,
    backwardJ: r.metrics!.energy.perPhase?.backward.median ?? null,
    bytes: r.metrics!.bytesSentPerRankPerStep,
    predictedBytes: r.metrics!.predicted.bytesSentPerRankPerStep,
    curve: r.metrics!.loss?.curve ?? [],
  }));
  const methods = [...new Set(data.map((d) => d.method))];
  const energyNote = data.some((d) => d.joules !== null)
    ? ` (method: ${methods.join(", ")})`
    : " (no energy data: every run's energy is unavailable)";
  const chart = (id: string, caption: string) =>
    `<figure><canvas id="${id}" width="640" height="320"></canvas><figcaption>${
      escapeHtml(caption)
    }</figcaption></figure>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}tr.failed td{color:#a00}
figure{display:inline-block;margin:1em}code{white-space:pre-wrap}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>Sweep <b>${
    escapeHtml(results.sweep.id)
  }</b>, ${results.runs.length} runs, ${failed.length} failed or interrupted, ${excluded.length} excluded.
Energy numbers say how they were obtained: a hardware <i>counter</i>, <i>integrated</i> power samples, a declared <i>modelled</i> estimate, or <i>unavailable</i>.</p>
<h2>Runs</h2>${runsTable(results)}
<h2>Phantom / TP at matching points</h2>${ratioTable(results)}
<h2>Loss to target, fastest first</h2>
<p>Models of different size and rank count side by side: the paper's claim that small phantom models on few ranks reach a loss sooner and with less energy than large TP models on many.</p>
${targetTable(results)}
<h2>Energy by node and device</h2>${energyBreakdown(results)}
<h2>Failures and exclusions</h2>
<table id="failures"><tbody>${
    failed.map((r) =>
      `<tr><td>${escapeHtml(r.id)}</td><td>${r.status}: ${escapeHtml(r.error)}</td></tr>`
    ).join("") +
    excluded.map((x) =>
      `<tr><td>${escapeHtml(x.point)}</td><td>excluded: ${escapeHtml(x.reason)}</td></tr>`
    ).join("") +
    (failed.length + excluded.length === 0
      ? "<tr><td>none</td><td>every point ran and succeeded</td></tr>"
      : "")
  }</tbody></table>
<h2>Charts</h2>
${chart("chart-step-time", "Step time (median) versus ranks")}
${chart("chart-energy", `Energy per step versus ranks${energyNote}`)}
${
    chart(
      "chart-bytes",
      "Payload bytes sent per rank per step versus ranks: measured (points) and predicted (lines)",
    )
  }
${chart("chart-phases", `Energy per step by phase${energyNote}`)}
${chart("chart-loss-step", "Held-out loss versus step")}
${chart("chart-loss-time", "Held-out loss versus training time (ms)")}
${chart("chart-loss-energy", "Held-out loss versus energy (J)")}
${chart("chart-pareto", "Time versus energy per step, all runs (Pareto view)")}
<h2>Provenance</h2>${provenance(results)}
<h3>Configurations</h3>
<table id="configs"><thead><tr><th>run</th><th>config hash</th><th>configuration</th></tr></thead><tbody>${
    results.runs.map((r) =>
      `<tr><td>${escapeHtml(r.id)}</td><td><code>${escapeHtml(r.configHash)}</code></td><td><code>${
        escapeHtml(JSON.stringify(r.config))
      }</code></td></tr>`
    ).join("")
  }</tbody></table>
<div id="selfcheck" data-errors="" data-violations="" data-charts=""></div>
<script type="application/json" id="data">${scriptJson(data)}</script>
<script>${chartJs.replace(/<\/script/gi, "<\\/script")}</script>
<script>${CLIENT}</script>
</body></html>
`;
}

/** Client code: builds the charts from the embedded data and records a self-check. */
const CLIENT = `
(function () {
  var errors = [], violations = [];
  window.addEventListener("error", function (e) { errors.push(String(e.message)); });
  document.addEventListener("securitypolicyviolation", function (e) { violations.push(e.blockedURI); });
  var runs = JSON.parse(document.getElementById("data").textContent);
  var colors = { tp: "#1f77b4", phantom: "#d62728", serial: "#2ca02c" };
  function byMode(field) {
    var out = {};
    runs.forEach(function (r) { if (r[field] === null) return; (out[r.mode] = out[r.mode] || []).push({ x: r.ranks, y: r[field] }); });
    return Object.keys(out).map(function (m) {
      return { label: m, data: out[m].sort(function (a, b) { return a.x - b.x; }), borderColor: colors[m], backgroundColor: colors[m], showLine: true };
    });
  }
  function scatter(id, datasets, xTitle, yTitle, logX) {
    return new Chart(document.getElementById(id), {
      type: "scatter", data: { datasets: datasets },
      options: { animation: false, responsive: false, scales: {
        x: { type: logX ? "logarithmic" : "linear", title: { display: true, text: xTitle },
          ticks: logX ? { callback: function (v) { return Number.isInteger(Math.log2(v)) ? String(v) : ""; } } : {} },
        y: { title: { display: true, text: yTitle } } } }
    });
  }
  var drawn = 0;
  function guard(f) { try { f(); drawn++; } catch (e) { errors.push(String(e)); } }
  guard(function () { scatter("chart-step-time", byMode("stepMs"), "ranks", "ms", true); });
  guard(function () { scatter("chart-energy", byMode("joules"), "ranks", "J per step", true); });
  guard(function () {
    var sets = byMode("bytes").concat(byMode("predictedBytes").map(function (s) { s.label += " predicted"; s.pointRadius = 0; s.borderDash = [4, 4]; return s; }));
    scatter("chart-bytes", sets, "ranks", "bytes", true);
  });
  guard(function () {
    new Chart(document.getElementById("chart-phases"), { type: "bar", data: {
      labels: runs.map(function (r) { return r.id; }),
      datasets: [{ label: "forward", data: runs.map(function (r) { return r.forwardJ; }), backgroundColor: "#9467bd" },
                 { label: "backward + update", data: runs.map(function (r) { return r.backwardJ; }), backgroundColor: "#8c564b" }] },
      options: { animation: false, responsive: false, scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "J" } } } } });
  });
  function lossChart(id, column, xTitle) {
    var sets = runs.map(function (r, i) {
      return { label: r.id, showLine: true, pointRadius: 1, borderColor: colors[r.mode], backgroundColor: colors[r.mode],
        data: r.curve.filter(function (c) { return c[column] !== null; }).map(function (c) { return { x: c[column], y: c[3] }; }) };
    });
    scatter(id, sets, xTitle, "held-out MSE", false);
  }
  guard(function () { lossChart("chart-loss-step", 0, "step"); });
  guard(function () { lossChart("chart-loss-time", 1, "training time (ms)"); });
  guard(function () { lossChart("chart-loss-energy", 2, "energy (J)"); });
  guard(function () {
    scatter("chart-pareto", runs.map(function (r) { return { label: r.id, data: [{ x: r.stepMs, y: r.joules === null ? 0 : r.joules }], backgroundColor: colors[r.mode] }; }),
      "step time (ms)", "J per step (0 where unavailable)", false);
  });
  function check() {
    var canvases = document.querySelectorAll("canvas"), painted = 0;
    canvases.forEach(function (c) {
      var px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, ink = false;
      for (var i = 3; i < px.length; i += 4) { if (px[i] !== 0) { ink = true; break; } }
      if (ink) painted++;
    });
    var s = document.getElementById("selfcheck");
    s.setAttribute("data-errors", String(errors.length));
    s.setAttribute("data-error-text", errors.join(" | "));
    s.setAttribute("data-violations", String(violations.length));
    s.setAttribute("data-charts", painted + "/" + canvases.length + "/" + drawn);
  }
  check();
})();
`;

/**
 * The index page of a published site: every results file with a link to its report.
 *
 * @param entries Report file name, results file name, sweep, created, runs, failed.
 * @returns The page.
 */
export function renderSiteIndex(
  entries: {
    report: string;
    results: string;
    sweep: string;
    createdAt: string;
    runs: number;
    failed: number;
  }[],
): string {
  const rows = entries.map((e) =>
    `<tr><td><a href="${escapeHtml(encodeURI(e.report))}">${escapeHtml(e.createdAt)}</a></td><td>${
      escapeHtml(e.sweep)
    }</td><td>${e.runs}</td><td>${e.failed}</td><td>${escapeHtml(e.results)}</td></tr>`
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>phantom-bench results</title><style>body{font:14px system-ui,sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:3px 6px}</style></head>
<body><h1>phantom-bench results</h1><table id="history"><thead><tr><th>created</th><th>sweep</th><th>runs</th><th>failed</th><th>results file</th></tr></thead><tbody>${
    rows.join("")
  }</tbody></table></body></html>
`;
}
