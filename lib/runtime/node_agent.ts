/**
 * The node agent of a Slurm job: one per node, started by the driver as one long-lived job step
 * (`srun --overlap --ntasks-per-node=1`, lib/runtime/node_cluster.ts). It starts this node's
 * nats-server with a cluster listener on free ports (nodes may share a host), reports its
 * addresses, joins the full mesh of routes the driver sends back, and runs this node's power
 * sampler, answering the driver's requests for the energy of step windows. It talks to the driver
 * through lines: it prints `PB-NODE {json}`, `PB-ROUTED`, `PB-ERROR message`; it reads
 * `ROUTES [json]` and `STOP` (end of input also stops it). Where its server dies (killed,
 * crashed) it says so (`PB-SERVER-DIED index line`), starts it again on the same ports with the
 * same routes, and says that (`PB-SERVER-RESTARTED index pid`, or `PB-SERVER-FAILED index why`):
 * the point that was running fails, the next one finds the mesh whole.
 *
 * @module
 */

import type { Msg } from "@nats-io/transport-node";
import { hostname } from "node:os";
import { ConfigError } from "../config/config_error.ts";
import { connectNats, type NatsConnectionOptions } from "../nats/connection.ts";
import { startNatsServer } from "../nats/nats_server.ts";

/** The variable that hands the node servers' shared token to the agents. */
export const NODE_SERVER_TOKEN_ENV = "PHANTOM_NODE_SERVER_TOKEN";
import { EnergyMonitor, type PowerModel } from "../power/energy_monitor.ts";
import { openPowerSampler } from "../power/open_sampler.ts";
import { describeMonitor, measureEpochWindows, type PowerDescription } from "./energy_windows.ts";
import type { EnergyMeasurement } from "../power/energy_monitor.ts";

/** What an agent reports about its node. */
export interface NodeReport {
  /** SLURM_NODEID. */
  index: number;
  /** The node's Slurm name. */
  node: string;
  /** Its host name. */
  host: string;
  /** Client URL of its nats-server (null when the job uses a given NATS). */
  client: string | null;
  /** Route URL of its nats-server. */
  route: string | null;
  /** nats-server pid and version. */
  serverPid: number | null;
  serverVersion: string | null;
  /** The agent's pid. */
  pid: number;
}

/** A node's power setup; `error` where its sampler could not open (its energy is then unavailable). */
export type NodePower = PowerDescription | { error: string };

/** A request for window energies (JSON on {@linkcode energySubject}). */
export interface EnergyRequest {
  windows: { name: string; startEpochMs: number; endEpochMs: number; cpuMs: number }[];
}

/** The reply. */
export type EnergyReply = { measurements: EnergyMeasurement[] } | { error: string };

/**
 * @param job The Slurm job id.
 * @param index The node index.
 * @returns The subject a node's agent answers energy requests on.
 */
export const energySubject = (job: string, index: number): string =>
  `pb.job.${job}.energy.${index}`;

/**
 * @param job The Slurm job id.
 * @param index The node index.
 * @returns The subject a node's agent answers with its {@linkcode NodePower} on (srun splits
 *   long output lines, so the setup does not travel in the PB-NODE line).
 */
export const powerSubject = (job: string, index: number): string => `pb.job.${job}.power.${index}`;

/**
 * The address this node's server listens on and reports: PHANTOM_NODE_ADDR if set, else the
 * first IPv4 address of the named interface, else of the first interface that is not loopback,
 * else 127.0.0.1. Taken from the node itself, never from resolving its name.
 *
 * @param env The environment.
 * @param interfaces The node's interfaces.
 * @param name An interface to use (e.g. hsn0, ib0).
 * @returns The address.
 * @throws {ConfigError} If the named interface has no IPv4 address.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeAddress } from "./node_agent.ts";
 * const ifs = [
 *   { name: "lo", family: "IPv4", address: "127.0.0.1" },
 *   { name: "eth0", family: "IPv4", address: "10.1.2.3" },
 * ] as Deno.NetworkInterfaceInfo[];
 * assert.equal(nodeAddress({}, ifs), "10.1.2.3");
 * assert.equal(nodeAddress({ PHANTOM_NODE_ADDR: "127.0.0.1" }, ifs), "127.0.0.1");
 * ```
 */
export function nodeAddress(
  env: Record<string, string | undefined>,
  interfaces: Deno.NetworkInterfaceInfo[],
  name?: string,
): string {
  if (env.PHANTOM_NODE_ADDR) return env.PHANTOM_NODE_ADDR;
  const v4 = interfaces.filter((i) => i.family === "IPv4");
  if (name) {
    const found = v4.find((i) => i.name === name);
    if (!found) {
      throw new ConfigError("--node-interface", name, `has no IPv4 address on ${hostname()}`);
    }
    return found.address;
  }
  return v4.find((i) => !i.address.startsWith("127."))?.address ?? "127.0.0.1";
}

/** Options of {@linkcode runNodeAgent}. */
export interface NodeAgentOptions {
  /** The Slurm job. */
  job: string;
  /** Power backend name (as --power). */
  power: string;
  /** Sampling period, in ms. */
  periodMs: number;
  /** Declared power model. */
  model: PowerModel | null;
  /** A NATS the job uses instead of servers started here. */
  connection?: NatsConnectionOptions;
  /** The interface to listen on. */
  interfaceName?: string;
  /** The environment (SLURM_NODEID, SLURMD_NODENAME, PHANTOM_NODE_ADDR). */
  env: Record<string, string | undefined>;
}

/** The agent's lines in and out. */
export interface AgentIo {
  /** Lines from the driver. */
  lines: AsyncIterable<string>;
  /** Prints a line to the driver. */
  print(line: string): void;
  /** Aborted by a stop signal. */
  signal?: AbortSignal;
}

/**
 * Runs the agent until STOP, the end of input or the signal.
 *
 * @param options The job and power options.
 * @param io Lines in and out.
 * @returns 0 after a clean stop.
 */
export async function runNodeAgent(options: NodeAgentOptions, io: AgentIo): Promise<number> {
  const index = Number(options.env.SLURM_NODEID ?? 0);
  const node = options.env.SLURMD_NODENAME ?? hostname();
  await using stack = new AsyncDisposableStack();
  let monitor: EnergyMonitor | undefined;
  let power: NodePower;
  try {
    const selection = await openPowerSampler(options.power);
    monitor = stack.use(
      await EnergyMonitor.start(selection.sampler, {
        periodMs: options.periodMs,
        powerModel: options.model ?? undefined,
      }),
    );
    if (selection.sampler.devices.length > 0) await monitor.measureIdle(1000);
    power = describeMonitor(monitor, selection.reasons, options.model);
  } catch (error) {
    power = { error: `${node}: ${(error as Error).message.split("\n")[0]}` };
  }
  const address = nodeAddress(options.env, Deno.networkInterfaces(), options.interfaceName);
  const token = options.env[NODE_SERVER_TOKEN_ENV];
  if (!options.connection && !token) {
    throw new ConfigError(
      NODE_SERVER_TOKEN_ENV,
      undefined,
      "must be set by the driver (the node servers' shared token) when no --nats is given",
    );
  }
  const server = options.connection ? undefined : stack.use(
    await startNatsServer({ hostname: address, cluster: { name: `pb-${options.job}` }, token }),
  );
  const nc = await connectNats(
    options.connection ?? { ...server!.connection, name: `pb node ${node}` },
  );
  stack.defer(() => nc.close());
  // Subscribed again once the routes are up: interest made before a route forms reaches the other
  // servers when it does, but a run under load once lost it for good ("no responders" for 120 s).
  const listen = () => [
    nc.subscribe(energySubject(options.job, index), {
      callback: (_error, msg) => void answer(msg),
    }),
    nc.subscribe(powerSubject(options.job, index), {
      callback: (_error, msg) => {
        msg.respond(new TextEncoder().encode(JSON.stringify(power)));
      },
    }),
  ];
  let subscriptions = listen();
  const answer = async (msg: Msg) => {
    let reply: EnergyReply;
    try {
      if (!monitor) throw new Error(`${node}: ${(power as { error: string }).error}`);
      const request = msg.json<EnergyRequest>();
      reply = { measurements: await measureEpochWindows(monitor, request.windows) };
    } catch (error) {
      reply = { error: (error as Error).message };
    }
    msg.respond(new TextEncoder().encode(JSON.stringify(reply)));
  };
  await nc.flush();
  const report: NodeReport = {
    index,
    node,
    host: hostname(),
    client: server?.url ?? null,
    route: server?.routeUrl ?? null,
    serverPid: server?.pid ?? null,
    serverVersion: server?.version ?? null,
    pid: Deno.pid,
  };
  io.print(`PB-NODE ${JSON.stringify(report)}`);
  if (server) {
    const watch = (): void =>
      void server.whenDead().then(async (why) => {
        io.print(`PB-SERVER-DIED ${index} ${why}`);
        try {
          await server.restart();
          io.print(`PB-SERVER-RESTARTED ${index} ${server.pid}`);
          watch();
        } catch (error) {
          io.print(`PB-SERVER-FAILED ${index} ${(error as Error).message.split("\n")[0]}`);
        }
      });
    watch();
  }
  const stopped = new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  const iterator = io.lines[Symbol.asyncIterator]();
  while (true) {
    const next = await Promise.race([
      iterator.next(),
      stopped.then(() => ({ done: true as const, value: "" })),
    ]);
    if (next.done || next.value.trim() === "STOP") break;
    const [command, ...rest] = next.value.trim().split(" ");
    if (command === "ROUTES" && server) {
      const routes = (JSON.parse(rest.join(" ")) as string[]).filter((r) => r !== server.routeUrl);
      try {
        await server.setRoutes(routes);
        for (const sub of subscriptions) sub.unsubscribe();
        subscriptions = listen();
        await nc.flush();
        io.print(`PB-ROUTED ${index}`);
      } catch (error) {
        io.print(`PB-ERROR ${node}: ${(error as Error).message}`);
      }
    }
  }
  return 0;
}
