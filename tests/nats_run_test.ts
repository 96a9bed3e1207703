// Multi-process runs over a real nats-server: worker processes started by the local launcher,
// Web Workers per rank, the coordinator. The server is started here on a free port and stopped
// by pid.
import { validateTrainConfig } from "../lib/config/config.ts";
import { RunFailedError } from "../lib/runtime/coordinator.ts";
import { predictCosts } from "../lib/config/cost_model.ts";
import { startNatsServer } from "../lib/nats/nats_server.ts";
import { fileNatsServer, NATS_SERVER, NO_SANITIZERS, systemTest } from "../lib/testing/system.ts";
import { runOverNats } from "../lib/runtime/nats_run.ts";
import { selectBackend } from "../lib/nn/backend.ts";
import { trainInProcess } from "../lib/runtime/trainer.ts";
import { summarizeRun } from "../lib/runtime/run_summary.ts";
import { assert, assertEquals, assertRejects } from "../lib/testing/asserts.ts";

const server = await fileNatsServer();
const connection = server?.connection;
const opts = NO_SANITIZERS;
const test = (definition: Deno.TestDefinition) => systemTest([NATS_SERVER], definition);

function denoProcesses(): number[] {
  const out = new Deno.Command("ps", { args: ["-C", "deno", "-o", "pid="], stdout: "piped" })
    .outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").map((s) => Number(s.trim())).filter((n) =>
    n > 0
  );
}

const small = (extra: Record<string, unknown>) =>
  validateTrainConfig({
    width: 64,
    batch: 8,
    layers: 2,
    steps: 6,
    task: { evalEvery: 3, evalSize: 16 },
    ...extra,
  });

for (const [mode, extra] of [["tp", {}], ["phantom", { phantomWidth: 2 }]] as const) {
  test({
    ...opts,
    name:
      `${mode} over NATS, 4 ranks in 2 processes: the in-process loss curve bit for bit, bytes as predicted`,
    fn: async () => {
      const config = small({ mode, ranks: 4, ...extra });
      const run = await runOverNats(config, { connection, processes: 2 });
      await selectBackend("wasm");
      const [reference] = await trainInProcess(config);
      const predicted = predictCosts(config);
      assertEquals(run.outcomes.length, 4);
      for (const o of run.outcomes) {
        assertEquals(o.result.evals.map((e) => e.loss), reference.evals.map((e) => e.loss));
        for (const s of o.result.steps) {
          assertEquals(s.bytesSent, predicted.bytesSentPerRankPerStep);
          assertEquals(s.bytesReceived, predicted.bytesReceivedPerRankPerStep);
          assert(s.wireBytesSent! > s.bytesSent, "wire bytes include headers and subjects");
        }
      }
      assertEquals(new Set(run.hellos.map((h) => h.pid)).size, 2);
    },
  });
}

for (const [mode, extra] of [["tp", {}], ["phantom", { phantomWidth: 2 }]] as const) {
  test({
    ...opts,
    name:
      `${mode} x 2 replicas over NATS (8 ranks in 3 processes, groups split across them): the in-process grid bit for bit, bytes per group as predicted`,
    fn: async () => {
      const config = small({ mode, ranks: 4, replicas: 2, ...extra });
      // 3 processes: ranks 0-1, 2-4, 5-7, so replica 0's model group and every data group span
      // processes (connections).
      const run = await runOverNats(config, { connection, processes: 3 });
      await selectBackend("wasm");
      const reference = await trainInProcess(config);
      assertEquals(run.outcomes.length, 8);
      const summary = summarizeRun(config, run.outcomes.map((o) => o.result), 1);
      assert(summary.bytesMatchPrediction, "every rank's bytes as predicted");
      for (const o of run.outcomes) {
        const ref = reference[o.result.rank];
        assertEquals(o.result.steps.map((s) => s.loss), ref.steps.map((s) => s.loss));
        assertEquals(o.result.evals.map((e) => e.loss), ref.evals.map((e) => e.loss));
        for (const [i, s] of o.result.steps.entries()) {
          assertEquals(s.dataParallel!.bytesSent, ref.steps[i].dataParallel!.bytesSent);
        }
      }
      assertEquals(new Set(run.hellos.map((h) => h.pid)).size, 3);
      // Overlapped with the backward pass over NATS: the same numbers bit for bit.
      const overlapped = await runOverNats({ ...config, overlap: true }, {
        connection,
        processes: 3,
      });
      for (const o of overlapped.outcomes) {
        assertEquals(
          o.result.steps.map((s) => s.loss),
          reference[o.result.rank].steps.map((s) => s.loss),
        );
      }
    },
  });
}

test({
  ...opts,
  name:
    "dp-inner placement: each worker process hosts a data-parallel group; results bit for bit as mp-inner",
  fn: async () => {
    const config = small({ mode: "phantom", phantomWidth: 2, ranks: 2, replicas: 2 });
    const inner = small({ ...config, placement: "dp-inner" });
    let processes: { pid: number; ranks: [number, number] }[] = [];
    const run = await runOverNats(inner, { connection, processes: 2 });
    const mp = await runOverNats(config, {
      connection,
      processes: 2,
      onLaunched: (p) => (processes = p),
    });
    // mp-inner: process 0 hosts replica 0 (ranks 0, 1); dp-inner: model rank 0 of both replicas.
    const hosted = (r: typeof run) =>
      [...new Set(r.hellos.map((h) => h.pid))].map((pid) =>
        r.hellos.filter((h) => h.pid === pid).map((h) => h.rank).sort()
      ).sort();
    assertEquals(hosted(mp), [[0, 1], [2, 3]]);
    assertEquals(hosted(run), [[0, 2], [1, 3]]);
    assertEquals(processes.length, 2);
    for (const [i, o] of run.outcomes.entries()) {
      assertEquals(
        o.result.steps.map((s) => s.loss),
        mp.outcomes[i].result.steps.map((s) => s.loss),
      );
    }
  },
});

test({
  ...opts,
  name: "a rank that exits mid-run fails the run naming it; nothing is left running",
  fn: async () => {
    let launched: number[] = [];
    const start = performance.now();
    const error = await assertRejects(
      () =>
        runOverNats(small({ mode: "tp", ranks: 4, steps: 50 }), {
          connection,
          processes: 2,
          fault: { rank: 3, atStep: 2, kind: "exit" },
          heartbeatTimeoutMs: 5000,
          onLaunched: (processes) => (launched = processes.map((p) => p.pid)),
        }),
      RunFailedError,
    ) as RunFailedError;
    assert(error.ranks.includes(3), `${error.message} (ranks ${error.ranks})`);
    assert(performance.now() - start < 30_000);
    assertEquals(launched.length, 2);
    const alive = launched.filter((pid) => denoProcesses().includes(pid));
    assertEquals(alive, [], "worker processes left behind");
  },
});

test({
  ...opts,
  name: "a worker process killed mid-run fails the run at once, naming its ranks",
  fn: async () => {
    let victim = 0;
    const start = performance.now();
    const error = await assertRejects(
      () =>
        runOverNats(small({ mode: "tp", ranks: 4, steps: 500 }), {
          connection,
          processes: 2,
          onLaunched: (processes) => (victim = processes.find((p) => p.ranks[0] === 2)!.pid),
          onStep: (e) => e.record.step === 1 && Deno.kill(victim, "SIGKILL"),
        }),
      RunFailedError,
      "the process hosting ranks 2-3",
    ) as RunFailedError;
    assertEquals(error.ranks, [2, 3]);
    assert(performance.now() - start < 10_000, `took ${performance.now() - start} ms`);
  },
});

test({
  ...opts,
  name: "a hung rank (no heartbeat) fails the run within the heartbeat timeout, naming it",
  fn: async () => {
    const start = performance.now();
    const error = await assertRejects(
      () =>
        runOverNats(small({ mode: "phantom", phantomWidth: 2, ranks: 2, steps: 50 }), {
          connection,
          processes: 1,
          fault: { rank: 1, atStep: 3, kind: "hang" },
          heartbeatTimeoutMs: 2000,
        }),
      RunFailedError,
      "ranks 1 sent no heartbeat for 2000 ms",
    ) as RunFailedError;
    assertEquals(error.ranks, [1]);
    assert(performance.now() - start < 20_000, `took ${performance.now() - start} ms`);
  },
});

test({
  ...opts,
  name: "a rank silent while it sets up gets the setup timeout, not the heartbeat timeout",
  fn: async () => {
    // Rank 1 blocks its thread for 5 s before its first step (as a large model's synchronous
    // initialisation does): its last heartbeat said "setting up", so that silence is allowed,
    // though it is twice the heartbeat timeout (which leaves the training rank 0, beating every
    // second while it waits for rank 1, a margin)...
    const stall = { rank: 1, atStep: 0, kind: "stall" as const, ms: 5000 };
    const config = small({ mode: "tp", ranks: 2, steps: 4 });
    const run = await runOverNats(config, {
      connection,
      processes: 2,
      fault: stall,
      heartbeatTimeoutMs: 2500,
      setupTimeoutMs: 15_000,
    });
    assertEquals(run.outcomes.length, 2);
    // ...and a setup timeout shorter than the stall fails it, saying so.
    const error = await assertRejects(
      () =>
        runOverNats(config, {
          connection,
          processes: 2,
          fault: stall,
          heartbeatTimeoutMs: 2500,
          setupTimeoutMs: 3000,
        }),
      RunFailedError,
      "ranks 1 sent no heartbeat for 3000 ms while setting up",
    ) as RunFailedError;
    assertEquals(error.ranks, [1]);
  },
});

test({
  ...opts,
  name: "ranks that never join fail the run at the join deadline, naming them",
  fn: async () => {
    let announced = "";
    await assertRejects(
      () =>
        runOverNats(small({ mode: "tp", ranks: 2 }), {
          connection,
          launcher: "manual",
          joinTimeoutMs: 500,
          onWaitingForRanks: (runId) => (announced = runId),
        }),
      RunFailedError,
      "ranks 0, 1 did not join within 500 ms",
    );
    assert(announced.startsWith("run-"));
  },
});

test({
  ...opts,
  name: "a config error on the ranks is reported as the run's error",
  fn: async () => {
    const config = small({ mode: "tp", ranks: 2 });
    // A backend name the ranks do not know (the coordinator passes the spec on as given).
    await assertRejects(
      () => runOverNats({ ...config, backend: "bogus" as "wasm" }, { connection, processes: 1 }),
      RunFailedError,
      'backend ("bogus") must be one of',
    );
  },
});

test({
  ...opts,
  name: "p = 32 phantom smoke run over NATS",
  fn: async () => {
    const run = await runOverNats(
      small({ mode: "phantom", ranks: 32, width: 256, phantomWidth: 1, steps: 3, batch: 4 }),
      { connection },
    );
    assertEquals(run.outcomes.length, 32);
    assertEquals(new Set(run.outcomes.map((o) => o.result.steps.at(-1)!.loss)).size, 1);
  },
});

test({
  ...opts,
  name:
    "an authenticated server: the launcher hands the token to its workers (not on a command line)",
  fn: async () => {
    await using secured = await startNatsServer({ token: "t0ken-for-test" });
    const run = await runOverNats(small({ mode: "tp", ranks: 2, steps: 2 }), {
      connection: { servers: secured.url, token: "t0ken-for-test" },
      processes: 1,
    });
    assertEquals(run.outcomes.length, 2);
    assert(!run.natsUrl.includes("t0ken"));
  },
});

test({
  ...opts,
  name: "over NATS with one rank per engine, rank 0's peak tensor bytes equal the prediction",
  fn: async () => {
    const { predictMemory } = await import("../lib/config/cost_model.ts");
    // The prediction follows the CPU and blas backends' buffer sharing; wasm copies what it clones.
    const backend = await selectBackend("blas").then(() => "blas", () => "cpu");
    for (const workload of ["train", "inference"] as const) {
      const config = small({ mode: "phantom", ranks: 4, phantomWidth: 2, workload, backend });
      const run = await runOverNats(config, { connection, processes: 4 });
      const predicted = predictMemory(config, config.optimizer, workload).peakBytes;
      const rank0 = run.outcomes[0].result.memory;
      assertEquals(rank0.ranksOnEngine, 1);
      assertEquals(rank0.peakTensorBytes, predicted, `${workload}`);
      if (workload === "inference") {
        const bytes = predictCosts(config, { workload }).bytesSentPerRankPerStep;
        for (const o of run.outcomes) assert(o.result.steps.every((s) => s.bytesSent === bytes));
      }
    }
  },
});

test({
  ...opts,
  name: "a long run at p = 1 (no collective ever waits on the network) keeps sending heartbeats",
  fn: async () => {
    // Training that outlasts a 4 s heartbeat timeout (heartbeats go every second, so a loaded
    // machine has 3 s of slack): it only passes if the training loop lets the heartbeat timer run.
    // The run's own timeline (its step times) says whether it lasted long enough to test that.
    const config = small({ mode: "tp", ranks: 1, width: 1024, batch: 128, steps: 60 });
    const run = await runOverNats(config, { connection, processes: 1, heartbeatTimeoutMs: 4000 });
    const steps = run.outcomes[0].result.steps;
    assertEquals(steps.length, 60);
    const trainingMs = steps.reduce((sum, s) => sum + s.stepMs, 0);
    console.log(`training took ${trainingMs.toFixed(0)} ms`);
    assert(trainingMs > 4000, `training took ${trainingMs} ms: not longer than the timeout`);
  },
});

test({
  ...opts,
  name: "manual launch on the bench's own server: the secret file gives workers its token too",
  fn: async () => {
    const { ROOT, taskArgs } = await import("../lib/testing/run_deno.ts");
    let worker: Deno.ChildProcess | undefined;
    let file = "";
    const run = await runOverNats(small({ mode: "tp", ranks: 2, steps: 3 }), {
      launcher: "manual",
      joinTimeoutMs: 120_000,
      onWaitingForRanks: (runId, url, secretFile) => {
        file = secretFile;
        assert(!Deno.readTextFileSync(secretFile).includes(url), "the file holds no URL");
        assertEquals(Deno.statSync(secretFile).mode! & 0o777, 0o600);
        // Only what the bench printed: URL, run id, the file. No token in the environment.
        worker = new Deno.Command(Deno.execPath(), {
          args: taskArgs("worker", [
            "--nats",
            url,
            "--run",
            runId,
            "--ranks",
            "0-1",
            "--secret-file",
            secretFile,
            "--host-workers",
            "2",
          ]),
          cwd: ROOT,
          env: { PHANTOM_BLAS_THREADS: "" },
          stdout: "null",
          stderr: "piped",
        }).spawn();
      },
    });
    assertEquals(run.outcomes.length, 2);
    const done = await worker!.output();
    assertEquals(done.code, 0);
    // Two workers share this host: each takes half the cores for GEMM.
    const share = Math.max(1, Math.floor((navigator.hardwareConcurrency ?? 1) / 2));
    const said = new TextDecoder().decode(done.stderr);
    assert(said.includes(`GEMM threads ${share}`), said);
    assert(!(await Deno.stat(file).then(() => true, () => false)), "the secret file is deleted");
  },
});
