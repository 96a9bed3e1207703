#!/usr/bin/env python3
"""The numpy peer: the same serial, TP and phantom FFN as the suite (docs/phantom.md), written
independently in numpy (float32, forward and explicit backward, SGD and Adam), trained on the
suite's own initial weights and batches. A reference no one can tune to: the suite's loss curve
must equal the peer's within float32 tolerance at every step.

Usage: numpy_peer.py INPUTS.json    (written by lib/runtime/peer.ts; arrays in INPUTS.bin)
Prints JSON: {"numpy", "blas", "threads", "losses": [train loss per step],
              "evals": [[steps done, held-out loss], ...], "stepMs": [ms per step]}
All p ranks run in this process, one after the other, as the suite's in-process runs do;
collectives are the sums and concatenations they stand for, added in rank order.
"""
import json
import os
import sys
import time

import numpy as np

f32 = np.float32


def load(spec_path):
    spec = json.load(open(spec_path))
    raw = np.fromfile(spec_path[: -len(".json")] + ".bin", dtype="<f4")
    arrays = {a["name"]: raw[a["offset"]: a["offset"] + int(np.prod(a["shape"]))].reshape(a["shape"])
              for a in spec["arrays"]}
    return spec, arrays


def relu(x):
    return np.maximum(x, f32(0))


def rank_sum(parts):
    """Sum in rank order, rounding to float32 after each addition."""
    out = parts[0].astype(f32, copy=True)
    for p in parts[1:]:
        out += p
    return out


class Optimizer:
    def __init__(self, cfg):
        self.cfg, self.t, self.state = cfg, 0, {}

    def step(self, params, grads):
        c = self.cfg
        if c["name"] == "adam":
            self.t += 1
            c1, c2 = f32(1 - c["beta1"] ** self.t), f32(1 - c["beta2"] ** self.t)
        for key, p in params.items():
            g = grads[key]
            if c["name"] == "adam":
                m, v = self.state.setdefault(key, (np.zeros_like(p), np.zeros_like(p)))
                m[...] = m * f32(c["beta1"]) + g * f32(1 - c["beta1"])
                v[...] = v * f32(c["beta2"]) + np.square(g) * f32(1 - c["beta2"])
                p -= ((m / c1) / (np.sqrt(v / c2) + f32(c["epsilon"]))) * f32(c["learningRate"])
            elif c["momentum"] > 0:
                v = self.state.setdefault(key, np.zeros_like(p))
                v[...] = v * f32(c["momentum"]) + g
                p -= v * f32(c["learningRate"])
            else:
                p -= g * f32(c["learningRate"])


def forward(cfg, W, x, cache):
    """Every rank's forward pass; returns Y (the output all-reduce, in rank order)."""
    P, L, mode = cfg["ranks"], cfg["layers"], cfg["mode"]
    h = [relu(x @ W[r]["input.W"] + W[r]["input.b"]) for r in range(P)]
    cache["h0"] = h
    for l in range(L):
        if mode == "phantom" and P > 1:
            g = [h[r] @ W[r][f"hidden.{l}.C"] for r in range(P)]
            out = []
            for r in range(P):
                ghosts = np.concatenate([g[s] for s in range(P) if s != r], axis=1)
                own = h[r] @ W[r][f"hidden.{l}.A"] + W[r][f"hidden.{l}.b"]
                out.append(relu(own + ghosts @ W[r][f"hidden.{l}.D"]))
            cache[l] = (h, g, out)
        else:
            key = "A" if mode == "phantom" else "W"
            full = np.concatenate(h, axis=1)
            out = [relu(full @ W[r][f"hidden.{l}.{key}"] + W[r][f"hidden.{l}.b"]) for r in range(P)]
            cache[l] = (full, None, out)
        h = out
    cache["hL"] = h
    partials = [h[r] @ W[r]["output.W"] + (W[0]["output.b"] if r == 0 else f32(0)) for r in range(P)]
    return rank_sum(partials)


def backward(cfg, W, x, dY, cache):
    """Every rank's gradients, by rank."""
    P, L, mode, m = cfg["ranks"], cfg["layers"], cfg["mode"], cfg["width"] // cfg["ranks"]
    grads = [dict() for _ in range(P)]
    hL = cache["hL"]
    for r in range(P):
        grads[r]["output.W"] = hL[r].T @ dY
    grads[0]["output.b"] = dY.sum(axis=0)
    dh = [dY @ W[r]["output.W"].T for r in range(P)]
    for l in reversed(range(L)):
        h_in, g, out = cache[l]
        delta = [dh[r] * (out[r] > 0) for r in range(P)]
        if mode == "phantom" and P > 1:
            k = W[0][f"hidden.{l}.C"].shape[1]
            for r in range(P):
                ghosts = np.concatenate([g[s] for s in range(P) if s != r], axis=1)
                grads[r][f"hidden.{l}.A"] = h_in[r].T @ delta[r]
                grads[r][f"hidden.{l}.D"] = ghosts.T @ delta[r]
                grads[r][f"hidden.{l}.b"] = delta[r].sum(axis=0)
            # E_{r->s} = delta_r D_{s->r}^T; rank s gets the sum over r (rank order, own: zero).
            dG = []
            for s in range(P):
                parts = []
                for r in range(P):
                    if r == s:
                        parts.append(np.zeros((x.shape[0], k), f32))
                        continue
                    j = s if s < r else s - 1  # D_r's block for sender s
                    parts.append(delta[r] @ W[r][f"hidden.{l}.D"][j * k:(j + 1) * k].T)
                dG.append(rank_sum(parts))
            for r in range(P):
                grads[r][f"hidden.{l}.C"] = h_in[r].T @ dG[r]
            dh = [delta[r] @ W[r][f"hidden.{l}.A"].T + dG[r] @ W[r][f"hidden.{l}.C"].T
                  for r in range(P)]
        else:
            key = "A" if mode == "phantom" else "W"
            for r in range(P):
                grads[r][f"hidden.{l}.{key}"] = h_in.T @ delta[r]
                grads[r][f"hidden.{l}.b"] = delta[r].sum(axis=0)
            partial = [delta[r] @ W[r][f"hidden.{l}.{key}"].T for r in range(P)]
            dh = [rank_sum([p[:, s * m:(s + 1) * m] for p in partial]) for s in range(P)]
    h0 = cache["h0"]
    for r in range(P):
        delta = dh[r] * (h0[r] > 0)
        grads[r]["input.W"] = x.T @ delta
        grads[r]["input.b"] = delta.sum(axis=0)
    return grads


def main():
    spec, arrays = load(sys.argv[1])
    cfg = spec["config"]
    P = cfg["ranks"]
    W = [{k[len(f"rank{r}.") :]: v.copy() for k, v in arrays.items() if k.startswith(f"rank{r}.")}
         for r in range(P)]
    optimizers = [Optimizer(cfg["optimizer"]) for _ in range(P)]
    ex, ey = arrays["eval.x"], arrays["eval.y"]
    losses, evals, step_ms = [], [], []

    def evaluate(done):
        y = forward(cfg, W, ex, {})
        evals.append([done, float(np.mean(np.square(y - ey), dtype=f32))])

    evaluate(0)
    for step in range(cfg["steps"]):
        x, t = arrays[f"batch{step}.x"], arrays[f"batch{step}.y"]
        start = time.perf_counter()
        cache = {}
        y = forward(cfg, W, x, cache)
        diff = y - t
        losses.append(float(np.mean(np.square(diff), dtype=f32)))
        dY = diff * f32(2 / diff.size)
        grads = backward(cfg, W, x, dY, cache)
        for r in range(P):
            optimizers[r].step(W[r], grads[r])
        step_ms.append((time.perf_counter() - start) * 1000)
        done = step + 1
        if done % cfg["task"]["evalEvery"] == 0 or done == cfg["steps"]:
            evaluate(done)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas.get('name', '?')} {blas.get('version', '?')}"
    except Exception:
        blas = "unknown"
    json.dump({"numpy": np.__version__, "blas": blas,
               "threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0") or 0),
               "losses": losses, "evals": evals, "stepMs": step_ms}, sys.stdout)


if __name__ == "__main__":
    main()
