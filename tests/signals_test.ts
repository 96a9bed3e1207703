// Stopping the bench, every way it happens: SIGTERM (timeout, scancel, CI cancellation), SIGHUP
// (a closed terminal), SIGTERM to the `npx deno task` launcher that passes no signal on, and
// SIGKILL. Each must keep what was measured and leave nothing running, checked by pid.
import { parseResults } from "../lib/results/results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { ROOT, taskArgs } from "../lib/testing/run_deno.ts";
import { NATS_SERVER, NO_SANITIZERS, systemTest } from "../lib/testing/system.ts";
import { isAlive } from "../lib/system/process.ts";
import { descendants, waitGone } from "../lib/testing/processes.ts";

const POINT = [
  "--mode",
  "tp",
  "--ranks",
  "2,4",
  "--width",
  "64",
  "--batch",
  "8",
  "--steps",
  "4000",
];

/** Starts the bench (directly, or through npx deno task), waits until its first point runs. */
async function startBench(dir: string, viaNpx: boolean) {
  const args = [...POINT, "--cooldown", "0", "--warmup", "1", "--out", dir];
  const child = viaNpx
    ? new Deno.Command("npx", {
      args: ["deno", "task", "bench", ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn()
    : new Deno.Command(Deno.execPath(), {
      args: taskArgs("bench", args),
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("[1/2]")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`bench ended early: ${seen}`);
    seen += value;
  }
  await new Promise((r) => setTimeout(r, 2500)); // ranks are training
  const stdout = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return seen;
      seen += value;
    }
  })();
  const stderr = new Response(child.stderr).text();
  // The process tree: the bench's own deno, its workers and its nats-server.
  const tree = [child.pid, ...descendants(child.pid)];
  return { child, tree, output: async () => ({ stdout: await stdout, stderr: await stderr }) };
}

function interruptedResults(dir: string) {
  const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))!;
  const results = parseResults(Deno.readTextFileSync(`${dir}/${file.name}`));
  assertEquals(results.runs.length, 1);
  assertEquals(results.runs[0].status, "interrupted");
  assert(results.runs[0].error!.includes("interrupted"), results.runs[0].error);
  assert(Deno.statSync(`${dir}/${file.name.replace(/\.json$/, ".html")}`).isFile, "report written");
}

for (const [signal, code] of [["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  systemTest([NATS_SERVER], {
    ...NO_SANITIZERS,
    name:
      `${signal} stops the bench like Ctrl-C: results kept, workers and nats-server stopped, exit ${code}`,
    fn: async () => {
      const dir = await Deno.makeTempDir();
      const bench = await startBench(dir, false);
      assert(bench.tree.length >= 3, `bench, workers, server: ${bench.tree}`);
      const start = performance.now();
      bench.child.kill(signal);
      const status = await bench.child.status;
      const { stderr } = await bench.output();
      assertEquals(status.code, code, stderr);
      assert(stderr.includes(`${signal}: stopping the running point`), stderr);
      assertEquals(await waitGone(bench.tree, 5000), [], "processes left running");
      console.log(
        `${signal}: everything stopped ${
          (performance.now() - start).toFixed(0)
        } ms after the signal`,
      );
      interruptedResults(dir);
    },
  });
}

systemTest([NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "SIGTERM to the npx launcher (which passes no signal on) stops the bench too",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const bench = await startBench(dir, true);
    const start = performance.now();
    bench.child.kill("SIGTERM"); // npx itself: node, not the bench
    await bench.child.status;
    assertEquals(await waitGone(bench.tree, 10_000), [], "processes left running");
    console.log(
      `launcher SIGTERM: everything stopped ${
        (performance.now() - start).toFixed(0)
      } ms after the signal`,
    );
    interruptedResults(dir);
  },
});

systemTest([NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "SIGKILL of the bench leaves no worker and no nats-server running",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const bench = await startBench(dir, false);
    const start = performance.now();
    bench.child.kill("SIGKILL");
    await bench.child.status;
    await bench.output();
    assertEquals(await waitGone(bench.tree, 10_000), [], "processes left running");
    console.log(
      `SIGKILL: everything stopped ${(performance.now() - start).toFixed(0)} ms after the signal`,
    );
    // What was measured before the kill is on disk (the running point was not recorded).
    const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))!;
    assertEquals(parseResults(Deno.readTextFileSync(`${dir}/${file.name}`)).runs.length, 0);
  },
});

systemTest([NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "a worker whose coordinator is gone stops within the coordinator timeout",
  fn: async () => {
    const { startNatsServer } = await import("../lib/nats/nats_server.ts");
    const { connectNats } = await import("../lib/nats/connection.ts");
    const { controlSubject } = await import("../lib/runtime/run_protocol.ts");
    const { ControlSealer, newRunSecret, runKeys } = await import(
      "../lib/runtime/control_auth.ts"
    );
    await using server = await startNatsServer();
    const run = `orphan-${Deno.pid}`;
    const secret = newRunSecret();
    const keys = runKeys(secret, run);
    const sealer = new ControlSealer(keys, "coordinator");
    // A coordinator that beats for a while, then vanishes without a word (as if SIGKILLed).
    const nc = await connectNats(server.connection);
    // The worker says hello once it listens for heartbeats (however long a loaded machine takes
    // to start it); a few beats after that it has certainly heard the coordinator.
    let hellos = 0;
    let beatsHeard = 0;
    let heard!: () => void;
    const coordinatorHeard = new Promise<void>((resolve) => (heard = resolve));
    nc.subscribe(controlSubject(keys.namespace, "hello"), { callback: () => void hellos++ });
    const chb = controlSubject(keys.namespace, "chb");
    const beat = setInterval(() => {
      nc.publish(chb, sealer.seal(chb, {}));
      if (hellos >= 2 && ++beatsHeard >= 3) heard();
    }, 200);
    const worker = new Deno.Command(Deno.execPath(), {
      args: taskArgs("worker", [
        "--nats",
        server.url,
        "--run",
        run,
        "--ranks",
        "0-1",
      ]),
      cwd: ROOT,
      env: {
        PHANTOM_COORDINATOR_TIMEOUT_MS: "1500",
        PHANTOM_RUN_SECRET: secret,
        PHANTOM_NATS_TOKEN: server.token,
      },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await coordinatorHeard;
    assert(isAlive(worker.pid), "the worker waits while the coordinator beats");
    clearInterval(beat);
    await nc.close();
    const start = performance.now();
    const status = await worker.status;
    await new Response(worker.stderr).text();
    const waited = performance.now() - start;
    assertEquals(status.code, 1);
    assert(waited < 5000, `worker took ${waited} ms to stop`);
  },
});
