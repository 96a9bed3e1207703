/**
 * Tests that need a WebGPU adapter (a GPU, or the software adapter llvmpipe on the build
 * machines): one reason they cannot run here, and a `Deno.test` that is ignored with it.
 *
 * @module
 */

import { selectBackend } from "../nn/backend.ts";

/** Why webgpu cannot run here (the first line of the backend's error), or undefined. */
export const webgpuUnavailable: string | undefined = await selectBackend("webgpu").then(
  () => undefined,
  (e: Error) => e.message.split("\n")[0],
);

/**
 * A test on the webgpu backend (selected again before it runs: other tests may switch away),
 * ignored with the reason where there is no adapter or `skip` says why not.
 *
 * @param name The test's name.
 * @param fn The test.
 * @param skip Another reason to ignore it, or undefined.
 */
export function webgpuTest(name: string, fn: () => Promise<void>, skip?: string): void {
  const why = skip ?? webgpuUnavailable;
  Deno.test({
    name: why ? `${name} [skipped: ${why}]` : name,
    ignore: why !== undefined,
    fn: async () => {
      await selectBackend("webgpu");
      await fn();
    },
  });
}
