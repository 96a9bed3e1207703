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
 * @returns Pids of the processes whose command line matches (not this one's).
 */
export function processesMatching(pattern: RegExp): number[] {
  return table().filter((p) => p.pid !== Deno.pid && pattern.test(p.args)).map((p) => p.pid);
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
