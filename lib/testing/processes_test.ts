import { assertEquals } from "./asserts.ts";
import { processesMatching } from "./processes.ts";

Deno.test("processesMatching: by command line, and by environment where asked", async () => {
  const tag = `pbt${Deno.pid}x${Math.floor(performance.now())}`;
  const start = (value: string) =>
    new Deno.Command("sleep", { args: ["30"], env: { PB_TEST_TAG: value } }).spawn();
  const [a, b] = [start(`${tag}-a`), start(`${tag}-a-b`)];
  try {
    // Both show up by command line once they have exec'd sleep.
    const both = () =>
      [a.pid, b.pid].filter((p) => processesMatching(/(^|\/)sleep 30$/).includes(p));
    const deadline = Date.now() + 10_000;
    while (both().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assertEquals(both(), [a.pid, b.pid]);
    // Only the exact value: a longer one with the same start is another run's.
    const mine = processesMatching(/(^|\/)sleep 30$/, { PB_TEST_TAG: `${tag}-a` });
    assertEquals(mine, [a.pid]);
    assertEquals(processesMatching(/(^|\/)sleep 30$/, { PB_TEST_TAG: `${tag}-c` }), []);
  } finally {
    a.kill("SIGKILL");
    b.kill("SIGKILL");
  }
  await Promise.all([a.status, b.status]);
});
