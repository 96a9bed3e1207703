/**
 * Host-to-GPU uploads through `GPUQueue.writeBuffer` instead of tfjs-webgpu's mapped buffers.
 *
 * tfjs-webgpu uploads a tensor made from CPU values (every gathered activation, every received
 * gradient block) by creating its buffer `mappedAtCreation` (or a MAP_WRITE staging buffer) and
 * writing through `getMappedRange()`. Deno's `getMappedRange` returns a copy of the mapped memory
 * and writes it back on `unmap`: a *read* of the mapping first. On an NVIDIA H200 (Vulkan, driver
 * 580) that memory is write-combined, and reading it ran at about 25 MB/s: a CPU profile of TP at
 * p = 2, n = 4096, b = 1024, L = 4 (one process, no transport) spent 83% of its 8.1 s step in
 * `getMappedRange` under `uploadToGPU`, while p = 1, which uploads nothing inside a step, took
 * 69 ms. `writeBuffer` only writes: wgpu copies the values into its own staging memory.
 *
 * Ordering is the same as tfjs's: a buffer taken from the pool is referenced by no command still
 * being recorded (tfjs defers releasing buffers those commands use until they are submitted), and
 * the write is a queue operation, so it lands before any command buffer submitted after it.
 *
 * `PHANTOM_WEBGPU_UPLOAD=tfjs` keeps tfjs's own uploads (to compare).
 *
 * @module
 */

import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";

/** What the upload path is, for the results (backend flags). */
export const QUEUE_UPLOADS = "queue.writeBuffer";

/** The parts of tfjs-webgpu's backend the upload touches (internal to tfjs, hence typed here). */
interface UploadingBackend {
  tensorMap: {
    get(dataId: object): {
      dtype: string;
      shape: number[];
      values: unknown;
      resource: unknown;
    } | undefined;
  };
  bufferManager: { acquireBuffer(size: number, usage: number): GPUBuffer };
  queue: GPUQueue;
  uploadToGPU(dataId: object): void;
}

/** How many uploads went through writeBuffer, and how many through tfjs's own path (tests). */
export const uploadCounters = { queue: 0, tfjs: 0 };

let installed = false;

/**
 * Replaces the webgpu backend's upload of CPU values (once per realm) with `writeBuffer` for
 * float32 and int32 tensors whose values fill their buffer; anything else keeps tfjs's path.
 *
 * @param backendClass tfjs-webgpu's `WebGPUBackend` (its prototype is patched).
 * @returns The upload path, for the backend flags.
 */
export function installQueueUploads(backendClass: typeof WebGPUBackend): Record<string, string> {
  if (installed) return { upload: QUEUE_UPLOADS };
  const proto = backendClass.prototype as unknown as UploadingBackend;
  const original = proto.uploadToGPU;
  if (typeof original !== "function") {
    // A tfjs-webgpu without this method: nothing to replace, say what runs.
    return { upload: "tfjs-webgpu" };
  }
  proto.uploadToGPU = function (this: UploadingBackend, dataId: object): void {
    const data = this.tensorMap.get(dataId);
    const values = data?.values;
    if (
      !data || data.resource != null ||
      !(values instanceof Float32Array || values instanceof Int32Array) ||
      (data.dtype !== "float32" && data.dtype !== "int32") ||
      values.length !== data.shape.reduce((a, b) => a * b, 1) || values.length === 0
    ) {
      uploadCounters.tfjs++;
      return original.call(this, dataId);
    }
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buffer = this.bufferManager.acquireBuffer(values.byteLength, usage);
    this.queue.writeBuffer(buffer, 0, values as Float32Array<ArrayBuffer>);
    data.resource = buffer;
    data.values = null; // as tfjs does: once uploaded, the values live on the GPU only
    uploadCounters.queue++;
  };
  installed = true;
  return { upload: QUEUE_UPLOADS };
}
