/**
 * WebGPU errors made loud. A WebGPU validation or out-of-memory error is not thrown where the
 * work was queued: the device reports it as an `uncapturederror` event and the dispatch does
 * nothing. tfjs does not listen, so a product whose buffer is over the adapter's binding limit
 * (n = 8192 on llvmpipe: a 256 MiB weight against 128 MiB) returned zeros and a "training run"
 * whose loss was 0 from the first step. The trainer checks after every step and fails the run with
 * the device's message.
 *
 * @module
 */

/** Errors the device reported since the last check. */
let pending: string[] = [];
const watched = new WeakSet<object>();

/**
 * Listens to a device's uncaptured errors and its loss (once per device).
 *
 * @param device The webgpu backend's device.
 */
export function watchGpuErrors(device: GPUDevice): void {
  if (watched.has(device)) return;
  watched.add(device);
  device.addEventListener("uncapturederror", (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    pending.push(`${error.constructor.name}: ${error.message}`);
  });
  device.lost.then((info) => {
    // "destroyed": the backend let go of it on purpose.
    if (info.reason !== "destroyed") pending.push(`device lost (${info.reason}): ${info.message}`);
  });
}

/** The error a run fails with when the device reported errors. */
export class GpuError extends Error {
  override name = "GpuError";
}

/**
 * Throws if any watched device reported an error since the last call (and forgets them).
 *
 * @param where What ran, for the message (e.g. "in step 3").
 * @throws {GpuError} Naming the first error and how many there were.
 */
export function assertNoGpuErrors(where: string): void {
  if (pending.length === 0) return;
  const [first, ...rest] = pending;
  pending = [];
  throw new GpuError(
    `WebGPU reported ${rest.length + 1} error(s) ${where}, so results would be wrong: ${
      first.split("\n")[0]
    }`,
  );
}
