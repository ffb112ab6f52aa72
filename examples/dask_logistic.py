"""Logistic regression on a dask.distributed cluster, on data bigger than any
worker's memory.

X (rows x features, float64) is generated lazily, block by block, from a
seed; y is drawn from the logistic model with a known coefficient vector.
SciPy's L-BFGS drives the fit; each of its evaluations is one dask graph per
row block: X_i @ w, then the loss and gradient of
binary_cross_entropy_with_logits from one kernel pass
(``fl.binary_cross_entropy_with_logits_loss_and_grad``), then X_i.T @ g_i.
No block of X is kept: the whole array never fits in the cluster's memory.
At the end the coefficients are compared with an in-memory fit of a
subsample, to its statistical accuracy (z-scores from its Fisher information).

    python examples/dask_logistic.py            # X of 4 GB, 2 workers at 1.5 GB
    python examples/dask_logistic.py --small    # CI size, seconds
    python examples/dask_logistic.py --scheduler tcp://host:8786   # a real cluster
"""
import argparse
import os
import sys
import time

import numpy as np


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=25_000_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--chunk-rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="1.5GB")
    ap.add_argument("--scheduler", default=None,
                    help="address of a running scheduler (default: a LocalCluster)")
    ap.add_argument("--subsample", type=int, default=200_000)
    ap.add_argument("--maxiter", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--output-cache", choices=("auto", "off", "default"), default="auto",
                    help="fastlogistic's output cache in the workers: bounded by a 16th of "
                         "the memory limit (auto), 0 (off) or 256 MiB (default)")
    ap.add_argument("--small", action="store_true", help="a CI-sized run")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args()
    if a.small:
        a.rows, a.features, a.chunk_rows, a.subsample = 100_000, 6, 25_000, 25_000
        a.memory_limit = "1GB"
    return a


def make_data(a):
    """X, y and the true coefficients, lazily: nothing is computed here."""
    import dask.array as da
    rng = np.random.default_rng(a.seed)
    beta = rng.normal(0.0, 1.5 / np.sqrt(a.features), a.features)
    X = da.random.default_rng(a.seed).standard_normal(
        (a.rows, a.features), chunks=(a.chunk_rows, a.features))
    u = da.random.default_rng(a.seed + 1).random(a.rows, chunks=a.chunk_rows)
    import fastlogistic as fl
    y = (u < fl.sigmoid(X @ beta)).astype(np.float64) if isinstance(fl.sigmoid, np.ufunc) \
        else (u < 1.0 / (1.0 + da.exp(-(X @ beta)))).astype(np.float64)
    return X, y, beta


def fit_in_memory(Xs, ys):
    """The same model on a NumPy subsample: coefficients and standard errors."""
    from scipy.optimize import minimize

    import fastlogistic as fl

    def fun(w):
        loss, g = fl.binary_cross_entropy_with_logits_loss_and_grad(Xs @ w, ys)
        return float(loss), Xs.T @ g

    r = minimize(fun, np.zeros(Xs.shape[1]), jac=True, method="L-BFGS-B",
                 options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 1000})
    s = fl.sigmoid(Xs @ r.x)
    info = (Xs * (s * (1 - s))[:, None]).T @ Xs          # Fisher information
    return r.x, np.sqrt(np.diag(np.linalg.inv(info)))


def worker_memory(client):
    """Per worker: process memory, dask's managed bytes, the output cache held."""
    def probe(dask_worker):
        from fastlogistic import _kernels
        return (dask_worker.monitor.get_process_memory(), dask_worker.state.nbytes,
                _kernels.output_cache_held()[0], _kernels.get_output_cache())
    return client.run(probe)


def main():
    a = parse()
    import dask
    from distributed import Client, LocalCluster
    from scipy.optimize import minimize

    import fastlogistic as fl

    env = {}
    src = os.path.dirname(os.path.dirname(os.path.abspath(fl.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    if a.output_cache == "off":
        env["FASTLOGISTIC_OUTPUT_CACHE"] = "0"
    elif a.output_cache == "default":
        env["FASTLOGISTIC_OUTPUT_CACHE"] = str(256 << 20)
    t_start = time.perf_counter()
    if a.scheduler:
        cluster = None
        client = Client(a.scheduler)
    else:
        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                               memory_limit=a.memory_limit, host="127.0.0.1",
                               dashboard_address=":0", env=env, silence_logs=40)
        client = Client(cluster)
    try:
        X, y, beta = make_data(a)
        limit = sum(w["memory_limit"] or 0 for w in client.scheduler_info()["workers"].values())
        print(f"X: {a.rows} x {a.features} float64 = {X.nbytes / 1e9:.2f} GB in "
              f"{X.numblocks[0]} blocks of {a.chunk_rows * a.features * 8 / 1e6:.0f} MB; "
              f"{len(client.scheduler_info()['workers'])} workers, memory limit "
              f"{limit / 1e9:.2f} GB in all")
        hist = []
        peak = {"unmanaged": 0}
        bar = not a.no_progress and sys.stdout.isatty()

        def fun(w):
            z = X @ w
            loss, g = fl.binary_cross_entropy_with_logits_loss_and_grad(z, y)
            loss, gw = dask.compute(loss, X.T @ g)
            hist.append(float(loss))
            for mem, managed, held, cap in worker_memory(client).values():
                peak["unmanaged"] = max(peak["unmanaged"], mem - managed)
            k = len(hist)
            done = min(k, a.maxiter) * 30 // a.maxiter
            line = (f"eval {k:3d}  loss {float(loss):.12f}  |grad| "
                    f"{np.linalg.norm(gw):.3e}  {time.perf_counter() - t0:7.1f} s")
            if bar:
                print(f"\r[{'#' * done}{'.' * (30 - done)}] {line}", end="", flush=True)
            else:
                print(line, flush=True)
            return float(loss), gw

        t0 = time.perf_counter()
        r = minimize(fun, np.zeros(a.features), jac=True, method="L-BFGS-B",
                     options={"gtol": 1e-7, "ftol": 1e-14, "maxiter": a.maxiter})
        t_fit = time.perf_counter() - t0
        if bar:
            print()
        status = "converged" if r.success else "NOT converged"
        print(f"{status} after {r.nit} iterations ({r.nfev} evaluations) in {t_fit:.1f} s "
              f"({t_fit / r.nfev:.2f} s per evaluation): {r.message}")
        m = min(a.subsample, a.rows)
        Xs, ys = dask.compute(X[:m], y[:m])
        w_sub, se_sub = fit_in_memory(Xs, ys)
        z = (r.x - w_sub) / se_sub
        # the full fit has a much smaller error than the subsample's, so the
        # difference has about the subsample's standard error
        ok = np.max(np.abs(z)) < 5
        print(f"in-memory fit of a {m}-row subsample: max |w - w_sub| / se_sub = "
              f"{np.max(np.abs(z)):.2f} -> coefficients "
              f"{'match' if ok else 'DO NOT match'} (bound 5)")
        se_full = se_sub * np.sqrt(m / a.rows)
        print(f"full fit vs the true coefficients: max |w - beta| / se = "
              f"{np.max(np.abs((r.x - beta) / se_full)):.2f}")
        mem = worker_memory(client)
        for addr, (pm, managed, held, cap) in sorted(mem.items()):
            print(f"worker {addr}: process {pm / 2**20:.0f} MiB, managed {managed / 2**20:.0f} "
                  f"MiB, output cache held {held / 2**20:.0f} MiB (bound {cap / 2**20:.0f} MiB)")
        print(f"peak unmanaged memory of a worker, sampled per evaluation: "
              f"{peak['unmanaged'] / 2**20:.0f} MiB")
        print(f"wall time {time.perf_counter() - t_start:.1f} s")
        return 0 if (r.success and ok) else 1
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    sys.exit(main())
