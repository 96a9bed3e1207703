/**
 * NATS connection flags shared by every command that talks to NATS (`bench`, `bench:comm`,
 * `worker`): the servers and one authentication method (token, user and password, credentials
 * file, nkey seed file) with TLS files. Each authentication flag falls back to its
 * `PHANTOM_NATS_*` variable, which is how the local launcher hands credentials to worker
 * processes without putting them on a command line.
 *
 * @module
 */

import {
  NATS_AUTH_FLAGS,
  type NatsAuthFlag,
  natsConnectionFromFlags,
  type NatsConnectionOptions,
  natsEnvName,
} from "../nats/connection.ts";
import { type Flag, flag } from "./flags.ts";

const HELP: Record<NatsAuthFlag, [string, string]> = {
  token: ["T", "NATS token authentication"],
  user: ["U", "NATS user (with the password)"],
  password: ["P", "NATS password"],
  creds: ["FILE", "NATS credentials file (JWT and nkey seed)"],
  nkey: ["FILE", "file holding an NATS nkey seed"],
  "tls-ca": ["FILE", "TLS: CA certificate"],
  "tls-cert": ["FILE", "TLS: client certificate"],
  "tls-key": ["FILE", "TLS: client key"],
};

/** The authentication flags with a name prefix, e.g. `nats-token` for prefix `nats-`. */
export type NatsAuthFlags<P extends string> = {
  [K in NatsAuthFlag as `${P}${K}`]: Flag<string, false>;
};

/**
 * The authentication and TLS flags (never written to results or logs).
 *
 * @param prefix Prefix of the flag names (`nats-` in `bench`, none in `worker`).
 * @param group Help heading.
 * @returns The flag table.
 */
export function natsAuthFlags<P extends string>(
  prefix: P,
  group = "NATS options",
): NatsAuthFlags<P> {
  return Object.fromEntries(NATS_AUTH_FLAGS.map((f) => {
    const [arg, help] = HELP[f];
    return [`${prefix}${f}`, flag.string({ group, arg, help, env: natsEnvName(f) })];
  })) as NatsAuthFlags<P>;
}

/**
 * Connection options from the servers and the authentication flags' values.
 *
 * @param servers Comma-separated URLs.
 * @param values Parsed values of {@linkcode natsAuthFlags} with the same prefix.
 * @param prefix The prefix used.
 * @returns The options.
 * @throws {ConfigError} If a server URL is malformed.
 */
export function natsConnectionFromValues(
  servers: string,
  values: Record<string, unknown>,
  prefix = "",
): NatsConnectionOptions {
  return natsConnectionFromFlags(
    servers,
    Object.fromEntries(
      NATS_AUTH_FLAGS.map((f) => [f, values[`${prefix}${f}`] as string | undefined]),
    ),
  );
}
