/**
 * Process checks for tests that must leave nothing running: the tree below a process, processes
 * found by their command line, and waiting for pids to be gone.
 *
 * @module
 */

import { isAlive } from "../system/process.ts";

function table(): { pid: number; ppid: number; args: string }[] {
  const out = new Deno.Command("ps", { args: ["-eo", "pid=,ppid=,args="], stdout: "piped" })
    .outputSync();
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((line) => {
    const m = line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/)!;
    return { pid: Number(m[1]), ppid: Number(m[2]), args: m[3] };
  });
}

/**
 * @param pid A process.
 * @returns Every process below it (children, their children, ...).
 */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of table()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const found: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (found.push(c), walk(c)));
  walk(pid);
  return found;
}

/**
 * @param pid A process.
 * @returns Every process below it with its command line (from ps: reading another process's
 *   /proc entry needs more permissions than tests have).
 */
export function descendantsWithArgs(pid: number): { pid: number; args: string }[] {
  const rows = table();
  const below = new Set(descendants(pid));
  return rows.filter((p) => below.has(p.pid)).map(({ pid, args }) => ({ pid, args }));
}

/**
 * @param pattern What the command line must match.
 * @param environment Variables the process must have with these values (its own test's run, not
 *   that of a test running beside it: tests run in parallel in one process). Read through ps,
 *   which shows another process's environment to its owner and root only.
 * @returns Pids of the processes whose command line matches (not this one's).
 */
export function processesMatching(
  pattern: RegExp,
  environment: Record<string, string> = {},
): number[] {
  const wanted = Object.entries(environment);
  const found = table().filter((p) => p.pid !== Deno.pid && pattern.test(p.args));
  if (wanted.length === 0) return found.map((p) => p.pid);
  // `ps e` appends the environment to the command line: each NAME=value as a word.
  const out = new Deno.Command("ps", {
    args: ["-ww", "-o", "pid=,args=", "e", "-p", found.map((p) => p.pid).join(",") || "0"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const lines = new Map(
    new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => l.trim())
      .filter((l) => /^\d+ /.test(l)).map((l) => [Number(l.split(" ")[0]), ` ${l} `]),
  );
  return found.filter((p) => wanted.every(([k, v]) => lines.get(p.pid)?.includes(` ${k}=${v} `)))
    .map((p) => p.pid);
}

/**
 * Waits for processes to end.
 *
 * @param pids The processes.
 * @param ms How long to wait.
 * @returns Those still running at the end.
 */
export async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0) return [];
    await new Promise((r) => setTimeout(r, 100));
  }
  return pids.filter(isAlive);
}
