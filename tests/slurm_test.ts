// The Slurm driver against a real (private) Slurm of two fake nodes on this host: a sweep runs
// as one job step per point under salloc, with a nats-server and power sampler per node; a rank
// killed inside a step fails that point only; SIGTERM to the driver mid-step cancels the step and
// records the point as interrupted. After each, no job, step or process of ours is left.
import { parseResults, type ResultsFile } from "../lib/results/results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { processesMatching, waitGone } from "../lib/testing/processes.ts";
import { ROOT, taskArgs } from "../lib/testing/run_deno.ts";
import { SLURM, type SlurmCluster, startSlurmCluster } from "../lib/testing/slurm_cluster.ts";
import { NATS_SERVER, NO_SANITIZERS, systemTest } from "../lib/testing/system.ts";

let cluster: SlurmCluster | undefined;
async function slurm(): Promise<SlurmCluster> {
  cluster ??= await startSlurmCluster(2, 4);
  return cluster;
}
Deno.test.afterAll(async () => {
  await cluster?.stop();
  if (cluster) assertEquals(await waitGone(cluster.pids, 5000), [], "Slurm daemons left running");
});

/**
 * Processes of this test's Slurm matching a pattern (those of the namespace-host Slurm tests
 * running beside these have another SLURM_CONF).
 */
const ofCluster = (c: SlurmCluster, pattern: RegExp) => processesMatching(pattern, c.env);

/** Our processes of a Slurm run: ranks and node agents (whose nats-servers die with them). */
const ours = (c: SlurmCluster) =>
  ofCluster(c, /rank_host\.ts --launcher slurm|node_agent\.ts --job/);

/** `salloc -N2 -n4 deno run -A bench/main.ts ARGS` against the private Slurm. */
function salloc(c: SlurmCluster, args: string[]) {
  return new Deno.Command("salloc", {
    args: [
      "-N2",
      "-n4",
      "--ntasks-per-node=2",
      "--quiet",
      Deno.execPath(),
      ...taskArgs("bench", ["--launcher", "slurm", "--cooldown", "0", ...args]),
    ],
    cwd: ROOT,
    env: { ...c.env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function results(dir: string): Promise<ResultsFile> {
  const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))!;
  return parseResults(await Deno.readTextFile(`${dir}/${file.name}`));
}

/** Nothing of the run is left: no job or step, no rank, agent or nats-server. */
async function assertNothingLeft(c: SlurmCluster, r: ResultsFile) {
  assertEquals((await c.run("squeue", ["-h", "-s"])).trim(), "", "a job step is left");
  assertEquals((await c.run("squeue", ["-h"])).trim(), "", "a job is left");
  const slurm = r.communicator.slurm as { nodes: { agentPid: number; serverPid: number | null }[] };
  const pids = [
    ...slurm.nodes.flatMap((n) => [n.agentPid, n.serverPid ?? 0]).filter((p) => p > 0),
    ...r.runs.flatMap((run) => run.placement?.map((p) => p.pid) ?? []),
    ...ours(c),
  ];
  assertEquals(await waitGone(pids, 10_000), [], "processes left running");
}

/** Runs salloc while `during` acts once the first point's ranks run; returns its outcome. */
async function sallocRun(
  c: SlurmCluster,
  args: string[],
  during?: (bench: Deno.ChildProcess) => void,
) {
  const start = performance.now();
  const child = salloc(c, args);
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  if (during) {
    let exited: Deno.CommandStatus | undefined;
    child.status.then((s) => (exited = s));
    const deadline = Date.now() + 60_000;
    while (
      ofCluster(c, /rank_host\.ts --launcher slurm/).length === 0 && !exited &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (ofCluster(c, /rank_host\.ts --launcher slurm/).length === 0) {
      // Say what happened instead: salloc still waiting for nodes (their states), or the driver
      // stopped early (its exit code and output).
      const nodes = await c.run("sinfo", ["-N", "-h", "-o", "%N %T %E"]).catch((e) => String(e));
      if (!exited) child.kill("SIGTERM");
      const status = await child.status;
      throw new Error(
        `no rank process of the first point appeared ${
          exited ? `before salloc exited (code ${status.code})` : "within 60 s"
        }; nodes:\n${nodes}\nsalloc said:\n${await stderr}${await stdout}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1500)); // ranks are training
    during(child);
  }
  const status = await child.status;
  return {
    status,
    stdout: await stdout,
    stderr: await stderr,
    seconds: (performance.now() - start) / 1000,
  };
}

systemTest([SLURM, NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "a sweep under salloc runs one step per point over a NATS server per node",
  fn: async () => {
    const c = await slurm();
    const dir = await Deno.makeTempDir();
    const run = await sallocRun(c, [
      "--sweep",
      "default",
      "--quick",
      "--filter",
      "mode=phantom",
      "--power-model",
      "50,10",
      "--out",
      dir,
    ]);
    assertEquals(run.status.code, 0, run.stderr + run.stdout);
    console.log(`3-point sweep under a 2-node Slurm: ${run.seconds.toFixed(1)} s (salloc to exit)`);
    const r = await results(dir);
    assertEquals(r.runs.map((x) => [x.config.ranks, x.status]), [[1, "ok"], [2, "ok"], [4, "ok"]]);
    assertEquals(r.sweep.excluded.map((x) => x.point), ["phantom-p8-n1024-k16-L2-b128"]);
    assert(r.sweep.excluded[0].reason.includes("4 tasks"), r.sweep.excluded[0].reason);
    for (const x of r.runs) assert(x.metrics!.bytesMatchPrediction, `${x.id}: bytes`);
    // p = 4 spreads over both nodes, two ranks each, each connected to its own node's server.
    const p4 = r.runs[2].placement!;
    assertEquals(p4.map((p) => [p.node, p.localRank]), [["pbn1", 0], ["pbn1", 1], ["pbn2", 0], [
      "pbn2",
      1,
    ]]);
    // Energy summed over both nodes' samplers (a declared model here), with a per-node breakdown.
    const energy = r.runs[2].metrics!.energy;
    assertEquals(energy.method, "modelled", energy.unavailableReason);
    assertEquals(energy.nodes?.map((n) => n.node), ["pbn1", "pbn2"]);
    const sum = energy.nodes!.reduce((s, n) => s + n.joulesPerStep!, 0);
    assert(
      Math.abs(sum - energy.joulesPerStep!.median) / sum < 0.05,
      `${sum} vs ${energy.joulesPerStep!.median}`,
    );
    await assertNothingLeft(c, r);
  },
});

systemTest([SLURM, NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "a rank killed inside a step fails that point and the sweep goes on",
  fn: async () => {
    const c = await slurm();
    const dir = await Deno.makeTempDir();
    const args = [
      "--mode",
      "tp",
      "--ranks",
      "2,4",
      "--width",
      "256",
      "--steps",
      "400",
      "--out",
      dir,
    ];
    const run = await sallocRun(c, args, () => {
      const [victim] = ofCluster(c, /rank_host\.ts --launcher slurm/);
      Deno.kill(victim, "SIGKILL");
    });
    assertEquals(run.status.code, 1, run.stderr + run.stdout);
    const r = await results(dir);
    assertEquals(r.runs.map((x) => x.status), ["failed", "ok"]);
    assert(/srun step of 2 ranks .* exited/.test(r.runs[0].error!), r.runs[0].error);
    await assertNothingLeft(c, r);
  },
});

systemTest([SLURM, NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "SIGTERM to the driver mid-step cancels the step and records the point as interrupted",
  fn: async () => {
    const c = await slurm();
    const dir = await Deno.makeTempDir();
    const args = [
      "--mode",
      "tp",
      "--ranks",
      "4",
      "--width",
      "256",
      "--steps",
      "2000",
      "--out",
      dir,
    ];
    let signalled = 0;
    const run = await sallocRun(c, args, () => {
      const [driver] = ofCluster(
        c,
        /^\S*deno run (--allow-\S+ )+bench\/main\.ts --launcher slurm/,
      );
      signalled = performance.now();
      Deno.kill(driver, "SIGTERM");
    });
    console.log(
      `SIGTERM to the Slurm driver: salloc exited ${
        (performance.now() - signalled).toFixed(0)
      } ms after the signal`,
    );
    assertEquals(run.status.code, 143, run.stderr + run.stdout);
    const r = await results(dir);
    assertEquals(r.runs.map((x) => x.status), ["interrupted"]);
    await assertNothingLeft(c, r);
  },
});
