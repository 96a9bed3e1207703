import { assert, assertEquals } from "../testing/asserts.ts";
import { processStartMs } from "./process.ts";

Deno.test("processStartMs: a child's start, never later than the truth and at most 2 s early", () => {
  const before = Date.now();
  const child = new Deno.Command("sleep", { args: ["5"] }).spawn();
  try {
    const start = processStartMs(child.pid)!;
    const after = Date.now();
    assert(start <= after, `${start} > ${after}`);
    assert(start >= before - 2000, `${start} < ${before} - 2 s`);
  } finally {
    child.kill("SIGKILL");
  }
  assertEquals(processStartMs(2 ** 22 + 7), undefined);
});
