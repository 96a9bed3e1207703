/**
 * The HTML report: one self-contained page (Chart.js inlined, data embedded as JSON, a content
 * security policy that forbids every request) that opens with the headline (phantom against TP
 * at every matching point, lib/report/findings.ts), then the tables and figures, then
 * provenance. Sections and charts with nothing to show are left out with a one-line reason. Every
 * chart downloads as PNG (drawn in the page) and SVG (drawn at report time by lib/report/figures.ts,
 * where it is available), every table as CSV. Readable on a phone and in print. Every text taken
 * from results is escaped; embedded JSON escapes `<` so no value can close its script element.
 *
 * @module
 */

import type { ResultsFile } from "../results/results.ts";
import { type ChartSpec, FONT_FAMILY, reportCharts } from "./charts.ts";
import { findings, sharingNote } from "./findings.ts";
import { hybridFindings } from "./hybrid.ts";
import { type Table, tableCsv } from "./table.ts";
import { reportPlan } from "./report_plan.ts";
import { summaryTable } from "./tables.ts";

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

/**
 * JSON that is safe inside a script element.
 *
 * @param value Any JSON value.
 * @returns Its JSON with `<` and line separators escaped.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(
    /\u2028|\u2029/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
}

/** The content security policy: nothing is fetched, ever. */
export const CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:";

/** The style of every page the suite writes: numbers right-aligned, tables that scroll, print and phone layouts. */
export const STYLE = `
:root{--fg:#1a1a1a;--muted:#5a5a5a;--rule:#d0d0d0;--bg:#fff;--accent:#0072B2}
*{box-sizing:border-box}
body{font:15px/1.45 ${FONT_FAMILY};color:var(--fg);background:var(--bg);margin:0 auto;max-width:1180px;padding:1.5em}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid var(--rule);padding-bottom:.2em}
.meta{color:var(--muted)}
.caveat{border-left:3px solid var(--muted);padding-left:.6em}
nav.toc{background:#f6f6f6;padding:.6em 1em;border-radius:6px;margin:1em 0}
nav.toc ol{margin:.2em 0;padding-left:1.4em;columns:2}
.scroll{overflow-x:auto;max-width:100%}
.scroll td:first-child,.scroll th:first-child{position:sticky;left:0;background:var(--bg);z-index:1}
.scroll th:first-child{background:#f6f6f6}
dl.pairs{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.6em 0}
dl.pairs dt{color:var(--muted)}dl.pairs dd{margin:0;overflow-wrap:anywhere}
td.headline{min-width:16em;max-width:40em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
caption{text-align:left;color:var(--muted);padding:.2em 0;caption-side:top}
th,td{border-bottom:1px solid var(--rule);padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6;white-space:nowrap}
td{white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.wrap{white-space:normal;min-width:20em}
tr.bad td{color:#a33}
.findings li{margin:.4em 0}
.findings{padding-left:1.2em}
.omitted{color:var(--muted)}
figure{display:inline-block;margin:1em .8em 1em 0;max-width:100%;vertical-align:top}
figure canvas{max-width:100%;height:auto}
figcaption{font-weight:600;margin-bottom:.3em;max-width:540px;min-height:2.6em}
button{font:inherit;font-size:.8em;padding:2px 8px;margin:2px 4px 2px 0;border:1px solid var(--rule);background:#fafafa;border-radius:4px;cursor:pointer}
code{white-space:pre-wrap;word-break:break-all;font-size:.85em}
.projected{font-style:italic}
@media (max-width:700px){body{padding:.7em;font-size:14px}nav.toc ol{columns:1}figure{margin:.5em 0}}
@media print{body{max-width:none;padding:0;font-size:10pt}nav.toc,button,.dl{display:none}
h2{break-after:avoid}table,figure{break-inside:avoid}.scroll{overflow:visible}td{white-space:normal}
a{color:inherit;text-decoration:none}}
`;

/**
 * A table as HTML, in a scrolling wrapper, with a CSV download button.
 *
 * @param table The table.
 * @returns HTML.
 */
export function tableHtml(table: Table): string {
  const head = table.columns.map((c) =>
    `<th${c.numeric ? ' class="n"' : ""}>${escapeHtml(c.label)}${
      c.unit ? ` (${escapeHtml(c.unit)})` : ""
    }</th>`
  ).join("");
  const body = table.rows.map((row) => {
    const bad = row.some((c) => /^(failed|interrupted|out-of-memory)\b/.test(c.text));
    return `<tr${bad ? ' class="bad"' : ""}>${
      row.map((cell, i) => {
        const cls = table.columns[i]?.numeric ? "n" : cell.text.length > 60 ? "wrap" : "";
        return `<td${cls ? ` class="${cls}"` : ""}${
          cell.title ? ` title="${escapeHtml(cell.title)}"` : ""
        }>${escapeHtml(cell.text)}</td>`;
      }).join("")
    }</tr>`;
  }).join("");
  return `<div class="scroll"><table id="${escapeHtml(table.id)}"><caption>${
    escapeHtml(table.caption)
  } <button data-csv="${
    escapeHtml(table.id)
  }">CSV</button></caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>` +
    // The download is the table's CSV as lib/report/table.ts writes it (full precision), not
    // text scraped from the page.
    `<script type="application/json" id="csv-${escapeHtml(table.id)}">${
      scriptJson(tableCsv(table))
    }</script>`;
}

/** A two-column table of names and values as a definition list (provenance reads as prose). */
function pairsHtml(table: Table): string {
  return `<dl class="pairs" id="${escapeHtml(table.id)}">${
    table.rows.map(([k, v]) => `<dt>${escapeHtml(k.text)}</dt><dd>${escapeHtml(v.text)}</dd>`)
      .join("")
  }</dl><script type="application/json" id="csv-${escapeHtml(table.id)}">${
    scriptJson(tableCsv(table))
  }</script>`;
}

/** Options of {@linkcode renderReport}. */
export interface ReportOptions {
  /** Page title. */
  title?: string;
  /** SVG of each chart by id, drawn at report time (absent: no SVG downloads, with the reason). */
  svgs?: Record<string, string>;
  /** Why there are no SVGs (e.g. the canvas library did not load). */
  svgUnavailable?: string;
  /** A link to the site's trends page. */
  trendsHref?: string;
}

/**
 * Renders one results file as a self-contained HTML page.
 *
 * @param results The results.
 * @param chartJs The Chart.js UMD build's source.
 * @param options Title, SVG figures, trends link.
 * @returns The page.
 */
export function renderReport(
  results: ResultsFile,
  chartJs: string,
  options: ReportOptions = {},
): string {
  const title = options.title ?? "phantom-bench report";
  const found = findings(results);
  const charts = reportCharts(results);
  const energyMeasured = results.runs.some((r) => r.metrics?.energy.joulesPerStep);
  const sections: { id: string; title: string; html: string }[] = [];
  const notShown: string[] = [];
  for (const section of reportPlan(results, found)) {
    const figures = section.charts.map((c) => figuresHtml(charts, c, options)).join("");
    if (section.absent || (!section.tables.length && !figures)) {
      notShown.push(`${section.title}: ${section.absent ?? "nothing to draw"}`);
      continue;
    }
    const html = section.id === "summary"
      ? summaryHtml(results, found, energyMeasured)
      : section.id === "failures-section" && section.tables[0].rows.length === 0
      ? `<p id="failures">None: every point ran and succeeded.</p>`
      : `${
        section.intro
          ? `<p${section.projected ? ' class="projected"' : ""}>${escapeHtml(section.intro)}</p>`
          : ""
      }${
        section.tables.map((t) => (t.id === "provenance" ? pairsHtml(t) : tableHtml(t))).join("")
      }${figures}`;
    sections.push({ id: section.id, title: section.title, html });
  }
  const omitted = charts.filter((c): c is Extract<ChartSpec, { omitted: string }> =>
    "omitted" in c
  );
  const drawn = charts.filter((c): c is Extract<ChartSpec, { config: Record<string, unknown> }> =>
    "config" in c
  );
  const env = results.environment as Record<string, unknown>;
  const meta = [
    `sweep ${results.sweep.id} v${results.sweep.version}${results.sweep.quick ? " (quick)" : ""}`,
    `${results.runs.length} runs`,
    `created ${results.createdAt}`,
    env.gitCommit ? `commit ${String(env.gitCommit).slice(0, 12)}` : "",
    env.hostname ? `host ${env.hostname}` : "",
  ].filter(Boolean).join(" · ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style></head><body>
<header><h1>${escapeHtml(title)}</h1><p class="meta">${escapeHtml(meta)}${
    options.trendsHref
      ? ` · <a href="${escapeHtml(options.trendsHref)}">trends across results</a>`
      : ""
  }</p>
<p class="meta">Energy numbers say how they were obtained: a hardware <i>counter</i>, <i>integrated</i> power samples, a declared <i>modelled</i> estimate, <i>projected</i> by a model, or <i>unavailable</i>.</p></header>
<nav class="toc" aria-label="contents"><b>Contents</b><ol>${
    sections.map((s) => `<li><a href="#${s.id}">${escapeHtml(s.title)}</a></li>`).join("")
  }</ol></nav>
${
    sections.map((s) => `<section id="${s.id}"><h2>${escapeHtml(s.title)}</h2>${s.html}</section>`)
      .join("\n")
  }
<section id="not-shown"><h2>Not shown</h2><ul class="omitted" id="omitted">${
    [
      ...notShown,
      ...omitted.map((c) => `${c.title}: ${c.omitted}`),
      ...(options.svgs
        ? []
        : [`SVG downloads: ${options.svgUnavailable ?? "not drawn for this page"}`]),
    ]
      .map((t) => `<li>${escapeHtml(t)}</li>`).join("") ||
    "<li>nothing: every section and chart has data</li>"
  }</ul></section>
<div id="selfcheck" data-errors="" data-violations="" data-charts="" data-downloads=""></div>
<script type="application/json" id="charts">${
    scriptJson(Object.fromEntries(drawn.map((c) => [c.id, c.config])))
  }</script>
<script type="application/json" id="svgs">${scriptJson(options.svgs ?? {})}</script>
<script type="application/json" id="font">${scriptJson(FONT_FAMILY)}</script>
<script>${chartJs.replace(/<\/script/gi, "<\\/script")}</script>
<script>${CLIENT}</script>
</body></html>
`;
}

function summaryHtml(
  results: ResultsFile,
  found: ReturnType<typeof findings>,
  energyMeasured: boolean,
): string {
  const lines = found.map((f) => `<li>${escapeHtml(f.sentence)}</li>`);
  const head = found.length
    ? `<ul class="findings" id="findings">${lines.join("")}</ul>${tableHtml(summaryTable(found))}`
    : `<p id="findings">No phantom point has a TP point with the same ranks, width, depth, batch and workload, so there is no ratio to state.</p>`;
  const hybrid = hybridFindings(results);
  const hybridHtml = hybrid.length
    ? `<p>Phantom x DP against TP x DP at each number of ranks G, the best layout (d replicas x p model ranks) of each:</p><ul class="findings" id="hybrid-findings">${
      hybrid.map((h) => `<li>${escapeHtml(h.sentence)}</li>`).join("")
    }</ul>`
    : "";
  const sharing = sharingNote(results);
  const counts = new Map<string, number>();
  for (const r of results.runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const status = [...counts].map(([s, n]) => `${n} ${s}`).join(", ");
  return `${head}${hybridHtml}${
    sharing ? `<p class="caveat" id="sharing">${escapeHtml(sharing)}</p>` : ""
  }<p class="meta">${escapeHtml(status)}; ${results.sweep.excluded.length} excluded.${
    energyMeasured ? "" : " Energy was not measured on this host: energy figures are left out."
  } Ratios are phantom over TP at the same p, n, L and b (below 1: phantom lower); intervals are 95% bootstrap intervals over repeats, shown only where both sides have two or more.</p>`;
}

function figuresHtml(charts: ChartSpec[], section: string, options: ReportOptions): string {
  return charts.filter((c) => c.section === section && "config" in c).map((c) =>
    `<figure id="fig-${escapeHtml(c.id)}"><figcaption>${
      escapeHtml(c.title)
    }</figcaption><canvas id="${
      escapeHtml(c.id)
    }" width="540" height="340"></canvas><div class="dl"><button data-png="${
      escapeHtml(c.id)
    }">PNG</button>${
      options.svgs?.[c.id] ? `<button data-svg="${escapeHtml(c.id)}">SVG</button>` : ""
    }</div></figure>`
  ).join("");
}

/** Client code: draws the charts, wires the downloads, and records a self-check. */
const CLIENT = `
(function () {
  var errors = [], violations = [], downloads = [];
  window.addEventListener("error", function (e) { errors.push(String(e.message)); });
  document.addEventListener("securitypolicyviolation", function (e) { violations.push(e.blockedURI); });
  var configs = JSON.parse(document.getElementById("charts").textContent);
  var svgs = JSON.parse(document.getElementById("svgs").textContent);
  Chart.defaults.font.family = JSON.parse(document.getElementById("font").textContent);
  var selftest = location.hash === "#selftest";
  function save(name, blob) {
    downloads.push(name + ":" + blob.size);
    if (selftest) return;
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
  }
  function dataUrlBlob(url) {
    var bin = atob(url.split(",")[1]), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Blob([bytes], { type: "image/png" });
  }
  var charts = {}, drawn = 0;
  Object.keys(configs).forEach(function (id) {
    try { charts[id] = new Chart(document.getElementById(id), configs[id]); drawn++; }
    catch (e) { errors.push(id + ": " + e); }
  });
  document.addEventListener("click", function (e) {
    var b = e.target.closest("button"); if (!b) return;
    if (b.dataset.png) save(b.dataset.png + ".png", dataUrlBlob(charts[b.dataset.png].toBase64Image("image/png", 1)));
    if (b.dataset.svg) save(b.dataset.svg + ".svg", new Blob([svgs[b.dataset.svg]], { type: "image/svg+xml" }));
    if (b.dataset.csv) {
      var text = JSON.parse(document.getElementById("csv-" + b.dataset.csv).textContent);
      save(b.dataset.csv + ".csv", new Blob([text], { type: "text/csv" }));
    }
  });
  if (selftest) document.querySelectorAll("button").forEach(function (b) { b.click(); });
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
  s.setAttribute("data-downloads", downloads.join(" "));
})();
`;

/** A results file in the site index. */
export interface SiteEntry {
  report: string;
  results: string;
  sweep: string;
  createdAt: string;
  commit: string;
  host: string;
  runs: number;
  failed: number;
  /** The first finding's sentence, if any. */
  headline: string;
}

/**
 * The index page of a published site: every results file, newest first, with its headline and a
 * link to its report, and a link to the trends page.
 *
 * @param entries The reports.
 * @param trendsHref The trends page, if written.
 * @returns The page.
 */
export function renderSiteIndex(entries: SiteEntry[], trendsHref?: string): string {
  // The headline right after the date: on a phone it is what shows before the table scrolls.
  const rows = entries.map((e) =>
    `<tr><td><a href="${escapeHtml(encodeURI(e.report))}">${
      escapeHtml(e.createdAt.replace("T", " ").slice(0, 16))
    }</a></td><td class="wrap headline">${escapeHtml(e.headline)}</td><td>${
      escapeHtml(e.sweep)
    }</td><td class="n">${e.runs}</td><td class="n">${e.failed}</td><td>${
      escapeHtml(e.commit.slice(0, 12))
    }</td><td>${escapeHtml(e.host)}</td><td>${escapeHtml(e.results)}</td></tr>`
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>phantom-bench results</title><style>${STYLE}</style></head>
<body><h1>phantom-bench results</h1><p class="meta">${entries.length} results files, newest first.${
    trendsHref
      ? ` <a href="${escapeHtml(trendsHref)}" id="trends-link">Trends across results files</a>.`
      : ""
  }</p><div class="scroll"><table id="history"><thead><tr><th>created</th><th>headline</th><th>sweep</th><th class="n">runs</th><th class="n">not ok</th><th>commit</th><th>host</th><th>results file</th></tr></thead><tbody>${
    rows.join("")
  }</tbody></table></div></body></html>
`;
}
