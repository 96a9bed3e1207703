/**
 * Bytes of tensor data the tfjs engine really holds: each data buffer once. The engine's own
 * `tf.memory().numBytes` counts every tensor handle, so a clone (which shares its source's buffer,
 * as the layers' activation caches do) counts twice there. This accounting follows the engine's
 * creation and release of data buffers instead (it wraps the engine's `trackTensor` and
 * `removeDataId`, installed once per engine on first use), so it counts what the backend stores.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

interface EngineInternals {
  state: { tensorInfo: WeakMap<object, { backend: unknown; bytes: number }> };
  trackTensor(a: tf.Tensor, backend: unknown): void;
  removeDataId(dataId: object, backend: unknown): void;
}

interface Accounting {
  bytes: number;
}

const installed = new WeakMap<object, Accounting>();

function install(engine: EngineInternals): Accounting {
  const accounting: Accounting = { bytes: 0 };
  const counted = new WeakMap<object, number>();
  const track = engine.trackTensor.bind(engine);
  const remove = engine.removeDataId.bind(engine);
  engine.trackTensor = (a, backend) => {
    if (!engine.state.tensorInfo.has(a.dataId) && a.dtype !== "string" && a.dtype !== "complex64") {
      const bytes = a.size * 4 * (a.dtype === "int32" || a.dtype === "float32" ? 1 : 0.25);
      accounting.bytes += bytes;
      counted.set(a.dataId, bytes);
    }
    track(a, backend);
  };
  engine.removeDataId = (dataId, backend) => {
    const bytes = counted.get(dataId);
    const info = engine.state.tensorInfo.get(dataId);
    if (bytes !== undefined && info && info.backend === backend) {
      accounting.bytes -= bytes;
      counted.delete(dataId);
    }
    remove(dataId, backend);
  };
  return accounting;
}

/**
 * Bytes of the data buffers the current tfjs engine holds that were created since this
 * accounting was first asked for on it (ask once before the work to be measured).
 *
 * @returns Bytes (each buffer once, clones not counted again).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { bufferBytes } from "./tensor_memory.ts";
 * await tf.setBackend("cpu");
 * const before = bufferBytes();
 * const a = tf.zeros([256]);
 * const b = tf.clone(a); // shares a's buffer
 * assert.equal(bufferBytes() - before, 1024);
 * tf.dispose([a, b]);
 * assert.equal(bufferBytes(), before);
 * ```
 */
export function bufferBytes(): number {
  const engine = tf.engine() as unknown as EngineInternals;
  let accounting = installed.get(engine);
  if (!accounting) {
    accounting = install(engine);
    installed.set(engine, accounting);
  }
  return accounting.bytes;
}
