"""Softmax (multinomial logistic) regression on scikit-learn's digits data set
(8x8 images, 10 classes) by gradient descent with
``fastlogistic.cross_entropy_loss_and_grad``, against scikit-learn's
LogisticRegression (same objective: mean cross-entropy + ||W||^2 / (2 C n));
also SciPy's L-BFGS (scikit-learn's optimizer) on the same loss and gradient,
for a like-with-like time.

    python examples/softmax_regression_digits.py [--small]
"""
import argparse
import time

import _common  # noqa: F401
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastlogistic as fl


def fit_gd(X, y, n_classes, C=1.0, iters=1500, lr=0.5):
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    W = np.zeros((d + 1, n_classes))
    V = W.copy()
    lam = 1.0 / (C * n)
    for k in range(iters):
        look = W + (k / (k + 3)) * (W - V)
        # logits (n, C), integer targets; mean over rows, gradient of the mean
        loss, G = fl.cross_entropy_loss_and_grad(Xb @ look, y)
        grad = Xb.T @ G
        grad[:d] += lam * look[:d]
        V, W = W, look - lr * grad
    return W, loss


def fit_lbfgs(X, y, n_classes, C=1.0):
    from scipy.optimize import minimize
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    lam = 1.0 / (C * n)

    def fun(wflat):
        W = wflat.reshape(d + 1, n_classes)
        loss, G = fl.cross_entropy_loss_and_grad(Xb @ W, y)
        grad = Xb.T @ G
        grad[:d] += lam * W[:d]
        return float(loss) + 0.5 * lam * np.sum(W[:d] ** 2), grad.ravel()
    res = minimize(fun, np.zeros((d + 1) * n_classes), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 1e-6})
    return res.x.reshape(d + 1, n_classes)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="fewer iterations (for the tests)")
    args = ap.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)

    t0 = time.perf_counter()
    W, loss = fit_gd(Xtr, ytr, 10, iters=200 if args.small else 800)
    t_fl = time.perf_counter() - t0
    pred = np.argmax(np.hstack([Xte, np.ones((len(Xte), 1))]) @ W, axis=1)
    acc_fl = np.mean(pred == yte)

    t0 = time.perf_counter()
    W2 = fit_lbfgs(Xtr, ytr, 10)
    t_lb = time.perf_counter() - t0
    acc_lb = np.mean(np.argmax(np.hstack([Xte, np.ones((len(Xte), 1))]) @ W2, axis=1) == yte)

    t0 = time.perf_counter()
    clf = LogisticRegression(C=1.0, max_iter=5000).fit(Xtr, ytr)
    t_sk = time.perf_counter() - t0
    acc_sk = clf.score(Xte, yte)

    print(f"digits: {len(Xtr)} train / {len(Xte)} test images, 64 pixels, 10 classes")
    print(f"fastlogistic softmax regression (GD): test accuracy {acc_fl:.4f}, "
          f"fit {t_fl * 1e3:7.1f} ms, final training loss {float(loss):.5f}")
    print(f"fastlogistic + SciPy L-BFGS         : test accuracy {acc_lb:.4f}, "
          f"fit {t_lb * 1e3:7.1f} ms")
    print(f"sklearn LogisticRegression (lbfgs)  : test accuracy {acc_sk:.4f}, "
          f"fit {t_sk * 1e3:7.1f} ms")
    assert abs(acc_fl - acc_sk) <= 0.02 and abs(acc_lb - acc_sk) <= 0.02, (acc_fl, acc_lb, acc_sk)


if __name__ == "__main__":
    main()
