// The webgpu backend end to end over NATS: each worker process asks for its own GPU (here on the
// software adapter, where nothing can select: the selection path runs, and the results record
// what each rank asked for, how it was chosen, the adapter it got, and the warnings).
import { loadResults } from "../lib/results/results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { runTask } from "../lib/testing/run_deno.ts";
import { NATS_SERVER, NO_SANITIZERS, systemTest } from "../lib/testing/system.ts";
import { webgpuUnavailable } from "../lib/testing/webgpu.ts";

const webgpu = webgpuUnavailable;

systemTest([NATS_SERVER], {
  ...NO_SANITIZERS,
  name:
    "webgpu over NATS: every rank records the GPU it asked for, the method, the adapter and warnings",
  ignore: webgpu !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const r = await runTask(
      "bench",
      [
        "--backend",
        "webgpu",
        "--mode",
        "tp",
        "--ranks",
        "2",
        "--width",
        "64",
        "--batch",
        "8",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--processes",
        "2",
        "--cooldown",
        "0",
        "--out",
        dir,
      ],
      { CUDA_VISIBLE_DEVICES: "0,1" },
    );
    assertEquals(r.code, 0, r.stderr + r.stdout);
    const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))!.name;
    const run = (await loadResults(`${dir}/${file}`)).runs[0];
    assertEquals(run.gpu?.map((g) => g.requested), ["0", "1"]);
    for (const g of run.gpu!) {
      assert(g.method.startsWith("none:"), g.method);
      assert(g.adapter.length > 0, "an adapter was named");
      assert(g.warnings.some((w) => w.includes("nothing can select")), JSON.stringify(g.warnings));
    }
    assert(
      run.gpu![1].warnings.some((w) =>
        w.includes("ranks 0 and 1 asked for GPUs 0 and 1 but got the same adapter")
      ),
    );
    assertEquals(run.status, "ok");
  },
});
