"""Timings of the integrations, each a ratio measured in one run
with the implementations alternated round by round.

    PYTHONPATH=src python benchmarks/bench_integrations.py torch [--quick]
    PYTHONPATH=src python benchmarks/bench_integrations.py objectives [--quick] [--classes K]

torch: one thread (``torch.set_num_threads(1)``; fastlogistic.torch follows
it).  The loss's forward + backward alone (BCE-with-logits, cross-entropy),
and whole CPU training steps (zero_grad, forward, loss, backward, SGD step)
of a linear layer and of a small MLP on a 1e5 x 100 batch, with torch's loss
against fastlogistic.torch's.

objectives: time per boosting round (XGBoost ``hist``, LightGBM) on a 1e6-row
synthetic problem: fastlogistic.objectives (its default, one thread, and two
threads) vs the same objective written in NumPy vs the built-in objective;
the boosting libraries on one thread (BENCH_GBDT_THREADS=n for more).
With --classes K: a 2e5-row, K-class problem, fastlogistic.objectives.softmax
against XGBoost's multi:softprob and LightGBM's multiclass.

Each figure: the median and the best over rounds of the per-round time, and
the ratios (median to median, best to best).  Printed with the CPU's name,
the load average and the library versions.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def alternate(fns, rounds, reps):
    """{name: [seconds per call, one entry per round]}, the callables
    alternated within each round (and their order reversed every round)."""
    names = list(fns)
    times = {n: [] for n in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for n in order:
            fn = fns[n]
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            times[n].append((time.perf_counter() - t0) / reps)
    return times


def report(title, times, base, unit_div=None, unit="ms"):
    """Median and best round of each implementation, and the ratios of
    `base`'s to each (median / median, best / best).  On a shared, loaded
    machine the best round is the closest to the uncontended speed."""
    med = {n: statistics.median(v) for n, v in times.items()}
    best = {n: min(v) for n, v in times.items()}
    print(f"  {title}")
    for n in times:
        extra = (f" ({med[n] / unit_div * 1e9:6.2f} / {best[n] / unit_div * 1e9:6.2f} ns/element)"
                 if unit_div else "")
        print(f"    {n:<26} median {med[n] * 1e3:8.3f} {unit}, best {best[n] * 1e3:8.3f} {unit}{extra}"
              f"   {med[base] / med[n]:5.2f}x / {best[base] / best[n]:5.2f}x vs {base}")
    return med


# ---------------------------------------------------------------------------
# torch
# ---------------------------------------------------------------------------

def bench_torch(quick):
    import torch
    import torch.nn.functional as F

    import fastlogistic.torch as flt

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rounds, reps = (5, 3) if quick else (15, 10)
    n = 20_000 if quick else 100_000
    print(f"torch {torch.__version__}, 1 thread; rounds={rounds} x {reps} calls")

    print("\nLoss forward + backward alone")
    print("(autograd floor: a 10-element w.sum().backward(), the fixed cost of a backward\n"
          " that every loss pays; no loss can be faster than it)")
    w10 = torch.randn(10, requires_grad=True)

    def floor():
        w10.sum().backward()
        w10.grad = None
    for dtype in (torch.float32, torch.float64):
        for N in ((n,) if quick else (n, 1_000_000)):
            x = torch.randn(N, 1, dtype=dtype, requires_grad=True)
            y = (torch.rand(N, 1) < 0.5).to(dtype)

            def step(fn, x=x, y=y):
                fn(x, y).backward()
                x.grad = None
            times = alternate({"torch BCEWithLogits": lambda: step(F.binary_cross_entropy_with_logits),
                               "fastlogistic.torch": lambda: step(flt.binary_cross_entropy_with_logits),
                               "autograd floor": floor},
                              rounds, reps)
            report(f"binary_cross_entropy_with_logits, mean, {N} x 1 {str(dtype)[6:]}",
                   times, "torch BCEWithLogits", unit_div=N)
        C = 10
        z = torch.randn(n, C, dtype=dtype, requires_grad=True)
        c = torch.randint(0, C, (n,))

        def ce_step(fn, z=z, c=c):
            fn(z, c).backward()
            z.grad = None
        times = alternate({"torch cross_entropy": lambda: ce_step(F.cross_entropy),
                           "fastlogistic.torch": lambda: ce_step(flt.cross_entropy)},
                          rounds, reps)
        report(f"cross_entropy, mean, {n} x {C} {str(dtype)[6:]}, index targets",
               times, "torch cross_entropy", unit_div=n * C)

    print("\nTraining step (zero_grad, forward, loss, backward, SGD step), float32")
    X = torch.randn(n, 100)
    Yb = (torch.rand(n, 1) < 0.5).float()
    Yc = torch.randint(0, 10, (n,))
    cases = [
        ("linear 100->1 + BCEWithLogitsLoss", lambda: torch.nn.Linear(100, 1),
         torch.nn.BCEWithLogitsLoss(), flt.BCEWithLogitsLoss(), Yb),
        ("MLP 100->64->ReLU->1 + BCEWithLogitsLoss",
         lambda: torch.nn.Sequential(torch.nn.Linear(100, 64), torch.nn.ReLU(),
                                     torch.nn.Linear(64, 1)),
         torch.nn.BCEWithLogitsLoss(), flt.BCEWithLogitsLoss(), Yb),
        ("linear 100->10 + CrossEntropyLoss", lambda: torch.nn.Linear(100, 10),
         torch.nn.CrossEntropyLoss(), flt.CrossEntropyLoss(), Yc),
    ]
    for title, make, loss_t, loss_f, Y in cases:
        model = make()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)

        def train(loss_fn, model=model, opt=opt, Y=Y):
            opt.zero_grad()
            loss_fn(model(X), Y).backward()
            opt.step()
        times = alternate({"torch loss": lambda: train(loss_t),
                           "fastlogistic.torch loss": lambda: train(loss_f)}, rounds, reps)
        report(f"{title}, batch {n} x 100", times, "torch loss")


# ---------------------------------------------------------------------------
# objectives
# ---------------------------------------------------------------------------

def numpy_binary(preds, data):
    """What users write today: the logistic objective in NumPy."""
    y = data.get_label()
    p = 1.0 / (1.0 + np.exp(-preds))
    return p - y, np.maximum(p * (1.0 - p), 1e-16)


def xgb_rounds(boosters, objs, dtrain, rounds):
    """Per-round times of XGBoost boosters, alternated: objs[k] as the
    objective where given, the booster's built-in one otherwise; one
    warm-up round each first (the histogram cut is built at the first)."""
    it = {k: 0 for k in boosters}

    def one(k):
        if k in objs:
            boosters[k].update(dtrain, it[k], fobj=objs[k])
        else:
            boosters[k].update(dtrain, it[k])
        it[k] += 1
    for k in boosters:
        one(k)
    return alternate({k: (lambda k=k: one(k)) for k in boosters}, rounds, 1)


def lgb_rounds(boosters, objs, rounds):
    """The same for LightGBM boosters."""
    def one(k):
        boosters[k].update(fobj=objs.get(k))
    for k in boosters:
        one(k)
    return alternate({k: (lambda k=k: one(k)) for k in boosters}, rounds, 1)


def bench_objectives(quick):
    import fastlogistic.objectives as flo
    libs = []
    try:
        import xgboost as xgb
        libs.append("xgboost")
    except ImportError:
        pass
    try:
        import lightgbm as lgb
        libs.append("lightgbm")
    except ImportError:
        pass

    def two_threads(preds, data):
        flo.NUM_THREADS = 2
        try:
            return flo.binary_logistic(preds, data)
        finally:
            flo.NUM_THREADS = 1
    n = 100_000 if quick else 1_000_000
    rounds = 3 if quick else 7
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 20), dtype=np.float32)
    w = rng.standard_normal(20)
    y = (X @ w + rng.standard_normal(n) > 0).astype(np.float32)
    threads = int(os.environ.get("BENCH_GBDT_THREADS", "1"))
    print(f"{n} rows x 20 features, binary; one boosting round per call, rounds={rounds}; "
          f"XGBoost/LightGBM on {threads} thread(s) (BENCH_GBDT_THREADS)")
    if "xgboost" in libs:
        dtrain = xgb.DMatrix(X, y, base_margin=np.zeros(n, np.float32))
        params = {"tree_method": "hist", "max_depth": 6, "eta": 0.3, "max_bin": 64,
                  "base_score": 0.5, "disable_default_eval_metric": 1, "nthread": threads}
        boosters = {"built-in binary:logistic": xgb.Booster({**params, "objective": "binary:logistic"}, [dtrain]),
                    "fastlogistic.objectives": xgb.Booster(params, [dtrain]),
                    "fl.objectives, 2 threads": xgb.Booster(params, [dtrain]),
                    "NumPy objective": xgb.Booster(params, [dtrain])}
        objs = {"fastlogistic.objectives": flo.binary_logistic, "NumPy objective": numpy_binary,
                "fl.objectives, 2 threads": two_threads}
        times = xgb_rounds(boosters, objs, dtrain, rounds)
        report(f"XGBoost {xgb.__version__} hist, time per round", times, "NumPy objective")
        # the objective call alone
        margin = boosters["fastlogistic.objectives"].predict(dtrain, output_margin=True)
        times = alternate({"NumPy objective": lambda: numpy_binary(margin, dtrain),
                           "fastlogistic.objectives": lambda: flo.binary_logistic(margin, dtrain)},
                          rounds * 3, 3)
        report("objective call alone (grad + hess from the margins)", times, "NumPy objective",
               unit_div=n)
    if "lightgbm" in libs:
        params = {"verbose": -1, "num_leaves": 31, "max_bin": 63, "boost_from_average": False,
                  "learning_rate": 0.3, "num_threads": threads}
        dsets = {k: lgb.Dataset(X, y, free_raw_data=False) for k in
                 ("built-in binary", "fastlogistic.objectives", "NumPy objective")}
        objs = {"fastlogistic.objectives": flo.binary_logistic, "NumPy objective": numpy_binary,
                "fl.objectives, 2 threads": two_threads}
        dsets["fl.objectives, 2 threads"] = lgb.Dataset(X, y, free_raw_data=False)
        boosters = {k: lgb.Booster({**params, "objective": "none" if k in objs else "binary"},
                                   dsets[k]) for k in dsets}
        times = lgb_rounds(boosters, objs, rounds)
        report(f"LightGBM {lgb.__version__}, time per round", times, "NumPy objective")
        b = boosters["fastlogistic.objectives"]
        margin = b.predict(X, raw_score=True)
        ds = dsets["fastlogistic.objectives"]
        times = alternate({"NumPy objective": lambda: numpy_binary(margin, ds),
                           "fastlogistic.objectives": lambda: flo.binary_logistic(margin, ds)},
                          rounds * 3, 3)
        report("objective call alone (float64 margins)", times, "NumPy objective", unit_div=n)


def numpy_softmax(preds, data):
    """The multi-class objective as a user writes it in NumPy (XGBoost's
    hessian 2 p (1 - p))."""
    y = data.get_label().astype(np.intp)
    z = preds - preds.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    g = p.copy()
    g[np.arange(len(y)), y] -= 1.0
    return g, np.maximum(2.0 * p * (1.0 - p), 1e-16)


def bench_objectives_multiclass(quick, classes):
    """Time per boosting round with `classes` classes: the built-in softmax
    objective of XGBoost / LightGBM against fastlogistic.objectives.softmax
    (and a NumPy objective), alternated in one process."""
    import fastlogistic.objectives as flo
    n = 20_000 if quick else 200_000
    rounds = 3 if quick else 7
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 20), dtype=np.float32)
    W = rng.standard_normal((20, classes))
    y = np.argmax(X @ W + rng.standard_normal((n, classes)), axis=1).astype(np.float32)
    threads = int(os.environ.get("BENCH_GBDT_THREADS", "1"))
    print(f"{n} rows x 20 features, {classes} classes; one boosting round per call, "
          f"rounds={rounds}; XGBoost/LightGBM on {threads} thread(s) (BENCH_GBDT_THREADS)")
    try:
        import xgboost as xgb
    except ImportError:
        xgb = None
    if xgb is not None:
        dtrain = xgb.DMatrix(X, y, base_margin=np.zeros((n, classes), np.float32))
        params = {"tree_method": "hist", "max_depth": 6, "eta": 0.3, "max_bin": 64,
                  "num_class": classes, "disable_default_eval_metric": 1, "nthread": threads}
        objs = {"fastlogistic.objectives": flo.softmax, "NumPy objective": numpy_softmax}
        boosters = {"built-in multi:softprob":
                    xgb.Booster({**params, "objective": "multi:softprob"}, [dtrain])}
        boosters.update({k: xgb.Booster(params, [dtrain]) for k in objs})
        times = xgb_rounds(boosters, objs, dtrain, rounds)
        report(f"XGBoost {xgb.__version__} hist, {classes} classes, time per round", times,
               "built-in multi:softprob")
        margin = boosters["fastlogistic.objectives"].predict(dtrain, output_margin=True)
        times = alternate({"NumPy objective": lambda: numpy_softmax(margin, dtrain),
                           "fastlogistic.objectives": lambda: flo.softmax(margin, dtrain)},
                          rounds * 3, 3)
        report("objective call alone (grad + hess from the margins)", times, "NumPy objective",
               unit_div=n * classes)
    try:
        import lightgbm as lgb
    except ImportError:
        lgb = None
    if lgb is not None:
        params = {"verbose": -1, "num_leaves": 31, "max_bin": 63, "boost_from_average": False,
                  "learning_rate": 0.3, "num_threads": threads, "num_class": classes}
        objs = {"fastlogistic.objectives": flo.softmax}
        names = ("built-in multiclass", "fastlogistic.objectives")
        dsets = {k: lgb.Dataset(X, y, free_raw_data=False) for k in names}
        boosters = {k: lgb.Booster({**params, "objective": "none" if k in objs else "multiclass"},
                                   dsets[k]) for k in names}
        times = lgb_rounds(boosters, objs, rounds)
        report(f"LightGBM {lgb.__version__}, {classes} classes, time per round", times,
               "built-in multiclass")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["torch", "objectives"])
    ap.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    ap.add_argument("--classes", type=int, default=1,
                    help="objectives: the class count (default 1: the binary objective; "
                         "K > 1: the softmax objective against multi:softprob / multiclass)")
    args = ap.parse_args(argv)
    import fastlogistic as fl
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs); Python {platform.python_version()}, "
          f"NumPy {np.__version__}, fastlogistic {fl.__version__}")
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    if hasattr(os, "getloadavg"):
        print("load average at start: %.1f %.1f %.1f" % os.getloadavg())
    if args.what == "objectives" and args.classes > 1:
        bench_objectives_multiclass(args.quick, args.classes)
    else:
        {"torch": bench_torch, "objectives": bench_objectives}[args.what](args.quick)


if __name__ == "__main__":
    main()
