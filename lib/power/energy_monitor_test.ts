import { EnergyMonitor } from "./energy_monitor.ts";
import { NoneSampler } from "./none_sampler.ts";
import { TelemetryError } from "./power_sampler.ts";
import { FunctionSampler } from "./fakes/function_sampler.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const close = (a: number, b: number, rel = 0.01) => Math.abs(a - b) <= rel * Math.abs(b);

Deno.test("counter windows: energy is the counter difference, nested and overlapping", async () => {
  // 200 W: the counter grows by 0.2 J per ms.
  const sampler = new FunctionSampler([{ name: "gpu0", energyJ: (t) => 0.2 * t }], now, 5);
  await using monitor = await EnergyMonitor.start(sampler, { periodMs: 10 });
  monitor.begin("step");
  await sleep(30);
  monitor.begin("compute");
  await sleep(40);
  monitor.begin("overlap");
  const compute = monitor.end("compute");
  await sleep(20);
  const step = monitor.end("step");
  const overlap = monitor.end("overlap");
  for (const m of await Promise.all([step, compute, overlap])) {
    assertEquals(m.method, "counter");
    assert(
      close(m.totalJ!, 0.2 * m.durationMs),
      `${m.name}: ${m.totalJ} J over ${m.durationMs} ms`,
    );
    assert(close(m.averageW!, 200), `${m.averageW} W`);
    assertEquals(m.devices[0].method, "counter");
    assertEquals(m.peakW, null, "a counter-only device has no power samples");
    assert(Object.isFrozen(m) && Object.isFrozen(m.devices));
  }
  assert((await step).durationMs > (await compute).durationMs);
});

Deno.test("power-only devices are integrated by the trapezoid rule (exact for a ramp)", async () => {
  const t0 = now();
  const power = (t: number) => 10 + (t - t0) / 10; // W, rising 100 W per second
  const sampler = new FunctionSampler([{ name: "gpu0", powerW: power }], now, 5);
  await using monitor = await EnergyMonitor.start(sampler, { periodMs: 5 });
  monitor.begin("w");
  await sleep(60);
  const m = await monitor.end("w");
  const expected = ((power(m.startMs) + power(m.endMs)) / 2) * (m.durationMs / 1000);
  assertEquals(m.method, "integrated");
  // Exact but for the read timestamp (the midpoint of the call, microseconds off).
  assert(close(m.totalJ!, expected, 1e-3), `${m.totalJ} vs ${expected}`);
  assert(m.sampleCount >= 5, `${m.sampleCount} samples`);
  assert(m.peakW !== null && m.peakW <= power(m.endMs) && m.peakW > power(m.startMs));
});

Deno.test("a mix of counter and power-only devices reports the weaker method, summed", async () => {
  const sampler = new FunctionSampler(
    [{ name: "a", energyJ: (t) => 0.1 * t }, { name: "b", powerW: () => 50 }],
    now,
    5,
  );
  await using monitor = await EnergyMonitor.start(sampler, { periodMs: 5 });
  monitor.begin("w");
  await sleep(40);
  const m = await monitor.end("w");
  assertEquals(m.method, "integrated");
  assertEquals(m.devices.map((d) => d.method), ["counter", "integrated"]);
  assert(close(m.totalJ!, 0.15 * m.durationMs), String(m.totalJ));
});

Deno.test("windows under 10 hardware updates are flagged", async () => {
  const sampler = new FunctionSampler([{ name: "g", energyJ: (t) => t }], now, 20);
  await using monitor = await EnergyMonitor.start(sampler, { periodMs: 10 });
  monitor.begin("short");
  await sleep(30);
  const short = monitor.end("short");
  monitor.begin("long");
  await sleep(210);
  const long = monitor.end("long");
  assertEquals((await short).shortWindow, true);
  assertEquals((await long).shortWindow, false);
});

Deno.test("the idle baseline is reported beside the total", async () => {
  let watts = 75;
  const t0 = now();
  let joules = 0;
  let last = t0;
  const energy = (t: number) => {
    joules += (watts * (t - last)) / 1000;
    last = t;
    return joules;
  };
  const sampler = new FunctionSampler([{ name: "g", energyJ: energy }], now, 5);
  await using monitor = await EnergyMonitor.start(sampler, { periodMs: 5 });
  await monitor.measureIdle(100);
  assert(close(monitor.idleW()![0], 75, 0.05), `idle ${monitor.idleW()}`);
  await monitor.sampleNow();
  watts = 300;
  monitor.begin("busy");
  await sleep(100);
  const m = await monitor.end("busy");
  assert(close(m.idleJ!, 0.075 * m.durationMs, 0.05), `idle ${m.idleJ}`);
  assert(close(m.aboveIdleJ!, m.totalJ! - m.idleJ!, 1e-9));
  assert(m.aboveIdleJ! > 0.5 * m.totalJ!, `${m.aboveIdleJ} of ${m.totalJ}`);
});

Deno.test("no devices: modelled energy with a power model, unavailable without", async () => {
  let cpuMs = 0;
  await using modelled = await EnergyMonitor.start(new NoneSampler(), {
    periodMs: 5,
    powerModel: { idleW: 40, wattsPerBusyCore: 15 },
    cpuTimeMs: () => cpuMs,
  });
  modelled.begin("w");
  await sleep(50);
  cpuMs += 30; // 30 ms of CPU time in the window
  const m = await modelled.end("w");
  assertEquals(m.method, "modelled");
  assert(close(m.totalJ!, 40 * (m.durationMs / 1000) + 15 * 0.03, 1e-9), String(m.totalJ));

  await using none = await EnergyMonitor.start(new NoneSampler(), { periodMs: 5 });
  none.begin("w");
  const u = await none.end("w");
  assertEquals([u.method, u.totalJ, u.averageW], ["unavailable", null, null]);
});

Deno.test("window misuse is a range error", async () => {
  await using monitor = await EnergyMonitor.start(new NoneSampler(), { periodMs: 5 });
  monitor.begin("a");
  assertThrows(() => monitor.begin("a"), RangeError, '"a" is already open');
  assertThrows(() => monitor.end("b"), RangeError, '"b" is not open');
  await monitor.end("a");
});

Deno.test("a failing read rejects the windows waiting on it; sampling goes on", async () => {
  const sampler = new FunctionSampler([{ name: "g", energyJ: (t) => t }], now, 5);
  await using monitor = await EnergyMonitor.start(sampler, { periodMs: 20 });
  sampler.failNext = new TelemetryError("function", "device lost");
  monitor.begin("w");
  await assertRejects(() => monitor.end("w"), TelemetryError, "device lost");
  monitor.begin("x");
  const m = await monitor.end("x");
  assertEquals(m.method, "counter");
});

Deno.test("close stops sampling, closes the sampler and rejects pending windows", async () => {
  const sampler = new FunctionSampler([{ name: "g", energyJ: (t) => t }], now, 5);
  const monitor = await EnergyMonitor.start(sampler, { periodMs: 1000 });
  monitor.begin("w");
  const pending = monitor.end("w");
  pending.catch(() => {}); // close rejects it before assertRejects looks
  await monitor.close();
  await assertRejects(() => pending, TelemetryError, "closed");
  const reads = sampler.reads;
  await sleep(30);
  assertEquals(sampler.reads, reads);
  assertEquals(sampler.closed, true);
  await monitor.close(); // idempotent
});

Deno.test("the timeline keeps every sample in time order", async () => {
  const sampler = new FunctionSampler([{ name: "g", powerW: () => 1 }], now, 5);
  await using monitor = await EnergyMonitor.start(sampler, { periodMs: 5 });
  await sleep(60);
  const times = monitor.timeline().map((s) => s.timeMs);
  assert(times.length >= 5, `${times.length} samples`);
  assertEquals([...times].sort((a, b) => a - b), times);
});
