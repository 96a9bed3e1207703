import { ConfigError } from "../config/config_error.ts";
import { assertEquals, assertThrows } from "../testing/asserts.ts";
import { parseRankList, slurmRank } from "./rank_host.ts";
import { runTask } from "../testing/run_deno.ts";

Deno.test("rank lists: ranges, singles, duplicates", () => {
  assertEquals(parseRankList("0-3"), [0, 1, 2, 3]);
  assertEquals(parseRankList("5,1-2,2"), [1, 2, 5]);
  assertThrows(() => parseRankList("3-1"), ConfigError, "ending before it starts");
  assertThrows(() => parseRankList("a-b"), ConfigError, '--ranks ("a-b")');
});

Deno.test("slurm: the rank is SLURM_PROCID", () => {
  assertEquals(slurmRank({ SLURM_PROCID: "7", SLURM_NTASKS: "8" }), 7);
  assertThrows(() => slurmRank({}), ConfigError, "SLURM_PROCID (missing)");
});

Deno.test("worker CLI: missing flags are clear errors", async () => {
  for (
    const [args, message] of [[[], "--nats (missing) is required"], [
      ["--nats", "nats://h:1"],
      "--run (missing)",
    ], [["--nats", "nats://h:1", "--run", "r"], "--ranks (missing) is required"]] as const
  ) {
    const out = await runTask("worker", [...args]);
    assertEquals(out.code, 2);
    if (!out.stderr.includes(message)) throw new Error(`expected "${message}" in: ${out.stderr}`);
  }
});
