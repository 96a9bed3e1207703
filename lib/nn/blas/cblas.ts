/**
 * The system's CBLAS library through Deno FFI: `cblas_sgemm` on Float32Arrays passed as buffers
 * (no copy), the thread count set explicitly, and what the library says about itself (version or
 * configuration string, the core type OpenBLAS picked). Search order: `PHANTOM_BLAS_LIB`, then
 * OpenBLAS (Debian `libopenblas0-pthread`), BLIS, MKL, and any other CBLAS.
 *
 * @module
 */

/** Where the suite looks for a CBLAS library, in order (after PHANTOM_BLAS_LIB). */
export const CBLAS_CANDIDATES: readonly string[] = [
  "libopenblas.so.0",
  "libopenblas.so",
  "libblis.so.4",
  "libblis.so",
  "libmkl_rt.so.2",
  "libmkl_rt.so",
  "libcblas.so.3",
  "libblas.so.3",
];

/** Row-major storage and transpose flags of CBLAS. */
const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

/** What was loaded, for the results. */
export interface CblasInfo {
  /** The path or name given to dlopen. */
  library: string;
  /** The library's own description (OpenBLAS: its configuration string), or "". */
  config: string;
  /** The kernel family it chose for this CPU (OpenBLAS: e.g. "Haswell"), or "". */
  coretype: string;
  /** Threads it was set to use. */
  threads: number;
}

/** Raised when no CBLAS library can be loaded; the message lists what was tried. */
export class BlasUnavailableError extends Error {
  /**
   * @param message What was tried and why each failed.
   */
  constructor(message: string) {
    super(message);
    this.name = "BlasUnavailableError";
  }
}

const SGEMM = {
  parameters: [
    "i32", // layout
    "i32", // transA
    "i32", // transB
    "i32", // M
    "i32", // N
    "i32", // K
    "f32", // alpha
    "buffer", // A
    "i32", // lda
    "buffer", // B
    "i32", // ldb
    "f32", // beta
    "buffer", // C
    "i32", // ldc
  ],
  result: "void",
} as const;

/** An opened CBLAS library. */
export interface Cblas {
  /** What was loaded. */
  readonly info: CblasInfo;
  /**
   * C = op(A) op(B) (+ C with accumulate), row-major, op = transpose when asked.
   *
   * @param a A, [M, K] or [K, M] when transposed.
   * @param b B, [K, N] or [N, K] when transposed.
   * @param c C, [M, N].
   * @param m M.
   * @param n N.
   * @param k K.
   * @param transA Whether A is stored transposed.
   * @param transB Whether B is stored transposed.
   * @param accumulate Add to C instead of overwriting it.
   */
  sgemm(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    accumulate?: boolean,
  ): void;
}

let opened: Cblas | undefined;

/**
 * Opens the CBLAS library (once per thread) and sets its thread count.
 *
 * @param threads Threads for GEMMs. @default PHANTOM_BLAS_THREADS, else the machine's cores
 * @param env The environment. @default Deno.env
 * @returns The library.
 * @throws {BlasUnavailableError} Listing every library tried and why it failed.
 */
export function openCblas(
  threads?: number,
  env: { get(name: string): string | undefined } = Deno.env,
): Cblas {
  const wanted = threads ?? (Number(env.get("PHANTOM_BLAS_THREADS")) ||
    (navigator.hardwareConcurrency ?? 1));
  if (opened) {
    setThreads(opened, wanted);
    return opened;
  }
  const override = env.get("PHANTOM_BLAS_LIB");
  const candidates = override ? [override] : CBLAS_CANDIDATES;
  let firstFailure = "";
  for (const library of candidates) {
    try {
      opened = load(library, wanted);
      return opened;
    } catch (error) {
      // Deno repeats "Could not open library:" once per layer; keep the loader's own words.
      firstFailure ||= (error as Error).message.split("\n")[0].replace(
        /^(Could not open library: )+/,
        "",
      );
    }
  }
  // One short line: what was not found, and what to do (the reason only for a named library).
  throw new BlasUnavailableError(
    override
      ? `PHANTOM_BLAS_LIB (${override}) cannot be loaded: ${firstFailure}; unset it to use ` +
        "the system's OpenBLAS (sudo apt-get install libopenblas0-pthread)"
      : `no CBLAS library found (tried ${candidates.length}, e.g. ${candidates[0]}): ` +
        "install OpenBLAS (sudo apt-get install libopenblas0-pthread) or set PHANTOM_BLAS_LIB",
  );
}

function load(library: string, threads: number): Cblas {
  const lib = Deno.dlopen(library, { cblas_sgemm: SGEMM });
  const optional = <T extends Deno.ForeignFunction>(name: string, def: T) => {
    try {
      return Deno.dlopen(library, { [name]: def } as Record<string, T>)
        .symbols[name] as unknown as (
          ...args: unknown[]
        ) => unknown;
    } catch {
      return undefined;
    }
  };
  const cString = (p: unknown) =>
    p ? new Deno.UnsafePointerView(p as NonNullable<Deno.PointerValue>).getCString() : "";
  const getConfig = optional("openblas_get_config", { parameters: [], result: "pointer" });
  const getCore = optional("openblas_get_corename", { parameters: [], result: "pointer" });
  const setters = [
    optional("openblas_set_num_threads", { parameters: ["i32"], result: "void" }),
    optional("MKL_Set_Num_Threads", { parameters: ["i32"], result: "void" }),
    optional("bli_thread_set_num_threads", { parameters: ["i64"], result: "void" }),
  ];
  const info: CblasInfo = {
    library,
    config: getConfig ? cString(getConfig()) : "",
    coretype: getCore ? cString(getCore()).trim() : "",
    threads: 1,
  };
  const cblas: Cblas & { setThreads: (n: number) => void } = {
    info,
    setThreads(n) {
      const [openblas, mkl, blis] = setters;
      if (openblas) openblas(n);
      else if (mkl) mkl(n);
      else if (blis) blis(BigInt(n));
      else return; // a library without a thread setter: say 1, the only count we know of
      info.threads = n;
    },
    sgemm(a, b, c, m, n, k, transA, transB, accumulate = false) {
      if (m === 0 || n === 0) return;
      lib.symbols.cblas_sgemm(
        CBLAS_ROW_MAJOR,
        transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
        transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
        m,
        n,
        k,
        1,
        a as Float32Array<ArrayBuffer>,
        transA ? Math.max(1, m) : Math.max(1, k),
        b as Float32Array<ArrayBuffer>,
        transB ? Math.max(1, k) : Math.max(1, n),
        accumulate ? 1 : 0,
        c as Float32Array<ArrayBuffer>,
        Math.max(1, n),
      );
    },
  };
  cblas.setThreads(threads);
  return cblas;
}

function setThreads(cblas: Cblas, n: number): void {
  (cblas as Cblas & { setThreads: (n: number) => void }).setThreads(n);
}
