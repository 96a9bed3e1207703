import { AmdSmiSampler, parseAmdSmi, parseRocmSmi } from "./amd_smi_sampler.ts";
import { NvidiaSmiSampler } from "./nvidia_smi_sampler.ts";
import { TelemetryError } from "./power_sampler.ts";
import { writeFakeTools } from "./fakes/fake_tools.ts";
import { samplerConformance } from "../testing/sampler_conformance.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";

const tools = await writeFakeTools();

Deno.test("nvidia-smi backend passes the sampler conformance suite", async (t) => {
  await samplerConformance(t, () => NvidiaSmiSampler.open({ command: tools.nvidiaSmi }), {
    devices: 2,
    counter: false,
    power: true,
    totalW: 200,
    notes: [/no energy counter through nvidia-smi/],
  });
});

Deno.test("nvidia-smi: instant power preferred, power.draw as a noted fallback", async () => {
  await using instant = await NvidiaSmiSampler.open({ command: tools.nvidiaSmi, devices: [1] });
  assertEquals((await instant.read())[0].powerW, 50);
  assert(!instant.notes.some((n) => n.includes("power.draw.instant is not available")));
  Deno.env.set("FAKE_SMI_NO_INSTANT", "1");
  try {
    await using average = await NvidiaSmiSampler.open({ command: tools.nvidiaSmi });
    assert(average.notes[0].includes("~1 s average"), average.notes[0]);
    assertEquals((await average.read()).map((r) => r.powerW), [150, 50]);
  } finally {
    Deno.env.delete("FAKE_SMI_NO_INSTANT");
  }
});

Deno.test("nvidia-smi: missing tool and unknown GPU are clear errors", async () => {
  await assertRejects(
    () => NvidiaSmiSampler.open({ command: `${tools.dir}/missing-smi` }),
    TelemetryError,
    "not found on PATH",
  );
  await assertRejects(
    () => NvidiaSmiSampler.open({ command: tools.nvidiaSmi, devices: [7] }),
    TelemetryError,
    "GPU index 7 does not exist: nvidia-smi lists 0, 1",
  );
});

for (const tool of ["amd-smi", "rocm-smi"] as const) {
  const command = tool === "amd-smi" ? tools.amdSmi : tools.rocmSmi;
  Deno.test(`${tool} backend passes the sampler conformance suite (counter validated)`, async (t) => {
    await samplerConformance(t, () => AmdSmiSampler.open({ tool, command, validationMs: 200 }), {
      devices: 1,
      counter: true,
      power: true,
      totalW: 120,
      notes: [/GPU 0: energy counter trusted: [\d.]+ J counted vs [\d.]+ J from power/],
    });
  });

  Deno.test(`${tool}: a counter that disagrees with integrated power is not trusted`, async () => {
    Deno.env.set("FAKE_AMD_SCALE", "1000");
    try {
      await using s = await AmdSmiSampler.open({ tool, command, validationMs: 200 });
      assertEquals(s.devices[0].energyCounter, false);
      assert(s.notes[0].includes("NOT trusted"), s.notes[0]);
      const [r] = await s.read();
      assertEquals([r.energyJ, r.powerW], [null, 120]);
    } finally {
      Deno.env.delete("FAKE_AMD_SCALE");
    }
  });
}

Deno.test("AMD JSON parsers convert units and tolerate missing fields", () => {
  assertEquals(
    parseAmdSmi([
      {
        gpu: 1,
        power: { socket_power: { value: 250000, unit: "mW" } },
        energy: { total_energy_consumption: { value: 5, unit: "kJ" } },
      },
      { gpu: 2, power: { socket_power: "N/A" }, energy: {} },
    ]),
    [{ index: 1, powerW: 250, energyJ: 5000 }, { index: 2, powerW: null, energyJ: null }],
  );
  assertEquals(
    parseRocmSmi({
      card3: { "Average Graphics Package Power (W)": "93.5", "Accumulated Energy (uJ)": "2000000" },
      system: { "Driver version": "6.0" },
    }),
    [{ index: 3, powerW: 93.5, energyJ: 2 }],
  );
});
