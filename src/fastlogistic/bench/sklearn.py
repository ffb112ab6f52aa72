"""End-to-end benchmark of :func:`fastlogistic.patch` on scikit-learn:
``LogisticRegression().fit`` (lbfgs) and ``HistGradientBoostingClassifier().fit``
on an n x d float64 binary problem, unpatched and patched alternately in one
run.  ``run()`` returns the rows; ``python -m fastlogistic.bench.sklearn``
prints them.

    PYTHONPATH=src python -m fastlogistic.bench.sklearn [n] [d] [repeats]
"""
import sys
import time
import warnings

import numpy as np

__all__ = ["run", "problem"]


def problem(n=1_000_000, d=20, seed=0):
    """X (n x d float64), binary y from a logistic model with known coefficients."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    beta = rng.standard_normal(d) / np.sqrt(d) * 2.0
    raw = X @ beta + 0.3
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-raw))).astype(np.float64)
    return X, y


def _fit(make, X, y, patched):
    import fastlogistic as fl
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if patched:
            fl.patch(scipy=False, sklearn=True)
        try:
            t0 = time.perf_counter()
            est.fit(X, y)
            dt = time.perf_counter() - t0
        finally:
            if patched:
                fl.unpatch()
    return dt, est


def run(n=1_000_000, d=20, repeats=1, hgb=True, verbose=False):
    """Rows (name, seconds unpatched, seconds patched, speedup, detail); the
    best of `repeats` fits of each, unpatched and patched alternating."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = problem(n, d)
    rows = []
    cases = [("LogisticRegression(lbfgs).fit", lambda: LogisticRegression())]
    if hgb:
        cases.append(("HistGradientBoostingClassifier.fit",
                      lambda: HistGradientBoostingClassifier(random_state=0)))
    for name, make in cases:
        t_plain, t_fast = [], []
        for _ in range(repeats):
            dt0, e0 = _fit(make, X, y, False)
            dt1, e1 = _fit(make, X, y, True)
            t_plain.append(dt0)
            t_fast.append(dt1)
            if verbose:
                print(f"  {name}: {dt0:.3f} s / {dt1:.3f} s", file=sys.stderr)
        if hasattr(e0, "coef_"):
            c0 = np.r_[e0.coef_.ravel(), e0.intercept_]
            c1 = np.r_[e1.coef_.ravel(), e1.intercept_]
            rel = float(np.max(np.abs(c1 - c0)) / np.max(np.abs(c0)))
            detail = (f"n_iter {int(e0.n_iter_[0])}/{int(e1.n_iter_[0])}, "
                      f"coef max rel diff {rel:.1e}")
        else:
            a0, a1 = e0.score(X[:100_000], y[:100_000]), e1.score(X[:100_000], y[:100_000])
            detail = (f"n_iter {e0.n_iter_}/{e1.n_iter_}, train accuracy "
                      f"{a0:.5f}/{a1:.5f}")
        b0, b1 = min(t_plain), min(t_fast)
        rows.append((name, b0, b1, b0 / b1, detail))
    return rows


def _cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main(argv=None):
    import sklearn
    argv = sys.argv[1:] if argv is None else argv
    n = int(float(argv[0])) if argv else 1_000_000
    d = int(argv[1]) if len(argv) > 1 else 20
    repeats = int(argv[2]) if len(argv) > 2 else 1
    print(f"# scikit-learn {sklearn.__version__} unpatched vs fastlogistic.patch(), "
          f"n={n}, d={d}, best of {repeats} alternated; CPU: {_cpu()}")
    print(f"{'fit':36s} {'plain s':>8s} {'patched s':>10s} {'speedup':>8s}  detail")
    for name, t0, t1, sp, detail in run(n, d, repeats, verbose=True):
        print(f"{name:36s} {t0:8.3f} {t1:10.3f} {sp:7.2f}x  {detail}")


if __name__ == "__main__":
    main()
