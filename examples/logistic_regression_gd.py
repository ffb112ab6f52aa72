"""Logistic regression by gradient descent with fastlogistic's fused
loss-and-gradient, against scikit-learn's LogisticRegression, on the
breast-cancer data set that ships with scikit-learn.

    python examples/logistic_regression_gd.py [--small]

All minimise the same objective, mean log-loss + ||w||^2 / (2 C n) (C = 1):
plain (Nesterov) gradient descent, and SciPy's L-BFGS -- the optimizer
scikit-learn uses -- fed by the same fused loss-and-gradient, so that its
time compares like with like.  The script prints accuracy and fit time of
each and checks that the accuracies agree.
"""
import argparse
import time

import _common  # noqa: F401
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastlogistic as fl


def fit_gd(X, y, C=1.0, iters=3000, lr=1.0):
    """Nesterov-accelerated gradient descent on mean BCE-with-logits + L2."""
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])          # intercept column (not penalised)
    w = np.zeros(d + 1)
    v = w.copy()
    lam = 1.0 / (C * n)
    for k in range(iters):
        look = w + (k / (k + 3)) * (w - v)
        loss, g = fl.binary_cross_entropy_with_logits_loss_and_grad(Xb @ look, y)
        grad = Xb.T @ g
        grad[:d] += lam * look[:d]
        v, w = w, look - lr * grad
    return w, loss


def fit_lbfgs(X, y, C=1.0):
    """scipy.optimize L-BFGS on the same objective, loss and gradient in one call."""
    from scipy.optimize import minimize
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    lam = 1.0 / (C * n)

    def fun(w):
        loss, g = fl.binary_cross_entropy_with_logits_loss_and_grad(Xb @ w, y)
        grad = Xb.T @ g
        grad[:d] += lam * w[:d]
        return float(loss) + 0.5 * lam * (w[:d] @ w[:d]), grad
    res = minimize(fun, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 1e-6})
    return res.x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="fewer iterations (for the tests)")
    args = ap.parse_args(argv)
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y.astype(np.float64), test_size=0.3, random_state=0)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)

    t0 = time.perf_counter()
    w, loss = fit_gd(Xtr, ytr, iters=500 if args.small else 3000)
    t_fl = time.perf_counter() - t0
    acc_fl = np.mean((np.hstack([Xte, np.ones((len(Xte), 1))]) @ w > 0) == yte)

    t0 = time.perf_counter()
    w2 = fit_lbfgs(Xtr, ytr)
    t_lb = time.perf_counter() - t0
    acc_lb = np.mean((np.hstack([Xte, np.ones((len(Xte), 1))]) @ w2 > 0) == yte)

    t0 = time.perf_counter()
    clf = LogisticRegression(C=1.0, max_iter=5000).fit(Xtr, ytr)
    t_sk = time.perf_counter() - t0
    acc_sk = clf.score(Xte, yte)

    print(f"breast cancer: {len(Xtr)} train / {len(Xte)} test rows, {X.shape[1]} features")
    print(f"fastlogistic gradient descent : test accuracy {acc_fl:.4f}, fit {t_fl * 1e3:7.1f} ms, "
          f"final training loss {float(loss):.5f}")
    print(f"fastlogistic + SciPy L-BFGS   : test accuracy {acc_lb:.4f}, fit {t_lb * 1e3:7.1f} ms")
    print(f"sklearn LogisticRegression    : test accuracy {acc_sk:.4f}, fit {t_sk * 1e3:7.1f} ms")
    ref = np.hstack([clf.coef_.ravel(), clf.intercept_])
    print(f"max |coefficient difference| vs sklearn: gradient descent {np.abs(ref - w).max():.1e}, "
          f"L-BFGS {np.abs(ref - w2).max():.1e}")
    assert abs(acc_fl - acc_sk) <= 0.02 and abs(acc_lb - acc_sk) <= 0.02, (acc_fl, acc_lb, acc_sk)


if __name__ == "__main__":
    main()
