"""The per-iteration step of a logistic regression on a dask.distributed
cluster: fastlogistic against the same step written with dask's own NumPy
formulas, in one run, alternated.

* step: the mean loss and its gradient with respect to the logits z, from z
  and y already in the workers' memory.
  fastlogistic: ``binary_cross_entropy_with_logits_loss_and_grad(z, y)``,
  one task per block.  dask: ``(da.logaddexp(0, z) - y * z).mean()`` and
  ``(1 / (1 + da.exp(-z)) - y) / n``, the formulas one writes with dask.array.
* iteration: ``X @ w``, the step, ``X.T @ g`` (X in the workers' memory),
  returning the loss and the coefficient gradient to the client.
* exact: the fastlogistic step with the dask config ``fastlogistic.exact-sum``
  (sums independent of the chunking) against the default.

Each measurement persists the gradient in the workers and fetches the loss;
the figure is the median over the repeats, the ratio that of the medians
(and the range of the per-repeat ratios).

    PYTHONPATH=src python benchmarks/dask_step.py [--quick]
"""
import argparse
import os
import statistics
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--step-rows", type=int, default=20_000_000)
    ap.add_argument("--step-chunk", type=int, default=4_000_000)
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--chunk-rows", type=int, default=500_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.step_rows, a.step_chunk, a.rows, a.chunk_rows, a.repeats = (
            2_000_000, 500_000, 400_000, 100_000, 3)

    import dask
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    import fastlogistic as fl

    src = os.path.dirname(os.path.dirname(os.path.abspath(fl.__file__)))
    env = {"PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=":0", env=env,
                      silence_logs=40) as cluster, Client(cluster) as client:
        cpu = "?"
        if os.path.exists("/proc/cpuinfo"):
            cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                        if ln.startswith("model name")), "?")
        print(f"{a.workers} worker processes x 1 thread, CPU {cpu}, {os.cpu_count()} CPUs; "
              f"fastlogistic {fl.__version__} ({fl._kernels.get_simd_level()}), dask "
              f"{dask.__version__}")

        z = (da.random.RandomState(0).standard_normal(a.step_rows, chunks=a.step_chunk) * 2)
        y = (da.random.RandomState(1).random_sample(a.step_rows, chunks=a.step_chunk) < 0.5
             ).astype(np.float64)
        z, y = client.persist([z, y])
        wait([z, y])
        n = a.step_rows

        def step_fl():
            loss, g = fl.binary_cross_entropy_with_logits_loss_and_grad(z, y)
            return loss, g

        def step_dask():
            loss = (da.logaddexp(0, z) - y * z).mean()
            g = (1 / (1 + da.exp(-z)) - y) / n
            return loss, g

        def run(step):
            t0 = time.perf_counter()
            loss, g = client.persist(list(step()))
            wait([loss, g])
            value = float(loss.compute())
            dt = time.perf_counter() - t0
            del g
            return dt, value

        X = da.random.RandomState(2).standard_normal((a.rows, a.features),
                                                     chunks=(a.chunk_rows, a.features))
        yx = (da.random.RandomState(3).random_sample(a.rows, chunks=a.chunk_rows) < 0.5
              ).astype(np.float64)
        X, yx = client.persist([X, yx])
        wait([X, yx])
        w = np.linspace(-0.5, 0.5, a.features)

        def iter_fl():
            loss, g = fl.binary_cross_entropy_with_logits_loss_and_grad(X @ w, yx)
            return loss, X.T @ g

        def iter_dask():
            zz = X @ w
            loss = (da.logaddexp(0, zz) - yx * zz).mean()
            g = (1 / (1 + da.exp(-zz)) - yx) / a.rows
            return loss, X.T @ g

        def step_exact():
            with dask.config.set({"fastlogistic.exact-sum": True}):
                return fl.binary_cross_entropy_with_logits_loss_and_grad(z, y)

        def run_iter(it):
            t0 = time.perf_counter()
            loss, gw = dask.compute(*it())
            return time.perf_counter() - t0, float(loss)

        for label, pair, runner in (
                (f"step: loss+grad of {a.step_rows:,} logits in blocks of {a.step_chunk:,}",
                 (step_fl, step_dask), run),
                (f"iteration: X @ w, step, X.T @ g; X {a.rows:,} x {a.features} in blocks of "
                 f"{a.chunk_rows:,} rows", (iter_fl, iter_dask), run_iter),
                ("exact sum (fastlogistic.exact-sum) against the default, the same step:\n"
                 "  (first column: default, second: exact)", (step_fl, step_exact), run)):
            runner(pair[0])
            runner(pair[1])                                  # warm up both
            tf, td, ratios = [], [], []
            for r in range(a.repeats):
                order = pair if r % 2 == 0 else pair[::-1]
                res = {}
                for f in order:
                    res[f] = runner(f)
                tf.append(res[pair[0]][0])
                td.append(res[pair[1]][0])
                ratios.append(td[-1] / tf[-1])
                assert abs(res[pair[0]][1] - res[pair[1]][1]) <= 1e-12 * abs(res[pair[1]][1])
            names = ("fastlogistic", "dask formulas") if pair[1] is not step_exact else (
                "default", "exact")
            mf, md = statistics.median(tf), statistics.median(td)
            print(f"{label}\n  {names[0]} {mf * 1e3:8.1f} ms   {names[1]} {md * 1e3:8.1f} ms"
                  f"   ratio {md / mf:5.2f}x (per repeat {min(ratios):.2f}-{max(ratios):.2f}x, "
                  f"{a.repeats} repeats alternated)")


if __name__ == "__main__":
    main()
