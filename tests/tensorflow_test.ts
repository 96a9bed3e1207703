// The numerical tests on the tensorflow backend (tfjs-node on the TensorFlow wheel's library, set
// up by scripts/setup-tensorflow), one test file per subprocess: libtensorflow and the WebGPU
// software adapter cannot share a process (measured: the process exits when both are loaded), and
// the main run's backend matrix holds webgpu. Each file runs with PHANTOM_TEST_BACKENDS=tensorflow:
// layers against float64, TP and phantom against the serial FFN, one optimizer update against
// float64 at 1e-7, training, and the SGD curve within 3e-6 of wasm's.
import { tfjsNodeSetUp } from "../lib/nn/tensorflow_backend.ts";
import { assert } from "../lib/testing/asserts.ts";
import { ROOT } from "../lib/testing/run_deno.ts";
import { deadlineTest } from "../lib/testing/system.ts";

const setUp = tfjsNodeSetUp();

const FILES = [
  "lib/nn/dense_layer_test.ts",
  "lib/nn/optimizer_test.ts",
  "lib/parallel/ffn_test.ts",
  "lib/parallel/tp_layer_test.ts",
  "lib/parallel/phantom_layer_test.ts",
  "lib/parallel/output_layer_test.ts",
  "lib/runtime/trainer_test.ts",
];

for (const file of FILES) {
  const name = `[tensorflow] ${file} passes on the tensorflow backend`;
  if (!setUp) {
    Deno.test({
      name: `${name} [skipped: not set up: run scripts/setup-tensorflow]`,
      ignore: true,
      fn: () => {},
    });
    continue;
  }
  deadlineTest(name, async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--no-check", // the main run checks types
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "--allow-run",
        "--allow-net",
        "--allow-ffi",
        file,
      ],
      cwd: ROOT,
      env: { PHANTOM_TEST_BACKENDS: "tensorflow", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const summary = text.match(/(ok|FAILED) \| (\d+) passed[^\n]*/)?.[0] ?? "no summary";
    console.log(`${file}: ${summary}`);
    assert(out.success, `${file} on tensorflow: ${summary}\n${text.slice(-3000)}`);
    // Every test of the file ran on tensorflow: none was skipped for want of it.
    assert(!text.includes("[tensorflow]") || !/\[tensorflow\][^\n]*skipped/.test(text), text);
    assert(/\[tensorflow\]/.test(text), `no test ran on tensorflow:\n${text.slice(-2000)}`);
  });
}

// The bench on tensorflow over NATS: rank worker processes (Web Workers) load tfjs-node too.
if (setUp) {
  const { NATS_SERVER, NO_SANITIZERS, systemTest } = await import("../lib/testing/system.ts");
  const { runTask } = await import("../lib/testing/run_deno.ts");
  const { parseResults } = await import("../lib/results/results.ts");
  systemTest([NATS_SERVER], {
    ...NO_SANITIZERS,
    name: "[tensorflow] the bench trains TP and phantom over NATS on it, recording its build",
    fn: async () => {
      const dir = await Deno.makeTempDir();
      const r = await runTask("bench", [
        "--backend",
        "tensorflow",
        "--mode",
        "tp,phantom",
        "--ranks",
        "2",
        "--width",
        "64",
        "--phantom-width",
        "4",
        "--batch",
        "8",
        "--steps",
        "6",
        "--warmup",
        "1",
        "--cooldown",
        "0",
        "--out",
        dir,
      ]);
      assert(r.code === 0, r.stdout + r.stderr);
      const name = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))!.name;
      const results = parseResults(await Deno.readTextFile(`${dir}/${name}`));
      const backend = results.environment.tfjs?.backend as
        | { name: string; flags: Record<string, unknown> }
        | undefined;
      assert(backend?.name === "tensorflow", JSON.stringify(backend));
      assert(backend.flags.tensorflowBuild === "cpu" && backend.flags.tf32 === false);
      assert(String(backend.flags.tensorflowLibrary).endsWith("libtensorflow_cc.so.2"));
      assert(results.communicator.kind === "nats");
      for (const run of results.runs) {
        assert(run.status === "ok", `${run.id}: ${run.error}`);
        assert(run.metrics!.bytesMatchPrediction, `${run.id}: bytes differ from the prediction`);
      }
    },
  });
}

// bench:gemm times tensorflow's products beside the WGSL kernels, in a child process of its own.
if (setUp) {
  const { webgpuUnavailable } = await import("../lib/testing/webgpu.ts");
  const { runTask } = await import("../lib/testing/run_deno.ts");
  const name = "[tensorflow] bench:gemm sets tensorflow's GFLOP/s beside the WGSL kernels'";
  Deno.test({
    name: webgpuUnavailable ? `${name} [skipped: ${webgpuUnavailable}]` : name,
    ignore: webgpuUnavailable !== undefined,
    fn: async () => {
      const json = `${await Deno.makeTempDir()}/gemm.json`;
      const r = await runTask("bench:gemm", [
        "--sizes",
        "64",
        "--layouts",
        "NN,NT",
        "--budget-ms",
        "20",
        "--tensorflow",
        "yes",
        "--json",
        json,
      ]);
      assert(r.code === 0, r.stdout + r.stderr);
      const file = JSON.parse(await Deno.readTextFile(json));
      assert(file.tensorflow?.tensorflowBuild === "cpu", JSON.stringify(file.tensorflow));
      for (const row of file.rows) {
        assert(row.tensorflowGflops > 0, JSON.stringify(row));
        assert(row.oursGflops > 0, JSON.stringify(row));
      }
    },
  });
}
