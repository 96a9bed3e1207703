import { communicatorConformance } from "../testing/communicator_conformance.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";
import { createInProcessGrid, gridPosition, groupRunId } from "./grid.ts";

Deno.test("grid groups in process pass the conformance suite: data groups and model groups", async (t) => {
  // The group under test is one of several in its grid: data group of model rank 1 (d = size),
  // then model group of replica 1 (p = size).
  await t.step("data groups", (s) =>
    communicatorConformance(s, (size, timeoutMs) => {
      const grid = createInProcessGrid(size, 2, { timeoutMs });
      const comms = grid.filter((g) => g.position.modelRank === 1).map((g) => g.data!);
      return Promise.resolve({ comms, close: () => {} });
    }, { sizes: [2, 3, 4] }));
  await t.step("model groups", (s) =>
    communicatorConformance(s, (size, timeoutMs) => {
      const grid = createInProcessGrid(2, size, { timeoutMs });
      const comms = grid.filter((g) => g.position.replica === 1).map((g) => g.model);
      return Promise.resolve({ comms, close: () => {} });
    }));
});

Deno.test("grid: groups run at once without mixing, each counting its own bytes", async () => {
  const [d, p] = [3, 2];
  const grid = createInProcessGrid(d, p);
  // Every model group and every data group sums its members' global ranks, all concurrently.
  const results = await Promise.all(grid.map(async ({ position, model, data }) => ({
    position,
    model: (await model.allReduce(new Float32Array([position.rank])))[0],
    data: (await data!.allReduce(new Float32Array([position.rank, 1])))[0],
  })));
  for (const r of results) {
    const { replica, modelRank } = r.position;
    assertEquals(r.model, p * p * replica + (p * (p - 1)) / 2, `model group of replica ${replica}`);
    assertEquals(r.data, p * (d * (d - 1)) / 2 + d * modelRank, `data group of rank ${modelRank}`);
  }
  // The model group moved 1 element per rank, the data group 2: counted apart.
  assertEquals(grid[4].model.stats().bytesSent, 4);
  assertEquals(grid[4].data!.stats().bytesSent, 8);
  assertEquals(grid[4].data!.stats().bytesReceived, 8 * (d - 1));
});

Deno.test("grid positions, sizes and group ids", () => {
  assertEquals(gridPosition(7, 3), { rank: 7, replica: 2, modelRank: 1 });
  const grid = createInProcessGrid(1, 4);
  assert(grid.every((g) => g.data === undefined), "d = 1: no data groups");
  assertThrows(() => createInProcessGrid(0, 2), RangeError, "replicas (0)");
  assertEquals(groupRunId("pb-run_1", "d3"), "pb-run_1-gd3");
  assertThrows(() => groupRunId("x", "q1"), RangeError, "m<i> or d<r>");
});
