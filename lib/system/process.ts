/**
 * Process helpers every part of the suite shares: this process's CPU time, stopping a child
 * process (SIGTERM, then SIGKILL after a grace period), and a free loopback port.
 *
 * @module
 */

import process from "node:process";

/**
 * This process's CPU time, user plus system, all threads.
 *
 * @returns Milliseconds since the process started.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processCpuMs } from "./process.ts";
 * assert(processCpuMs() > 0);
 * ```
 */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** A child process that can be signalled and awaited (Deno.ChildProcess fits). */
export interface Stoppable {
  /** Sends a signal; throws if the process is gone. */
  kill(signal: Deno.Signal): void;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
}

/**
 * Stops a child: SIGTERM, then SIGKILL if it has not exited after `graceMs`. Safe on a child that
 * already exited.
 *
 * @param child The process.
 * @param graceMs How long it may take to exit after SIGTERM, in ms. @default 2000
 * @returns Its exit status.
 */
export async function stopProcess(child: Stoppable, graceMs = 2000): Promise<Deno.CommandStatus> {
  const send = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already exited */ }
  };
  send("SIGTERM");
  const timer = setTimeout(() => send("SIGKILL"), graceMs);
  try {
    return await child.status;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Finds a free TCP port on the loopback interface.
 *
 * @param hostname The interface. @default "127.0.0.1"
 * @returns A port number that was free a moment ago.
 */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Whether a process is running (a zombie counts as gone). Uses `ps`: Deno needs --allow-all to
 * read /proc.
 *
 * @param pid The process id.
 * @returns True while it runs.
 */
export function isAlive(pid: number): boolean {
  const out = new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  })
    .outputSync();
  const state = new TextDecoder().decode(out.stdout).trim();
  return out.success && state !== "" && !state.startsWith("Z");
}
