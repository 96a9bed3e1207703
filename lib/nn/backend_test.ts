import * as tf from "@tensorflow/tfjs-core";
import { tfjsNodeSetUp } from "./tensorflow_backend.ts";
import { BackendUnavailableError, selectBackend } from "./backend.ts";
import { ConfigError } from "../config/config_error.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";

Deno.test("wasm backend: selected by name, SIMD detected and recorded", async () => {
  const info = await selectBackend("wasm");
  assertEquals([info.name, info.tfjsBackend, tf.getBackend()], ["wasm", "wasm", "wasm"]);
  assertEquals(typeof info.flags.simd, "boolean");
  assertEquals(info.flags.explicitTranspose, true);
  assertEquals(info.tfjsVersion, tf.version_core);
});

Deno.test("cpu backend: selected by name", async () => {
  const info = await selectBackend("cpu");
  assertEquals(info.tfjsBackend, "cpu");
  const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
  assertEquals([...y.dataSync()], [11]);
});

Deno.test("an unknown backend name is a config error naming it", async () => {
  await assertRejects(() => selectBackend("cuda"), ConfigError, 'backend ("cuda")');
});

const tfjsNodeIsSetUp = tfjsNodeSetUp();

// Where scripts/setup-tensorflow ran, tests/tensorflow_test.ts loads it (in processes of its
// own: it cannot share one with the WebGPU adapter); here only the message without it.
Deno.test({
  name: "tensorflow backend: not set up, it fails with one line naming scripts/setup-tensorflow" +
    (tfjsNodeIsSetUp ? " [skipped: it is set up here; tests/tensorflow_test.ts runs it]" : ""),
  ignore: tfjsNodeIsSetUp,
  fn: async () => {
    const error = await assertRejects(() => selectBackend("tensorflow"), BackendUnavailableError);
    assert(error.message.includes("scripts/setup-tensorflow"), error.message);
    assert(error.message.includes("--backend blas or wasm"), error.message);
  },
});

Deno.test("concurrent selections in one realm share one initialisation", async () => {
  await selectBackend("cpu"); // switch away, so the selections below must initialise wasm again
  const pending = Array.from({ length: 16 }, () => selectBackend("wasm"));
  const infos = await Promise.all(pending);
  // One initialisation: every caller got the very same description object.
  assert(infos.every((i) => i === infos[0]), "selections initialised separately");
  assertEquals(tf.getBackend(), "wasm");
  // A later selection of the active backend reuses it too.
  assert((await selectBackend("wasm")) === infos[0]);
});
