"""fastlogistic.log_loss vs sklearn.metrics.log_loss at N = 1e6 (binary 1-D
probabilities, binary 2-column matrix, 10 classes; with and without sample
weights), alternating the two implementations in one run.

    PYTHONPATH=src python benchmarks/bench_log_loss.py [N] [repeats]
"""
import sys
import time

import numpy as np

from fastlogistic.bench.sklearn import _cpu


def cases(n, rng):
    y2 = rng.integers(0, 2, n)
    p1 = rng.random(n)
    y10 = rng.integers(0, 10, n)
    p10 = rng.random((n, 10))
    p10 /= p10.sum(axis=1, keepdims=True)
    w = rng.random(n)
    p2 = np.stack([1 - p1, p1], axis=1)
    return [("binary 1-D", y2, p1, None), ("binary (N,2)", y2, p2, None),
            ("10-class", y10, p10, None), ("binary 1-D weighted", y2, p1, w),
            ("10-class weighted", y10, p10, w)]


def main(n=1_000_000, repeats=5):
    import sklearn
    from sklearn.metrics import log_loss as sk_log_loss

    import fastlogistic as fl
    rng = np.random.default_rng(0)
    print(f"# log_loss, N = {n}, best of {repeats} alternated; CPU: {_cpu()}; "
          f"sklearn {sklearn.__version__}, fastlogistic {fl.__version__}")
    print(f"{'case':24s} {'sklearn ms':>11s} {'fastlogistic ms':>16s} {'speedup':>8s} {'rel diff':>9s}")
    rows = []
    for name, y, p, w in cases(n, rng):
        ts, tf = [], []
        for _ in range(repeats):
            t0 = time.perf_counter(); a = sk_log_loss(y, p, sample_weight=w); ts.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); b = fl.log_loss(y, p, sample_weight=w); tf.append(time.perf_counter() - t0)
        rel = abs(a - b) / abs(a)
        rows.append((name, min(ts), min(tf), min(ts) / min(tf), rel))
        print(f"{name:24s} {min(ts)*1e3:11.2f} {min(tf)*1e3:16.2f} {min(ts)/min(tf):7.1f}x {rel:9.1e}")
    return rows


if __name__ == "__main__":
    args = [int(float(a)) for a in sys.argv[1:]]
    main(*args)
