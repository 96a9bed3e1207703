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

const tfjsNodeInstalled = ["tfjs-node", "tfjs-node-gpu"].some((p) => {
  try {
    return Deno.statSync(new URL(`../../node_modules/@tensorflow/${p}`, import.meta.url))
      .isDirectory;
  } catch {
    return false;
  }
});

Deno.test(
  `tensorflow backend: ${
    tfjsNodeInstalled ? "loads where tfjs-node is installed" : "fails here with why and what to use"
  }`,
  async () => {
    // tfjs-node cannot be installed on these machines (its install script downloads
    // libtensorflow from outside the npm registry); where a user installed it, it must load.
    if (tfjsNodeInstalled) {
      assertEquals((await selectBackend("tensorflow")).name, "tensorflow");
      return;
    }
    const error = await assertRejects(() => selectBackend("tensorflow"), BackendUnavailableError);
    assert(error.message.includes("--backend wasm"), error.message);
    assert(error.message.includes("libtensorflow"), error.message);
  },
);

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
