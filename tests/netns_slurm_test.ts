// The Slurm driver across namespace hosts (lib/system/netns.ts): a private Slurm with one slurmd
// per host on its own address (lib/testing/slurm_cluster.ts), the bench under salloc on host 0,
// node agents and their meshed nats-servers on every host. The quick sweep runs across 2 and 4
// hosts with every rank placed on its node's host and server; a node's server killed mid-point
// fails that point naming the server and the next point runs. Afterwards nothing is left: no job,
// step, process or namespace. Needs root, slurm-wlm and nats-server; ignored with the reason
// elsewhere.
import {
  NETNS_PREFIX,
  type NetnsHosts,
  netnsUnavailable,
  startHosts,
} from "../lib/system/netns.ts";
import { parseResults, type ResultsFile } from "../lib/results/results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { waitGone } from "../lib/testing/processes.ts";
import { ROOT, taskArgs } from "../lib/testing/run_deno.ts";
import { SLURM, type SlurmCluster, startSlurmCluster } from "../lib/testing/slurm_cluster.ts";
import { NATS_SERVER, NO_SANITIZERS, systemTest } from "../lib/testing/system.ts";

const why = netnsUnavailable();
const NETNS = { name: "network namespaces (root)", missing: why !== undefined, install: why ?? "" };

/** The pids and command lines of the processes in a host's network namespace. */
function processesOn(host: string): { pid: number; args: string }[] {
  const text = (command: string, args: string[]) =>
    new TextDecoder().decode(
      new Deno.Command(command, { args, stdout: "piped", stderr: "null" }).outputSync().stdout,
    );
  const pids = text("ip", ["netns", "pids", host]).split("\n").filter((l) => /^\d+$/.test(l));
  if (pids.length === 0) return [];
  return text("ps", ["-o", "pid=,args=", "-p", pids.join(",")]).split("\n")
    .map((l) => l.trim().match(/^(\d+)\s+(.*)$/))
    .filter((m) => m !== null)
    .map((m) => ({ pid: Number(m![1]), args: m![2] }));
}

/** `salloc -N<hosts> -n<2 x hosts>` on host 0 running the bench under the Slurm launcher. */
async function sallocBench(
  c: SlurmCluster,
  hosts: number,
  args: string[],
  during?: () => Promise<void>,
) {
  const started = performance.now();
  const dir = await Deno.makeTempDir();
  const child = c.command("salloc", {
    args: [
      `-N${hosts}`,
      `-n${2 * hosts}`,
      "--ntasks-per-node=2",
      "--quiet",
      Deno.execPath(),
      ...taskArgs("bench", [
        "--launcher",
        "slurm",
        "--cooldown",
        "0",
        "--power",
        "none",
        "--out",
        dir,
        ...args,
      ]),
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  await during?.();
  const status = await child.status;
  const said = `${await stderr}${await stdout}`;
  const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"));
  assert(file, `no results (exit ${status.code}):\n${said}`);
  return {
    code: status.code,
    said,
    seconds: (performance.now() - started) / 1000,
    results: parseResults(await Deno.readTextFile(`${dir}/${file.name}`)),
  };
}

/** Nothing of the run left: no job or step, no agent, server or rank (by pid and by host). */
async function assertNothingLeft(c: SlurmCluster, net: NetnsHosts, r: ResultsFile) {
  assertEquals((await c.run("squeue", ["-h", "-s"])).trim(), "", "a job step is left");
  assertEquals((await c.run("squeue", ["-h"])).trim(), "", "a job is left");
  const pids = r.runs.flatMap((run) => run.placement?.map((p) => p.pid) ?? []);
  assertEquals(await waitGone(pids, 10_000), [], "ranks left running");
  // Agents and their servers: whatever runs on a host besides its slurmd (and slurmctld).
  // (slurmstepd ends a moment after its job: waited for, as everything else.)
  const left = () =>
    net.hosts.flatMap((h) =>
      processesOn(h.name).filter((p) => !/^(:\s*)?\S*slurm(ctld|scriptd|d)( |$)/.test(p.args))
        .map((p) => `${h.name}: ${p.pid} ${p.args}`)
    );
  const deadline = Date.now() + 10_000;
  while (left().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assertEquals(left(), [], "processes left on the hosts");
}

/** Hosts, and a Slurm with a node on each; both gone (and checked gone) at the end. */
async function withSlurmHosts(
  count: number,
  tag: string,
  fn: (net: NetnsHosts, c: SlurmCluster) => Promise<void>,
) {
  const net = await startHosts({ count, tag });
  let cluster: SlurmCluster | undefined;
  try {
    // Two CPUs per node: each node's two ranks get one GEMM thread each.
    cluster = await startSlurmCluster(count, 2, net);
    console.log(
      `${count} namespace hosts in ${net.setupMs.toFixed(0)} ms, Slurm nodes ${
        cluster.addresses.join(", ")
      }`,
    );
    await fn(net, cluster);
  } finally {
    await cluster?.stop();
    await net.stop();
    if (cluster) assertEquals(await waitGone(cluster.pids, 5000), [], "Slurm daemons left");
    const prefix = `${NETNS_PREFIX}${Deno.pid}-${tag}-`;
    const left = new TextDecoder().decode(
      new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).outputSync().stdout,
    ).split("\n").filter((l) => l.startsWith(prefix));
    assertEquals(left, [], "namespaces left");
  }
}

/** Each rank on its node's host, connected to that host's server. */
function assertPlacedByHost(net: NetnsHosts, r: ResultsFile, ranks: number) {
  const run = r.runs.findLast((x) => x.config.ranks === ranks)!;
  const placement = run.placement!;
  // Two tasks per node: ranks 2i and 2i + 1 on node i.
  const node = (rank: number) => Math.floor(rank / 2);
  assertEquals(placement.map((p) => p.nodeIndex), placement.map((p) => node(p.rank)));
  assertEquals(placement.map((p) => p.host), placement.map((p) => net.hosts[node(p.rank)].name));
  assertEquals(
    placement.map((p) => p.natsServer?.split(":")[0]),
    placement.map((p) => net.hosts[node(p.rank)].address),
  );
  assertEquals(new Set(placement.map((p) => p.natsServer)).size, ranks / 2, "a server per node");
}

systemTest([NETNS, SLURM, NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "Slurm across 2 namespace hosts: the quick sweep, a node per host",
  fn: () =>
    withSlurmHosts(2, "s2", async (net, c) => {
      const run = await sallocBench(c, 2, ["--quick"]);
      assertEquals(run.code, 0, run.said);
      console.log(`quick sweep across 2 hosts under Slurm: ${run.seconds.toFixed(1)} s`);
      const r = run.results;
      // p = 8 needs more than the allocation's 4 tasks: excluded with the reason.
      assertEquals(r.runs.map((x) => [x.config.mode, x.config.ranks, x.status]), [
        ["tp", 1, "ok"],
        ["tp", 2, "ok"],
        ["tp", 4, "ok"],
        ["phantom", 1, "ok"],
        ["phantom", 2, "ok"],
        ["phantom", 4, "ok"],
      ]);
      for (const x of r.runs) assert(x.metrics!.bytesMatchPrediction, `${x.id}: bytes`);
      assertPlacedByHost(net, r, 4);
      const nodes = (r.communicator.slurm as { nodes: { host: string; server: string }[] }).nodes;
      assertEquals(nodes.map((n) => n.host), net.hosts.map((h) => h.name));
      assertEquals(
        nodes.map((n) => new URL(n.server).hostname),
        net.hosts.map((h) => h.address),
      );
      await assertNothingLeft(c, net, r);
    }),
});

systemTest([NETNS, SLURM, NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "Slurm across 4 namespace hosts: the quick sweep over a 4-server mesh",
  fn: () =>
    withSlurmHosts(4, "s4", async (net, c) => {
      const run = await sallocBench(c, 4, ["--quick"]);
      assertEquals(run.code, 0, run.said);
      console.log(`quick sweep across 4 hosts under Slurm: ${run.seconds.toFixed(1)} s`);
      const r = run.results;
      assertEquals(
        r.runs.map((x) => [x.config.mode, x.config.ranks, x.status]),
        ["tp", "phantom"].flatMap((m) => [1, 2, 4, 8].map((p) => [m, p, "ok"])),
      );
      for (const x of r.runs) assert(x.metrics!.bytesMatchPrediction, `${x.id}: bytes`);
      assertPlacedByHost(net, r, 8);
      assertPlacedByHost(net, r, 4);
      await assertNothingLeft(c, net, r);
    }),
});

systemTest([NETNS, SLURM, NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "a node's nats-server killed mid-point: that point fails naming it, the next one runs",
  fn: () =>
    withSlurmHosts(4, "k4", async (net, c) => {
      const victimHost = net.hosts[2];
      let killed: { pid: number; args: string } | undefined;
      // A long point across all four hosts, then a short one.
      const sweep = `${await Deno.makeTempDir()}/kill.json`;
      await Deno.writeTextFile(
        sweep,
        JSON.stringify({
          id: "kill",
          version: 1,
          base: { mode: "tp", width: 256, layers: 2, batch: 32 },
          axes: { variant: [{ ranks: 8, steps: 5000 }, { ranks: 8, steps: 8 }] },
          repeats: 1,
          warmup: 1,
        }),
      );
      const run = await sallocBench(
        c,
        4,
        ["--sweep", sweep],
        async () => {
          // Once the first point's ranks train on every host, node 3's server goes.
          const deadline = Date.now() + 60_000;
          while (
            !net.hosts.every((h) => processesOn(h.name).some((p) => /rank_host/.test(p.args)))
          ) {
            if (Date.now() > deadline) throw new Error("the first point's ranks did not start");
            await new Promise((r) => setTimeout(r, 100));
          }
          killed = processesOn(victimHost.name).find((p) => /^\S*nats-server /.test(p.args));
          assert(killed, `no nats-server on ${victimHost.name}`);
          Deno.kill(killed.pid, "SIGKILL");
        },
      );
      const r = run.results;
      assertEquals(r.runs.map((x) => x.status), ["failed", "ok"], run.said);
      console.log(`point with a killed server: ${r.runs[0].error}`);
      assert(
        r.runs[0].error!.includes(`pid ${killed!.pid}, ${victimHost.address}:`),
        r.runs[0].error,
      );
      assert(run.said.includes("restarted on the same port for the next point"), run.said);
      // The next point ran on all four hosts again, node 3's ranks on its restarted server.
      assertPlacedByHost(net, r, 8);
      await assertNothingLeft(c, net, r);
    }),
});

systemTest([NETNS, SLURM, NATS_SERVER], {
  ...NO_SANITIZERS,
  name:
    "Slurm across 4 hosts: TP and phantom x 2 replicas (G = 8), model groups packed or data groups packed",
  fn: () =>
    withSlurmHosts(4, "g8", async (net, c) => {
      const args = ["--mode", "tp,phantom", "--ranks", "4", "--replicas", "2", "--width", "256"];
      const common = ["--phantom-width", "8", "--batch", "16", "--steps", "6", "--warmup", "1"];
      const losses: Record<string, number[][]> = {};
      for (const placement of ["mp-inner", "dp-inner"]) {
        const run = await sallocBench(c, 4, [...args, ...common, "--placement", placement]);
        assertEquals(run.code, 0, run.said);
        console.log(
          `TP and phantom at 2 x 4 across 4 hosts, ${placement}: ${run.seconds.toFixed(1)} s`,
        );
        const r = run.results;
        for (const x of r.runs) {
          assertEquals(x.status, "ok", x.error);
          assert(x.metrics!.bytesMatchPrediction, `${x.id}: bytes`);
          assertEquals(
            x.metrics!.dataParallel!.bytesSentPerRankPerStep,
            x.metrics!.dataParallel!.predictedBytesSentPerRankPerStep,
          );
          // Two tasks per host: which ranks share a host.
          const byHost = new Map<string, number[]>();
          for (const p of x.placement!) byHost.set(p.host, [...(byHost.get(p.host) ?? []), p.rank]);
          const pairs = [...byHost.values()].map((v) => v.sort((a, b) => a - b)).sort((a, b) =>
            a[0] - b[0]
          );
          assertEquals(
            pairs,
            placement === "mp-inner"
              ? [[0, 1], [2, 3], [4, 5], [6, 7]]
              : [[0, 4], [1, 5], [2, 6], [3, 7]],
            `${x.id}: ${placement}`,
          );
          assertEquals(
            x.placement!.map((p) => [p.replica, p.modelRank]),
            [...Array(8).keys()].map((g) => [Math.floor(g / 4), g % 4]),
          );
          losses[`${x.config.mode}-${placement}`] = [x.metrics!.loss!.curve.map((pt) => pt[3])];
        }
        await assertNothingLeft(c, net, r);
      }
      // Placement moves ranks, never numbers.
      assertEquals(losses["tp-dp-inner"], losses["tp-mp-inner"]);
      assertEquals(losses["phantom-dp-inner"], losses["phantom-mp-inner"]);
    }),
});
