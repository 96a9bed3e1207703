/**
 * The environment a result was measured in: runtime versions, OS, CPU, the tfjs backend and its
 * flags, and the git commit of the suite. Facts that cannot be read are recorded as "unknown",
 * never guessed.
 *
 * @module
 */

import { cpus } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import type { BackendRecord, Environment } from "../results/results.ts";
import { queryNvidiaSmi } from "../system/nvidia_smi.ts";

/**
 * Collects the environment. Needs --allow-sys, and --allow-run for `git`; each fact it cannot
 * read becomes "unknown".
 *
 * @param backend The active backend.
 * @returns The environment.
 */
export async function collectEnvironment(backend: BackendRecord): Promise<Environment> {
  return {
    runtime: { ...Deno.version },
    os: {
      name: Deno.build.os,
      arch: Deno.build.arch,
      release: tryOr(() => Deno.osRelease(), "unknown"),
    },
    cpu: { model: cpuModel(), cores: navigator.hardwareConcurrency ?? 0 },
    memoryBytes: tryOr(() => Deno.systemMemoryInfo().total, 0),
    tfjs: { version: tf.version_core, backend },
    gitCommit: await gitCommit(),
    hostname: tryOr(() => Deno.hostname(), "unknown"),
    gpus: queryNvidiaSmi(["name", "driver_version"]).map((g) => ({
      name: g.name,
      driver: g.driver_version,
    })),
  };
}

function tryOr<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

function cpuModel(): string {
  // node:os reads /proc/cpuinfo for us; Deno itself would demand --allow-all for /proc.
  return tryOr(() => cpus()[0]?.model?.trim() || "unknown", "unknown");
}

/** The suite's own commit: git runs in the suite's folder, wherever the bench was started. */
async function gitCommit(): Promise<string> {
  const root = new URL("../..", import.meta.url).pathname;
  const run = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: root, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  };
  try {
    const commit = await run("rev-parse", "HEAD");
    if (!commit) return "unknown";
    const dirty = await run("status", "--porcelain", "--untracked-files=no");
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return "unknown";
  }
}
