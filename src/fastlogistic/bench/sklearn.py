"""End-to-end benchmark of :func:`fastlogistic.patch` on scikit-learn:
``LogisticRegression().fit`` (lbfgs) and ``HistGradientBoostingClassifier().fit``
on an n x d float64 problem with 2 classes (or ``classes`` of them),
unpatched and patched alternately in one run, and (``methods()``) the
multinomial loss's methods alone on the layouts scikit-learn passes them
(C and Fortran order).  ``run()`` returns the rows;
``python -m fastlogistic.bench.sklearn`` prints them.

    PYTHONPATH=src python -m fastlogistic.bench.sklearn [n] [d] [repeats] [classes]
"""
import sys
import time
import warnings

import numpy as np

__all__ = ["run", "problem", "methods"]


def problem(n=1_000_000, d=20, seed=0, classes=2):
    """X (n x d float64) and y (float64 labels 0..classes-1) drawn from a
    logistic (classes == 2) or multinomial model with known coefficients."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if classes == 2:
        beta = rng.standard_normal(d) / np.sqrt(d) * 2.0
        raw = X @ beta + 0.3
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-raw))).astype(np.float64)
        return X, y
    beta = rng.standard_normal((d, classes)) / np.sqrt(d) * 2.0
    raw = X @ beta
    p = np.exp(raw - raw.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random((n, 1))
    y = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), classes - 1).astype(np.float64)
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


def run(n=1_000_000, d=20, repeats=1, hgb=True, verbose=False, classes=2):
    """Rows (name, seconds unpatched, seconds patched, speedup, detail); the
    best of `repeats` fits of each, unpatched and patched alternating."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = problem(n, d, classes=classes)
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
            detail = (f"n_iter {int(np.ravel(e0.n_iter_)[0])}/{int(np.ravel(e1.n_iter_)[0])}, "
                      f"coef max rel diff {rel:.1e}")
        else:
            a0, a1 = e0.score(X[:100_000], y[:100_000]), e1.score(X[:100_000], y[:100_000])
            detail = (f"n_iter {e0.n_iter_}/{e1.n_iter_}, train accuracy "
                      f"{a0:.5f}/{a1:.5f}")
        b0, b1 = min(t_plain), min(t_fast)
        rows.append((name, b0, b1, b0 / b1, detail))
    return rows


def methods(n=200_000, classes=10, repeats=7):
    """Rows (method, layout, seconds unpatched, seconds patched, speed-up) of
    HalfMultinomialLoss's methods alone, on float64 raw predictions in C and
    Fortran order (HistGradientBoosting passes Fortran order), the best of
    `repeats` calls of each, alternated."""
    import fastlogistic as fl
    from sklearn._loss.loss import HalfMultinomialLoss

    rng = np.random.default_rng(1)
    y = rng.integers(0, classes, n).astype(np.float64)
    raw_c = 3 * rng.standard_normal((n, classes))
    loss = HalfMultinomialLoss(n_classes=classes)
    calls = {
        "loss": lambda raw: loss.loss(y, raw, n_threads=1),
        "loss_gradient": lambda raw: loss.loss_gradient(y, raw, n_threads=1),
        "gradient": lambda raw: loss.gradient(y, raw, n_threads=1),
        "gradient_hessian": lambda raw: loss.gradient_hessian(y, raw, n_threads=1),
        "gradient_proba": lambda raw: loss.gradient_proba(y, raw, n_threads=1),
    }
    rows = []
    for layout, raw in (("C", raw_c), ("F", np.asfortranarray(raw_c))):
        for name, call in calls.items():
            plain, fast = [], []
            for _ in range(repeats):
                t0 = time.perf_counter()
                call(raw)
                plain.append(time.perf_counter() - t0)
                with fl.patched(scipy=False, sklearn=True):
                    t0 = time.perf_counter()
                    call(raw)
                    fast.append(time.perf_counter() - t0)
            rows.append((name, layout, min(plain), min(fast), min(plain) / min(fast)))
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
    classes = int(argv[3]) if len(argv) > 3 else 2
    print(f"# scikit-learn {sklearn.__version__} unpatched vs fastlogistic.patch(), "
          f"n={n}, d={d}, {classes} classes, best of {repeats} alternated; CPU: {_cpu()}")
    print(f"{'fit':36s} {'plain s':>8s} {'patched s':>10s} {'speedup':>8s}  detail")
    for name, t0, t1, sp, detail in run(n, d, repeats, verbose=True, classes=classes):
        print(f"{name:36s} {t0:8.3f} {t1:10.3f} {sp:7.2f}x  {detail}")
    if classes > 2:
        print(f"\n# HalfMultinomialLoss methods alone, n={n}, {classes} classes, float64, "
              f"1 thread, best of 7 alternated")
        print(f"{'method':20s} {'layout':>6s} {'plain ms':>9s} {'patched ms':>11s} {'speedup':>8s}")
        for name, layout, t0, t1, sp in methods(n, classes):
            print(f"{name:20s} {layout:>6s} {t0 * 1e3:9.2f} {t1 * 1e3:11.2f} {sp:7.2f}x")


if __name__ == "__main__":
    main()
