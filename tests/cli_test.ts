// Every task in deno.json, run as `deno task` runs it (its own permissions): --help prints its
// usage and exits 0; an unknown flag prints one line naming it and exits 2, without a stack trace.
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { ROOT, runDeno } from "../lib/testing/run_deno.ts";
import { deadlineTest } from "../lib/testing/system.ts";

const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).tasks as Record<
  string,
  string
>;
const entryPoints = Object.entries(tasks)
  .map(([name, command]) => [name, command.split(" ")] as const)
  .filter(([, words]) => words[0] === "deno" && words[1] === "run");

deadlineTest("every deno run task is covered here", () => {
  assert(entryPoints.length >= 7, `only ${entryPoints.map(([n]) => n)}`);
});

for (const [name, words] of entryPoints) {
  const args = words.slice(1); // after "deno"
  deadlineTest(`deno task ${name} --help prints its usage and exits 0`, async () => {
    const r = await runDeno([...args, "--help"]);
    assertEquals(r.code, 0, r.stderr);
    assert(r.stdout.startsWith("Usage: deno task "), r.stdout);
    assert(r.stdout.includes("--help"), r.stdout);
  });
  deadlineTest(`deno task ${name} --bogus is one line naming the flag, exit 2`, async () => {
    const r = await runDeno([...args, "--bogus"]);
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(r.stderr.startsWith("error: unknown option --bogus"), r.stderr);
    assert(!r.stderr.includes("    at "), `stack trace printed:\n${r.stderr}`);
  });
}

deadlineTest(
  "deno task worker: a wildcard run id, a billion ranks or no secret are one line, exit 2",
  async () => {
    const { runTask } = await import("../lib/testing/run_deno.ts");
    const secret = { PHANTOM_RUN_SECRET: "ab".repeat(32) };
    const cases: [string[], Record<string, string>, string][] = [
      [["--run", "x.>", "--ranks", "0"], secret, '--run ("x.>") must be a run id'],
      [["--run", "r1", "--ranks", "0-999999999"], secret, '--ranks ("0-999999999") names rank'],
      [["--run", "r1", "--ranks", "0"], {}, "--secret-file (missing) is required"],
      [["--run", "r1", "--ranks", "0"], { PHANTOM_RUN_SECRET: "short" }, "PHANTOM_RUN_SECRET ("],
    ];
    for (const [args, env, message] of cases) {
      const r = await runTask("worker", ["--nats", "nats://127.0.0.1:1", ...args], env);
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert(r.stderr.startsWith("error: ") && r.stderr.includes(message), r.stderr);
      assert(!r.stderr.includes("    at "), `stack trace printed:\n${r.stderr}`);
      assert(!r.stderr.includes("short"), "the secret is shown");
    }
  },
);
