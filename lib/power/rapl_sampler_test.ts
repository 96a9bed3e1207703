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
  // Driven step by step, not by the clock: each write is what the kernel would show next.
  const root = await Deno.makeTempDir({ prefix: "fake-powercap-" });
  const zone = `${root}/intel-rapl:0`;
  await Deno.mkdir(zone, { recursive: true });
  await Deno.writeTextFile(`${zone}/name`, "package-0\n");
  await Deno.writeTextFile(`${zone}/max_energy_range_uj`, "4999999\n"); // wraps at 5 J
  const show = (uj: number) => Deno.writeTextFile(`${zone}/energy_uj`, `${uj}\n`);
  await show(4_000_000);
  await using s = await RaplSampler.open({ root });
  const energy = async () => (await s.read())[0].energyJ!;
  const start = await energy();
  // +0.5 J, then across the wrap (4.5 J -> 0.25 J is +0.75 J), then +4.5 J (nearly a range).
  for (const [uj, total] of [[4_500_000, 0.5], [250_000, 1.25], [4_750_000, 5.75]] as const) {
    await show(uj);
    const got = (await energy()) - start;
    assert(Math.abs(got - total) < 1e-9, `after ${uj} uJ: ${got} J, expected ${total}`);
  }
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
