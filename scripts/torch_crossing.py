"""Batch-size sweep of fastlogistic.torch against torch's own functions: the
crossing size per function, dtype and mode (forward only, or a training
step: forward and backward), from which fastlogistic.torch.TORCH_BELOW is set.

Both sides run in one process on one thread (torch.set_num_threads(1)),
alternating in rounds (each round times both, in turn first); the median of
the per-round ratios is kept.
"fused" forces fastlogistic's path at every size (TORCH_BELOW entries 0).

    python scripts/torch_crossing.py [--rounds 7] [--sizes 64,256,...] [--only NAME]

Prints one Markdown table per function (ratio torch time / fused time: above
1 the fused path is faster) and the crossing sizes as a dict.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

import fastlogistic.torch as flt

SIZES = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, 262144, 1000000]
CLASSES = 10   # cross_entropy: rows of this many classes, size = rows * classes


def make(name, n, dtype, grad):
    g = torch.Generator().manual_seed(n)
    if name == "cross_entropy":
        rows = max(n // CLASSES, 1)
        x = torch.randn(rows, CLASSES, generator=g, dtype=dtype)
        t = torch.randint(0, CLASSES, (rows,), generator=g)
        return x.requires_grad_(grad), (t,)
    x = torch.randn(n, generator=g, dtype=dtype)
    if name == "binary_cross_entropy":
        x = torch.rand(n, generator=g, dtype=dtype).clamp_(1e-6, 1 - 1e-6)
    x.requires_grad_(grad)
    if name.startswith("binary"):
        return x, (torch.rand(n, generator=g, dtype=dtype),)
    return x, ()


TORCH = {"sigmoid": torch.sigmoid, "logsigmoid": F.logsigmoid, "softplus": F.softplus,
         "binary_cross_entropy": F.binary_cross_entropy,
         "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
         "cross_entropy": F.cross_entropy}


def step(fn, x, args, grad):
    if not grad:
        def run():
            with torch.no_grad():
                fn(x, *args)
        return run
    gout = None

    def run():
        nonlocal gout
        y = fn(x, *args)
        if gout is None:
            gout = torch.ones_like(y)
        y.backward(gout)
        x.grad = None
    return run


def timed(run, number):
    t0 = time.perf_counter()
    for _ in range(number):
        run()
    return (time.perf_counter() - t0) / number


def measure(name, dtype, grad, sizes, rounds):
    ours_fn, torch_fn = getattr(flt, name), TORCH[name]
    rows = []
    for n in sizes:
        x, args = make(name, n, dtype, grad)
        a, b = step(torch_fn, x, args, grad), step(ours_fn, x, args, grad)
        a(), b()
        number = max(1, int(1e-3 / max(timed(a, 1), 1e-7)))
        ta, tb = [], []
        for r in range(rounds):
            # alternate which runs first; the ratio of the two calls of a
            # round sees the same machine load
            if r % 2:
                tb.append(timed(b, number))
                ta.append(timed(a, number))
            else:
                ta.append(timed(a, number))
                tb.append(timed(b, number))
        ratio = float(np.median(np.array(ta) / np.array(tb)))
        rows.append((n, float(np.median(ta)), float(np.median(tb)), ratio))
    return rows


def crossing(rows):
    """The least size from which the fused path is faster at every larger size."""
    best = None
    for n, _, _, ratio in reversed(rows):
        if ratio > 1:
            best = n
        else:
            break
    return best if best is not None else float("inf")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--only", default=None, help="one function name")
    args = ap.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    torch.set_num_threads(1)
    saved = dict(flt.TORCH_BELOW)
    for k in flt.TORCH_BELOW:
        flt.TORCH_BELOW[k] = 0
    found = {}
    try:
        names = [args.only] if args.only else list(TORCH)
        for name in names:
            print(f"\n### {name}" + (f" ({CLASSES} classes)" if name == "cross_entropy" else ""))
            print("\n| size | " + " | ".join(f"{m} {str(d)[6:]}" for m in ("fwd", "train")
                                            for d in (torch.float32, torch.float64)) + " |")
            print("|---:|" + "---:|" * 4)
            table = {}
            for grad in (False, True):
                for dtype in (torch.float32, torch.float64):
                    rows = measure(name, dtype, grad, sizes, args.rounds)
                    table[(dtype, grad)] = rows
                    found[(name, dtype, grad)] = crossing(rows)
            for i, n in enumerate(sizes):
                cells = [f"{table[(d, g)][i][3]:.2f}"
                         for g in (False, True) for d in (torch.float32, torch.float64)]
                print(f"| {n} | " + " | ".join(cells) + " |")
            print("\ncrossing: " + ", ".join(
                f"{'train' if g else 'fwd'} {str(d)[6:]} {found[(name, d, g)]}"
                for g in (False, True) for d in (torch.float32, torch.float64)), flush=True)
    finally:
        flt.TORCH_BELOW.update(saved)
    print("\nTORCH_BELOW = {")
    for (name, d, g), n in found.items():
        print(f"    ({name!r}, {d}, {g}): {n},")
    print("}")


if __name__ == "__main__":
    main()
