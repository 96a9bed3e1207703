/**
 * Tables for papers: the report's tables (lib/report/findings.ts) as LaTeX `booktabs`
 * tables (\toprule, \midrule, \bottomrule; numbers right-aligned), with every special character
 * of the text escaped so any id or error message typesets as written.
 *
 * @module
 */

import type { Table } from "./table.ts";

const SPECIAL: Record<string, string> = {
  "\\": "\\textbackslash{}",
  "{": "\\{",
  "}": "\\}",
  "$": "\\$",
  "&": "\\&",
  "#": "\\#",
  "^": "\\textasciicircum{}",
  "_": "\\_",
  "%": "\\%",
  "~": "\\textasciitilde{}",
  "<": "\\textless{}",
  ">": "\\textgreater{}",
  "|": "\\textbar{}",
};

/**
 * Escapes text for LaTeX.
 *
 * @param text Any text.
 * @returns Text that typesets as written.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeLatex } from "./latex.ts";
 * assert.equal(escapeLatex("tp_p8 50% & #1"), "tp\\_p8 50\\% \\& \\#1");
 * assert.equal(escapeLatex("a\nb\x1b[2J"), "a b [2J");
 * ```
 */
export function escapeLatex(text: string): string {
  // Control characters (escape sequences, newlines from a results file) typeset as a space.
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ")
    .replace(/[\\{}$&#^_%~<>|]/g, (c) => SPECIAL[c]).replace(/→/g, "$\\rightarrow$")
    .replace(/–/g, "--");
}

/**
 * A table as a LaTeX `table` environment with a `tabular` in booktabs style (needs
 * `\usepackage{booktabs}`).
 *
 * @param table The table.
 * @param label The \label (default: tab:ID).
 * @returns LaTeX source.
 */
export function tableLatex(table: Table, label = `tab:${table.id}`): string {
  const spec = table.columns.map((c) => (c.numeric ? "r" : "l")).join("");
  const head = table.columns.map((c) => escapeLatex(c.unit ? `${c.label} (${c.unit})` : c.label));
  const rows = table.rows.map((row) => row.map((c) => escapeLatex(c.text)).join(" & ") + " \\\\");
  return [
    "\\begin{table}[htbp]",
    "\\centering",
    `\\caption{${escapeLatex(table.caption)}}`,
    `\\label{${escapeLatex(label)}}`,
    `\\begin{tabular}{${spec}}`,
    "\\toprule",
    head.join(" & ") + " \\\\",
    "\\midrule",
    ...rows,
    "\\bottomrule",
    "\\end{tabular}",
    "\\end{table}",
    "",
  ].join("\n");
}
