import { EnergyMonitor } from "./energy_monitor.ts";
import { TelemetryError } from "./power_sampler.ts";
import { RaplSampler } from "./rapl_sampler.ts";
import { samplerConformance } from "../testing/sampler_conformance.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";

/**
 * A fake powercap tree whose package counters advance with the clock at the given watts and
 * wrap at `rangeUj`, rewritten every 2 ms by a timer (as the kernel would update them).
 */
async function fakeRapl(watts: number[], rangeUj = 262_143_328_850) {
  const root = await Deno.makeTempDir({ prefix: "fake-powercap-" });
  const t0 = performance.now();
  const zones = watts.map((_, i) => `${root}/intel-rapl:${i}`);
  for (const [i, z] of zones.entries()) {
    await Deno.mkdir(`${z}/intel-rapl:${i}:0`, { recursive: true }); // a subzone, to be ignored
    await Deno.writeTextFile(`${z}/name`, `package-${i}\n`);
    await Deno.writeTextFile(`${z}/max_energy_range_uj`, `${rangeUj - 1}\n`);
  }
  await Deno.mkdir(`${root}/intel-rapl-mmio:0`); // not a package zone
  const update = () => {
    const ms = performance.now() - t0;
    zones.forEach((z, i) => {
      const uj = Math.floor(123_456 + watts[i] * ms * 1000) % rangeUj;
      Deno.writeTextFileSync(`${z}/energy_uj.tmp`, `${uj}\n`);
      Deno.renameSync(`${z}/energy_uj.tmp`, `${z}/energy_uj`);
    });
  };
  update();
  const timer = setInterval(update, 2);
  return { root, [Symbol.dispose]: () => clearInterval(timer) };
}

Deno.test("rapl backend passes the sampler conformance suite", async (t) => {
  using tree = await fakeRapl([40, 25]);
  await samplerConformance(t, () => RaplSampler.open({ root: tree.root }), {
    devices: 2,
    counter: true,
    power: false,
    totalW: 65,
    notes: [/RAPL has no power reading/],
  });
});

Deno.test("rapl: only package zones, named from sysfs", async () => {
  using tree = await fakeRapl([10]);
  await using s = await RaplSampler.open({ root: tree.root });
  assertEquals(s.devices.map((d) => [d.name, d.kind]), [["package-0", "cpu-package"]]);
});

Deno.test("rapl: counters wrapping at max_energy_range_uj are unwrapped", async () => {
  // A 5 J range at 40 W wraps every 125 ms; the window spans several wraps.
  using tree = await fakeRapl([40], 5_000_000);
  await using monitor = await EnergyMonitor.start(await RaplSampler.open({ root: tree.root }), {
    periodMs: 15,
  });
  monitor.begin("w");
  await new Promise((r) => setTimeout(r, 400));
  const m = await monitor.end("w");
  const expected = 40 * (m.durationMs / 1000);
  assert(Math.abs(m.totalJ! - expected) < 0.1 * expected, `${m.totalJ} J, expected ${expected}`);
});

Deno.test("rapl: the cat reader gives the same readings as direct reads", async () => {
  using tree = await fakeRapl([30]);
  await using s = await RaplSampler.open({ root: tree.root, reader: "cat" });
  const [r] = await s.read();
  assert(r.energyJ !== null && r.energyJ >= 0);
  assertEquals(r.powerW, null);
});

Deno.test("rapl: a host without RAPL is a clear error", async () => {
  const empty = await Deno.makeTempDir();
  await assertRejects(
    () => RaplSampler.open({ root: empty }),
    TelemetryError,
    "no RAPL package zone",
  );
  await assertRejects(
    () => RaplSampler.open({ root: `${empty}/nope` }),
    TelemetryError,
    "cannot list",
  );
});
