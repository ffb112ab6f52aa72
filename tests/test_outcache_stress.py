"""A multi-threaded stress of the output cache, meant above all for
the sanitizer build (scripts/sanitize.sh): Python threads call the library
on cache-sized outputs while views outlive their bases, outputs are resized,
and another thread changes set_output_cache every few milliseconds.  Every
result is checked against a reference computed once, so a block handed out
while still in use shows up as a wrong value here (and as a
use-after-poison report under AddressSanitizer).

FASTLOGISTIC_STRESS_SECONDS sets the duration (default 1.5 s).
"""
import os
import threading
import time

import numpy as np

import fastlogistic as fl
from fastlogistic import _kernels

SECONDS = float(os.environ.get("FASTLOGISTIC_STRESS_SECONDS", "1.5"))
N = _kernels.OUTPUT_CACHE_MIN // 8 + 4096          # float64 outputs just above the minimum


def test_output_cache_stress_threads():
    rng = np.random.default_rng(0)
    x = rng.uniform(-30, 30, N)
    t = (rng.uniform(size=N) < 0.5).astype(np.float64)
    ref_sig = fl.sigmoid(x).copy()
    ref_grad = fl.binary_cross_entropy_with_logits_grad(x, t, reduction="none").copy()
    stop = time.monotonic() + SECONDS
    errors = []
    counts = []

    def worker(k):
        kept = []              # views that outlive their base for a while
        n = 0
        try:
            while time.monotonic() < stop:
                y = fl.sigmoid(x)
                g = fl.binary_cross_entropy_with_logits_grad(x, t, reduction="none")
                if not (np.array_equal(y, ref_sig) and np.array_equal(g, ref_grad)):
                    errors.append(f"thread {k}: wrong values from a cached output")
                    return
                v = y[::7]
                del y                                   # the base goes, the view stays
                kept.append((v, ref_sig[::7]))
                if len(kept) > 3:
                    old, want = kept.pop(0)
                    if not np.array_equal(old, want):
                        errors.append(f"thread {k}: a view's memory was handed out again")
                        return
                if n % 5 == 0:
                    r = fl.sigmoid(x)
                    r.resize(N // 2, refcheck=False)    # realloc through the handler
                    if not np.array_equal(r, ref_sig[:N // 2]):
                        errors.append(f"thread {k}: resize lost values")
                        return
                n += 1
        except Exception as exc:  # noqa: BLE001
            errors.append(f"thread {k}: {type(exc).__name__}: {exc}")
        counts.append(n)

    def resizer():
        sizes = [0, 16 << 20, 64 << 20, None, 8 << 20]
        i = 0
        while time.monotonic() < stop:
            fl.set_output_cache(sizes[i % len(sizes)])
            _kernels.output_cache_held()
            i += 1
            time.sleep(0.003)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=resizer))
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        fl.set_output_cache(None)
    assert not errors, errors[:5]
    assert sum(counts) > 0
