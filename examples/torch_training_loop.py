"""A PyTorch CPU training loop with ``fastlogistic.torch.BCEWithLogitsLoss``
in place of ``torch.nn.BCEWithLogitsLoss``: a small MLP on scikit-learn's
breast-cancer data set, trained twice from the same initial weights, once
with each loss.  The two runs give the same losses and weights (to float32
rounding); the script prints both, the accuracy and the time per epoch.

    python examples/torch_training_loop.py [--small]
"""
import argparse
import time

import _common  # noqa: F401
import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastlogistic.torch as flt


def make_model(d):
    return torch.nn.Sequential(torch.nn.Linear(d, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))


def train(model, loss_fn, X, y, epochs, batch=64):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    losses = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        total = 0.0
        for idx in torch.randperm(len(X), generator=g).split(batch):
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(X))
    return losses, (time.perf_counter() - t0) / epochs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="fewer epochs (for the tests)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = (torch.tensor(sc.transform(a), dtype=torch.float32) for a in (Xtr, Xte))
    ytr = torch.tensor(ytr, dtype=torch.float32)[:, None]
    epochs = 5 if args.small else 30

    torch.manual_seed(0)
    init = make_model(X.shape[1]).state_dict()
    results = {}
    for name, loss_fn in (("torch.nn.BCEWithLogitsLoss", torch.nn.BCEWithLogitsLoss()),
                          ("fastlogistic.torch.BCEWithLogitsLoss", flt.BCEWithLogitsLoss())):
        model = make_model(X.shape[1])
        model.load_state_dict(init)
        losses, per_epoch = train(model, loss_fn, Xtr, ytr, epochs)
        with torch.no_grad():
            acc = ((model(Xte)[:, 0] > 0).numpy() == yte).mean()
        results[name] = (losses, model, acc)
        print(f"{name:<38} loss epoch 1 {losses[0]:.5f}, epoch {epochs} {losses[-1]:.5f}; "
              f"test accuracy {acc:.4f}; {per_epoch * 1e3:6.1f} ms/epoch")
    (la, ma, aa), (lb, mb, ab) = results.values()
    wdiff = max((p - q).abs().max().item() for p, q in zip(ma.parameters(), mb.parameters()))
    print(f"max |loss difference| {np.abs(np.subtract(la, lb)).max():.1e}, "
          f"max |weight difference| {wdiff:.1e}")
    assert np.allclose(la, lb, rtol=1e-4, atol=1e-6) and abs(aa - ab) <= 0.01


if __name__ == "__main__":
    main()
