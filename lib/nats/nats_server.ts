/**
 * Starts and stops nats-server (Debian package `nats-server`) for runs that are not given a NATS
 * URL: a free port, a generated config (max_payload raised; optionally a cluster listener whose
 * routes can be set later by a config reload), authentication required of every client and route
 * (a token generated per server unless one is given: servers of one cluster share theirs; it
 * lives in the config file, readable by its owner only, never on a command line), and a stop by pid (SIGTERM, then SIGKILL) that
 * callers also run on every stop signal and error. A server never outlives the process that
 * started it: it is tied to it (`setpriv --pdeathsig` where available), and a pid file lets the
 * next start stop a server whose owner died anyway.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { suiteCacheDir } from "../system/cache_dir.ts";
import type { NatsConnectionOptions } from "./connection.ts";
import { freePort, isAlive, spawnTied, stopProcess } from "../system/process.ts";

/** Options of {@linkcode startNatsServer}. */
export interface NatsServerOptions {
  /** The executable. @default "nats-server" */
  binary?: string;
  /** Largest message the server accepts, in bytes. @default 8 MiB */
  maxPayloadBytes?: number;
  /** How long to wait for the server to accept connections, in ms. @default 10000 */
  startTimeoutMs?: number;
  /** The token clients (and, in a cluster, routes) must give. @default a fresh random one */
  token?: string;
  /** Address to listen on (clients and routes). @default "127.0.0.1" */
  hostname?: string;
  /** Join a cluster: its name, and the routes to other servers (settable later). */
  cluster?: { name: string; routes?: string[] };
}

/** A running server. */
export interface NatsServer extends AsyncDisposable {
  /** nats://HOST:PORT */
  readonly url: string;
  /** Its client port. */
  readonly port: number;
  /** The token it requires. */
  readonly token: string;
  /** How to connect to it: its URL and token. */
  readonly connection: NatsConnectionOptions;
  /** nats-route://HOST:PORT of its cluster listener, when in a cluster. */
  readonly routeUrl?: string;
  /** Its process id. */
  readonly pid: number;
  /** max_payload it was started with, in bytes. */
  readonly maxPayloadBytes: number;
  /** Its version line, e.g. "nats-server: v2.9.10". */
  readonly version: string;
  /** Whether the kernel stops it if this process dies (setpriv --pdeathsig). */
  readonly tied: boolean;
  /**
   * How it ended when it ended on its own (killed, crashed) rather than by {@linkcode stop}, e.g.
   * "nats-server (pid 123, 127.0.0.1:4222) died (SIGKILL)"; undefined while it runs.
   */
  death(): string | undefined;
  /**
   * @returns The {@linkcode death} line once the running process ends on its own (never settles
   *   for a stop, or for a process already replaced by {@linkcode restart}).
   */
  whenDead(): Promise<string>;
  /**
   * Starts it again on the same ports, with the same token, routes and config (after it died, or
   * stopping it first), so clients and routes reconnect to the same URLs.
   *
   * @throws {NatsServerError} If it does not start again.
   */
  restart(): Promise<void>;
  /**
   * Replaces its cluster routes by a config reload (the server keeps running).
   *
   * @param routes nats-route:// URLs of the other servers.
   */
  setRoutes(routes: string[]): Promise<void>;
  /** Stops it (SIGTERM, SIGKILL after 3 s) and removes its config. Idempotent. */
  stop(): Promise<void>;
}

/** Raised when nats-server is missing or does not start. */
export class NatsServerError extends Error {
  /** `missing`: the executable is not installed; `failed`: it did not start. */
  readonly reason: "missing" | "failed";

  /**
   * @param message What went wrong and what to do.
   * @param reason Whether the binary is missing or failed to start.
   * @param options The cause.
   */
  constructor(message: string, reason: "missing" | "failed" = "failed", options?: ErrorOptions) {
    super(message, options);
    this.name = "NatsServerError";
    this.reason = reason;
  }
}

/** Where pid files of the servers this suite started live. */
export function natsRegistryDir(): string {
  return `${suiteCacheDir()}/nats-servers`;
}

interface RegistryEntry {
  serverPid: number;
  ownerPid: number;
  configDir: string;
}

/**
 * Stops servers whose owner died without stopping them (a SIGKILLed bench on a host without
 * setpriv), going by the pid files of the registry.
 *
 * @param registry The registry folder. @default natsRegistryDir()
 * @returns The pids stopped.
 */
export async function reapOrphanedServers(registry = natsRegistryDir()): Promise<number[]> {
  const reaped: number[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(registry)];
  } catch {
    return reaped;
  }
  for (const e of entries.filter((x) => x.name.endsWith(".json"))) {
    const path = `${registry}/${e.name}`;
    let entry: RegistryEntry;
    try {
      entry = JSON.parse(await Deno.readTextFile(path));
    } catch {
      continue;
    }
    if (isAlive(entry.ownerPid)) continue;
    // Only a process still running our config: a reused pid is left alone.
    if (isAlive(entry.serverPid) && commandLine(entry.serverPid).includes(entry.configDir)) {
      try {
        Deno.kill(entry.serverPid, "SIGTERM");
        reaped.push(entry.serverPid);
      } catch { /* gone meanwhile */ }
    }
    await Deno.remove(path).catch(() => {});
    // Only a folder this suite made (its name and marker): a stale or planted entry naming any
    // other folder must not make us delete it.
    if (isOurConfigDir(entry.configDir)) {
      await Deno.remove(entry.configDir, { recursive: true }).catch(() => {});
    }
  }
  return reaped;
}

/** The file that marks a config folder as made by {@linkcode startNatsServer}. */
const MARKER = ".phantom-bench-nats-config";

/**
 * @param dir A folder named by a registry entry.
 * @returns Whether it is a config folder this suite made: named phantom-nats-*, holding the marker.
 */
export function isOurConfigDir(dir: unknown): boolean {
  if (typeof dir !== "string" || !/\/phantom-nats-[A-Za-z0-9_]+$/.test(dir)) return false;
  try {
    return Deno.lstatSync(`${dir}/${MARKER}`).isFile && !Deno.lstatSync(dir).isSymlink;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  const out = new Deno.Command("ps", {
    args: ["-o", "args=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  })
    .outputSync();
  return new TextDecoder().decode(out.stdout);
}

/**
 * Starts nats-server on a free port.
 *
 * @param options Binary, max_payload, address, cluster, start timeout.
 * @returns The running server.
 * @throws {NatsServerError} If the binary is missing (with the install command) or it does not start.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? "nats-server";
  const maxPayloadBytes = options.maxPayloadBytes ?? 8 * 1024 * 1024;
  const hostname = options.hostname ?? "127.0.0.1";
  const version = await serverVersion(binary);
  await reapOrphanedServers();
  const dir = await Deno.makeTempDir({ prefix: "phantom-nats-" });
  await Deno.writeTextFile(`${dir}/${MARKER}`, `${Deno.pid}\n`);
  const port = freePort(hostname);
  const clusterPort = options.cluster ? freePort(hostname) : undefined;
  const token = options.token ?? newServerToken();
  // Routes authenticate with the same token (as a password): servers of a cluster share it.
  const routeWithCredentials = (route: string) =>
    route.replace(/^(nats-route:\/\/)/, `$1${ROUTE_USER}:${encodeURIComponent(token)}@`);
  const writeConfig = (routes: string[]) =>
    Deno.writeTextFile(
      `${dir}/nats.conf`,
      [
        `listen: ${hostname}:${port}`,
        `max_payload: ${maxPayloadBytes}`,
        // max_pending must be at least max_payload; leave room for many messages in flight.
        `max_pending: ${Math.max(64 * 1024 * 1024, 8 * maxPayloadBytes)}`,
        `write_deadline: "30s"`,
        `authorization { token: ${JSON.stringify(token)} }`,
        ...(options.cluster
          ? [
            `cluster {`,
            `  name: ${JSON.stringify(options.cluster.name)}`,
            `  listen: ${hostname}:${clusterPort}`,
            `  authorization { user: ${ROUTE_USER}, password: ${JSON.stringify(token)} }`,
            `  routes: [${routes.map((r) => JSON.stringify(routeWithCredentials(r))).join(", ")}]`,
            `}`,
          ]
          : []),
        "",
      ].join("\n"),
    );
  await writeConfig(options.cluster?.routes ?? []);
  await Deno.mkdir(natsRegistryDir(), { recursive: true });
  /** One process of the server: spawned from the config, registered, its log drained. */
  const launch = async () => {
    const { child, tied } = spawnTied(binary, {
      args: ["-c", `${dir}/nats.conf`],
      stdout: "null",
      stderr: "piped",
      stdin: "null",
    });
    // Drain the server's log for good: a closed pipe would kill it (SIGPIPE) at its next log line.
    const log = drain(child.stderr);
    const registry = `${natsRegistryDir()}/${child.pid}.json`;
    await Deno.writeTextFile(
      registry,
      JSON.stringify(
        { serverPid: child.pid, ownerPid: Deno.pid, configDir: dir } satisfies RegistryEntry,
      ),
    );
    const process = {
      child,
      tied,
      log,
      registry,
      ended: undefined as Deno.CommandStatus | undefined,
      status: child.status,
    };
    child.status.then((s) => (process.ended = s));
    return process;
  };
  let current = await launch();
  let stopped = false;
  const end = async (process: typeof current) => {
    await stopProcess(process.child, 3000);
    await process.log.done;
    await Deno.remove(process.registry).catch(() => {});
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await end(current);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const started = async (process: typeof current) => {
    try {
      await waitForPort(hostname, port, options.startTimeoutMs ?? 10_000, process.status);
    } catch (error) {
      await stop();
      throw new NatsServerError(
        `nats-server did not start on port ${port}: ${
          (error as Error).message
        }\n${process.log.tail()}`,
      );
    }
  };
  await started(current);
  const deathOf = (process: typeof current) =>
    `nats-server (pid ${process.child.pid}, ${hostname}:${port}) died (${
      process.ended!.signal ?? `exit code ${process.ended!.code}`
    })`;
  return {
    url: `nats://${hostname}:${port}`,
    port,
    token,
    connection: { servers: `nats://${hostname}:${port}`, token },
    routeUrl: clusterPort ? `nats-route://${hostname}:${clusterPort}` : undefined,
    get pid() {
      return current.child.pid;
    },
    maxPayloadBytes,
    version,
    get tied() {
      return current.tied;
    },
    death: () => current.ended && !stopped ? deathOf(current) : undefined,
    whenDead() {
      const process = current;
      // Never settles for a server stopped on purpose.
      return process.status.then(() =>
        stopped || process !== current ? new Promise<string>(() => {}) : deathOf(process)
      );
    },
    async restart() {
      if (stopped) throw new NatsServerError("Cannot restart: the server was stopped");
      if (!current.ended) await end(current);
      else await Deno.remove(current.registry).catch(() => {});
      current = await launch();
      await started(current);
    },
    async setRoutes(routes) {
      if (!options.cluster) {
        throw new NatsServerError("Cannot set routes: this server is not in a cluster");
      }
      await writeConfig(routes);
      const { child, log } = current;
      const reloads = () => log.tail().split("Reloaded server configuration").length;
      const before = reloads();
      child.kill("SIGHUP"); // reload: nats-server applies new routes without a restart
      const deadline = Date.now() + 5000;
      while (reloads() === before && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      if (reloads() === before) {
        throw new NatsServerError(`nats-server ${child.pid} did not reload its routes`);
      }
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** The user name routes between the suite's servers authenticate as. */
const ROUTE_USER = "pb-route";

/** @returns A fresh server token: 24 random bytes, URL-safe. */
export function newServerToken(): string {
  return randomBytes(24).toString("base64url");
}

async function serverVersion(binary: string): Promise<string> {
  try {
    const out = await new Deno.Command(binary, {
      args: ["--version"],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new NatsServerError(
        `Cannot start NATS: ${binary} not found. Install it (Debian/Ubuntu: ` +
          "`sudo apt-get install nats-server`) or point the suite at a running server with --nats URL",
        "missing",
        { cause: error },
      );
    }
    throw error;
  }
}

async function waitForPort(
  hostname: string,
  port: number,
  timeoutMs: number,
  exited: Promise<Deno.CommandStatus>,
) {
  const deadline = Date.now() + timeoutMs;
  let done: Deno.CommandStatus | undefined;
  exited.then((s) => (done = s));
  while (Date.now() < deadline) {
    if (done) throw new Error(`the process exited with code ${done.code}`);
    try {
      const conn = await Deno.connect({ hostname, port }); // accepting: up
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`no connection after ${timeoutMs} ms`);
}

/** Reads a stream to its end, keeping the last 8 KiB of text. */
function drain(stream: ReadableStream<Uint8Array>): { tail: () => string; done: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) text = (text + decoder.decode(chunk)).slice(-8192);
  })().catch(() => {});
  return { tail: () => text, done };
}
