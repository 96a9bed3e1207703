/**
 * Running inside a Slurm allocation (an `sbatch` script or a `salloc` shell): what the allocation
 * holds (from the SLURM_* variables and `scontrol show hostnames`), how a point's ranks are laid
 * out on it, the `srun` arguments of a job step (every resource flag explicit: srun's inheritance
 * of them changed between Slurm 22.05 and 23.11), and the life of a step: started in the
 * background, found by its job name, stopped with `scancel --signal=TERM JOB.STEP` (srun itself
 * turns a SIGTERM into SIGKILL for the tasks, so they could not flush).
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { stopProcess } from "../system/process.ts";

/** Raised when Slurm does not do what a run needs (a step that does not start, agents that fail). */
export class SlurmError extends Error {
  /**
   * @param message What went wrong.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SlurmError";
  }
}

/** What the allocation holds. */
export interface SlurmAllocation {
  /** SLURM_JOB_ID. */
  jobId: string;
  /** Host names of the nodes, node 0 first (node 0 hosts the coordinator). */
  nodes: string[];
  /** CPUs allocated on each node. */
  cpusPerNode: number[];
  /** Tasks the allocation allows at once (SLURM_NTASKS, else one per allocated CPU). */
  tasks: number;
  /** GPUs per node, where Slurm says (SLURM_GPUS_ON_NODE or SLURM_GPUS_PER_NODE). */
  gpusPerNode?: number;
}

/**
 * Expands SLURM_JOB_CPUS_PER_NODE, e.g. "4(x2),2" into [4, 4, 2].
 *
 * @param text The variable's value.
 * @returns CPUs per node.
 * @throws {ConfigError} Naming the variable if it does not parse.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCpusPerNode } from "./slurm.ts";
 * assert.deepEqual(parseCpusPerNode("4(x2),2"), [4, 4, 2]);
 * ```
 */
export function parseCpusPerNode(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(",")) {
    const m = part.trim().match(/^(\d+)(?:\(x(\d+)\))?$/);
    if (!m) throw new ConfigError("SLURM_JOB_CPUS_PER_NODE", text, 'must look like "4(x2),2"');
    out.push(...Array(Number(m[2] ?? 1)).fill(Number(m[1])));
  }
  return out;
}

/** Runs a command and returns its standard output, or throws with its error output. */
export type CommandRunner = (command: string, args: string[]) => Promise<string>;

/** The real command runner. */
export const runCommand: CommandRunner = async (command, args) => {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ConfigError(
        command,
        "missing",
        "must be on PATH for --launcher slurm (Slurm's client tools)",
      );
    }
    throw error;
  }
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
};

/**
 * Reads the allocation this process runs in.
 *
 * @param env The environment.
 * @param run Runs scontrol (injectable for tests).
 * @returns The allocation.
 * @throws {ConfigError} Outside an allocation, without srun or scontrol, or with variables that do not parse.
 */
export async function readAllocation(
  env: Record<string, string | undefined>,
  run: CommandRunner = runCommand,
): Promise<SlurmAllocation> {
  const jobId = env.SLURM_JOB_ID;
  if (!jobId) {
    throw new ConfigError(
      "SLURM_JOB_ID",
      undefined,
      "must be set for --launcher slurm: run the bench inside an allocation (sbatch or salloc)",
    );
  }
  const nodelist = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
  if (!nodelist) {
    throw new ConfigError("SLURM_JOB_NODELIST", undefined, "must be set by Slurm in an allocation");
  }
  await run("srun", ["--version"]); // a clear error now rather than at the first point
  const nodes = (await run("scontrol", ["show", "hostnames", nodelist])).trim().split("\n").filter(
    Boolean,
  );
  const cpusPerNode = parseCpusPerNode(env.SLURM_JOB_CPUS_PER_NODE ?? String(nodes.length ? 1 : 0));
  while (cpusPerNode.length < nodes.length) cpusPerNode.push(cpusPerNode.at(-1) ?? 1);
  const ntasks = Number(env.SLURM_NTASKS ?? env.SLURM_NPROCS);
  const gpus = Number(env.SLURM_GPUS_ON_NODE ?? env.SLURM_GPUS_PER_NODE);
  return {
    jobId,
    nodes,
    cpusPerNode,
    tasks: Number.isInteger(ntasks) && ntasks > 0 ? ntasks : cpusPerNode.reduce((a, b) => a + b, 0),
    gpusPerNode: Number.isInteger(gpus) && gpus > 0 ? gpus : undefined,
  };
}

/** How a point's ranks are laid out on the allocation. */
export interface StepLayout {
  /** Nodes used. */
  nodes: number;
  /** Tasks per node (at most). */
  tasksPerNode: number;
  /** CPUs per task. */
  cpusPerTask: number;
}

/**
 * Lays out p ranks, one task each, over the fewest nodes that hold them, evenly.
 *
 * @param ranks p.
 * @param alloc The allocation.
 * @returns The layout, or why the point does not fit.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stepLayout } from "./slurm.ts";
 * const alloc = { jobId: "1", nodes: ["a", "b"], cpusPerNode: [4, 4], tasks: 8 };
 * assert.deepEqual(stepLayout(6, alloc), { nodes: 2, tasksPerNode: 3, cpusPerTask: 1 });
 * assert(typeof stepLayout(9, alloc) === "string");
 * ```
 */
export function stepLayout(ranks: number, alloc: SlurmAllocation): StepLayout | string {
  if (ranks > alloc.tasks) {
    return `needs ${ranks} ranks (one task each) but the allocation ${alloc.jobId} has ${alloc.tasks} tasks`;
  }
  const cpus = Math.min(...alloc.cpusPerNode);
  const perNodeMax = Math.max(1, Math.ceil(alloc.tasks / alloc.nodes.length));
  const nodes = Math.min(alloc.nodes.length, Math.max(1, Math.ceil(ranks / perNodeMax)));
  const tasksPerNode = Math.ceil(ranks / nodes);
  return { nodes, tasksPerNode, cpusPerTask: Math.max(1, Math.floor(cpus / tasksPerNode)) };
}

/** GPU flags of the rank steps. */
export interface GpuOptions {
  /** GPUs per node to request for the step. */
  gpusPerNode?: number;
  /** srun --gpu-bind value (e.g. "closest", "single:1", "map_gpu:0,1,2,3"). */
  gpuBind?: string;
}

/**
 * The srun arguments of one point's step (before the command).
 *
 * @param ranks p.
 * @param layout Its layout.
 * @param jobName A name unique to the step (its id is found by it).
 * @param gpu GPU flags.
 * @returns The arguments.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { srunArgs } from "./slurm.ts";
 * const args = srunArgs(4, { nodes: 2, tasksPerNode: 2, cpusPerTask: 1 }, "pb-x", {});
 * assert(args.includes("-K1") && args.includes("--ntasks-per-node=2") && args.includes("-n4"));
 * ```
 */
export function srunArgs(
  ranks: number,
  layout: StepLayout,
  jobName: string,
  gpu: GpuOptions,
): string[] {
  return [
    `-N${layout.nodes}`,
    `-n${ranks}`,
    `--ntasks-per-node=${layout.tasksPerNode}`,
    `-c${layout.cpusPerTask}`,
    "-K1", // the first task that fails ends the step
    "-l", // label every output line with its task
    `--job-name=${jobName}`,
    ...(gpu.gpusPerNode ? [`--gpus-per-node=${gpu.gpusPerNode}`] : []),
    ...(gpu.gpuBind ? [`--gpu-bind=${gpu.gpuBind}`] : []),
  ];
}

/** A job step started in the background. */
export interface SlurmStep {
  /** The srun process. */
  readonly child: Deno.ChildProcess;
  /** Its exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  /** The last lines it printed (labelled by task). */
  tail(): string;
  /**
   * Stops it gracefully: TERM to its tasks through scancel, a grace period for them to flush,
   * then SIGKILL to srun.
   *
   * @param graceMs How long the tasks may take. @default 10000
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a job step: `srun ARGS COMMAND...` in the background, its output kept.
 *
 * @param jobId The allocation.
 * @param args srun arguments (see {@linkcode srunArgs}); must hold `--job-name=NAME`.
 * @param command The task command.
 * @param env Variables for the tasks (added to this process's, as srun exports them).
 * @param run Runs squeue and scancel (injectable for tests).
 * @returns The step.
 */
export function startStep(
  jobId: string,
  args: string[],
  command: string[],
  env: Record<string, string> = {},
  run: CommandRunner = runCommand,
): SlurmStep {
  const child = new Deno.Command("srun", {
    args: [...args, ...command],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const keep = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text = (text + chunk).slice(-8192);
    }
  };
  const drained = Promise.all([keep(child.stdout), keep(child.stderr)]).catch(() => {});
  const jobName = args.find((a) => a.startsWith("--job-name="))?.slice("--job-name=".length);
  const status = child.status.then(async (s) => (await drained, s));
  return {
    child,
    status,
    tail: () => text.trim().split("\n").slice(-8).join("\n"),
    async stop(graceMs = 10_000) {
      let done = false;
      status.then(() => (done = true));
      const step = jobName ? await findStep(jobId, jobName, run).catch(() => undefined) : undefined;
      if (step && !done) await run("scancel", ["--signal=TERM", step]).catch(() => {});
      const deadline = Date.now() + graceMs;
      while (!done && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (!done) await stopProcess(child, 2000);
      await status;
    },
  };
}

/**
 * The id (JOB.STEP) of the running step with a job name.
 *
 * @param jobId The allocation.
 * @param name The step's job name.
 * @param run Runs squeue.
 * @returns The step id, or undefined when no such step runs.
 */
export async function findStep(
  jobId: string,
  name: string,
  run: CommandRunner = runCommand,
): Promise<string | undefined> {
  const out = await run("squeue", ["-h", "-s", "-j", jobId, "-o", "%i %j"]);
  return out.trim().split("\n").map((l) => l.trim().split(/\s+/)).find(([, n]) => n === name)?.[0];
}
