/**
 * What-if runs on an emulated network: `deno task bench --emulate-hosts N --link RATE ...` makes N
 * namespace hosts on this machine (lib/system/netns.ts) with every link shaped to RATE, runs the
 * bench on host 0 with its own nats-server on that host's address (manual launch), and starts one
 * worker per other host for every run from the bench's `PB-WAITING` lines, the ranks split in
 * contiguous ranges over hosts 1..N-1 (a node each). The bench records the network it ran on
 * (`communicator.network`: emulated, hosts, link rate, shaper, the propagation delay added if
 * any, and whether this kernel could add one: sch_netem). Everything is removed at the end, also
 * on a stop signal. A sweep whose points set their own link rate (the network sweep) has its
 * links reshaped by the bench before each such point ({@linkcode shapeForPoint}).
 *
 * @module
 */

import {
  type LinkNames,
  type LinkShape,
  netemAvailable,
  netnsUnavailable,
  reshapeLinks,
  startHosts,
} from "../system/netns.ts";
import { readLines } from "../system/lines.ts";
import { ConfigError } from "../config/config_error.ts";

/** The variable through which the bench on host 0 learns the network it runs on. */
export const EMULATED_NETWORK_ENV = "PHANTOM_EMULATED_NETWORK";

/** The variable through which the bench on host 0 learns the namespaces of its links. */
export const EMULATED_LINKS_ENV = "PHANTOM_EMULATED_LINKS";

/** What the results record about an emulated network. */
export interface EmulatedNetwork {
  emulated: true;
  /** Hosts, the bench's included. */
  hosts: number;
  /** Rate of every link (tc notation), or null for unshaped links. */
  linkRate: string | null;
  /** htb or tbf (netem where a delay was added). */
  shaper: "htb" | "tbf" | "netem";
  /** Propagation delay added each way of every link (tc notation), or null for none. */
  delay: string | null;
  /** Whether this kernel could add a delay at all (sch_netem): bandwidth only where not. */
  netem: boolean;
}

/**
 * The emulated network the bench runs on, from its environment (set by {@linkcode runEmulated}).
 *
 * @param env The environment.
 * @returns The network, or undefined for a real one.
 */
export function emulatedNetwork(
  env: Record<string, string | undefined>,
): EmulatedNetwork | undefined {
  const text = env[EMULATED_NETWORK_ENV];
  return text ? JSON.parse(text) as EmulatedNetwork : undefined;
}

/** The links of the emulated network the bench runs on, which it may reshape between points. */
export interface EmulatedLinks {
  /** The namespaces. */
  names: LinkNames;
  /** The shaper, the delay and the rate the links have now. */
  shaper: "htb" | "tbf";
  delay: string | null;
  rate: string | null;
}

/**
 * The links of the emulated network the bench runs on (set by {@linkcode runEmulated}).
 *
 * @param env The environment.
 * @returns The links, or undefined on a real network.
 */
export function emulatedLinks(env: Record<string, string | undefined>): EmulatedLinks | undefined {
  const text = env[EMULATED_LINKS_ENV];
  return text ? JSON.parse(text) as EmulatedLinks : undefined;
}

/**
 * Shapes the links for a point that sets its own rate (the network sweep), if they are not so
 * already.
 *
 * @param links The emulated links (updated).
 * @param rate The point's rate (null: unshaped).
 * @returns A line saying what changed, or undefined when nothing did.
 */
export async function shapeForPoint(
  links: EmulatedLinks,
  rate: string | null,
): Promise<string | undefined> {
  if (links.rate === rate) return undefined;
  const started = performance.now();
  await reshapeLinks(links.names, { rate, shaper: links.shaper, delay: links.delay });
  links.rate = rate;
  return `links now ${rate ?? "unshaped"}${rate ? ` (${links.shaper})` : ""}, reshaped in ${
    (performance.now() - started).toFixed(0)
  } ms`;
}

/**
 * The ranks of each worker host: contiguous, as even as can be.
 *
 * @param ranks p.
 * @param hosts Worker hosts (N - 1).
 * @returns One range per host, [first, last], or null for a host with none.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankRanges } from "./emulated_run.ts";
 * assert.deepEqual(rankRanges(8, 3), [[0, 1], [2, 4], [5, 7]]);
 * assert.deepEqual(rankRanges(1, 2), [null, [0, 0]]);
 * ```
 */
export function rankRanges(ranks: number, hosts: number): ([number, number] | null)[] {
  return Array.from({ length: hosts }, (_, h) => {
    const first = Math.floor((h * ranks) / hosts);
    const last = Math.floor(((h + 1) * ranks) / hosts) - 1;
    return last >= first ? [first, last] as [number, number] : null;
  });
}

/** Options of {@linkcode runEmulated}. */
export interface EmulatedRunOptions {
  /** Hosts N (2 to 8): the bench on host 0, workers on the others. */
  hosts: number;
  /** Every link's shape. */
  link: LinkShape;
  /** The bench's arguments (without the emulation flags). */
  benchArgs: string[];
  /** The bench's command line before its arguments (deno run ... bench/main.ts). */
  benchCommand: string[];
  /** The worker's command line before its arguments. */
  workerCommand: string[];
  /** Stops the run (the bench gets SIGTERM and keeps what it measured). */
  signal?: AbortSignal;
}

/**
 * Runs the bench across emulated hosts, passing its output through.
 *
 * @param options Hosts, link, commands.
 * @returns The bench's exit code.
 * @throws {ConfigError} Naming --emulate-hosts when namespaces cannot be made here.
 */
export async function runEmulated(options: EmulatedRunOptions): Promise<number> {
  const why = netnsUnavailable();
  if (why) throw new ConfigError("--emulate-hosts", options.hosts, `cannot be used here: ${why}`);
  const netem = netemAvailable();
  const delay = options.link.delay ?? null;
  if (delay && !netem) {
    throw new ConfigError(
      "--link-delay",
      delay,
      "needs sch_netem, which this kernel does not have: links can be limited in bandwidth " +
        "only (htb, tbf)",
    );
  }
  const link = { rate: options.link.rate, shaper: options.link.shaper ?? "htb", delay } as const;
  await using net = await startHosts({ count: options.hosts, link, tag: "e" });
  const network: EmulatedNetwork = {
    emulated: true,
    hosts: options.hosts,
    linkRate: link.rate,
    shaper: delay ? "netem" : link.shaper,
    delay,
    netem,
  };
  console.log(
    `emulated network: ${options.hosts} hosts (${
      net.hosts.map((h) => h.address).join(", ")
    }), links ${link.rate ?? "unshaped"}${link.rate ? ` (${network.shaper})` : ""}, ${
      delay ? `${delay} delay each way` : `no added delay${netem ? "" : " (no sch_netem here)"}`
    }; ` +
      `set up in ${net.setupMs.toFixed(0)} ms`,
  );
  const [exe, ...pre] = options.benchCommand;
  const bench = net.spawn(0, exe, {
    args: [...pre, ...options.benchArgs, "--launcher", "manual", "--node-interface", "eth0"],
    env: {
      [EMULATED_NETWORK_ENV]: JSON.stringify(network),
      [EMULATED_LINKS_ENV]: JSON.stringify(
        {
          names: { bridge: net.bridge, hosts: net.hosts.map((h) => h.name) },
          shaper: link.shaper,
          delay,
          rate: link.rate,
        } satisfies EmulatedLinks,
      ),
    },
    stdout: "piped",
    stderr: "inherit",
  });
  const stop = () => {
    try {
      bench.child.kill("SIGTERM");
    } catch { /* ended */ }
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  // The hosts share this machine's cores: each worker gets its share for GEMM.
  const workerHosts = options.hosts - 1;
  const threads = Math.max(1, Math.floor((navigator.hardwareConcurrency ?? 1) / workerHosts));
  const workers: Deno.ChildProcess[] = [];
  for await (const line of readLines(bench.child.stdout)) {
    console.log(line);
    if (!line.startsWith("PB-WAITING ")) continue;
    const waiting = JSON.parse(line.slice("PB-WAITING ".length)) as {
      runId: string;
      ranks: number;
      servers: string[];
      secretFile: string;
    };
    const [wexe, ...wpre] = options.workerCommand;
    rankRanges(waiting.ranks, workerHosts).forEach((range, i) => {
      if (!range) return;
      workers.push(
        net.spawn(i + 1, wexe, {
          args: [
            ...wpre,
            "--nats",
            waiting.servers.join(","),
            "--run",
            waiting.runId,
            "--ranks",
            `${range[0]}-${range[1]}`,
            "--secret-file",
            waiting.secretFile,
            "--node-index",
            String(i + 1),
          ],
          env: { PHANTOM_BLAS_THREADS: String(threads) },
          stdout: "null",
          stderr: "inherit",
        }).child,
      );
    });
  }
  const status = await bench.child.status;
  options.signal?.removeEventListener("abort", stop);
  return status.code;
}
