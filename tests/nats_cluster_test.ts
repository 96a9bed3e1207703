// A run spread over a real 3-server NATS cluster on loopback (full mesh of routes), as the Slurm
// driver runs it with a server per node: the same result bit for bit as on one server; and a
// server killed mid-run fails the point (ranks connected to it cannot go on: core NATS keeps no
// messages) with an error naming the ranks and the server, after which the next point runs on
// the servers left. The servers are started here on free ports and stopped by pid.
import { validateTrainConfig } from "../lib/config/config.ts";
import { type NatsServer, newServerToken, startNatsServer } from "../lib/nats/nats_server.ts";
import { newRunSecret } from "../lib/runtime/control_auth.ts";
import { RunFailedError } from "../lib/runtime/coordinator.ts";
import { runOverNats } from "../lib/runtime/nats_run.ts";
import { awaitMesh } from "../lib/runtime/node_cluster.ts";
import { isAlive } from "../lib/system/process.ts";
import { assert, assertEquals, assertRejects } from "../lib/testing/asserts.ts";
import { waitGone } from "../lib/testing/processes.ts";
import { ROOT, taskArgs } from "../lib/testing/run_deno.ts";
import { fileNatsServer, NATS_SERVER, NO_SANITIZERS, systemTest } from "../lib/testing/system.ts";

const single = await fileNatsServer();
// The cluster's servers share one token (clients and routes), as the node agents' servers do.
const token = newServerToken();
const secret = newRunSecret();

async function startCluster(n: number): Promise<NatsServer[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () => startNatsServer({ cluster: { name: `pbtest-${Deno.pid}` }, token }),
    ),
  );
  for (const s of servers) {
    await s.setRoutes(servers.filter((o) => o !== s).map((o) => o.routeUrl!));
  }
  await awaitMesh(servers.map((s) => s.url), 15_000, { token });
  return servers;
}

/** Worker processes, each hosting ranks and connected to one server. */
function startHosts(runId: string, layout: [string, string][]) {
  return layout.map(([url, ranks]) =>
    new Deno.Command(Deno.execPath(), {
      args: taskArgs("worker", ["--nats", url, "--run", runId, "--ranks", ranks]),
      cwd: ROOT,
      env: { PHANTOM_BLAS_THREADS: "1", PHANTOM_NATS_TOKEN: token, PHANTOM_RUN_SECRET: secret },
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
}

const config = (steps: number) =>
  validateTrainConfig({
    mode: "phantom",
    ranks: 4,
    width: 128,
    phantomWidth: 4,
    batch: 16,
    layers: 2,
    steps,
    task: { evalEvery: 2, evalSize: 16 },
  });

systemTest([NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "a run spread over a 3-server NATS cluster equals the single-server run bit for bit",
  fn: async () => {
    const servers = await startCluster(3);
    try {
      const one = await runOverNats(config(8), {
        connection: single.connection,
        processes: 2,
      });
      const runId = `cluster-${Deno.pid}`;
      const hosts = startHosts(runId, [[servers[0].url, "0-1"], [servers[1].url, "2"], [
        servers[2].url,
        "3",
      ]]);
      const spread = await runOverNats(config(8), {
        connection: { servers: servers[0].url, token },
        secret,
        launcher: "manual",
        runId,
      });
      await Promise.all(hosts.map((h) => h.status));
      // Every rank used the server it was given.
      assertEquals(
        spread.hellos.map((h) => h.natsServer),
        servers.flatMap((s, i) => i === 0 ? [s, s] : [s]).map((s) => new URL(s.url).host),
      );
      for (let r = 0; r < 4; r++) {
        const evals = (o: typeof one.outcomes[number]) =>
          o.result.evals.map((e) => [e.step, e.loss]);
        assertEquals(evals(spread.outcomes[r]), evals(one.outcomes[r]));
        assertEquals(
          spread.outcomes[r].result.steps.map((s) => [s.loss, s.bytesSent, s.bytesReceived]),
          one.outcomes[r].result.steps.map((s) => [s.loss, s.bytesSent, s.bytesReceived]),
        );
      }
      console.log(
        `3-server cluster vs one server, phantom p=4 n=128: median step ` +
          `${median(spread.outcomes[0].result.steps.map((s) => s.stepMs)).toFixed(2)} ms vs ` +
          `${median(one.outcomes[0].result.steps.map((s) => s.stepMs)).toFixed(2)} ms`,
      );
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
});

systemTest([NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "a server killed mid-run fails the point naming ranks and server; the next point runs",
  fn: async () => {
    const servers = await startCluster(3);
    try {
      const runId = `kill-${Deno.pid}`;
      const hosts = startHosts(runId, [[servers[0].url, "0-1"], [servers[1].url, "2"], [
        servers[2].url,
        "3",
      ]]);
      const victim = servers[2];
      // Killed once training is under way (the run's own events, not a fixed delay that a loaded
      // machine may reach before the ranks have joined).
      let killedAt = 0;
      const error = await assertRejects(
        () =>
          runOverNats(config(100_000), {
            connection: { servers: servers[0].url, token },
            secret,
            launcher: "manual",
            runId,
            joinTimeoutMs: 120_000, // fails by name rather than waiting the manual default
            collectiveTimeoutMs: 10_000,
            heartbeatTimeoutMs: 3000,
            onStep: (e) => {
              if (killedAt === 0 && e.record.step >= 5) {
                killedAt = performance.now();
                Deno.kill(victim.pid, "SIGKILL");
              }
            },
          }),
        RunFailedError,
      ) as RunFailedError;
      assert(killedAt > 0, `the run failed before training got under way: ${error.message}`);
      const took = performance.now() - killedAt;
      console.log(`server killed: the point failed ${took.toFixed(0)} ms later: ${error.message}`);
      assert(
        took < 10_000 + 3000,
        `failed ${took} ms after the kill, beyond the collective timeout`,
      );
      assert(error.ranks.includes(3), `${error.message} (ranks ${error.ranks})`);
      assert(error.message.includes(new URL(victim.url).host), error.message);
      assertEquals(await waitGone(hosts.map((h) => h.pid), 15_000), [], "rank hosts left running");
      await Promise.all(hosts.map((h) => h.status));
      // The sweep goes on: the next point on the servers left.
      const next = `next-${Deno.pid}`;
      const more = startHosts(next, [[servers[0].url, "0-1"], [servers[1].url, "2-3"]]);
      const run = await runOverNats(config(4), {
        connection: { servers: servers[0].url, token },
        secret,
        launcher: "manual",
        runId: next,
      });
      assertEquals(run.outcomes.length, 4);
      await Promise.all(more.map((h) => h.status));
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      assert(!servers.some((s) => isAlive(s.pid)), "servers left running");
    }
  },
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
