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

import process from "node:process";
import { parseArgs } from "node:util";
import { selectBackend } from "../lib/nn/backend.ts";
import { validateTrainConfig } from "../lib/config/config.ts";
import { EnergyMonitor } from "../lib/power/energy_monitor.ts";
import { NoneSampler } from "../lib/power/none_sampler.ts";
import { NvmlSampler } from "../lib/power/nvml_sampler.ts";
import type { PowerSampler } from "../lib/power/power_sampler.ts";
import { median } from "../lib/results/stats.ts";
import { trainRank } from "../lib/runtime/trainer.ts";
import { createInProcessGroup } from "../lib/comm/in_process_communicator.ts";

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function fakeNvml(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bench-nvml-" });
  const library = `${dir}/libnvidia-ml.so.1`;
  const source = new URL("../lib/power/testing/fake_nvml.c", import.meta.url).pathname;
  const out = await new Deno.Command("cc", {
    args: ["-shared", "-fPIC", "-O2", "-o", library, source],
  })
    .output();
  if (!out.success) throw new Error("cc failed to build the fake NVML library");
  await Deno.writeTextFile(`${dir}/script`, "count 1\npower 0 0 100000\n");
  Deno.env.set("FAKE_NVML_SCRIPT", `${dir}/script`);
  return library;
}

async function samplingCost(open: () => Promise<PowerSampler>, hz: number, seconds: number) {
  const monitor = await EnergyMonitor.start(await open(), { periodMs: 1000 / hz });
  monitor.begin("keepalive"); // a pending window keeps the timer referenced
  const [c0, t0] = [cpuMs(), performance.now()];
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const [c1, t1] = [cpuMs(), performance.now()];
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

if (import.meta.main) {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" } } });
  const seconds = Number(values.seconds);
  const library = await fakeNvml();
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
}
