"""The sigmoid and its derivative, plotted from ``fastlogistic.sigmoid`` and
``fastlogistic.sigmoid_grad`` with matplotlib, saved as PNG (the README's
picture).  The derivative is evaluated directly from x, so it stays
accurate in the tails (s (1 - s) would be 0 there): the second panel shows it
on a log scale, against 1/e^|x| (its asymptote).

    python examples/plot_sigmoid.py [--out docs/sigmoid_curve.png]
"""
import argparse
import os

import _common  # noqa: F401
import numpy as np

import fastlogistic as fl


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "docs", "sigmoid_curve.png"))
    ap.add_argument("--small", action="store_true", help="accepted for uniformity; no effect")
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.linspace(-8, 8, 801)
    s, ds = fl.sigmoid(x), fl.sigmoid_grad(x)
    xt = np.linspace(-40, 40, 801)
    dt = fl.sigmoid_grad(xt)
    s32 = fl.sigmoid(xt.astype(np.float32))
    naive = s32 * (np.float32(1) - s32)            # the textbook form, float32

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    a.plot(x, s, label=r"sigmoid $s(x) = 1/(1+e^{-x})$", color="tab:blue", lw=2)
    a.plot(x, ds, label=r"derivative $s'(x) = s(x)\,(1-s(x))$", color="tab:orange", lw=2)
    a.axhline(0.5, color="0.8", lw=0.8, zorder=0)
    a.axvline(0, color="0.8", lw=0.8, zorder=0)
    a.set_xlabel("x")
    a.set_title("fastlogistic.sigmoid and sigmoid_grad")
    a.legend(loc="upper left", fontsize=8)
    a.grid(alpha=0.3)
    b.semilogy(xt, dt, color="tab:orange", lw=2, label="sigmoid_grad(x), float64")
    b.semilogy(xt, fl.sigmoid_grad(xt.astype(np.float32)), color="tab:green", lw=1, ls=":",
               label="sigmoid_grad(x), float32")
    with np.errstate(divide="ignore"):
        b.semilogy(xt, np.where(naive > 0, naive, np.nan), color="tab:red", lw=1.5, ls="--", zorder=3,
                   label="s (1 - s) in float32: 44% off at x = 17, 0 from 18")
    b.set_xlabel("x")
    b.set_title("the derivative in the tails (log scale)")
    b.legend(loc="lower center", fontsize=8)
    b.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out)
    print(f"sigmoid(0) = {fl.sigmoid(0.0)}, sigmoid_grad(0) = {fl.sigmoid_grad(0.0)}, "
          f"max of the derivative {ds.max()} at x = {x[np.argmax(ds)]}")
    print(f"sigmoid_grad(40) = {fl.sigmoid_grad(40.0):.3e} (s(40) (1 - s(40)) = "
          f"{fl.sigmoid(40.0) * (1 - fl.sigmoid(40.0))}); float32: sigmoid_grad(20) = "
          f"{fl.sigmoid_grad(np.float32(20)):.3e}, s (1 - s) = {naive[np.argmin(np.abs(xt - 20))]}")
    print(f"saved {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
