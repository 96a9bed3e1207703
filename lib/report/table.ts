/**
 * A report's table as data: typed cells (the text shown and, for numbers, the full value), so
 * the same table becomes HTML, CSV (full precision) and LaTeX; and the number formats every table
 * uses.
 *
 * @module
 */

import { formatBytes } from "../results/units.ts";

/** A table column. */
export interface Column {
  label: string;
  /** Unit shown in the header. */
  unit?: string;
  /** Right-aligned numbers. */
  numeric?: boolean;
}

/** A table cell: its text, and for numbers the value (CSV keeps full precision). */
export interface Cell {
  text: string;
  value?: number | null;
  /** A note shown on hover. */
  title?: string;
}

/** A table. */
export interface Table {
  id: string;
  caption: string;
  columns: Column[];
  rows: Cell[][];
}

/**
 * Numbers at three significant digits, plainly (no exponent below 1e6).
 *
 * @param v A number.
 * @param digits Significant digits. @default 3
 * @returns The text, or "–" for null, undefined or non-finite.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fmt } from "./table.ts";
 * assert.equal(fmt(0.123456), "0.123");
 * assert.equal(fmt(1234.5), "1235");
 * assert.equal(fmt(null), "–");
 * ```
 */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 10 ** digits) return Math.round(v).toString();
  return Number(v.toPrecision(digits)).toString();
}

/** A number cell: three significant digits shown, the full value kept (CSV). */
export const numCell = (v: number | null | undefined, digits = 3): Cell => ({
  text: fmt(v, digits),
  value: v ?? null,
});
/** A text cell. */
export const textCell = (t: unknown): Cell => ({ text: String(t) });
/** A byte-count cell: KiB/MiB/GiB shown, the full value kept. */
export const bytesCell = (v: number | null | undefined): Cell =>
  v == null ? { text: "–", value: null } : { text: formatBytes(v), value: v };

/**
 * A table as CSV (RFC 4180: quoted where needed; numbers at full precision).
 *
 * @param table The table.
 * @returns CSV text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tableCsv } from "./table.ts";
 * const csv = tableCsv({ id: "t", caption: "", columns: [{ label: "a" }, { label: "b", unit: "ms" }],
 *   rows: [[{ text: 'x,"y"' }, { text: "1.23", value: 1.2345 }]] });
 * assert.equal(csv, 'a,b (ms)\r\n"x,""y""",1.2345\r\n');
 * ```
 */
export function tableCsv(table: Table): string {
  const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const header = table.columns.map((c) => quote(c.unit ? `${c.label} (${c.unit})` : c.label));
  const rows = table.rows.map((row) =>
    row.map((cell) =>
      quote(cell.value !== undefined && cell.value !== null ? String(cell.value) : cell.text)
    )
  );
  return [header, ...rows].map((r) => r.join(",") + "\r\n").join("");
}
