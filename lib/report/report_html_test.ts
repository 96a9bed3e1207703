import { escapeHtml, renderReport, renderSiteIndex } from "./report_html.ts";
import { fixtureResults } from "../testing/results_fixture.ts";
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
  const html = renderReport(evilResults(), "/* chart.js */", `title ${EVIL}`);
  assertEquals(html.includes(EVIL), false, "raw script from results in the page");
  assert(html.includes("&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;"));
  const json = html.slice(
    html.indexOf('id="data">'),
    html.indexOf("</script>", html.indexOf('id="data">')),
  );
  assert(!json.includes("<script") && json.includes("\\u003cscript"), "the JSON escapes <");
  assertEquals(escapeHtml(`a&b"'`), "a&amp;b&quot;&#39;");
});

Deno.test("report: every table and chart is present; ratios at matching points; failures and exclusions listed", () => {
  const html = renderReport(evilResults(), "");
  for (
    const id of [
      "runs",
      "ratios",
      "to-target",
      "failures",
      "provenance",
      "configs",
      "selfcheck",
      "data",
    ]
  ) {
    assert(html.includes(`id="${id}"`), `missing #${id}`);
  }
  assertEquals(html.match(/<canvas /g)?.length, 8);
  // phantom 60 ms vs TP 100 ms at p2-n1024-L2-b64.
  assert(
    /<td>p2-n1024-L2-b64<\/td><td>1<\/td><td>0\.6\d*<\/td><td>0\.6\d* \(counter\)<\/td>/.test(html),
    html.slice(html.indexOf('id="ratios"'), html.indexOf('id="ratios"') + 600),
  );
  assert(html.includes("failed: boom &lt;script&gt;"));
  assert(html.includes("excluded: because &lt;script&gt;"));
  assert(html.includes("Content-Security-Policy"));
  assert(!/(src|href)="https?:/.test(html), "no external reference");
});

Deno.test("site index: links every report, escaped", () => {
  const html = renderSiteIndex([{
    report: "bench-a.html",
    results: `a${EVIL}.json`,
    sweep: "default",
    createdAt: "2026",
    runs: 3,
    failed: 1,
  }]);
  assert(html.includes('href="bench-a.html"'));
  assertEquals(html.includes(EVIL), false);
});
