/**
 * Text from outside the process (a message on the wire, a field of a results file) made safe to
 * print on a terminal or in a one-line error: control characters (escape sequences, newlines,
 * carriage returns), bidirectional overrides and line separators are shown escaped, and the text
 * is cut to a length.
 *
 * @module
 */

// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * @param text Any text (non-strings are converted).
 * @param max Most characters kept; longer text ends in "… (N characters)". @default 2000
 * @returns One line with every control character escaped (`\n`, `\x1b`, `\u202e`).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safeText } from "./safe_text.ts";
 * assert.equal(safeText("a\nb\x1b[2J"), "a\\nb\\x1b[2J");
 * assert.equal(safeText("x".repeat(10), 4), "xxxx… (10 characters)");
 * ```
 */
export function safeText(text: unknown, max = 2000): string {
  const s = typeof text === "string" ? text : String(text);
  const cut = s.length > max ? s.slice(0, max) : s;
  const escaped = cut.replace(UNSAFE, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
  return s.length > max ? `${escaped}… (${s.length} characters)` : escaped;
}
