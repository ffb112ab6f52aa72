"""cross_entropy_loss_and_grad vs PyTorch's cross_entropy forward + backward.

    PYTHONPATH=src python benchmarks/bench_multiclass.py [--threads 1] [--repeat 15]

Alternates ours and torch in one process; prints the median ns per element of
z and the ratio (torch / ours) for (N, C) = (1e5, 10) and (1e4, 1000), both
dtypes, plus softmax/log_softmax against torch and SciPy.
"""
import argparse
import time

import numpy as np

import fastlogistic as fl


def _median_ns(fn, n, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) / n * 1e9


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--shapes", default="100000x10,10000x1000")
    a = ap.parse_args(argv)
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    print(f"threads={a.threads} simd={fl._kernels.get_simd_level()}")
    print(f"{'shape':>14} {'dtype':>8} {'ours ns/el':>11} {'torch ns/el':>12} {'ratio':>6}")
    for shp in a.shapes.split(","):
        N, C = (int(v) for v in shp.split("x"))
        for dt in (np.float64, np.float32):
            z = rng.standard_normal((N, C)).astype(dt)
            y = rng.integers(0, C, N)
            zt = torch.from_numpy(z)
            yt = torch.from_numpy(y)

            def ours():
                fl.cross_entropy_loss_and_grad(z, y, num_threads=a.threads)

            def theirs():
                x = zt.detach().requires_grad_(True)
                F.cross_entropy(x, yt).backward()

            o, t = [], []
            for _ in range(3):
                o.append(_median_ns(ours, N * C, a.repeat // 3 + 1))
                t.append(_median_ns(theirs, N * C, a.repeat // 3 + 1))
            o, t = float(np.median(o)), float(np.median(t))
            print(f"{shp:>14} {np.dtype(dt).name:>8} {o:11.2f} {t:12.2f} {t / o:6.2f}")


if __name__ == "__main__":
    main()
