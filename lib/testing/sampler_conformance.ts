/**
 * The conformance suite every {@linkcode PowerSampler} backend passes, each against its fake
 * (a fake libnvidia-ml.so, fake nvidia-smi / amd-smi / rocm-smi executables, a fake sysfs tree):
 * device listing, reading shape and units, monotonic energy, windows through the
 * {@linkcode EnergyMonitor}, and close semantics.
 *
 * @module
 */

import { EnergyMonitor } from "../power/energy_monitor.ts";
import { type PowerSampler, TelemetryError } from "../power/power_sampler.ts";
import { assert, assertEquals, assertRejects } from "./asserts.ts";

/** What the backend under test should report. */
export interface SamplerExpectation {
  /** Number of devices. */
  devices: number;
  /** Whether devices have an energy counter. */
  counter: boolean;
  /** Whether devices report power. */
  power: boolean;
  /** Approximate total power of all devices, in W (the fakes' scripted load). */
  totalW: number;
  /** Notes the backend must give (one note matching each pattern). */
  notes?: RegExp[];
}

/**
 * Runs the suite as steps of a `Deno.test`.
 *
 * @param t The test context.
 * @param open Opens a fresh sampler of the backend under test.
 * @param expect What it should report.
 */
export async function samplerConformance(
  t: Deno.TestContext,
  open: () => Promise<PowerSampler>,
  expect: SamplerExpectation,
): Promise<void> {
  await t.step("lists its devices", async () => {
    await using s = await open();
    assertEquals(s.devices.length, expect.devices);
    for (const d of s.devices) {
      assert(d.name.length > 0, "device without a name");
      assertEquals(d.energyCounter, expect.counter, `energyCounter of ${d.name}`);
    }
    assert(s.updatePeriodMs > 0);
    assert(
      s.notes.every((n) => typeof n === "string" && n.trim().length > 0),
      `notes must be non-empty sentences: ${JSON.stringify(s.notes)}`,
    );
    for (const pattern of expect.notes ?? []) {
      assert(s.notes.some((n) => pattern.test(n)), `no note matches ${pattern}: ${s.notes}`);
    }
    assert(s.backend.length > 0);
  });

  await t.step(
    "reads one value per device, in joules and watts, energy never decreasing",
    async () => {
      await using s = await open();
      const first = await s.read();
      await new Promise((r) => setTimeout(r, 60));
      const second = await s.read();
      assertEquals(first.length, expect.devices);
      second.forEach((r, i) => {
        assertEquals(r.energyJ !== null, expect.counter, "energyJ presence");
        assertEquals(r.powerW !== null, expect.power, "powerW presence");
        if (r.powerW !== null) {
          assert(Number.isFinite(r.powerW) && r.powerW >= 0, `powerW ${r.powerW}`);
          assert(r.powerW < 10_000, `powerW ${r.powerW} is not in watts`);
        }
        if (r.energyJ !== null) {
          assert(Number.isFinite(r.energyJ) && r.energyJ >= first[i].energyJ!, "energy decreased");
        }
      });
    },
  );

  await t.step("measures a window through the energy monitor", async () => {
    const s = await open();
    await using monitor = await EnergyMonitor.start(s, { periodMs: 50 });
    monitor.begin("load");
    await new Promise((r) => setTimeout(r, 400));
    const m = await monitor.end("load");
    assertEquals(m.method, expect.counter ? "counter" : "integrated");
    const expected = expect.totalW * (m.durationMs / 1000);
    assert(
      Math.abs(m.totalJ! - expected) <= 0.25 * expected,
      `${m.totalJ} J over ${m.durationMs} ms, expected about ${expected}`,
    );
    assertEquals(m.devices.length, expect.devices);
  });

  await t.step("close is idempotent; reading after close is an error", async () => {
    const s = await open();
    await s.close();
    await s.close();
    await assertRejects(() => s.read(), TelemetryError);
  });
}
