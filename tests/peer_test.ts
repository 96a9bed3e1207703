// The numpy peer (lib/runtime/numpy_peer.py): an independent implementation of the same training
// path, fed the suite's own initial weights and batches. The suite's loss must equal the peer's
// within float32 tolerance at every step: a check of the whole training path no one can tune to.
import { validateTrainConfig } from "../lib/config/config.ts";
import { selectBackend } from "../lib/nn/backend.ts";
import { comparePeer, runNumpyPeer } from "../lib/runtime/peer.ts";
import { trainInProcess } from "../lib/runtime/trainer.ts";
import { parseResults } from "../lib/results/results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { TEST_BACKENDS } from "../lib/testing/harness.ts";
import { runTask } from "../lib/testing/run_deno.ts";
import { deadlineTest, NUMPY, systemTest } from "../lib/testing/system.ts";

const POINTS = [
  { mode: "serial", ranks: 1, optimizer: { name: "sgd", learningRate: 0.05, momentum: 0.9 } },
  { mode: "tp", ranks: 4, optimizer: { name: "adam", learningRate: 0.003 } },
  { mode: "phantom", ranks: 4, phantomWidth: 2, optimizer: { name: "adam", learningRate: 0.003 } },
  { mode: "phantom", ranks: 2, phantomWidth: 3, optimizer: { name: "sgd", learningRate: 0.05 } },
] as const;

for (const backend of TEST_BACKENDS) {
  systemTest([NUMPY], {
    name:
      `[${backend}] the suite's loss equals the numpy peer's within float32 tolerance at every step`,
    fn: async () => {
      try {
        await selectBackend(backend);
      } catch (error) {
        console.log(`backend ${backend} unavailable: ${(error as Error).message}`);
        return;
      }
      for (const point of POINTS) {
        const config = validateTrainConfig({
          ...point,
          width: 48,
          layers: 2,
          batch: 12,
          steps: 15,
          backend,
          task: { evalEvery: 5, evalSize: 32 },
        });
        const [rank0] = await trainInProcess(config);
        const peer = await runNumpyPeer(config, 1);
        assertEquals(peer.losses.length, 15);
        const c = comparePeer(peer, rank0, 2);
        assert(
          c.maxRelativeLossDifference < 1e-4,
          `${point.mode} p=${point.ranks}: ${c.maxRelativeLossDifference}`,
        );
        rank0.evals.forEach((e, i) => {
          assertEquals(e.step, peer.evals[i][0]);
          assert(Math.abs(e.loss - peer.evals[i][1]) <= 1e-4 * peer.evals[i][1], `eval ${e.step}`);
        });
        // A wrong peer would be caught: the curve moves by far more than the tolerance.
        assert(Math.abs(peer.losses[0] - peer.losses[14]) > 100 * 1e-4 * peer.losses[0]);
      }
    },
  });
}

systemTest([NUMPY], {
  name: "bench --peer numpy records the peer's loss curve and step time beside the suite's",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const r = await runTask("bench", [
      "--mode",
      "phantom",
      "--ranks",
      "2",
      "--width",
      "32",
      "--phantom-width",
      "2",
      "--batch",
      "8",
      "--steps",
      "8",
      "--warmup",
      "1",
      "--communicator",
      "inprocess",
      "--peer",
      "numpy",
      "--out",
      dir,
    ]);
    assertEquals(r.code, 0, r.stderr);
    assert(r.stdout.includes("peer numpy"), r.stdout);
    const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))!;
    const results = parseResults(await Deno.readTextFile(`${dir}/${file.name}`));
    const peer = results.runs[0].peer!;
    assertEquals(peer.name, "numpy");
    assertEquals(peer.stepTimeMs!.samples.length, 7);
    assert(peer.maxRelativeLossDifference! < 1e-4);
    assertEquals(
      peer.lossCurve!.map((c) => c[0]),
      results.runs[0].metrics!.loss!.curve.map((c) => c[0]),
    );
  },
});

deadlineTest(
  "bench --peer numpy without python3 says so and exits 2 before anything runs",
  async () => {
    const dir = await Deno.makeTempDir();
    const r = await runTask(
      "bench",
      [
        "--ranks",
        "2",
        "--width",
        "32",
        "--peer",
        "numpy",
        "--out",
        dir,
      ],
      { PATH: await Deno.makeTempDir() },
    );
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(r.stderr.includes("Cannot use --peer numpy: python3 is not installed"), r.stderr);
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  },
);
