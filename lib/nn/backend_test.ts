import * as tf from "@tensorflow/tfjs-core";
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

Deno.test("tensorflow backend: fails here with a message saying why and what to use", async () => {
  // tfjs-node cannot be installed on these machines (its install script downloads libtensorflow
  // from outside the npm registry); where a user installed it, it must load.
  try {
    const info = await selectBackend("tensorflow");
    assertEquals(info.name, "tensorflow");
  } catch (error) {
    assert(error instanceof BackendUnavailableError, String(error));
    assert(error.message.includes("--backend wasm"), error.message);
    assert(error.message.includes("libtensorflow"), error.message);
  }
});

Deno.test("concurrent selections in one realm share one initialisation", async () => {
  const infos = await Promise.all(Array.from({ length: 16 }, () => selectBackend("wasm")));
  assert(infos.every((i) => i.tfjsBackend === "wasm"));
  assertEquals(tf.getBackend(), "wasm");
});
