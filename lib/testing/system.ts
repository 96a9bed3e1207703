/**
 * Tests that need a system package (nats-server, chromium, a C compiler, Slurm, OpenBLAS,
 * numpy): each declares what it needs; where that is missing the test is reported as ignored,
 * with the reason and the install command in its name, instead of failing. `.ci/run` installs
 * them all, so CI runs everything. Also the one place NATS tests get their sanitiser options and
 * a shared server that is stopped (and checked gone) after the file's last test.
 *
 * @module
 */

import { type NatsServer, type NatsServerOptions, startNatsServer } from "../nats/nats_server.ts";
import { isAlive } from "../system/process.ts";

/** A system package a test needs, and whether it is here. */
export interface Requirement {
  /** What is needed, e.g. "nats-server". */
  readonly name: string;
  /** Whether it is missing on this machine. */
  readonly missing: boolean;
  /** How to install it. */
  readonly install: string;
}

/**
 * Whether an executable is on PATH.
 *
 * @param command A command name or path.
 * @returns True if it is found and executable.
 */
export function hasCommand(command: string): boolean {
  const dirs = command.includes("/") ? [""] : (Deno.env.get("PATH") ?? "").split(":");
  return dirs.some((dir) => {
    try {
      const info = Deno.statSync(dir ? `${dir}/${command}` : command);
      return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
    } catch {
      return false;
    }
  });
}

/**
 * A requirement on an executable.
 *
 * @param command The executable.
 * @param install How to install it.
 * @returns The requirement.
 */
export function requireCommand(command: string, install: string): Requirement {
  return { name: command, missing: !hasCommand(command), install };
}

/** nats-server (Debian package nats-server). */
export const NATS_SERVER: Requirement = requireCommand(
  "nats-server",
  "apt-get install nats-server",
);
/** Headless Chromium (Debian package chromium). */
export const CHROMIUM: Requirement = requireCommand("chromium", "apt-get install chromium");
/** A C compiler (for the fake NVML library). */
export const C_COMPILER: Requirement = requireCommand("cc", "apt-get install gcc");

/** python3 with numpy (Debian package python3-numpy), for the numpy peer. */
export const NUMPY: Requirement = {
  name: "python3 with numpy",
  install: "apt-get install python3-numpy",
  missing: (() => {
    try {
      return !new Deno.Command("python3", {
        args: ["-c", "import numpy"],
        stdout: "null",
        stderr: "null",
      })
        .outputSync().success;
    } catch {
      return true;
    }
  })(),
};

/**
 * Registers a test that is ignored, with the reason in its name, where a requirement is missing.
 *
 * @param needs What the test needs.
 * @param definition The test.
 */
export function systemTest(
  needs: Requirement[],
  definition: Deno.TestDefinition & { deadlineMs?: number },
): void {
  const missing = needs.filter((r) => r.missing);
  const reason = missing.map((r) => `${r.name} is not installed (${r.install})`).join("; ");
  const { deadlineMs = SYSTEM_TEST_DEADLINE_MS, fn, ...rest } = definition;
  Deno.test({
    ...rest,
    name: missing.length ? `${definition.name} [skipped: ${reason}]` : definition.name,
    ignore: definition.ignore || missing.length > 0,
    fn: (t) => withDeadline(definition.name, deadlineMs, () => fn(t)),
  });
}

/** How long a system test may run before it fails by name (a hang is a failure, not a wait). */
export const SYSTEM_TEST_DEADLINE_MS = 240_000;

/**
 * Runs `fn`, failing with the test's name if it has not settled within `ms`.
 *
 * @param name The test's name, for the error.
 * @param ms The deadline, in ms.
 * @param fn The test body.
 * @returns What `fn` returns.
 * @throws {Error} "NAME: no result within N s" past the deadline; whatever `fn` throws.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withDeadline } from "./system.ts";
 * await assert.rejects(() => withDeadline("slow", 10, () => new Promise(() => {})), /slow: no result within 0.01 s/);
 * assert.equal(await withDeadline("fast", 1000, () => 1), 1);
 * ```
 */
export async function withDeadline<T>(
  name: string,
  ms: number,
  fn: () => T | Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${name}: no result within ${ms / 1000} s (deadline)`)),
      ms,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(fn), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Tests over real sockets and subprocesses keep resources across awaits on purpose. */
export const NO_SANITIZERS = { sanitizeOps: false, sanitizeResources: false } as const;

/**
 * Registers a test that needs nats-server (sanitisers off: it keeps connections across steps).
 *
 * @param name The test name.
 * @param fn The test.
 * @param needs Further requirements.
 */
export function natsTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void> | void,
  needs: Requirement[] = [],
): void {
  systemTest([NATS_SERVER, ...needs], { ...NO_SANITIZERS, name, fn });
}

/**
 * A nats-server for one test file, started now (when nats-server is installed) and stopped after
 * the file's last test, which also checks that its process is gone.
 *
 * @param options Server options.
 * @returns The server, or undefined where nats-server is missing (its tests are ignored).
 */
export async function fileNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  if (NATS_SERVER.missing) return undefined as unknown as NatsServer;
  const server = await startNatsServer(options);
  Deno.test.afterAll(async () => {
    await server.stop();
    if (isAlive(server.pid)) throw new Error(`nats-server ${server.pid} still runs after stop`);
  });
  return server;
}

/**
 * Registers a test that runs the suite's programs (no system package needed) with a deadline
 * that fails it by name: a hang of a subprocess is a failure, not a wait.
 *
 * @param name The test name.
 * @param fn The test.
 * @param deadlineMs The deadline. @default SYSTEM_TEST_DEADLINE_MS
 */
export function deadlineTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  deadlineMs = SYSTEM_TEST_DEADLINE_MS,
): void {
  systemTest([], { name, fn, deadlineMs });
}
