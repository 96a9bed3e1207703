import type { EnergyMeasurement } from "../power/energy_monitor.ts";
import { summarizeEnergy } from "./energy_summary.ts";
import { assertEquals, assertThrows } from "../testing/asserts.ts";

function w(
  totalJ: number | null,
  method: EnergyMeasurement["method"],
  extra: Partial<EnergyMeasurement> = {},
): EnergyMeasurement {
  return {
    name: "step",
    backend: "nvml",
    method,
    startMs: 0,
    endMs: 100,
    durationMs: 100,
    devices: [],
    totalJ,
    idleJ: null,
    aboveIdleJ: null,
    averageW: null,
    peakW: null,
    sampleCount: 1,
    shortWindow: true,
    ...extra,
  };
}

const step = (j: number, method: EnergyMeasurement["method"] = "counter", extra = {}) => ({
  step: w(j, method, extra),
  forward: w(j / 4, method),
  backward: w((3 * j) / 4, method),
});

Deno.test("energy summary: per-step and per-phase distributions, average power, short windows", () => {
  const e = summarizeEnergy([step(2), step(4), step(3, "counter", { shortWindow: false })]);
  assertEquals(e.method, "counter");
  assertEquals(e.joulesPerStep?.median, 3);
  assertEquals(e.perPhase?.forward.median, 0.75);
  assertEquals(e.perPhase?.backward.median, 2.25);
  assertEquals(e.averageW, 30); // 9 J over 0.3 s
  assertEquals(e.shortWindows, 2);
  assertEquals(e.aboveIdleJoulesPerStep, null);
});

Deno.test("energy summary: the weakest method wins; unavailable gives nulls", () => {
  assertEquals(summarizeEnergy([step(1), step(1, "integrated")]).method, "integrated");
  const u = summarizeEnergy([{
    step: w(null, "unavailable"),
    forward: w(null, "unavailable"),
    backward: w(null, "unavailable"),
  }]);
  assertEquals([u.method, u.joulesPerStep, u.averageW, u.perPhase], [
    "unavailable",
    null,
    null,
    null,
  ]);
  assertThrows(() => summarizeEnergy([]), RangeError, "no step windows");
});
