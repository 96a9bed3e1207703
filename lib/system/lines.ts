/**
 * Reading a byte stream line by line (the standard library's TextLineStream is not available
 * here: no jsr registry).
 *
 * @module
 */

/**
 * Splits a stream into lines (without their line ends); a last line without an end is kept.
 *
 * @param stream The bytes.
 * @returns The lines, as they come.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLines } from "./lines.ts";
 * const lines = [];
 * for await (const l of readLines(new Blob(["a\r\nb\n", "c"]).stream())) lines.push(l);
 * assert.deepEqual(lines, ["a", "b", "c"]);
 * ```
 */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    const parts = rest.split("\n");
    rest = parts.pop()!;
    for (const line of parts) yield line.replace(/\r$/, "");
  }
  if (rest !== "") yield rest;
}
