"""Cost of a broadcast target (a scalar, a short period, a broadcast row)
in the binary cross-entropy kernels, against the same call with a
full-length target, sigmoid_grad of the same input, and torch with an
expanded target.  One thread (num_threads=1, torch.set_num_threads(1)), one
process; every round times each case once, in turn; the median of the
per-round ratios to the full-length call is printed.

    python scripts/broadcast_targets.py [--rounds 15] [--n 1000000] [--level NAME]
"""
import argparse
import statistics
import time

import numpy as np

import fastlogistic as fl
from fastlogistic import _kernels as _k


def timeit(f, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        f()
        best = min(best, time.perf_counter_ns() - t0)
    return best


def cases(n, dtype):
    rng = np.random.default_rng(0)
    rows = n // 5000 * 5
    n = rows * 1000
    x = rng.standard_normal(n).astype(dtype).reshape(rows, 1000)
    full = (rng.random(n) < 0.5).astype(dtype).reshape(rows, 1000)
    row = (rng.random(1000) < 0.5).astype(dtype)
    x7 = x.reshape(-1)[: n // 7 * 7].reshape(-1, 7)
    t7 = np.broadcast_to((rng.random(7) < 0.5).astype(dtype), x7.shape)
    return {
        "full": (x, full),
        "scalar 0.0": (x, dtype(0.0)),
        "period 7": (x7, t7),
        "row of 1000": (x, np.broadcast_to(row, x.shape)),
        "row of 5000": (x.reshape(-1, 5000),
                        np.broadcast_to(rng.random(5000).astype(dtype), (n // 5000, 5000))),
        "int8 labels": (x, full.astype(np.int8)),
    }


FUNCS = {
    "bcel_grad none": lambda x, t: fl.binary_cross_entropy_with_logits_grad(
        x, t, reduction="none", num_threads=1),
    "bcel none": lambda x, t: fl.binary_cross_entropy_with_logits(
        x, t, reduction="none", num_threads=1),
    "bcel mean": lambda x, t: fl.binary_cross_entropy_with_logits(x, t, num_threads=1),
    "bce mean": lambda x, t: fl.binary_cross_entropy(x, t, num_threads=1),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--level", default=None)
    ap.add_argument("--no-torch", action="store_true")
    a = ap.parse_args()
    if a.level:
        _k.set_simd_level(a.level)
    torch = None
    if not a.no_torch:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(1)
    print(f"level {_k.get_simd_level()}, N = {a.n}, 1 thread, median of {a.rounds} rounds; "
          "ratio = time / time with the full-length target")
    for dtype in (np.float32, np.float64):
        cs = cases(a.n, dtype)
        probs = {k: (fl.sigmoid(x), t) for k, (x, t) in cs.items()}
        for fname, f in FUNCS.items():
            src = probs if fname.startswith("bce ") else cs
            if fname.startswith("bce "):
                src["int8 labels"] = (src["full"][0], cs["int8 labels"][1])
            jobs = {k: (lambda f=f, x=x, t=t: f(x, t)) for k, (x, t) in src.items()}
            x0 = cs["full"][0]
            jobs["sigmoid_grad(x)"] = lambda x0=x0: fl.sigmoid_grad(x0, num_threads=1)
            if torch is not None and fname in ("bcel none", "bcel mean", "bce mean"):
                red = "none" if fname.endswith("none") else "mean"
                fn = F.binary_cross_entropy if fname.startswith("bce ") else \
                    F.binary_cross_entropy_with_logits
                for k in ("full", "scalar 0.0", "row of 1000"):
                    x, t = src[k]
                    xt = torch.from_numpy(np.ascontiguousarray(x))
                    tt = torch.from_numpy(np.ascontiguousarray(t if np.ndim(t) else
                                                              np.array([t], dtype=dtype)))
                    if k == "row of 1000":
                        tt = tt[0]
                    tt = tt.expand(xt.shape)
                    jobs[f"torch {k}"] = (lambda fn=fn, xt=xt, tt=tt, red=red:
                                          fn(xt, tt, reduction=red))
            ratios = {k: [] for k in jobs}
            for _ in range(a.rounds):
                ts = {k: timeit(j, 3) for k, j in jobs.items()}
                for k in jobs:
                    ratios[k].append(ts[k] / ts["full"])
                ref = ts["full"]
            med = {k: statistics.median(v) for k, v in ratios.items()}
            print(f"{np.dtype(dtype).name} {fname} (full: {ref / 1e6:.3f} ms): " +
                  ", ".join(f"{k} {v:.2f}" for k, v in med.items() if k != "full"))


if __name__ == "__main__":
    main()
