import { expandSweep, type Sweep } from "../config/sweep.ts";
import { planMemoryWall } from "../config/memory_wall.ts";
import { memoryWall } from "../config/sweeps.ts";
import { EnergyMonitor } from "../power/energy_monitor.ts";
import { NoneSampler } from "../power/none_sampler.ts";
import { assert, assertEquals } from "../testing/asserts.ts";
import { backendTest } from "../testing/harness.ts";
import { localEnergyWindows } from "./energy_windows.ts";
import { formatBytes } from "../results/units.ts";
import { isOutOfMemory, runSweep } from "./runner.ts";

async function run(sweep: Sweep, memoryCapBytes?: number, hostMemoryBytes?: number) {
  await using monitor = await EnergyMonitor.start(new NoneSampler(), { periodMs: 20 });
  return await runSweep(expandSweep(sweep), {
    communicator: { kind: "in-process" },
    bytesPerElement: 4,
    dtype: "float32",
    energy: localEnergyWindows(monitor, [], null),
    target: { kind: "fraction", value: 0.5 },
    cooldownMs: 0,
    memoryCapBytes,
    hostMemoryBytes,
  });
}

const sweep = (base: Record<string, unknown>, axes: Record<string, unknown[]>): Sweep => ({
  id: "t",
  version: 1,
  description: "",
  repeats: 1,
  warmup: 1,
  base: { layers: 2, batch: 8, steps: 3, task: { evalEvery: 3, evalSize: 16 }, ...base },
  axes,
});

backendTest(
  "a point predicted above --memory-cap is recorded out-of-memory with the prediction, not run",
  async () => {
    const runs = await run(sweep({ mode: "tp", ranks: 2 }, { width: [64, 2048] }), 4 * 2 ** 20);
    assertEquals(runs.map((r) => r.status), ["ok", "out-of-memory"]);
    const oom = runs[1];
    assert(oom.predictedMemoryBytesPerRank! > 4 * 2 ** 20);
    assertEquals(oom.memoryCapBytes, 4 * 2 ** 20);
    assert(oom.error!.includes("exceeds the memory cap of 4.0 MiB: not run"), oom.error);
    assertEquals(oom.metrics, undefined);
    assert(
      runs[0].metrics!.memory!.peakTensorBytesPerRank <=
        runs[0].metrics!.predicted.memoryBytesPerRank! * 1.1,
    );
  },
  { webgpu: false },
);

backendTest(
  "a real allocation failure fails the point as out-of-memory and the sweep goes on",
  async () => {
    // n = 2e6 on one rank: a 16 TB weight matrix, refused by the allocator at once.
    const runs = await run(sweep({ mode: "tp", ranks: 1 }, { width: [2_000_000, 32] }));
    assertEquals(runs.map((r) => r.status), ["out-of-memory", "ok"]);
    assert(runs[0].error!.startsWith("ran out of memory: "), runs[0].error);
  },
  { webgpu: false },
);

Deno.test("allocation failures are told apart from other errors", () => {
  assert(isOutOfMemory("RangeError: Array buffer allocation failed"));
  assert(isOutOfMemory("Invalid typed array length: 4900000000"));
  assert(!isOutOfMemory("rank 3 sent no heartbeat for 30000 ms"));
  assertEquals(formatBytes(32 * 2 ** 20), "32.0 MiB");
  assertEquals(formatBytes(100), "100 B");
});

Deno.test("the memory-wall sweep runs only the widest fitting width of each series and the first over", () => {
  const cap = memoryWall.memoryCap!;
  const plan = planMemoryWall(expandSweep(memoryWall), cap);
  const at = (mode: string, p: number) =>
    plan.points.filter((x) => x.config.mode === mode && x.config.ranks === p).map((x) =>
      x.config.width
    );
  // TP holds n x m per hidden layer, phantom m x m: the wall moves out with p much faster for phantom.
  assertEquals(at("tp", 8), [2048, 4096]);
  assertEquals(at("tp", 256), [8192, 16384]);
  assertEquals(at("phantom", 8), [4096, 8192]);
  assertEquals(at("phantom", 256), [65536]); // fits at every width: no wall in range
  assertEquals(
    plan.points.length + plan.excluded.length,
    expandSweep(memoryWall).points.length + expandSweep(memoryWall).excluded.length,
  );
});

backendTest(
  "a point whose ranks together exceed the host's memory is recorded out-of-memory, not run",
  async () => {
    // 10^6 layers would take the host's memory and hours; the prediction says so at once.
    const runs = await run(
      sweep({ mode: "tp", ranks: 2, width: 64 }, { layers: [2, 1_000_000] }),
      undefined,
      Deno.systemMemoryInfo().total,
    );
    assertEquals(runs.map((r) => r.status), ["ok", "out-of-memory"]);
    assert(runs[1].error!.includes("for its 2 ranks, exceeds this host's memory"), runs[1].error);
  },
  { webgpu: false },
);
