/**
 * The node agents of a Slurm run, seen from the driver: one long-lived job step
 * (`srun --overlap -N NODES --ntasks-per-node=1 --input=all`) runs an agent per node
 * (lib/runtime/node_agent.ts). Each starts its node's nats-server on free ports and reports its
 * addresses; the driver sends every agent the full list of routes, waits until each has
 * reloaded, then checks the mesh end to end (a message from every server reaches every other)
 * before any rank starts. Ranks connect to their own node's server first, so a block published
 * once crosses the network once per remote node. The agents also sample power on their nodes:
 * {@linkcode NodeCluster.energy} sums the windows over every device of every node.
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/transport-node";
import type { EnergyMeasurement } from "../power/energy_monitor.ts";
import { connectNats, type NatsConnectionOptions } from "../nats/connection.ts";
import { readLines } from "../system/lines.ts";
import { spawnTied, stopProcess } from "../system/process.ts";
import {
  type EnergyWindows,
  type PowerDescription,
  sumOverNodes,
  unavailableWindows,
  type WindowRequest,
} from "./energy_windows.ts";
import {
  type EnergyReply,
  type EnergyRequest,
  energySubject,
  NODE_SERVER_TOKEN_ENV,
  type NodePower,
  type NodeReport,
  powerSubject,
} from "./node_agent.ts";
import { newServerToken } from "../nats/nats_server.ts";
import {
  type CommandRunner,
  findStep,
  runCommand,
  type SlurmAllocation,
  SlurmError,
} from "./slurm.ts";

/** Options of {@linkcode startNodeCluster}. */
export interface NodeClusterOptions {
  /** The allocation. */
  allocation: SlurmAllocation;
  /** Arguments for every agent (power flags, --node-interface). */
  agentArgs: string[];
  /** A NATS to use instead of starting a server per node. */
  connection?: NatsConnectionOptions;
  /** Variables for the agents (e.g. NATS credentials). */
  env?: Record<string, string>;
  /** How long the agents may take to start and mesh, in ms. @default 120000 */
  startTimeoutMs?: number;
  /** Timeout of an energy request to one node, in ms. @default 30000 */
  energyTimeoutMs?: number;
  /** Runs squeue and scancel. */
  run?: CommandRunner;
}

/** The running agents. */
export interface NodeCluster extends AsyncDisposable {
  /** What each agent reported, by node index. */
  readonly nodes: NodeReport[];
  /** Each node's server URL by node index (null with a given NATS). */
  readonly urlsByNode: string[] | null;
  /** What the driver and coordinator connect to: node 0's server first, or the given NATS. */
  readonly connection: NatsConnectionOptions;
  /** How long starting the agents, routing and the mesh check took, in ms. */
  readonly startMs: number;
  /** Energy of windows summed over all nodes. */
  readonly energy: EnergyWindows;
  /**
   * The node servers that died (killed, crashed) since the last {@linkcode recover}, in one line
   * naming node, pid and host:port, e.g. "node pbn3: nats-server (pid 812, 10.0.0.3:4222) died
   * (SIGKILL)"; undefined when none did.
   */
  death(): string | undefined;
  /**
   * Waits until every node server that died has been started again by its agent (same ports and
   * routes) and the mesh answers end to end.
   *
   * @returns The deaths recovered from (empty when none).
   * @throws {SlurmError} If an agent could not restart its server, or the mesh does not form.
   */
  recover(): Promise<string[]>;
  /**
   * Settles with {@linkcode death}'s line as soon as a node server dies (checked every 100 ms
   * until `signal` aborts; then it never settles).
   *
   * @param signal Ends the watch.
   */
  whenDead(signal: AbortSignal): Promise<string>;
  /** Stops the agents (and their servers) and waits for the step to end. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the agents on every node of the allocation.
 *
 * @param options The allocation, agent arguments, NATS.
 * @returns The running cluster.
 * @throws {SlurmError} If the step does not start, an agent fails, or the mesh does not form.
 */
export async function startNodeCluster(options: NodeClusterOptions): Promise<NodeCluster> {
  const started = Date.now();
  const alloc = options.allocation;
  const n = alloc.nodes.length;
  const jobName = `pb-nodes-${Math.random().toString(36).slice(2, 8)}`;
  const agent = new URL("../../workers/node_agent.ts", import.meta.url).pathname;
  // The node servers' shared token (clients and routes), in the agents' environment only.
  const serverToken = options.connection ? undefined : newServerToken();
  const { child } = spawnTied("srun", {
    args: [
      "--overlap", // shares the nodes with the rank steps
      `-N${n}`,
      `-n${n}`,
      "--ntasks-per-node=1",
      "-l",
      "--input=all",
      `--job-name=${jobName}`,
      // Where devices are constrained by cgroups, the sampler must see all of the node's GPUs.
      ...(alloc.gpusPerNode ? [`--gpus-per-node=${alloc.gpusPerNode}`] : []),
      Deno.execPath(),
      "run",
      "--allow-all",
      agent,
      "--job",
      alloc.jobId,
      ...(options.connection ? ["--nats", serverList(options.connection)] : []),
      ...options.agentArgs,
    ],
    env: { ...options.env, ...(serverToken ? { [NODE_SERVER_TOKEN_ENV]: serverToken } : {}) },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const writer = child.stdin.getWriter();
  const lines = new LineBox();
  lines.follow(child.stdout);
  lines.follow(child.stderr);
  let exited = false;
  const status = child.status.then((s) => ((exited = true), s));
  let nc: NatsConnection | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await nc?.close().catch(() => {});
    await writer.write(new TextEncoder().encode("STOP\n")).catch(() => {});
    await writer.close().catch(() => {});
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!exited) {
      const step = await findStep(alloc.jobId, jobName, options.run ?? runCommand).catch(() =>
        undefined
      );
      if (step) {
        await (options.run ?? runCommand)("scancel", ["--signal=TERM", step]).catch(() => {});
      }
      await stopProcess(child, 5000);
    }
    await status;
  };
  try {
    const timeoutMs = options.startTimeoutMs ?? 120_000;
    const reports = await lines.collect(
      "PB-NODE",
      n,
      timeoutMs,
      status,
      (l) => JSON.parse(l) as NodeReport,
    );
    const nodes = [...reports].sort((a, b) => a.index - b.index);
    let urlsByNode: string[] | null = null;
    let connection: NatsConnectionOptions;
    if (options.connection) {
      connection = options.connection;
    } else {
      urlsByNode = nodes.map((r) => r.client!);
      if (n > 1) {
        const routes = nodes.map((r) => r.route!);
        await writer.write(new TextEncoder().encode(`ROUTES ${JSON.stringify(routes)}\n`));
        await lines.collect("PB-ROUTED", n, timeoutMs, status, (l) => l);
        await awaitMesh(urlsByNode, timeoutMs, { token: serverToken });
      }
      connection = { servers: urlsByNode, preferFirst: true, token: serverToken };
    }
    nc = await connectNats({ ...connection, name: `pb driver ${alloc.jobId}` });
    // Server deaths the agents reported (each is followed by a restart or a failure line).
    let recovered = 0;
    const deaths = () =>
      lines.matches("PB-SERVER-DIED").map((rest) => {
        const [index, ...why] = rest.split(" ");
        return `node ${nodes[Number(index)]?.node ?? index}: ${why.join(" ")}`;
      });
    const death = () => {
      const fresh = deaths().slice(recovered);
      return fresh.length ? fresh.join("; ") : undefined;
    };
    const recover = async () => {
      const all = deaths();
      const fresh = all.slice(recovered);
      if (fresh.length === 0) return [];
      const timeoutMs = options.startTimeoutMs ?? 120_000;
      const deadline = Date.now() + timeoutMs;
      while (lines.matches("PB-SERVER-RESTARTED").length < all.length) {
        const failed = lines.matches("PB-SERVER-FAILED");
        if (failed.length) {
          throw new SlurmError(`A node server could not be restarted: ${failed.join("; ")}`);
        }
        if (exited) throw new SlurmError("The node agents' step exited");
        if (Date.now() > deadline) {
          throw new SlurmError(`The node servers were not restarted within ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      if (urlsByNode && n > 1) {
        await awaitMesh(urlsByNode, timeoutMs, { token: serverToken }).catch((error) => {
          throw new SlurmError(`After a node server restarted: ${(error as Error).message}`);
        });
      }
      recovered = all.length;
      return fresh;
    };
    const powers = await Promise.all(
      nodes.map(async (r) =>
        (await requestOnceHeard(nc!, powerSubject(alloc.jobId, r.index), timeoutMs)).json<
          NodePower
        >()
      ),
    );
    return {
      nodes,
      urlsByNode,
      connection,
      startMs: Date.now() - started,
      energy: clusterEnergy(nc, alloc.jobId, nodes, powers, options.energyTimeoutMs ?? 30_000),
      death,
      recover,
      async whenDead(signal: AbortSignal) {
        while (!signal.aborted) {
          const line = death();
          if (line) return line;
          await new Promise((r) => setTimeout(r, 100));
        }
        return await new Promise<string>(() => {});
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw new SlurmError(
      `The node agents did not start: ${(error as Error).message}\n${lines.tail()}`,
      { cause: error },
    );
  }
}

/**
 * A request to a node agent (its power setup, or energy over past windows: both idempotent),
 * repeated until it is answered or the deadline passes: an agent's subscription on its own node's server reaches the others' over the routes a
 * moment after the mesh itself answers ("no responders" in between), and a request crossing a
 * route while a server reloads its routes is lost (a timeout). Both were seen under load in the
 * Slurm tests; each try waits `tryMs` at most.
 */
async function requestOnceHeard(
  nc: NatsConnection,
  subject: string,
  timeoutMs: number,
  data = "",
  tryMs = 2000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await nc.request(subject, data, {
        timeout: Math.max(100, Math.min(tryMs, deadline - Date.now())),
      });
    } catch (error) {
      const message = (error as Error).message;
      if (!/no responders|timeout/i.test(message) || Date.now() >= deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function serverList(connection: NatsConnectionOptions): string {
  return (Array.isArray(connection.servers) ? connection.servers : [connection.servers]).join(",");
}

/** Lines of the agents' step, matched against what the driver waits for. */
class LineBox {
  #lines: string[] = [];
  #waiters: (() => void)[] = [];

  follow(stream: ReadableStream<Uint8Array>) {
    (async () => {
      for await (const line of readLines(stream)) {
        this.#lines.push(line);
        for (const w of this.#waiters) w();
      }
    })().catch(() => {});
  }

  /** The rest of every line `TAG rest` so far (srun may put "N: " first). */
  matches(tag: string): string[] {
    const pattern = new RegExp(`^(?:\\s*\\d+: )?${tag} ?(.*)$`);
    return this.#lines.map((l) => l.match(pattern)?.[1]).filter((m) => m !== undefined);
  }

  tail(): string {
    return this.#lines.filter((l) => !/PB-(NODE|ROUTED)/.test(l)).slice(-10).join("\n");
  }

  /** Waits for `count` lines `TAG rest` (srun may put "N: " first) and parses their rest. */
  async collect<T>(
    tag: string,
    count: number,
    timeoutMs: number,
    exited: Promise<Deno.CommandStatus>,
    parse: (rest: string) => T,
  ): Promise<T[]> {
    const pattern = new RegExp(`^(?:\\s*\\d+: )?(${tag}|PB-ERROR) ?(.*)$`);
    const deadline = Date.now() + timeoutMs;
    let done: Deno.CommandStatus | undefined;
    exited.then((s) => (done = s));
    while (true) {
      const found = this.#lines.map((l) => l.match(pattern)).filter((m) => m !== null);
      const error = found.find((m) => m[1] === "PB-ERROR");
      if (error) throw new Error(`agent error: ${error[2]}`);
      const ok = found.filter((m) => m[1] === tag);
      if (ok.length >= count) return ok.slice(0, count).map((m) => parse(m[2]));
      if (done) throw new Error(`the agents' step exited with code ${done.code}`);
      if (Date.now() > deadline) {
        throw new Error(`${ok.length} of ${count} agents sent ${tag} within ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiters.push(() => (clearTimeout(timer), resolve()));
      });
      this.#waiters = [];
    }
  }
}

/**
 * Waits until a message published on every server reaches a subscriber on every other (the
 * routes of the full mesh are up), republishing until then.
 *
 * @param urls Client URLs, one per server.
 * @param timeoutMs Deadline.
 * @param auth The servers' credentials.
 * @throws {Error} Naming the pairs still unconnected at the deadline.
 */
export async function awaitMesh(
  urls: string[],
  timeoutMs: number,
  auth: Omit<NatsConnectionOptions, "servers"> = {},
): Promise<void> {
  const id = Math.random().toString(36).slice(2, 8);
  const conns = await Promise.all(
    urls.map((u) => connectNats({ ...auth, servers: u, name: "pb mesh check" })),
  );
  try {
    const seen = new Set<string>();
    conns.forEach((nc, to) =>
      nc.subscribe(`pb.mesh.${id}.${to}`, {
        callback: (_e, msg) => {
          seen.add(`${msg.string()}>${to}`);
        },
      })
    );
    await Promise.all(conns.map((nc) => nc.flush()));
    const deadline = Date.now() + timeoutMs;
    const pairs = urls.flatMap((_, a) => urls.map((_, b) => [a, b]).filter(([x, y]) => x !== y));
    while (true) {
      const missing = pairs.filter(([a, b]) => !seen.has(`${a}>${b}`));
      if (missing.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `NATS routes did not connect: ${
            missing.map(([a, b]) => `${urls[a]} -> ${urls[b]}`).join(", ")
          }`,
        );
      }
      for (const [a, b] of missing) conns[a].publish(`pb.mesh.${id}.${b}`, String(a));
      await Promise.all(conns.map((nc) => nc.flush()));
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await Promise.all(conns.map((nc) => nc.close()));
  }
}

function clusterEnergy(
  nc: NatsConnection,
  job: string,
  nodes: NodeReport[],
  powers: NodePower[],
  timeoutMs: number,
): EnergyWindows {
  const described = nodes.map((r, i): PowerDescription & { node: string } => {
    const power = powers[i];
    return "error" in power
      ? {
        node: r.node,
        backend: "failed",
        devices: [],
        selection: [power.error],
        notes: [],
        periodMs: 0,
        idleW: null,
        model: null,
      }
      : { node: r.node, ...power };
  });
  const backend = [...new Set(described.map((d) => d.backend))].join("+");
  return {
    async measure(windows: WindowRequest[]) {
      const failed = powers.findIndex((p) => "error" in p);
      if (failed >= 0) {
        const why = (powers[failed] as { error: string }).error;
        return unavailableWindows(
          windows,
          backend,
          `the power sampler of node ${nodes[failed].node} failed: ${why}`,
        );
      }
      let replies: EnergyReply[];
      try {
        replies = await Promise.all(nodes.map(async (r) => {
          const request: EnergyRequest = {
            windows: windows.map((w) => ({
              name: w.name,
              startEpochMs: w.startEpochMs,
              endEpochMs: w.endEpochMs,
              cpuMs: w.cpuMsByNode[r.index] ?? 0,
            })),
          };
          const reply = await requestOnceHeard(
            nc,
            energySubject(job, r.index),
            timeoutMs,
            JSON.stringify(request),
            10_000, // an agent may wait for its sampler's next reading after the window
          )
            .catch((error: Error) => {
              throw new Error(`node ${r.node} did not answer (${error.message})`);
            });
          return reply.json<EnergyReply>();
        }));
      } catch (error) {
        return unavailableWindows(windows, backend, (error as Error).message);
      }
      const bad = replies.findIndex((r) => "error" in r);
      if (bad >= 0) {
        return unavailableWindows(
          windows,
          backend,
          `node ${nodes[bad].node}: ${(replies[bad] as { error: string }).error}`,
        );
      }
      const ok = replies as { measurements: EnergyMeasurement[] }[];
      return {
        measurements: windows.map((w, i) =>
          sumOverNodes(
            w.name,
            w,
            nodes.map((r, k) => ({ node: r.node, measurement: ok[k].measurements[i] })),
          )
        ),
      };
    },
    describe: () => ({ ...described[0], backend, nodes: described }),
  };
}
