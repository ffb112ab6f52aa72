"""Fixed cost of a call: microseconds per call at N = 16 (cross_entropy:
16 rows of 10 classes), fastlogistic against torch (one thread), float32 and
float64.  Median of rounds; each round is the best of 5 runs of 2000 calls.

    python scripts/call_overhead.py [--rounds 9]
"""
import argparse
import statistics
import time

import numpy as np

import fastlogistic as fl


def per_call(f, calls=2000, reps=5):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            f()
        best = min(best, (time.perf_counter_ns() - t0) / calls)
    return best / 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--no-torch", action="store_true")
    a = ap.parse_args()
    torch = F = None
    if not a.no_torch:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(1)
    for dt in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        x = rng.standard_normal(16).astype(dt)
        t = (rng.random(16) < 0.5).astype(dt)
        z = rng.standard_normal((16, 10)).astype(dt)
        y = rng.integers(0, 10, 16)
        p = fl.sigmoid(x)
        jobs = {
            "sigmoid": lambda: fl.sigmoid(x),
            "bcel mean": lambda: fl.binary_cross_entropy_with_logits(x, t),
            "bcel grad": lambda: fl.binary_cross_entropy_with_logits_grad(x, t),
            "bcel scalar t": lambda: fl.binary_cross_entropy_with_logits(x, 0.0),
            "bcel weighted": lambda: fl.binary_cross_entropy_with_logits(x, t, weight=t),
            "bce mean": lambda: fl.binary_cross_entropy(p, t),
            "cross_entropy": lambda: fl.cross_entropy(z, y),
        }
        if torch is not None:
            xt, tt, zt, yt, pt = (torch.from_numpy(v) for v in (x, t, z, y, p))
            jobs.update({
                "torch sigmoid": lambda: torch.sigmoid(xt),
                "torch bcel mean": lambda: F.binary_cross_entropy_with_logits(xt, tt),
                "torch bce mean": lambda: F.binary_cross_entropy(pt, tt),
                "torch cross_entropy": lambda: F.cross_entropy(zt, yt),
            })
        res = {k: [] for k in jobs}
        for _ in range(a.rounds):
            for k, f in jobs.items():
                res[k].append(per_call(f))
        print(np.dtype(dt).name + ": " +
              ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in res.items()) + " (us/call)")


if __name__ == "__main__":
    main()
