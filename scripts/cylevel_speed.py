"""The "cython" kernel level against the vector level this CPU runs best:
ns/element at N = 1e6 on 1 thread, float64 and float32, sigmoid and
BCE-with-logits (mean), three ways -- the library at the best level, the
library at the cython level (its kernel table), and fastlogistic._cylevel's
typed-memoryview loops -- in rounds that alternate them
(fastlogistic.bench.time_case).  The ratio printed in parentheses is the
median over rounds of the paired ratios.

    python scripts/cylevel_speed.py [rounds]
"""
import sys

import numpy as np

import fastlogistic as fl
from fastlogistic import _cylevel
from fastlogistic import bench as _bench
from fastlogistic import _kernels as k
from fastlogistic.bench import Timed

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 15
N = 10**6


def main():
    _bench.steady_malloc()
    fl.set_num_threads(1)
    best = k.cpu_simd_levels()[0]
    rng = np.random.default_rng(_bench.SEED)

    def level(name):
        return lambda: k.set_simd_level(name)

    for dt in ("float64", "float32"):
        x = (4 * rng.standard_normal(N)).astype(dt)
        t = (rng.random(N) < 0.5).astype(dt)

        def cy_sigmoid():
            out = np.empty_like(x)
            _cylevel.sigmoid(x, out, num_threads=1)
            return out

        def cy_bce_mean():
            return _cylevel.bce_with_logits(x, t, num_threads=1) / N

        for fname, lib, mv in (
                ("sigmoid", lambda: fl.sigmoid(x), cy_sigmoid),
                ("bce_with_logits mean", lambda: fl.binary_cross_entropy_with_logits(x, t),
                 cy_bce_mean)):
            entries = {best: Timed(lib, before=level(best)),
                       "cython (library)": Timed(lib, before=level("cython")),
                       "cython (_cylevel loop)": Timed(mv, before=level(best))}
            res = _bench.time_case(entries, ROUNDS)
            base = res[best]
            print(f"{fname}  {dt}  N=1e6  1 thread")
            for key, (med, _, samples) in res.items():
                ratios = sorted(a / b for a, b in zip(samples, base[2]))
                print(f"  {key:<24}{med * 1e9 / N:9.2f} ns/elem  "
                      f"({ratios[len(ratios) // 2]:.2f}x the {best} time)")
    k.set_simd_level(best)


if __name__ == "__main__":
    main()
