/**
 * A private Slurm of two fake nodes on this host, for tests: a generated slurm.conf in a temp
 * folder (auth/none, root as SlurmUser, every daemon on a free port, state, spool and logs in the
 * folder; one NodeName line per node since a port range must be consecutive), slurmctld and one
 * slurmd per node started from it, and a stop that kills them by pid and removes the folder. Tests
 * point the Slurm client commands at it with SLURM_CONF. Needs the Debian package slurm-wlm and
 * root (slurmd runs jobs as their user).
 *
 * @module
 */

import { hostname } from "node:os";
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
 * @param nodes Number of fake nodes. @default 2
 * @param cpus CPUs of each. @default 4
 * @returns The running cluster, its nodes idle.
 * @throws {Error} With the daemons' logs if the nodes do not come up within 30 s.
 */
export async function startSlurmCluster(nodes = 2, cpus = 4): Promise<SlurmCluster> {
  const dir = await Deno.makeTempDir({ prefix: "phantom-slurm-" });
  const host = hostname().split(".")[0];
  const names = Array.from({ length: nodes }, (_, i) => `pbn${i + 1}`);
  for (const sub of ["state", "log", "spool"]) await Deno.mkdir(`${dir}/${sub}`);
  const conf = `${dir}/slurm.conf`;
  await Deno.writeTextFile(
    conf,
    [
      `ClusterName=pbtest${Deno.pid}`,
      `SlurmctldHost=${host}(127.0.0.1)`,
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
      ...names.map((n) =>
        `NodeName=${n} NodeHostName=${host} NodeAddr=127.0.0.1 Port=${freePort()} CPUs=${cpus} State=UNKNOWN`
      ),
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
  const start = async (command: string, args: string[], pidFile: string) => {
    const out = await new Deno.Command(command, {
      args: ["-f", conf, ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`${command} did not start: ${new TextDecoder().decode(out.stderr)}`);
    }
    pids.push(await readPid(pidFile));
  };
  const run = async (command: string, args: string[]) => {
    const out = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" })
      .output();
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
    await start("slurmctld", [], `${dir}/slurmctld.pid`);
    for (const n of names) await start("slurmd", ["-N", n], `${dir}/slurmd-${n}.pid`);
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
  return { conf, env, nodes: names, pids, run, stop, [Symbol.asyncDispose]: stop };
}
