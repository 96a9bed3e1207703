/**
 * The comparison of two results files as a markdown summary (a CI job summary or a pull-request
 * comment) and a one-line summary, with every text read from the files escaped.
 *
 * @module
 */

import type {
  CompareOptions,
  ComparisonReport,
  MetricComparison,
  RunSpread,
  Verdict,
} from "./compare.ts";

/** Words for the verdicts in text. */
export const VERDICT_TEXT: Record<Verdict, string> = {
  regression: "regression",
  improvement: "improvement",
  noise: "within noise",
  unchanged: "unchanged",
  incomparable: "incomparable",
  "too-few-repeats": "not enough repeats",
};

/**
 * Text from a results file made safe for a markdown table cell or list item: control characters
 * and line breaks become spaces, `|`, `<`, `>`, `` ` `` and leading `#` are escaped, and long text
 * is cut, so nothing read from a file can add a heading, a table row or HTML to the summary.
 *
 * @param text Any text.
 * @param max Longest text kept, in characters. @default 200
 * @returns The safe text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markdownText } from "./compare_markdown.ts";
 * assert.equal(markdownText("a|b\n## x"), "a\\|b \\## x");
 * ```
 */
export function markdownText(text: string, max = 200): string {
  // deno-lint-ignore no-control-regex
  let t = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ");
  if (t.length > max) t = t.slice(0, max) + "…";
  return t.replace(/[\\|`<>]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : `\\${c}`))
    .replace(/(^|\s)#/g, "$1\\#");
}

/**
 * A markdown summary for a CI job summary or a pull-request comment.
 *
 * @param report The comparison.
 * @param options The floor, alpha and repeats used (stated in the text).
 * @returns Markdown.
 */
export function comparisonMarkdown(report: ComparisonReport, options: CompareOptions = {}): string {
  const md = markdownText;
  const lines: string[] = [];
  const title = {
    regression: "regression",
    pass: "no regression",
    "nothing-compared": "nothing compared",
  }[report.outcome];
  lines.push(`## phantom-bench: ${title}`, "");
  lines.push(summaryLine(report), "");
  const floor = options.noisePct ?? 5;
  const perMetric = Object.entries(options.noisePctFor ?? {});
  lines.push(
    `Time and energy: one sample per run (its median step); a verdict needs ${
      options.minRepeats ?? 3
    } runs a side. The change is current/baseline of the medians of run medians with a ${
      Math.round(100 * (1 - (options.alpha ?? 0.05)))
    }% hierarchical bootstrap interval (runs, then steps within runs); it is flagged when the ` +
      `interval excludes 1 and the change exceeds the band: the larger of ${floor}%${
        perMetric.length ? ` (${perMetric.map(([k, v]) => `${k} ${v}%`).join(", ")})` : ""
      } and two standard deviations of the runs' spread. Payload bytes and steps to target are ` +
      `compared exactly.`,
    "",
  );
  if (report.setup.length) {
    lines.push("### Setup changes", "");
    for (const c of report.setup) {
      lines.push(
        `- ${md(c.field)}: ${md(c.baseline)} -> ${md(c.current)}${
          c.blocksTiming
            ? options.allowSetupChange
              ? " (timing and energy compared anyway: --allow-setup-change)"
              : " (timing and energy not compared; --allow-setup-change compares them)"
            : ""
        }`,
      );
    }
    lines.push("");
  }
  const table = (rows: MetricComparison[]) => {
    lines.push("| point | metric | baseline | current | change | interval | band | verdict |");
    lines.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const r of rows) {
      const side = (v: number, s?: RunSpread) =>
        `${fmt(v)} ${r.unit}${
          s
            ? ` (${s.count} run${s.count > 1 ? "s" : ""}${
              s.count > 1 ? ` ${fmt(s.min)}–${fmt(s.max)}` : ""
            })`
            : ""
        }`;
      lines.push(
        `| ${md(r.point)} | ${r.metric} | ${side(r.baseline, r.runs?.baseline)} | ${
          side(r.current, r.runs?.current)
        } | ${signed(r.changePct)} | ${
          r.interval
            ? `${r.interval[0].toFixed(3)}–${r.interval[1].toFixed(3)}x`
            : r.runs
            ? "–"
            : "exact"
        } | ${r.bandPct === null ? "–" : `${r.bandPct.toFixed(1)}%`} | ${VERDICT_TEXT[r.verdict]}${
          r.note ? ` (${md(r.note)})` : ""
        } |`,
      );
    }
    lines.push("");
  };
  const flagged = report.rows.filter((r) =>
    r.verdict === "regression" || r.verdict === "improvement"
  );
  if (flagged.length) {
    lines.push("### Changes beyond noise", "");
    table(flagged);
  }
  if (report.failed.length) {
    lines.push("### Failed in the current run", "");
    for (const f of report.failed) lines.push(`- ${md(f.point)}: ${md(f.error)}`);
    lines.push("");
  }
  if (report.scheduleNotes.length) {
    lines.push("### Different steps or warm-up", "");
    for (const s of report.scheduleNotes) lines.push(`- ${md(s.point)}: ${md(s.note)}`);
    lines.push("");
  }
  if (report.unmatched.length) {
    lines.push("### Not compared", "");
    for (const u of report.unmatched) {
      lines.push(
        `- only in the ${u.side === "baseline" ? "baseline" : "current run"}: ${md(u.point)}: ${
          md(u.why, 300)
        }`,
      );
    }
    lines.push("");
  }
  if (report.rows.length) {
    lines.push("<details><summary>All metrics</summary>", "");
    table(report.rows);
    lines.push("</details>");
  }
  return lines.join("\n") + "\n";
}

/**
 * The one-line summary of a comparison: points compared, verdicts counted, points not compared.
 *
 * @param report The comparison.
 * @returns The line.
 */
export function summaryLine(report: ComparisonReport): string {
  const c = report.counts;
  const parts = [
    `${report.compared} point${report.compared === 1 ? "" : "s"} compared`,
    `${c.regression} regression${c.regression === 1 ? "" : "s"}`,
    `${c.improvement} improvement${c.improvement === 1 ? "" : "s"}`,
    `${c.noise} within noise`,
    `${c.unchanged} unchanged`,
    `${c["too-few-repeats"]} without enough repeats`,
    `${c.incomparable} incomparable`,
  ];
  if (report.failed.length) parts.push(`${report.failed.length} failed`);
  parts.push(`${report.unmatched.length} not matched`);
  return parts.join(", ") + ".";
}

function signed(pct: number): string {
  return Number.isFinite(pct) ? `${pct >= 0 ? "+" : ""}${pct.toFixed(1)}%` : "new";
}

function fmt(v: number): string {
  return Number.isInteger(v) || Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4);
}
