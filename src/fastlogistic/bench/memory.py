"""Memory: the peak allocation of one call (tracemalloc), beside NumPy's."""
import gc
import tracemalloc

import numpy as np

import fastlogistic as fl

from .cases import _fmt_n, make_inputs
from .peers import _np_bce_mean, _np_sigmoid


MEMORY_N = 10**7


def _memory_cases():
    """(label, kind, fastlogistic call, NumPy call, allowed extra bytes for
    fastlogistic beyond its outputs)."""
    return [
        ("sigmoid", "unary", lambda d: fl.sigmoid(d["x"]), lambda d: _np_sigmoid(d["x"])),
        ("softplus", "unary", lambda d: fl.softplus(d["x"]), lambda d: np.logaddexp(0, d["x"])),
        ("bce_logits (mean)", "binary",
         lambda d: fl.binary_cross_entropy_with_logits(d["x"], d["t"]),
         lambda d: _np_bce_mean(d["x"], d["t"])),
        ("bce_logits_loss_and_grad (mean)", "binary",
         lambda d: fl.binary_cross_entropy_with_logits_loss_and_grad(d["x"], d["t"]),
         lambda d: (_np_bce_mean(d["x"], d["t"]), (_np_sigmoid(d["x"]) - d["t"]) / d["x"].size)),
    ]


def _out_bytes(result):
    if isinstance(result, tuple):
        return sum(_out_bytes(r) for r in result)
    return result.nbytes if isinstance(result, np.ndarray) and result.ndim else 0


def _peak_extra(call):
    """Peak bytes allocated (as tracemalloc sees them: NumPy registers its
    data buffers) during one call, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = call()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, _out_bytes(result)


def run_memory(n=MEMORY_N, dtype="float64"):
    rows = []
    for label, kind, fl_call, np_call in _memory_cases():
        d = make_inputs(kind, (n,), dtype)
        fl_call(d)                                     # warm up (lazy imports, caches)
        fl_peak, fl_out = _peak_extra(lambda: fl_call(d))
        np_peak, _ = _peak_extra(lambda: np_call(d))
        extra = fl_peak - fl_out
        limit = 1 << 20 if fl_out == 0 else 64 << 10   # reductions: < 1 MB; else output only
        rows.append({"function": label, "n_elements": n, "dtype": dtype,
                     "fastlogistic_peak_bytes": fl_peak, "fastlogistic_output_bytes": fl_out,
                     "numpy_peak_bytes": np_peak, "fastlogistic_extra_bytes": extra,
                     "limit_extra_bytes": limit, "pass": extra <= limit})
        del d
    return rows


def _mb(b):
    return f"{b / 2**20:9.1f} MB"


def print_memory(rows, file):
    print(f"\nMemory: peak allocation during one call (tracemalloc), "
          f"N={_fmt_n(rows[0]['n_elements'])} {rows[0]['dtype']}", file=file)
    print("  (PyTorch allocates outside tracemalloc's view, so it is not listed)", file=file)
    print(f"  {'function':<34}{'fastlogistic':>13}{'of which output':>17}{'numpy':>13}  "
          "check", file=file)
    for r in rows:
        what = ("extra beyond output" if r["fastlogistic_output_bytes"] else "total (reduction)")
        verdict = "PASS" if r["pass"] else "FAIL"
        print(f"  {r['function']:<34}{_mb(r['fastlogistic_peak_bytes']):>13}"
              f"{_mb(r['fastlogistic_output_bytes']):>17}{_mb(r['numpy_peak_bytes']):>13}  "
              f"{verdict}: {what} {r['fastlogistic_extra_bytes'] / 1024:.1f} KB "
              f"(limit {r['limit_extra_bytes'] / 1024:.0f} KB)", file=file)
