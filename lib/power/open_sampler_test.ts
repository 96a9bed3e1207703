import { ConfigError } from "../config/config_error.ts";
import { openPowerSampler } from "./open_sampler.ts";
import { writeFakeTools } from "./fakes/fake_tools.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";

const tools = await writeFakeTools();
const missing = await Deno.makeTempDir();
const nothing = {
  nvmlLibrary: `${missing}/libnvidia-ml.so.1`,
  commands: {
    "nvidia-smi": `${missing}/nvidia-smi`,
    "amd-smi": `${missing}/amd-smi`,
    "rocm-smi": `${missing}/rocm-smi`,
  },
  raplRoot: `${missing}/powercap`,
};

Deno.test("auto: picks the first working backend and says why the better ones were skipped", async () => {
  const { sampler, reasons } = await openPowerSampler("auto", {
    ...nothing,
    commands: { ...nothing.commands, "nvidia-smi": tools.nvidiaSmi },
  });
  await using _ = sampler;
  assertEquals(sampler.backend, "nvidia-smi");
  assertEquals(reasons.map((r) => r.split(":")[0]), ["nvml", "amd-smi", "rocm-smi", "nvidia-smi"]);
  assert(reasons[0].includes("cannot load"), reasons[0]);
  assert(reasons[3].endsWith("available, chosen"), reasons[3]);
});

Deno.test("auto: with no telemetry at all it falls back to none, recording every reason", async () => {
  const { sampler, reasons } = await openPowerSampler("auto", nothing);
  await using _ = sampler;
  assertEquals(sampler.backend, "none");
  assertEquals(reasons.length, 6);
  assert(sampler.notes[0].includes("rapl: cannot list"), sampler.notes[0]);
});

Deno.test("a named backend that cannot open is an error, not a silent fallback", async () => {
  await assertRejects(() => openPowerSampler("nvml", nothing), Error, "nvml: cannot load");
});

Deno.test("an unknown backend name is a config error naming it", async () => {
  await assertRejects(
    () => openPowerSampler("ipmi"),
    ConfigError,
    'power ("ipmi") must be one of auto, nvml',
  );
});
