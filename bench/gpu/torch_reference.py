#!/usr/bin/env python3
"""PyTorch reference on the GPU host (the peer for GPU targets): fp32 GEMM TFLOP/s at the sizes
given, with TF32 off, and one TP-style FFN training step (forward and backward of L hidden
layers of width n, batch b) timed with CUDA events. Prints one JSON object."""
import json
import sys

import torch

sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "1024,2048,4096,8192").split(",")]
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")
out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "gemm": [], "ffn": []}


def timed(f, reps=10):
    f()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        f()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


for n in sizes:
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)
    ms = timed(lambda: a @ b)
    out["gemm"].append({"size": n, "ms": ms, "tflops": 2 * n**3 / ms / 1e9})

for n in [4096, 8192]:
    b_, layers = 1024, 4
    ws = [torch.randn(n, n, device=dev, requires_grad=True) * (2 / n) ** 0.5 for _ in range(layers)]
    ws = [w.detach().requires_grad_() for w in ws]
    x = torch.randn(b_, n, device=dev)

    def step():
        h = x
        for w in ws:
            h = torch.relu(h @ w)
        h.pow(2).mean().backward()

    ms = timed(step, reps=5)
    out["ffn"].append({"width": n, "batch": b_, "layers": layers, "ms": ms, "tflops": 6 * b_ * n * n * layers / ms / 1e9})
print(json.dumps(out))
