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

/**
 * When a process started, in ms since the epoch, never later than the truth: from `ps -o etimes`
 * (whole seconds elapsed), so up to a second early. Undefined for a pid that is gone. (ps, not
 * /proc/PID/stat: Deno lets only --allow-all read another process's /proc entries.)
 *
 * @param pid The process.
 * @returns Its start time, or undefined.
 */
export function processStartMs(pid: number): number | undefined {
  const now = Date.now();
  try {
    const out = new Deno.Command("ps", {
      args: ["-o", "etimes=", "-p", String(pid)],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const seconds = Number(new TextDecoder().decode(out.stdout).trim());
    if (!out.success || !Number.isInteger(seconds)) return undefined;
    return now - (seconds + 1) * 1000;
  } catch {
    return undefined;
  }
}

let setprivPath: string | null | undefined;

/** Where `setpriv` (util-linux) is, or null. */
function setpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/setpriv`).isFile) return (setprivPath = `${dir}/setpriv`);
    } catch { /* next */ }
  }
  return setprivPath;
}

/**
 * Spawns a child that the kernel terminates (SIGTERM) when this process dies, even by SIGKILL:
 * through `setpriv --pdeathsig SIGTERM` where util-linux has it. Elsewhere a plain spawn (callers
 * keep other safeguards: pid files, heartbeats).
 *
 * @param command The executable.
 * @param options Deno.Command options.
 * @returns The child and whether it is tied.
 */
export function spawnTied(
  command: string,
  options: Deno.CommandOptions = {},
): { child: Deno.ChildProcess; tied: boolean } {
  const tie = setpriv();
  if (!tie) return { child: new Deno.Command(command, options).spawn(), tied: false };
  const args = ["--pdeathsig", "SIGTERM", "--", command, ...(options.args ?? [])];
  return { child: new Deno.Command(tie, { ...options, args }).spawn(), tied: true };
}

/** Launcher processes that start the suite and do not pass signals on (npx, deno task). */
const WRAPPER = /^(node|deno|npm|npx)\b/;

/**
 * The chain of launcher processes above this one (`npx deno task bench` runs node, then deno
 * task, then deno's npm launcher, then the bench), up to the first that is not one (a shell, a
 * batch script, sshd). SIGTERM or SIGHUP sent to them is not passed on to this process.
 *
 * @returns Their pids, nearest first.
 */
export function wrapperAncestors(): number[] {
  const info = (pid: number) => {
    let ps: Deno.CommandOutput;
    try {
      ps = new Deno.Command("ps", {
        args: ["-o", "ppid=,comm=", "-p", String(pid)],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
    } catch {
      return undefined; // no ps here: no launcher watch
    }
    const [ppid, ...comm] = new TextDecoder().decode(ps.stdout).trim().split(/\s+/);
    return ps.success ? { ppid: Number(ppid), comm: comm.join(" ") } : undefined;
  };
  const out: number[] = [];
  let pid = Deno.ppid;
  for (let i = 0; i < 10 && pid > 1; i++) {
    const p = info(pid);
    if (!p) break;
    // npm runs its command through `sh -c`: that shell is a launcher too (a user's shell is not).
    const npmShell = p.comm === "sh" && WRAPPER.test(info(p.ppid)?.comm ?? "");
    if (!WRAPPER.test(p.comm) && !npmShell) break;
    out.push(pid);
    pid = p.ppid;
  }
  return out;
}

/**
 * Calls `onGone` once when any of the processes has ended.
 *
 * @param pids The processes.
 * @param onGone Called with the first pid found gone.
 * @param intervalMs How often to look. @default 500
 * @returns A function that stops watching.
 */
export function watchProcesses(
  pids: number[],
  onGone: (pid: number) => void,
  intervalMs = 500,
): () => void {
  if (pids.length === 0) return () => {};
  const timer = setInterval(() => {
    const gone = pids.find((pid) => !isAlive(pid));
    if (gone === undefined) return;
    clearInterval(timer);
    onGone(gone);
  }, intervalMs);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
