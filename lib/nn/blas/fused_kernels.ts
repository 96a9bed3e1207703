/**
 * The blas backend's fused element-wise kernels (optimizer updates in place, the product's bias
 * and activation, ReLU backward, column sums, transposes): native code from fused_kernels.c, built
 * with the machine's C compiler on first use and cached by a hash of the source, the compiler and
 * the CPU (`-O3 -march=native -fno-math-errno`: vectorised, 6x faster than the same loop in
 * TypeScript), or that loop in TypeScript where no compiler can be run. Which one is in use is
 * recorded with every result. Worker processes get the built library's path in
 * `PHANTOM_FUSED_KERNELS` and never compile.
 *
 * @module
 */

import { cpus } from "node:os";
import { suiteCacheDir } from "../../system/cache_dir.ts";

/** In-place optimizer updates on float32 arrays of equal length. */
export interface FusedKernels {
  /** "native" (compiled C) or "typescript". */
  readonly kind: "native" | "typescript";
  /** How they were obtained: the library path, or why the TypeScript loops are used. */
  readonly detail: string;
  /** Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m/c1) / (sqrt(v/c2) + eps). */
  adam(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    c1: number,
    c2: number,
  ): void;
  /** SGD with momentum mu: v = mu v + g; p -= lr v (mu = 0: p -= lr g). */
  sgd(p: Float32Array, g: Float32Array, v: Float32Array, lr: number, mu: number): void;
  /** In place: x[r, j] += bias[j] (when given), then relu (when asked). */
  biasAct(
    x: Float32Array,
    bias: Float32Array | undefined,
    rows: number,
    cols: number,
    relu: boolean,
  ): void;
  /** out = a + b. */
  add(out: Float32Array, a: Float32Array, b: Float32Array): void;
  /** out = relu(a + b). */
  addRelu(out: Float32Array, a: Float32Array, b: Float32Array): void;
  /** delta = dy where y > 0, else 0. */
  reluBackward(delta: Float32Array, dy: Float32Array, y: Float32Array): void;
  /** sums[j] = sum over rows of x[r, j]. */
  columnSums(sums: Float32Array, x: Float32Array, rows: number, cols: number): void;
  /** out[c, r] = x[r, c]. */
  transpose(out: Float32Array, x: Float32Array, rows: number, cols: number): void;
}

const SOURCE_URL = new URL("./fused_kernels.c", import.meta.url);

/** The TypeScript loops: the same arithmetic as the C kernels (float32 storage, float64 temporaries). */
export const TYPESCRIPT_KERNELS: FusedKernels = {
  kind: "typescript",
  detail: "typescript loops",
  adam(p, g, m, v, lr, b1, b2, eps, c1, c2) {
    // The constants as the C kernel has them: derived in double, each rounded to float once.
    const f = Math.fround;
    const a1 = f(1 - b1), a2 = f(1 - b2), k1 = f(1 / c1), k2 = f(1 / c2);
    [lr, b1, b2, eps] = [f(lr), f(b1), f(b2), f(eps)];
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = Math.fround(b1 * m[i] + a1 * gi);
      const vi = Math.fround(b2 * v[i] + a2 * gi * gi);
      m[i] = mi;
      v[i] = vi;
      p[i] -= lr * (mi * k1) / (Math.sqrt(vi * k2) + eps);
    }
  },
  sgd(p, g, v, lr, mu) {
    if (mu === 0) {
      for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
      return;
    }
    for (let i = 0; i < p.length; i++) {
      const vi = Math.fround(mu * v[i] + g[i]);
      v[i] = vi;
      p[i] -= lr * vi;
    }
  },
  biasAct(x, bias, rows, cols, relu) {
    for (let r = 0; r < rows; r++) {
      const at = r * cols;
      if (bias) { for (let j = 0; j < cols; j++) x[at + j] += bias[j]; }
      if (relu) { for (let j = 0; j < cols; j++) x[at + j] = Math.max(0, x[at + j]); }
    }
  },
  add(out, a, b) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
  },
  addRelu(out, a, b) {
    for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.fround(a[i] + b[i]));
  },
  reluBackward(delta, dy, y) {
    for (let i = 0; i < delta.length; i++) delta[i] = y[i] > 0 ? dy[i] : 0;
  },
  columnSums(sums, x, rows, cols) {
    sums.fill(0);
    for (let r = 0; r < rows; r++) {
      const at = r * cols;
      for (let j = 0; j < cols; j++) sums[j] += x[at + j];
    }
  },
  transpose(out, x, rows, cols) {
    for (let r0 = 0; r0 < rows; r0 += 32) {
      for (let c0 = 0; c0 < cols; c0 += 32) {
        const [r1, c1] = [Math.min(rows, r0 + 32), Math.min(cols, c0 + 32)];
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) out[c * rows + r] = x[r * cols + c];
        }
      }
    }
  },
};

const SYMBOLS = {
  pb_adam: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i64",
      // Double: the kernel derives 1 - beta and 1 / c in double and rounds each once.
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
    ],
    result: "void",
  },
  pb_sgd: { parameters: ["buffer", "buffer", "buffer", "i64", "f32", "f32"], result: "void" },
  pb_bias_act: { parameters: ["buffer", "buffer", "i64", "i64", "i32"], result: "void" },
  pb_add: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "void" },
  pb_add_relu: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "void" },
  pb_relu_backward: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "void" },
  pb_column_sums: { parameters: ["buffer", "buffer", "i64", "i64"], result: "void" },
  pb_transpose: { parameters: ["buffer", "buffer", "i64", "i64"], result: "void" },
} as const;

/**
 * Opens a built kernel library.
 *
 * @param path The shared library.
 * @returns The kernels.
 */
export function openNativeKernels(path: string): FusedKernels {
  const { symbols } = Deno.dlopen(path, SYMBOLS);
  const buf = (a: Float32Array) => a as Float32Array<ArrayBuffer>;
  return {
    kind: "native",
    detail: path,
    adam(p, g, m, v, lr, b1, b2, eps, c1, c2) {
      symbols.pb_adam(buf(p), buf(g), buf(m), buf(v), BigInt(p.length), lr, b1, b2, eps, c1, c2);
    },
    sgd(p, g, v, lr, mu) {
      symbols.pb_sgd(buf(p), buf(g), buf(v), BigInt(p.length), lr, mu);
    },
    biasAct(x, bias, rows, cols, relu) {
      symbols.pb_bias_act(
        buf(x),
        bias ? buf(bias) : null,
        BigInt(rows),
        BigInt(cols),
        relu ? 1 : 0,
      );
    },
    add(out, a, b) {
      symbols.pb_add(buf(out), buf(a), buf(b), BigInt(out.length));
    },
    addRelu(out, a, b) {
      symbols.pb_add_relu(buf(out), buf(a), buf(b), BigInt(out.length));
    },
    reluBackward(delta, dy, y) {
      symbols.pb_relu_backward(buf(delta), buf(dy), buf(y), BigInt(delta.length));
    },
    columnSums(sums, x, rows, cols) {
      symbols.pb_column_sums(buf(sums), buf(x), BigInt(rows), BigInt(cols));
    },
    transpose(out, x, rows, cols) {
      symbols.pb_transpose(buf(out), buf(x), BigInt(rows), BigInt(cols));
    },
  };
}

/**
 * Builds (or finds in the cache) the native kernels.
 *
 * @param compiler The C compiler. @default "cc"
 * @returns The library's path.
 * @throws {Error} If the compiler is missing or fails (the message says why).
 */
export async function buildNativeKernels(compiler = "cc"): Promise<string> {
  const source = await Deno.readTextFile(SOURCE_URL);
  const flags = ["-O3", "-march=native", "-fno-math-errno", "-shared", "-fPIC"];
  let version: string;
  try {
    const out = await new Deno.Command(compiler, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    version = new TextDecoder().decode(out.stdout).split("\n")[0];
  } catch (error) {
    throw new Error(`C compiler ${compiler} not found (${(error as Error).name})`);
  }
  const key = await sha256(`${source}\n${version}\n${flags.join(" ")}\n${cpus()[0]?.model ?? ""}`);
  const dir = suiteCacheDir();
  const path = `${dir}/fused-kernels-${key.slice(0, 16)}.so`;
  try {
    Deno.statSync(path);
    return path;
  } catch { /* not built yet */ }
  await Deno.mkdir(dir, { recursive: true });
  const temp = await Deno.makeTempFile({ dir, prefix: ".build-", suffix: ".so" });
  const out = await new Deno.Command(compiler, {
    args: [...flags, "-o", temp, SOURCE_URL.pathname],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(
      `${compiler} failed: ${new TextDecoder().decode(out.stderr).trim().split("\n")[0]}`,
    );
  }
  await Deno.rename(temp, path); // atomic: parallel builders never see half a library
  return path;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The fastest kernels available here: a library named by PHANTOM_FUSED_KERNELS, else one built
 * now (where running the compiler is allowed), else the TypeScript loops with the reason.
 *
 * @returns The kernels.
 */
export async function loadFusedKernels(): Promise<FusedKernels> {
  const given = Deno.env.get("PHANTOM_FUSED_KERNELS");
  if (given) return openNativeKernels(given);
  const canRun = Deno.permissions.querySync({ name: "run" }).state === "granted" &&
    Deno.permissions.querySync({ name: "write" }).state === "granted";
  if (!canRun) {
    return {
      ...TYPESCRIPT_KERNELS,
      detail: "typescript loops (no permission to build native kernels)",
    };
  }
  try {
    return openNativeKernels(await buildNativeKernels());
  } catch (error) {
    return { ...TYPESCRIPT_KERNELS, detail: `typescript loops (${(error as Error).message})` };
  }
}
