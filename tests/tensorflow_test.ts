// The numerical tests on the tensorflow backend (tfjs-node on the TensorFlow wheel's library, set
// up by scripts/setup-tensorflow), one test file per subprocess: libtensorflow and the WebGPU
// software adapter cannot share a process (measured: the process exits when both are loaded), and
// the main run's backend matrix holds webgpu. Each file runs with PHANTOM_TEST_BACKENDS=tensorflow:
// layers against float64, TP and phantom against the serial FFN, one optimizer update against
// float64 at 1e-7, training, and the SGD curve within 3e-6 of wasm's.
import { assert } from "../lib/testing/asserts.ts";
import { ROOT } from "../lib/testing/run_deno.ts";
import { deadlineTest } from "../lib/testing/system.ts";

const ADDON = `${ROOT}/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node`;
const setUp = (() => {
  try {
    return Deno.statSync(ADDON).isFile;
  } catch {
    return false;
  }
})();

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
