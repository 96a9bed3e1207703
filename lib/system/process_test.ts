import { assert, assertEquals } from "../testing/asserts.ts";
import { processStartMs } from "./process.ts";

Deno.test("processStartMs: a child's start, never later than the truth, under a second early", () => {
  const before = Date.now();
  const child = new Deno.Command("sleep", { args: ["5"] }).spawn();
  try {
    const start = processStartMs(child.pid)!;
    const after = Date.now();
    assert(start <= after, `${start} > ${after}`);
    // Early by under a second of rounding plus however long ps took to answer (a busy machine).
    assert(start >= before - 1000 - (after - before), `${start} vs ${before}..${after}`);
  } finally {
    child.kill("SIGKILL");
  }
  assertEquals(processStartMs(2 ** 22 + 7), undefined);
});
