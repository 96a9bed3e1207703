// WebGPU errors fail runs: on whatever WebGPU adapter is here, a validation error raised on the
// backend's device (an invalid buffer: cheap and the same on every adapter) is reported by the
// next check, once, and a training run during which one happens fails naming the step.
import * as tf from "@tensorflow/tfjs-core";
import { validateTrainConfig } from "../../config/config.ts";
import { trainInProcess } from "../../runtime/trainer.ts";
import { assertEquals, assertRejects, assertThrows } from "../../testing/asserts.ts";
import { assertNoGpuErrors, GpuError } from "./errors.ts";
import { webgpuTest } from "../../testing/webgpu.ts";

const test = webgpuTest;

/** Makes the backend's device report a validation error (MAP_READ with STORAGE is invalid). */
async function provokeError(): Promise<void> {
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
  await device.queue.onSubmittedWorkDone();
  await new Promise((resolve) => setTimeout(resolve, 10)); // the event is dispatched as a task
}

test("GPU errors: a device error is reported by the next check, then forgotten", async () => {
  assertNoGpuErrors("before"); // nothing pending
  await provokeError();
  const error = assertThrows(() => assertNoGpuErrors("in the test"), GpuError);
  assertEquals(/WebGPU reported 1 error\(s\) in the test/.test(error.message), true);
  assertNoGpuErrors("after"); // reported once
});

test("GPU errors: a training run fails naming the step after which the device reported one", async () => {
  const config = validateTrainConfig({
    mode: "tp",
    ranks: 1,
    width: 32,
    batch: 8,
    layers: 1,
    steps: 6,
    task: { evalEvery: 6, evalSize: 8 },
  });
  let provoke: Promise<void> | undefined;
  await assertRejects(
    async () => {
      await trainInProcess(config, {
        onStepStart: (step) => {
          if (step === 1) provoke = provokeError();
        },
      });
    },
    GpuError,
    // The device dispatches the event as a task: the check after step 1 or a later one sees it.
    "in step",
  );
  await provoke;
  assertNoGpuErrors("after the run"); // the failing check took them
});
