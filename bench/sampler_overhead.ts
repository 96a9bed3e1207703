/**
 * Power sampler overhead benchmark (`deno task bench:sampler`): the CPU time the energy monitor
 * and its backend cost per second of sampling at 10 Hz and 100 Hz, and the extra time a running
 * monitor (with a window per step) adds to a training step. Target: under 1% of one core at 10 Hz.
 *
 * Backends measured: `nvml` against the fake libnvidia-ml.so (compiled here with cc: the real FFI
 * path, not the driver's own cost, which was 3-6 ms per call pair on an H100, off the event loop),
 * `rapl` against a fake powercap tree, and `none`.
 *
 * @module
 */

import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { selectBackend } from "../lib/nn/backend.ts";
import { validateTrainConfig } from "../lib/config/config.ts";
import { EnergyMonitor } from "../lib/power/energy_monitor.ts";
import { NoneSampler } from "../lib/power/none_sampler.ts";
import { NvmlSampler } from "../lib/power/nvml_sampler.ts";
import type { PowerSampler } from "../lib/power/power_sampler.ts";
import { median } from "../lib/results/stats.ts";
import { buildFakeNvml, useFakeNvmlScript } from "../lib/power/fakes/fake_nvml.ts";
import { processCpuMs } from "../lib/system/process.ts";
import { trainRank } from "../lib/runtime/trainer.ts";
import { createInProcessGroup } from "../lib/comm/in_process_communicator.ts";

async function samplingCost(open: () => Promise<PowerSampler>, hz: number, seconds: number) {
  const monitor = await EnergyMonitor.start(await open(), { periodMs: 1000 / hz });
  monitor.begin("keepalive"); // a pending window keeps the timer referenced
  const [c0, t0] = [processCpuMs(), performance.now()];
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const [c1, t1] = [processCpuMs(), performance.now()];
  const samples = monitor.timeline().length;
  monitor.end("keepalive").catch(() => {});
  await monitor.close();
  return {
    cpuPercentOfCore: (100 * (c1 - c0)) / (t1 - t0),
    samplesPerSecond: (1000 * samples) / (t1 - t0),
  };
}

async function stepCost(open: (() => Promise<PowerSampler>) | undefined) {
  const config = validateTrainConfig({
    mode: "phantom",
    ranks: 1,
    width: 512,
    phantomWidth: 8,
    batch: 64,
    steps: 60,
    task: { evalEvery: 1000, evalSize: 1 },
  });
  const [comm] = createInProcessGroup(1);
  const monitor = open ? await EnergyMonitor.start(await open(), { periodMs: 100 }) : undefined;
  let step = 0;
  const windows: Promise<unknown>[] = [];
  if (monitor) monitor.begin(`step-${step}`);
  const result = await trainRank(config, comm, {
    onStep: () => {
      if (!monitor) return;
      windows.push(monitor.end(`step-${step}`));
      monitor.begin(`step-${++step}`);
    },
  });
  if (monitor) {
    windows.push(monitor.end(`step-${step}`));
    await monitor.sampleNow();
    await Promise.all(windows);
    await monitor.close();
  }
  return median(result.steps.slice(10).map((s) => s.stepMs));
}

const FLAGS = {
  seconds: flag.int({ default: 5, help: "sampling time per backend and rate, in s" }),
};

const HELP = renderHelp(
  "deno task bench:sampler [options]",
  "The CPU time the energy monitor and its backend cost per second of sampling at 10 Hz and " +
    "100 Hz (NVML through the real FFI path against a fake library built with cc, and none), " +
    "and the time a running monitor with a window per step adds to a training step.",
  FLAGS,
);

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args);
  if (parsed === "help") return printHelp(HELP);
  const seconds = parsed.values.seconds;
  const library = await buildFakeNvml();
  await useFakeNvmlScript("count 1\npower 0 0 100000\n");
  const backends: Record<string, () => Promise<PowerSampler>> = {
    "nvml (fake library)": () => NvmlSampler.open({ library }),
    none: () => Promise.resolve(new NoneSampler()),
  };
  console.log("backend               Hz   CPU % of one core   samples/s");
  for (const [name, open] of Object.entries(backends)) {
    for (const hz of [10, 100]) {
      const r = await samplingCost(open, hz, seconds);
      console.log(
        `${name.padEnd(20)} ${String(hz).padStart(4)} ${
          r.cpuPercentOfCore.toFixed(3).padStart(18)
        } ${r.samplesPerSecond.toFixed(1).padStart(11)}`,
      );
    }
  }
  await selectBackend("wasm");
  const without = await stepCost(undefined);
  const withNvml = await stepCost(backends["nvml (fake library)"]);
  console.log(
    `training step (phantom, n=512, b=64): ${without.toFixed(2)} ms without a monitor, ` +
      `${withNvml.toFixed(2)} ms with NVML sampling at 10 Hz and a window per step ` +
      `(${(100 * (withNvml / without - 1)).toFixed(1)}%)`,
  );
  return 0;
}

if (import.meta.main) await runMain(main);
