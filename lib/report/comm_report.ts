/**
 * The page of a collective benchmark results file (`deno task bench:comm`, kind `comm`): every
 * measurement and every alpha-beta fit as tables (with their CSV), self-contained like the
 * training report, so `deno task report` and `--site` publish these files too.
 *
 * @module
 */

import type { CommResultsFile } from "../results/comm_results.ts";
import { CSP, escapeHtml, STYLE, tableHtml } from "./report_html.ts";
import { numCell, type Table, textCell } from "./table.ts";
import { formatBytes } from "../results/units.ts";

/**
 * The measurements as a table.
 *
 * @param file A comm results file.
 * @returns The table.
 */
export function commRowsTable(file: CommResultsFile): Table {
  return {
    id: "measurements",
    caption: "Every measurement: median time per call, algbw = S / time, busbw as nccl-tests; " +
      "peak memory over the bytes the ranks hold, from 16 MiB held",
    // What is compared first (size, time, busbw), the set-up details last.
    columns: [
      { label: "op" },
      { label: "p", numeric: true },
      { label: "S" },
      { label: "time", unit: "ms", numeric: true },
      { label: "busbw", unit: "GB/s", numeric: true },
      { label: "algbw", unit: "GB/s", numeric: true },
      { label: "data" },
      { label: "calls", numeric: true },
      { label: "ranks per connection", numeric: true },
      { label: "peak over held", numeric: true },
    ],
    rows: file.rows.map((r) => [
      textCell(r.op),
      numCell(r.ranks),
      { text: formatBytes(r.bytes), value: r.bytes },
      numCell(r.timeMs),
      numCell(r.busbwGBs),
      numCell(r.algbwGBs),
      textCell(r.correct ? "ok" : "WRONG"),
      numCell(r.iterations),
      numCell(r.ranksPerConnection),
      // Below 16 MiB the process's own noise swamps what the ranks hold.
      numCell(
        r.heldBytes >= 16 << 20 ? (r.peakRssBytes - r.baseRssBytes) / r.heldBytes : null,
        2,
      ),
    ]),
  };
}

/**
 * The alpha-beta fits as a table.
 *
 * @param file A comm results file.
 * @returns The table.
 */
export function commFitsTable(file: CommResultsFile): Table {
  return {
    id: "fits",
    caption: "Alpha-beta fits t = alpha + S / B over the sizes measured",
    columns: [
      { label: "op" },
      { label: "p", numeric: true },
      { label: "alpha", unit: "us", numeric: true },
      { label: "busbw", unit: "GB/s", numeric: true },
      { label: "alpha per message", unit: "us", numeric: true },
      { label: "r2", numeric: true },
      { label: "ranks per connection", numeric: true },
    ],
    rows: file.fits.map((f) => [
      textCell(f.op),
      numCell(f.ranks),
      numCell(f.alphaUs),
      numCell(f.busbwGBs),
      numCell(f.alphaPerMessageUs),
      numCell(f.r2),
      numCell(f.ranksPerConnection),
    ]),
  };
}

/**
 * One line about a comm file, for a site index.
 *
 * @param file A comm results file.
 * @returns The line.
 */
export function commHeadline(file: CommResultsFile): string {
  const ranks = [...new Set(file.rows.map((r) => r.ranks))].sort((a, b) => a - b);
  const wrong = file.rows.filter((r) => !r.correct).length;
  return `collective benchmark over NATS: ${file.rows.length} measurements at p = ${
    ranks.join(", ")
  }, ${wrong ? `${wrong} with WRONG data` : "every result correct"}`;
}

/**
 * The page.
 *
 * @param file A comm results file.
 * @param title The page title.
 * @returns Self-contained HTML.
 */
export function renderCommReport(file: CommResultsFile, title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(commHeadline(file))}. Server ${escapeHtml(file.url)}; created ${
    escapeHtml(file.createdAt)
  }. Size S is the whole buffer as nccl-tests counts it; "raw-fanout" is NATS publish/subscribe moving the same bytes with the same fan-out, the transport's ceiling, measured in the same run.</p>
${tableHtml(commRowsTable(file))}
${tableHtml(commFitsTable(file))}
<script>${COMM_CLIENT}</script>
</body></html>
`;
}

/** The CSV downloads (the tables' own CSV, embedded beside each table). */
const COMM_CLIENT = `
document.addEventListener("click", function (e) {
  var b = e.target.closest("button"); if (!b || !b.dataset.csv) return;
  var text = JSON.parse(document.getElementById("csv-" + b.dataset.csv).textContent);
  var a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "text/csv" })); a.download = b.dataset.csv + ".csv";
  document.body.appendChild(a); a.click(); a.remove();
});
`;
