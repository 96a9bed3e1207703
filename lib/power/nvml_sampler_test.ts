import { EnergyMonitor } from "./energy_monitor.ts";
import { NvmlSampler } from "./nvml_sampler.ts";
import { TelemetryError } from "./power_sampler.ts";
import { buildFakeNvml, useFakeNvmlScript } from "./fakes/fake_nvml.ts";
import { samplerConformance } from "../testing/sampler_conformance.ts";
import { C_COMPILER, systemTest } from "../testing/system.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";

// The real FFI path against a fake libnvidia-ml.so compiled here from testing/fake_nvml.c.
const library = C_COMPILER.missing ? "" : await buildFakeNvml();
const script = useFakeNvmlScript;
const test = (name: string, fn: (t: Deno.TestContext) => Promise<void>) =>
  systemTest([C_COMPILER], { name, fn });

test("nvml backend passes the sampler conformance suite", async (t) => {
  await script("count 2\nname 0 Fake H100\npower 0 0 150000\npower 1 0 50000\n");
  await samplerConformance(t, () => NvmlSampler.open({ library }), {
    devices: 2,
    counter: true,
    power: true,
    totalW: 200,
  });
});

test("nvml: device names, selection by index, and unit conversion", async () => {
  await script("count 3\nname 2 Fake GPU two\npower 2 0 123456\n");
  const opened = performance.now();
  await using s = await NvmlSampler.open({ library, devices: [2] });
  assertEquals(s.devices.map((d) => [d.index, d.name]), [[2, "Fake GPU two"]]);
  const [r] = await s.read();
  const seconds = (performance.now() - opened) / 1000;
  assertEquals(r.powerW, 123.456);
  // The fake counter grows at the power read: what it gained is bounded by the time since open
  // (however long a busy machine took), in joules, not millijoules.
  assert(
    r.energyJ! >= 0 && r.energyJ! <= 123.456 * seconds * 1.05 + 0.01,
    `energy since open ${r.energyJ} J after ${seconds} s`,
  );
});

test("nvml: a counter wrapping past 2^64 mJ still gives the right window energy", async () => {
  // 5 mJ below the top of the counter at 100 W: it wraps within the first milliseconds.
  await script("count 1\nenergy_start 0 18446744073709551610\npower 0 0 100000\n");
  await using monitor = await EnergyMonitor.start(await NvmlSampler.open({ library }), {
    periodMs: 20,
  });
  monitor.begin("w");
  await new Promise((r) => setTimeout(r, 300));
  const m = await monitor.end("w");
  assertEquals(m.method, "counter");
  const expected = 100 * (m.durationMs / 1000);
  assert(Math.abs(m.totalJ! - expected) < 0.1 * expected, `${m.totalJ} J, expected ${expected}`);
});

test("nvml: a GPU without an energy counter falls back to integrated power, with a note", async () => {
  await script("count 1\nenergy_error 0 3\npower 0 0 80000\n");
  await using monitor = await EnergyMonitor.start(await NvmlSampler.open({ library }), {
    periodMs: 20,
  });
  assertEquals(monitor.sampler.devices[0].energyCounter, false);
  assert(monitor.sampler.notes[0].includes("no energy counter"), monitor.sampler.notes[0]);
  monitor.begin("w");
  await new Promise((r) => setTimeout(r, 200));
  const m = await monitor.end("w");
  assertEquals(m.method, "integrated");
  assert(
    Math.abs(m.totalJ! - 80 * m.durationMs / 1000) < 0.05 * 80 * m.durationMs / 1000,
    String(m.totalJ),
  );
});

test("nvml: the power timeline follows a load step", async () => {
  await script("count 1\npower 0 0 75000\npower 0 150 700000\n");
  await using monitor = await EnergyMonitor.start(await NvmlSampler.open({ library }), {
    periodMs: 20,
  });
  await new Promise((r) => setTimeout(r, 300));
  const powers = monitor.timeline().map((s) => s.readings[0].powerW);
  assertEquals(powers[0], 75);
  assertEquals(powers.at(-1), 700);
});

test("nvml: errors name the call, the GPU and the NVML code", async () => {
  await script("init_error 9\n");
  await assertRejects(
    () => NvmlSampler.open({ library }),
    TelemetryError,
    "nvmlInit_v2 failed: NVML_ERROR_DRIVER_NOT_LOADED (9): Driver Not Loaded",
  );
  await script("count 2\n");
  await assertRejects(
    () => NvmlSampler.open({ library, devices: [5] }),
    TelemetryError,
    "GPU index 5 does not exist: NVML sees 2 GPU(s)",
  );
  await script("count 1\npower_error 0 15\n");
  await assertRejects(
    () => NvmlSampler.open({ library }),
    TelemetryError,
    "nvmlDeviceGetPowerUsage failed on GPU 0: NVML_ERROR_GPU_IS_LOST (15)",
  );
  await assertRejects(
    () => NvmlSampler.open({ library: "/nonexistent/libnvidia-ml-missing.so" }),
    TelemetryError,
    "cannot load",
  );
});
