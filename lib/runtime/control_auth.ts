/**
 * Authenticated control messages. Every run has keys derived from a secret that only the
 * coordinator and the run's ranks hold (generated per bench invocation, handed to workers in
 * their environment or a file, never on a command line): the run's subject namespace, so a
 * process listening on the server cannot learn the run id, and a MAC key. Every control message
 * carries its sender, a sequence number per sender and subject, and an HMAC-SHA256 over subject,
 * sender, sequence and body; a receiver rejects a message whose MAC does not verify (forged, or
 * from another run) or whose sequence does not increase (replayed), naming the subject.
 *
 * Wire form: one header line `PB1 <sender> <seq> <mac hex>`, a newline, then the JSON body.
 *
 * @module
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { ConfigError } from "../config/config_error.ts";

/** The variable that carries a run secret to worker processes. */
export const RUN_SECRET_ENV = "PHANTOM_RUN_SECRET";

/** A secret's form: 64 hexadecimal digits (32 random bytes). */
const SECRET_PATTERN = /^[0-9a-f]{64}$/;

/** @returns A fresh secret: 32 random bytes as 64 hexadecimal digits. */
export function newRunSecret(): string {
  return randomBytes(32).toString("hex");
}

/**
 * Checks a secret's form.
 *
 * @param text The secret (surrounding white space is ignored: files end in a newline).
 * @param field Where it came from, for the error.
 * @returns The secret.
 * @throws {ConfigError} Naming `field` (never the value) if it is not 64 hexadecimal digits.
 */
export function checkRunSecret(text: string, field: string): string {
  const secret = text.trim().toLowerCase();
  if (!SECRET_PATTERN.test(secret)) {
    throw new ConfigError(
      field,
      `(${secret.length} characters, not shown)`,
      "must be a run secret: 64 hexadecimal digits (32 random bytes), as the bench writes it",
    );
  }
  return secret;
}

/**
 * The text of a secret file for workers started by hand: the run secret, and the token of the
 * server the bench started (which the user cannot know otherwise).
 *
 * @param secret The run secret.
 * @param natsToken The server's token, if any.
 * @returns The file's text.
 */
export function formatSecretFile(secret: string, natsToken?: string): string {
  return `${secret}\n${natsToken ? `nats-token ${natsToken}\n` : ""}`;
}

/**
 * Reads a secret file ({@linkcode formatSecretFile}; a file holding only the secret is fine).
 *
 * @param text The file's text.
 * @param field Where it came from, for errors.
 * @returns The secret and the server token, if the file has one.
 * @throws {ConfigError} Naming `field` (never the values) if it is malformed.
 */
export function parseSecretFile(
  text: string,
  field: string,
): { secret: string; natsToken?: string } {
  const [first = "", ...rest] = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const secret = checkRunSecret(first, field);
  const token = rest.find((l) => l.startsWith("nats-token "))?.slice("nats-token ".length).trim();
  if (rest.some((l) => !l.startsWith("nats-token "))) {
    throw new ConfigError(
      field,
      "(not shown)",
      "has a line that is neither the secret nor nats-token",
    );
  }
  return token ? { secret, natsToken: token } : { secret };
}

/** The keys of one run. */
export interface RunKeys {
  /** The run's subject namespace (letters and digits): `pb.<namespace>.…`. */
  readonly namespace: string;
  /** The MAC key. */
  readonly macKey: Uint8Array;
}

/**
 * Derives a run's keys from the secret and the run id.
 *
 * @param secret The secret (64 hexadecimal digits).
 * @param runId The run id.
 * @returns Its namespace and MAC key.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runKeys } from "./control_auth.ts";
 * const secret = "ab".repeat(32);
 * assert.equal(runKeys(secret, "run-1").namespace, runKeys(secret, "run-1").namespace);
 * assert.notEqual(runKeys(secret, "run-1").namespace, runKeys(secret, "run-2").namespace);
 * assert.ok(!runKeys(secret, "run-1").namespace.includes("run"));
 * ```
 */
export function runKeys(secret: string, runId: string): RunKeys {
  const key = Buffer.from(checkRunSecret(secret, "run secret"), "hex");
  const derive = (purpose: string) =>
    createHmac("sha256", key).update(`${purpose}\0${runId}`).digest();
  return {
    namespace: `r${derive("namespace").toString("hex").slice(0, 24)}`,
    macKey: new Uint8Array(derive("mac")),
  };
}

/** A control message that did not verify. */
export class ControlRejectedError extends Error {
  /** The subject it came on. */
  readonly subject: string;

  /**
   * @param subject The subject.
   * @param reason Why it was rejected.
   */
  constructor(subject: string, reason: string) {
    super(`Rejected a control message on ${subject}: ${reason}`);
    this.name = "ControlRejectedError";
    this.subject = subject;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function mac(key: Uint8Array, subject: string, sender: string, seq: number, body: Uint8Array) {
  return createHmac("sha256", key)
    .update(`${subject}\n${sender}\n${seq}\n`)
    .update(body)
    .digest();
}

/** Seals the messages one sender publishes. */
export class ControlSealer {
  readonly #key: Uint8Array;
  readonly #sender: string;
  readonly #seq = new Map<string, number>();

  /**
   * @param keys The run's keys.
   * @param role What the sender is (e.g. "coordinator", "ranks"), made unique with random digits.
   */
  constructor(keys: RunKeys, role: string) {
    this.#key = keys.macKey;
    this.#sender = `${role.replace(/[^A-Za-z0-9_-]/g, "_")}-${randomBytes(6).toString("hex")}`;
  }

  /**
   * @param subject The subject it goes to.
   * @param value A JSON-serialisable body.
   * @returns The sealed message.
   */
  seal(subject: string, value: unknown): Uint8Array {
    const seq = (this.#seq.get(subject) ?? 0) + 1;
    this.#seq.set(subject, seq);
    const body = encoder.encode(JSON.stringify(value));
    const header = encoder.encode(
      `PB1 ${this.#sender} ${seq} ${
        mac(this.#key, subject, this.#sender, seq, body).toString("hex")
      }\n`,
    );
    const out = new Uint8Array(header.length + body.length);
    out.set(header);
    out.set(body, header.length);
    return out;
  }
}

/** Largest control message accepted, in bytes (a rank's result with every step is far smaller). */
export const MAX_CONTROL_BYTES = 16 * 1024 * 1024;

/** Verifies the messages a receiver gets, and remembers each sender's last sequence number. */
export class ControlOpener {
  readonly #key: Uint8Array;
  readonly #last = new Map<string, number>();

  /** @param keys The run's keys. */
  constructor(keys: RunKeys) {
    this.#key = keys.macKey;
  }

  /**
   * @param subject The subject it came on.
   * @param data The message.
   * @returns The body's bytes (JSON).
   * @throws {ControlRejectedError} Naming the subject if it is malformed, does not verify, or
   *   repeats an earlier message.
   */
  open(subject: string, data: Uint8Array): Uint8Array {
    if (data.length > MAX_CONTROL_BYTES) {
      throw new ControlRejectedError(
        subject,
        `${data.length} bytes, more than any control message`,
      );
    }
    const newline = data.indexOf(10);
    const header = newline > 0 && newline <= 200 ? decoder.decode(data.subarray(0, newline)) : "";
    const m = header.match(/^PB1 ([A-Za-z0-9_-]{1,80}) ([1-9][0-9]{0,15}) ([0-9a-f]{64})$/);
    if (!m) throw new ControlRejectedError(subject, "no authentication header (not from this run)");
    const [, sender, seqText, macHex] = m;
    const seq = Number(seqText);
    const body = data.subarray(newline + 1);
    const expected = mac(this.#key, subject, sender, seq, body);
    if (!timingSafeEqual(expected, Buffer.from(macHex, "hex"))) {
      throw new ControlRejectedError(subject, "its MAC does not verify (forged, or another run's)");
    }
    const key = `${sender}\n${subject}`;
    const last = this.#last.get(key) ?? 0;
    if (seq <= last) {
      throw new ControlRejectedError(
        subject,
        `sequence ${seq} of sender ${sender} after ${last} (a replay)`,
      );
    }
    this.#last.set(key, seq);
    return body;
  }
}
