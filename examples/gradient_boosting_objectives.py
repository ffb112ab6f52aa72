"""XGBoost and LightGBM trained with fastlogistic.objectives, against their
built-in objectives, on scikit-learn's breast-cancer (binary) and digits
(10 classes) data sets.  The custom objective reproduces the built-in one:
same margins (to float32 rounding), same test accuracy.

    python examples/gradient_boosting_objectives.py [--small]

Each library that is not installed is skipped with a note.  One thread each
(the data sets are small; threads only add waiting on a shared machine).
"""
import argparse
import time

import _common  # noqa: F401
import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

import fastlogistic.objectives as flo


def datasets():
    for name, loader, C in (("breast cancer", load_breast_cancer, 2), ("digits", load_digits, 10)):
        X, y = loader(return_X_y=True)
        yield (name, C) + tuple(train_test_split(X, y.astype(np.float64), test_size=0.3,
                                                 random_state=0, stratify=y))


def accuracy(margin, y):
    pred = margin > 0 if margin.ndim == 1 else np.argmax(margin, axis=1)
    return np.mean(pred == y)


def run_xgboost(rounds):
    import xgboost as xgb
    print(f"XGBoost {xgb.__version__}")
    for name, C, Xtr, Xte, ytr, yte in datasets():
        def zeros(y):       # both models start from margin 0
            return np.zeros((len(y), C) if C > 2 else len(y))
        dtr = xgb.DMatrix(Xtr, ytr, base_margin=zeros(ytr))
        dte = xgb.DMatrix(Xte, yte, base_margin=zeros(yte))
        params = {"tree_method": "hist", "max_depth": 4, "eta": 0.3, "nthread": 1}
        if C > 2:
            params["num_class"] = C
        builtin = "binary:logistic" if C == 2 else "multi:softprob"
        t0 = time.perf_counter()
        a = xgb.train({**params, "objective": builtin}, dtr, rounds)
        t_a = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = xgb.train({**params, "disable_default_eval_metric": 1}, dtr, rounds,
                      obj=flo.binary_logistic if C == 2 else flo.softmax)
        t_b = time.perf_counter() - t0
        ma, mb = a.predict(dte, output_margin=True), b.predict(dte, output_margin=True)
        diff = np.abs(ma - mb).max()
        print(f"  {name:<14} {builtin:<16} accuracy {accuracy(ma, yte):.4f} ({t_a * 1e3:6.0f} ms) | "
              f"fastlogistic.objectives accuracy {accuracy(mb, yte):.4f} ({t_b * 1e3:6.0f} ms) | "
              f"max |margin difference| {diff:.1e}")
        assert diff < 1e-5, diff


def run_lightgbm(rounds):
    import lightgbm as lgb
    print(f"LightGBM {lgb.__version__}")
    for name, C, Xtr, Xte, ytr, yte in datasets():
        params = {"verbose": -1, "num_leaves": 15, "learning_rate": 0.3, "num_threads": 1,
                  "boost_from_average": False}     # the custom objective starts from 0 too
        if C > 2:
            params["num_class"] = C
        builtin = "binary" if C == 2 else "multiclass"
        t0 = time.perf_counter()
        a = lgb.train({**params, "objective": builtin}, lgb.Dataset(Xtr, ytr), rounds)
        t_a = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = lgb.train({**params, "objective": flo.binary_logistic if C == 2 else flo.softmax},
                      lgb.Dataset(Xtr, ytr), rounds)
        t_b = time.perf_counter() - t0
        ma, mb = a.predict(Xte, raw_score=True), b.predict(Xte, raw_score=True)
        diff = np.abs(ma - mb).max()
        print(f"  {name:<14} {builtin:<16} accuracy {accuracy(ma, yte):.4f} ({t_a * 1e3:6.0f} ms) | "
              f"fastlogistic.objectives accuracy {accuracy(mb, yte):.4f} ({t_b * 1e3:6.0f} ms) | "
              f"max |margin difference| {diff:.1e}")
        assert diff < 1e-5, diff


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="fewer boosting rounds (for the tests)")
    args = ap.parse_args(argv)
    rounds = 4 if args.small else 20
    for run in (run_xgboost, run_lightgbm):
        try:
            run(rounds)
        except ImportError as exc:
            print(f"skipped: {exc}")


if __name__ == "__main__":
    main()
