/**
 * A private Slurm of fake nodes for tests: a generated slurm.conf in a temp folder (auth/none,
 * root as SlurmUser, every daemon on a free port, state, spool and logs in the folder; one
 * NodeName line per node since a port range must be consecutive), slurmctld and one slurmd per
 * node started from it, and a stop that kills them by pid and removes the folder. Tests point the
 * Slurm client commands at it with SLURM_CONF. Needs the Debian package slurm-wlm and root
 * (slurmd runs jobs as their user).
 *
 * Two layouts: every node on 127.0.0.1 of this host (the default), or one node per namespace host
 * (lib/system/netns.ts, `hosts` option): slurmctld and node 1's slurmd on host 0, node i's slurmd
 * on host i - 1 with `NodeAddr` its address and `NodeHostName` its host name, all on one port
 * (each host has its own port space). The client commands then run on host 0, the only place
 * slurmctld is reachable from ({@linkcode SlurmCluster.command}).
 *
 * @module
 */

import { hostname } from "node:os";
import type { NetnsHosts } from "../system/netns.ts";
import { freePort, isAlive } from "../system/process.ts";
import { hasCommand, type Requirement } from "./system.ts";

/** slurmctld, slurmd and the client commands, as root. */
export const SLURM: Requirement = {
  name: "slurm-wlm (as root)",
  install: "apt-get install slurm-wlm, and run the tests as root",
  missing: !["slurmctld", "slurmd", "salloc", "srun", "squeue"].every(hasCommand) ||
    Deno.uid() !== 0,
};

/** A running private Slurm. */
export interface SlurmCluster extends AsyncDisposable {
  /** The slurm.conf path. */
  readonly conf: string;
  /** The environment the client commands need (SLURM_CONF). */
  readonly env: Record<string, string>;
  /** Node names. */
  readonly nodes: string[];
  /** Daemon pids. */
  readonly pids: number[];
  /** Each node's address (127.0.0.1 on this host, the host's on namespace hosts). */
  readonly addresses: string[];
  /**
   * A client command (or anything else) as it must run to reach slurmctld: on host 0 of
   * namespace hosts, else here; with SLURM_CONF in its environment.
   *
   * @param command E.g. "salloc".
   * @param options Deno.Command's options (the environment gets SLURM_CONF).
   * @returns The child.
   */
  command(command: string, options?: Deno.CommandOptions): Deno.ChildProcess;
  /**
   * Runs a client command against it.
   *
   * @param command E.g. "squeue".
   * @param args Its arguments.
   * @returns Its standard output.
   */
  run(command: string, args: string[]): Promise<string>;
  /** Kills the daemons by pid and removes the folder. */
  stop(): Promise<void>;
}

/**
 * Starts a private Slurm.
 *
 * @param nodes Number of fake nodes (with `hosts`: one per host, this is ignored). @default 2
 * @param cpus CPUs of each. @default 4
 * @param hosts Namespace hosts to put one node on each of.
 * @returns The running cluster, its nodes idle.
 * @throws {Error} With the daemons' logs if the nodes do not come up within 30 s.
 */
export async function startSlurmCluster(
  nodes = 2,
  cpus = 4,
  hosts?: NetnsHosts,
): Promise<SlurmCluster> {
  if (hosts) nodes = hosts.hosts.length;
  const dir = await Deno.makeTempDir({ prefix: "phantom-slurm-" });
  const host = hostname().split(".")[0];
  const names = Array.from({ length: nodes }, (_, i) => `pbn${i + 1}`);
  const addresses = names.map((_, i) => hosts?.hosts[i].address ?? "127.0.0.1");
  // One slurmd port for every namespace host (each has its own port space).
  const slurmdPort = freePort();
  const nodeLine = (n: string, i: number) =>
    hosts
      ? `NodeName=${n} NodeHostName=${hosts.hosts[i].name} NodeAddr=${addresses[i]} ` +
        `Port=${slurmdPort} CPUs=${cpus} State=UNKNOWN`
      : `NodeName=${n} NodeHostName=${host} NodeAddr=127.0.0.1 Port=${freePort()} CPUs=${cpus} State=UNKNOWN`;
  for (const sub of ["state", "log", "spool"]) await Deno.mkdir(`${dir}/${sub}`);
  const conf = `${dir}/slurm.conf`;
  await Deno.writeTextFile(
    conf,
    [
      `ClusterName=pbtest${Deno.pid}`,
      hosts
        ? `SlurmctldHost=${hosts.hosts[0].name}(${addresses[0]})`
        : `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${freePort()}`,
      "AuthType=auth/none",
      "CredType=cred/none",
      "SlurmUser=root",
      "SlurmdUser=root",
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "SlurmdParameters=config_overrides",
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool/%n`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd-%n.pid`,
      `SlurmctldLogFile=${dir}/log/slurmctld.log`,
      `SlurmdLogFile=${dir}/log/slurmd-%n.log`,
      "KillWait=5",
      "MpiDefault=none",
      "ReturnToService=2",
      "SchedulerType=sched/builtin",
      "JobCompType=jobcomp/none",
      "AccountingStorageType=accounting_storage/none",
      ...names.map(nodeLine),
      "PartitionName=pbtest Nodes=ALL Default=YES OverSubscribe=FORCE:64 MaxTime=INFINITE State=UP",
      "",
    ].join("\n"),
  );
  const env = { SLURM_CONF: conf };
  const pids: number[] = [];
  const readPid = async (file: string) => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const text = await Deno.readTextFile(file).catch(() => "");
      if (/^\d+/.test(text)) return Number(text.trim());
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no pid in ${file}`);
  };
  /** A command on a namespace host (index), or here (undefined). */
  const on = (where: number | undefined, command: string, options: Deno.CommandOptions = {}) => {
    const full = { ...options, env: { ...options.env, ...env } };
    return hosts && where !== undefined
      ? hosts.spawn(where, command, full).child
      : new Deno.Command(command, full).spawn();
  };
  const start = async (where: number, command: string, args: string[], pidFile: string) => {
    // The daemon forks into the background: its pid comes from its pid file.
    const out = await on(where, command, {
      args: ["-f", conf, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`${command} did not start: ${new TextDecoder().decode(out.stderr)}`);
    }
    pids.push(await readPid(pidFile));
  };
  const command = (name: string, options: Deno.CommandOptions = {}) => on(0, name, options);
  const run = async (name: string, args: string[]) => {
    const out = await command(name, { args, stdout: "piped", stderr: "piped" }).output();
    if (!out.success) {
      throw new Error(
        `${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
    return new TextDecoder().decode(out.stdout);
  };
  const stop = async () => {
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    const deadline = Date.now() + 5000;
    while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await start(0, "slurmctld", [], `${dir}/slurmctld.pid`);
    for (const [i, n] of names.entries()) {
      await start(i, "slurmd", ["-N", n], `${dir}/slurmd-${n}.pid`);
    }
    const deadline = Date.now() + 30_000;
    while (true) {
      const states = (await run("sinfo", ["-h", "-N", "-o", "%t"]).catch(() => "")).trim().split(
        "\n",
      );
      if (states.length === nodes && states.every((s) => s.trim() === "idle")) break;
      if (Date.now() > deadline) {
        const logs = await Array.fromAsync(Deno.readDir(`${dir}/log`));
        const text = await Promise.all(logs.map((l) => Deno.readTextFile(`${dir}/log/${l.name}`)));
        throw new Error(
          `Slurm nodes not idle after 30 s (${states.join(",")}):\n${text.join("\n").slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    conf,
    env,
    nodes: names,
    pids,
    addresses,
    command,
    run,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
