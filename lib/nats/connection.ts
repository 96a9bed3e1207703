/**
 * The one place NATS connections are made: typed, validated options for real clusters (server
 * URLs, token, user/password, nkey seed, credentials file, TLS) and a description of them that
 * never contains a secret, for results and logs.
 *
 * @module
 */

import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
} from "@nats-io/transport-node";
import { ConfigError } from "../config/config_error.ts";
import { withTimeout } from "../system/timeout.ts";

/** How to reach and authenticate to NATS. */
export interface NatsConnectionOptions {
  /** Server URL(s), e.g. "nats://10.0.0.1:4222". */
  servers: string | string[];
  /** Token authentication. */
  token?: string;
  /** User name (with `password`). */
  user?: string;
  /** Password (with `user`). */
  password?: string;
  /** Path of a file holding an nkey seed ("SU..."). */
  nkeySeedFile?: string;
  /** Path of a .creds file (JWT and nkey seed). */
  credsFile?: string;
  /** TLS: CA, client certificate and key files. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Connection name shown by the server (e.g. "run-x rank 3"). */
  name?: string;
  /** Try the servers in the order given (e.g. this node's own server first) instead of shuffled. */
  preferFirst?: boolean;
}

/**
 * Validates the options and connects. The connection does not receive its own messages
 * (`noEcho`): every collective publishes once and never needs its own copy back.
 *
 * @param options Servers and credentials.
 * @returns The connection.
 * @throws {ConfigError} If the options are inconsistent (e.g. a user without a password).
 */
export async function connectNats(options: NatsConnectionOptions): Promise<NatsConnection> {
  const servers = validateServers(options.servers);
  if ((options.user === undefined) !== (options.password === undefined)) {
    throw new ConfigError(
      "nats.user",
      options.user ?? "(none)",
      "and nats.password must be given together",
    );
  }
  const auths = [options.token, options.user, options.nkeySeedFile, options.credsFile].filter((v) =>
    v !== undefined
  );
  if (auths.length > 1) {
    throw new ConfigError("nats", describeNats(options), "must use one authentication method");
  }
  guardSocketResets();
  const authenticator = options.credsFile
    ? credsAuthenticator(await Deno.readFile(options.credsFile))
    : options.nkeySeedFile
    ? nkeyAuthenticator(
      new TextEncoder().encode((await Deno.readTextFile(options.nkeySeedFile)).trim()),
    )
    : undefined;
  return await connect({
    servers,
    name: options.name,
    noEcho: true,
    noRandomize: options.preferFirst ?? false,
    token: options.token,
    user: options.user,
    pass: options.password,
    authenticator,
    tls: options.tls ? { ...options.tls } : undefined,
    maxReconnectAttempts: 10,
    // Hundreds of ranks starting on a few cores can starve a process for many seconds: be
    // patient before declaring the connection stale (2 minutes).
    pingInterval: 30_000,
    maxPingOut: 4,
  });
}

/**
 * Connects once and closes again: what a sweep does before its first point, so wrong
 * credentials or an unreachable server stop it with one line instead of failing every point.
 *
 * @param options Servers and credentials.
 * @param timeoutMs How long to try. @default 10000
 * @throws {ConfigError} Naming the flag at fault (--nats, or the credentials) and the reason.
 */
export async function checkNatsReachable(
  options: NatsConnectionOptions,
  timeoutMs = 10_000,
): Promise<void> {
  try {
    const nc = await withTimeout(connectNats({ ...options, name: "pb preflight" }), timeoutMs);
    await nc.close();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason = (error as Error).message;
    const auth = /authori[sz]ation|authentication|permissions/i.test(reason);
    throw new ConfigError(
      auth ? "--nats credentials" : "--nats",
      describeNats(options),
      auth
        ? `were refused by the server (${reason}): check --nats-token, --nats-user and ` +
          "--nats-password, --nats-creds or --nats-nkey (or their PHANTOM_NATS_* variables)"
        : `cannot be reached (${reason})`,
    );
  }
}

let guarded = false;

/**
 * A server that refuses a connection (wrong credentials) closes it at once; nats.js has already
 * removed its socket's listeners, so the reset that follows would be an uncaught error that kills
 * the process (`read ECONNRESET`, a stack trace, the point lost). Resets of a socket are no news
 * to NATS (it sees the connection close by itself): they are kept from killing the process.
 */
function guardSocketResets(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("error", (event) => {
    const error = event.error as { code?: unknown; syscall?: unknown } | undefined;
    if (error?.code === "ECONNRESET" || error?.code === "EPIPE") event.preventDefault();
  });
}

/**
 * Checks server URLs.
 *
 * @param servers One URL or several.
 * @returns The URLs as a list.
 * @throws {ConfigError} Naming nats.servers if one is not a URL like nats://host:4222, or carries
 *   credentials (user:password@ or token@; the value is shown with them masked).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateServers } from "./connection.ts";
 * assert.deepEqual(validateServers("nats://h:4222"), ["nats://h:4222"]);
 * assert.throws(() => validateServers("nats://s3cret@h:4222"), (e: Error) =>
 *   e.message.includes("must not carry credentials") && !e.message.includes("s3cret"));
 * ```
 */
export function validateServers(servers: string | string[]): string[] {
  const list = Array.isArray(servers) ? servers : [servers];
  if (list.length === 0 || list.some((s) => !/^((nats|tls|ws|wss):\/\/)?[^\s/]+\/?$/.test(s))) {
    throw new ConfigError(
      "nats.servers",
      servers,
      "must be one or more URLs like nats://host:4222",
    );
  }
  // A token or password in the URL is not how this suite authenticates (it would not be used),
  // and it would travel on every worker's command line and into logs: refuse it, naming no secret.
  const withCredentials = list.find((s) => /^(?:[a-z]+:\/\/)?[^/@\s]+@/.test(s));
  if (withCredentials) {
    throw new ConfigError(
      "nats.servers",
      withCredentials.replace(/^((?:[a-z]+:\/\/)?)[^/@\s]+@/, "$1***@"),
      "must not carry credentials: give them with --nats-token, --nats-user/--nats-password or " +
        "--nats-creds (or the PHANTOM_NATS_* variables)",
    );
  }
  return list;
}

/**
 * Describes the options without secrets: servers and the kind of authentication only.
 *
 * @param options The options.
 * @returns E.g. "nats://h:4222 (user alice, password)".
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeNats } from "./connection.ts";
 * const text = describeNats({ servers: "nats://h:4222", token: "s3cret" });
 * assert(!text.includes("s3cret") && text.includes("token"));
 * ```
 */
export function describeNats(options: NatsConnectionOptions): string {
  const servers = redactServers(options.servers);
  const auth = options.token
    ? "token"
    : options.user
    ? `user ${options.user}, password`
    : options.nkeySeedFile
    ? "nkey"
    : options.credsFile
    ? "credentials file"
    : "no auth";
  return `${servers} (${auth}${options.tls ? ", TLS" : ""})`;
}

/**
 * Removes credentials (user:password@) from server URLs.
 *
 * @param servers One URL, a comma-separated list, or several.
 * @returns The same URLs without credentials, comma-separated.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactServers } from "./connection.ts";
 * assert(redactServers("nats://u:pw@a:1,nats://b:2") === "nats://a:1,nats://b:2");
 * ```
 */
export function redactServers(servers: string | string[]): string {
  const list = Array.isArray(servers) ? servers : servers.split(",");
  return list.map((url) => url.trim().replace(/\/\/[^@/]*@/, "//")).join(",");
}

/** Authentication and TLS options as command-line flags (and PHANTOM_NATS_* variables). */
export const NATS_AUTH_FLAGS = [
  "token",
  "user",
  "password",
  "creds",
  "nkey",
  "tls-ca",
  "tls-cert",
  "tls-key",
] as const;

/** One of {@linkcode NATS_AUTH_FLAGS}. */
export type NatsAuthFlag = typeof NATS_AUTH_FLAGS[number];

/**
 * The environment variable that carries an authentication flag to worker processes.
 *
 * @param flag The flag.
 * @returns E.g. `PHANTOM_NATS_TLS_CA` for `tls-ca`.
 */
export function natsEnvName(flag: NatsAuthFlag): string {
  return `PHANTOM_NATS_${flag.toUpperCase().replace("-", "_")}`;
}

/**
 * Builds connection options from flag values (see lib/cli/nats_flags.ts, which also reads the
 * `PHANTOM_NATS_*` variables the launcher uses to hand credentials to worker processes without
 * putting them on a command line).
 *
 * @param servers Comma-separated URLs.
 * @param flags Flag values by name.
 * @returns Options (servers checked; the rest on connect).
 * @throws {ConfigError} If a server URL is malformed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { natsConnectionFromFlags } from "./connection.ts";
 * const o = natsConnectionFromFlags("nats://h:4222", { token: "t" });
 * assert(o.token === "t");
 * ```
 */
export function natsConnectionFromFlags(
  servers: string,
  flags: Partial<Record<NatsAuthFlag, string>>,
): NatsConnectionOptions {
  const tls = [flags["tls-ca"], flags["tls-cert"], flags["tls-key"]];
  return {
    servers: validateServers(servers.split(",")),
    token: flags.token,
    user: flags.user,
    password: flags.password,
    credsFile: flags.creds,
    nkeySeedFile: flags.nkey,
    tls: tls.some(Boolean) ? { caFile: tls[0], certFile: tls[1], keyFile: tls[2] } : undefined,
  };
}

/**
 * The PHANTOM_NATS_* variables that carry a connection's credentials to a child process.
 *
 * @param options The connection.
 * @returns Variables to add to the child's environment.
 */
export function natsConnectionEnv(options: NatsConnectionOptions): Record<string, string> {
  const values: Partial<Record<NatsAuthFlag, string>> = {
    token: options.token,
    user: options.user,
    password: options.password,
    creds: options.credsFile,
    nkey: options.nkeySeedFile,
    "tls-ca": options.tls?.caFile,
    "tls-cert": options.tls?.certFile,
    "tls-key": options.tls?.keyFile,
  };
  return Object.fromEntries(
    Object.entries(values).filter(([, v]) => v !== undefined).map((
      [k, v],
    ) => [natsEnvName(k as NatsAuthFlag), v!]),
  );
}
