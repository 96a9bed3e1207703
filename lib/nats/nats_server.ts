/**
 * Starts and stops a local nats-server (Debian package `nats-server`) for runs that are not given
 * a NATS URL: a free loopback port, a generated config that raises max_payload, and a stop by pid
 * (SIGTERM, then SIGKILL) that callers also run on Ctrl-C and on errors.
 *
 * @module
 */

import { freePort, stopProcess } from "../system/process.ts";

/** Options of {@linkcode startNatsServer}. */
export interface NatsServerOptions {
  /** The executable. @default "nats-server" */
  binary?: string;
  /** Largest message the server accepts, in bytes. @default 8 MiB */
  maxPayloadBytes?: number;
  /** How long to wait for the server to accept connections, in ms. @default 10000 */
  startTimeoutMs?: number;
  /** Require this token from clients (for tests of authenticated connections). */
  token?: string;
}

/** A running server. */
export interface NatsServer extends AsyncDisposable {
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  /** Its port. */
  readonly port: number;
  /** Its process id. */
  readonly pid: number;
  /** max_payload it was started with, in bytes. */
  readonly maxPayloadBytes: number;
  /** Its version line, e.g. "nats-server: v2.9.10". */
  readonly version: string;
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

/**
 * Starts nats-server on a free loopback port.
 *
 * @param options Binary, max_payload, start timeout.
 * @returns The running server.
 * @throws {NatsServerError} If the binary is missing (with the install command) or it does not start.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? "nats-server";
  const maxPayloadBytes = options.maxPayloadBytes ?? 8 * 1024 * 1024;
  const version = await serverVersion(binary);
  const dir = await Deno.makeTempDir({ prefix: "phantom-nats-" });
  const port = freePort();
  const config = [
    `listen: 127.0.0.1:${port}`,
    `max_payload: ${maxPayloadBytes}`,
    // max_pending must be at least max_payload; leave room for many messages in flight.
    `max_pending: ${Math.max(64 * 1024 * 1024, 8 * maxPayloadBytes)}`,
    `write_deadline: "30s"`,
    ...(options.token ? [`authorization { token: ${JSON.stringify(options.token)} }`] : []),
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/nats.conf`, config);
  const child = new Deno.Command(binary, {
    args: ["-c", `${dir}/nats.conf`],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  // Drain the server's log for good: a closed pipe would kill it (SIGPIPE) at its next log line.
  const log = drain(child.stderr);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopProcess(child, 3000);
    await log.done;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitForPort(port, options.startTimeoutMs ?? 10_000, child.status);
  } catch (error) {
    await stop();
    throw new NatsServerError(
      `nats-server did not start on port ${port}: ${(error as Error).message}\n${log.tail()}`,
    );
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    maxPayloadBytes,
    version,
    stop,
    [Symbol.asyncDispose]: stop,
  };
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

async function waitForPort(port: number, timeoutMs: number, exited: Promise<Deno.CommandStatus>) {
  const deadline = Date.now() + timeoutMs;
  let done: Deno.CommandStatus | undefined;
  exited.then((s) => (done = s));
  while (Date.now() < deadline) {
    if (done) throw new Error(`the process exited with code ${done.code}`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port }); // accepting: up
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`no connection after ${timeoutMs} ms`);
}

/** Reads a stream to its end, keeping the last 4 KiB of text. */
function drain(stream: ReadableStream<Uint8Array>): { tail: () => string; done: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) text = (text + decoder.decode(chunk)).slice(-4096);
  })().catch(() => {});
  return { tail: () => text, done };
}
