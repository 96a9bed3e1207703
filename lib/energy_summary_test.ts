import type { EnergyMeasurement } from "./power/energy_monitor.ts";
import { summarizeEnergy } from "./energy_summary.ts";
import { assertEquals, assertThrows } from "./testing/asserts.ts";

function window(
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

Deno.test("energy summary: per-step distribution, average power, short windows", () => {
  const e = summarizeEnergy([
    window(2, "counter"),
    window(4, "counter"),
    window(3, "counter", { shortWindow: false }),
  ]);
  assertEquals(e.method, "counter");
  assertEquals(e.joulesPerStep?.median, 3);
  assertEquals(e.averageW, 30); // 9 J over 0.3 s
  assertEquals(e.shortWindows, 2);
  assertEquals(e.aboveIdleJoulesPerStep, null);
});

Deno.test("energy summary: the weakest method wins; unavailable gives nulls", () => {
  assertEquals(
    summarizeEnergy([window(1, "counter"), window(1, "integrated")]).method,
    "integrated",
  );
  const u = summarizeEnergy([window(null, "unavailable")]);
  assertEquals([u.method, u.joulesPerStep, u.averageW], ["unavailable", null, null]);
  assertThrows(() => summarizeEnergy([]), RangeError, "no step windows");
});
