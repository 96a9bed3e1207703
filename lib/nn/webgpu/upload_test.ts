// Uploads by queue.writeBuffer on whatever WebGPU adapter is here: values arrive intact, a
// pooled buffer reused while earlier work is still queued does not change that work's result,
// and dtypes the path does not take still go through tfjs's own.
import * as tf from "@tensorflow/tfjs-core";
import { assertEquals } from "../../testing/asserts.ts";
import { uploadCounters } from "./upload.ts";
import { webgpuTest } from "../../testing/webgpu.ts";

const skip = Deno.env.get("PHANTOM_WEBGPU_UPLOAD") === "tfjs"
  ? "PHANTOM_WEBGPU_UPLOAD=tfjs"
  : undefined;
const test = (name: string, fn: () => Promise<void>) => webgpuTest(name, fn, skip);

test("uploads: float32 and int32 values arrive intact through writeBuffer, offsets included", async () => {
  // Above tfjs-webgpu's CPU hand-off threshold (1000 elements), so the ops run on the GPU.
  const before = uploadCounters.queue;
  const backing = new Float32Array(1 + 3 * 700).map((_, i) => i * 0.5 - 3);
  const view = backing.subarray(1); // a view that does not start at its buffer's start
  const a = tf.tensor2d(view, [3, 700]);
  const doubled = tf.mul(a, 2);
  assertEquals(Array.from(await doubled.data()), Array.from(view, (v) => v * 2));
  const intValues = Int32Array.from({ length: 2048 }, (_, i) => (i % 2 ? -i : i << 10));
  const ints = tf.tensor1d(intValues, "int32");
  assertEquals(Array.from(await tf.add(ints, 1).data()), Array.from(intValues, (v) => v + 1));
  // The two tensors, and the scalars 2 and 1 where tfjs uploads them as tensors.
  assertEquals(uploadCounters.queue - before >= 2, true);
  tf.dispose([a, doubled, ints]);
});

test("uploads: a pooled buffer reused before earlier work is submitted leaves that work's result", async () => {
  // Many rounds of: upload, compute (queued, not yet read), drop the input so its buffer returns to
  // the pool, upload different values of the same size (likely into that buffer), compute. Each
  // result must reflect its own input.
  const n = 4096;
  const results: tf.Tensor[] = [];
  for (let round = 0; round < 8; round++) {
    const x = tf.tensor1d(new Float32Array(n).fill(round));
    results.push(tf.add(x, 0.5));
    x.dispose();
  }
  for (let round = 0; round < 8; round++) {
    const values = await results[round].data();
    assertEquals([values[0], values[n - 1]], [round + 0.5, round + 0.5]);
  }
  tf.dispose(results);
});

test("uploads: bool tensors go through tfjs's own path and still arrive", async () => {
  const before = uploadCounters.tfjs;
  const bits = Array.from({ length: 2048 }, (_, i) => i % 3 === 0);
  const mask = tf.tensor1d(bits, "bool");
  assertEquals(Array.from(await tf.logicalNot(mask).data()), bits.map((b) => (b ? 0 : 1)));
  assertEquals(uploadCounters.tfjs - before >= 1, true);
  mask.dispose();
});
