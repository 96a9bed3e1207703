// `deno task bench:comm` as users run it: a small sweep over a nats-server it starts, every result
// checked, and a results file of kind `comm` that the loader accepts.
import { parseCommResults } from "../lib/results/comm_results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { runTask } from "../lib/testing/run_deno.ts";
import { deadlineTest, NATS_SERVER, systemTest } from "../lib/testing/system.ts";

systemTest([NATS_SERVER], {
  name:
    "bench:comm measures every collective and the raw fan-out, checks the data, writes a comm file",
  fn: async () => {
    const json = `${await Deno.makeTempDir()}/comm.json`;
    const r = await runTask("bench:comm", [
      "--ranks",
      "2,4",
      "--sizes",
      "1K,64K",
      "--budget-ms",
      "50",
      "--json",
      json,
    ]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    const file = parseCommResults(await Deno.readTextFile(json), json);
    assertEquals(
      new Set(file.rows.map((x) => x.op)),
      new Set(["raw-fanout", "allGather", "reduceScatter", "allReduce"]),
    );
    assert(file.rows.every((x) => x.correct));
    assertEquals(file.fits.length, 8, "a fit per operation (raw included) and p");
    assert(!file.url.includes("@"), "no credentials in the file");
  },
});

deadlineTest("bench:comm: a bad flag is one line and exit 2", async () => {
  const r = await runTask("bench:comm", ["--ranks", "0"]);
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.stderr.trim().split("\n").length <= 2, true, r.stderr);
});
