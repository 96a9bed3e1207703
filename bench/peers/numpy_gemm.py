#!/usr/bin/env python3
"""The numpy reference of bench:core: times the matrix products of one training step, as numpy
runs them, for the same shapes and BLAS thread count as the suite's step.

Input (stdin, JSON): {"threads": T, "repeats": R, "shapes": [{"rows", "inner", "cols", "count"}]}
Output (stdout, JSON): {"numpy": version, "blas": config line, "threads": T, "ms": median time of
all products once, "gflops": FLOPs / ms}
OPENBLAS_NUM_THREADS (and OMP/MKL) must be set by the caller before numpy loads.
"""
import json
import statistics
import sys
import time

import numpy as np


def blas_config():
    try:
        info = np.show_config(mode="dicts")
        blas = info["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '?')}"
    except Exception:  # older numpy: no dict mode
        return "unknown"


def main():
    spec = json.load(sys.stdin)
    rng = np.random.default_rng(1)
    pairs = [
        (rng.standard_normal((s["rows"], s["inner"]), dtype=np.float32),
         rng.standard_normal((s["inner"], s["cols"]), dtype=np.float32), s["count"])
        for s in spec["shapes"]
    ]
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] * c for a, b, c in pairs)

    def once():
        start = time.perf_counter()
        for a, b, count in pairs:
            for _ in range(count):
                a @ b
        return (time.perf_counter() - start) * 1000

    once()  # warm-up
    ms = statistics.median(once() for _ in range(spec["repeats"]))
    json.dump({"numpy": np.__version__, "blas": blas_config(), "threads": spec["threads"],
               "ms": ms, "gflops": flops / ms / 1e6}, sys.stdout)


if __name__ == "__main__":
    main()
