"""The report: the table of each case, the machine, the summary line, the plot."""
import math
import os
import platform
import sys

import numpy as np

import fastlogistic as fl

from . import peers
from .cases import DEFAULT_IMPLS, FUNCTIONS, REFERENCE_IMPLS, SWEEP_BINARY, _fmt_n, _fmt_shape
from .timing import ROUND_SECONDS, WARM_SECONDS, paired_ratio


def print_case(case, rows, file):
    print(f"\n{case.label()}", file=file)
    fl_row = {r["threads"]: r for r in rows if r["implementation"] == "fastlogistic"}
    print(f"  {'implementation':<16}{'threads':>8}{'ns/elem':>10}{'us/call':>11}{'spread':>8}"
          f"{'fastlogistic speed-up':>23}   what", file=file)
    for r in rows:
        s = r["rounds_seconds_per_call"]
        spread = (max(s) - min(s)) / r["seconds_per_call"] if len(s) > 1 else 0.0
        if r["implementation"] == "fastlogistic":
            k0 = min(fl_row)
            speed = ("" if r["threads"] == k0 else
                     f"{paired_ratio(fl_row[k0], r):.2f}x vs {k0}t")
        else:
            ref = fl_row.get(r["threads"], fl_row[min(fl_row)])
            speed = f"{paired_ratio(r, ref):.2f}x"
        print(f"  {r['implementation']:<16}{r['threads']:>8}{r['ns_per_element']:>10.3f}"
              f"{r['seconds_per_call'] * 1e6:>11.2f}{spread:>7.0%} {speed:>23}   {r['note']}",
              file=file)
    for k, r in sorted(fl_row.items()):
        if "copy_fraction" in r:
            frac = r["copy_fraction"]
            where = ("at the memory limit" if frac > 0.85 else
                     "compute-bound" if frac < 0.5 else "between the two")
            print(f"  memory limit ({k}t): a copy of x takes {frac:.2f} of fastlogistic's "
                  f"time ({where})", file=file)


def class_table(results):
    """The class-count sweep as rows: per dtype and K, ns/element of ours and
    torch's cross-entropy loss+gradient and softmax, their ratios, and our
    cross-entropy's cost per element over the binary loss+gradient's."""
    def ns(function, dtype, k, impl, n=None):
        for r in results:
            if (r["function"] == function and r["dtype"] == dtype and r["threads"] == 1
                    and r["implementation"] == impl
                    and (r["shape"][1] == k if k else len(r["shape"]) == 1)):
                return r
        return None

    rows = []
    for dtype in sorted({r["dtype"] for r in results}, reverse=True):
        binary = ns(SWEEP_BINARY, dtype, None, "fastlogistic")
        ks = sorted({r["shape"][1] for r in results
                     if len(r["shape"]) == 2 and r["dtype"] == dtype})
        for k in ks:
            row = {"dtype": dtype, "classes": k}
            for function, short in (("cross_entropy_loss_and_grad", "ce"), ("softmax", "softmax")):
                ours, torch = (ns(function, dtype, k, "fastlogistic"),
                               ns(function, dtype, k, "torch"))
                row[short] = ours and ours["ns_per_element"]
                row[short + "_torch"] = torch and torch["ns_per_element"]
                row[short + "_vs_torch"] = (paired_ratio(torch, ours)
                                            if ours and torch else None)
            ce = ns("cross_entropy_loss_and_grad", dtype, k, "fastlogistic")
            row["ce_over_binary"] = (ce["ns_per_element"] / binary["ns_per_element"]
                                     if ce and binary else None)
            rows.append(row)
    return rows


def print_class_table(rows, file):
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    print("\nClass-count sweep (1 thread, ns/element; ratio: torch's time / ours in the "
          "same round;\n  CE/binary: our cross-entropy per element over our binary "
          "loss+gradient per element)", file=file)
    print(f"  {'dtype':<8}{'K':>6}{'CE ours':>9}{'torch':>8}{'ratio':>7}"
          f"{'softmax':>9}{'torch':>8}{'ratio':>7}{'CE/binary':>11}", file=file)
    for r in rows:
        print(f"  {r['dtype']:<8}{r['classes']:>6}{f(r['ce'], '9.2f')}{f(r['ce_torch'], '8.2f')}"
              f"{f(r['ce_vs_torch'], '6.2f')}x{f(r['softmax'], '9.2f')}"
              f"{f(r['softmax_torch'], '8.2f')}{f(r['softmax_vs_torch'], '6.2f')}x"
              f"{f(r['ce_over_binary'], '10.2f')}x", file=file)


def class_markdown(results):
    """The class-count sweep as a markdown table: per K and dtype, ns per
    element of our cross-entropy loss+gradient and softmax, torch's ratio to
    each (its time over ours, paired rounds), and our cross-entropy per
    element over our binary loss+gradient per element."""
    def cell(v, fmt, suffix=""):
        return "—" if v is None else format(v, fmt) + suffix

    lines = ["| K | dtype | CE loss+grad | vs torch | softmax | vs torch | CE / binary |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(class_table(results), key=lambda r: (r["classes"], r["dtype"] != "float32")):
        lines.append(f"| {r['classes']} | {r['dtype']} | {cell(r['ce'], '.2f')} | "
                     f"{cell(r['ce_vs_torch'], '.2f', 'x')} | {cell(r['softmax'], '.2f')} | "
                     f"{cell(r['softmax_vs_torch'], '.2f', 'x')} | "
                     f"{cell(r['ce_over_binary'], '.1f', 'x')} |")
    return "\n".join(lines)


def plot_classes(results, path):
    """ns/element against the class count K, one panel per function and dtype."""
    plt = _pyplot()
    if plt is None:
        return False
    keys = sorted({(r["function"], r["dtype"]) for r in results if len(r["shape"]) == 2})
    fig, axes = plt.subplots(len(keys) // 2 or 1, 2, figsize=(10.4, 3.6 * (len(keys) // 2 or 1)),
                             squeeze=False)
    for ax, (function, dtype) in zip(axes.flat, keys):
        lines = {}
        for r in results:
            if (r["function"], r["dtype"]) == (function, dtype) and r["threads"] == 1:
                lines.setdefault(r["implementation"], []).append(
                    (r["shape"][1], r["ns_per_element"]))
        for impl, pts in sorted(lines.items()):
            pts.sort()
            ax.plot(*zip(*pts), marker="o", ms=3, lw=2 if impl == "fastlogistic" else 1.2,
                    label=impl)
        _style(ax, f"{function} {dtype}, N*K fixed", "classes K")
    _save(plt, fig, axes, len(keys), path)
    return True


def machine_info():
    cpu, flags = None, ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and cpu is None:
                    cpu = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = " ".join(sorted({"avx2", "fma", "avx512f"} & set(value.split())))
    except OSError:
        pass
    cpu = cpu or platform.processor() or platform.machine()
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "fastlogistic": fl.__version__}
    for lib, mod in (("scipy", "scipy"), ("torch", "torch"), ("scikit-learn", "sklearn"),
                     ("numexpr", "numexpr"), ("numba", "numba")):
        m = sys.modules.get(mod)
        if m is not None:
            versions[lib] = m.__version__
    return {"cpu": cpu, "cpu_flags": flags, "cores": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "platform": platform.platform(), "versions": versions,
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "fastlogistic_config": fl._config.config(),
            "torch_threads_default": peers.TORCH_DEFAULT_THREADS}


def _threads_text(info):
    cfg = info["fastlogistic_config"]
    usable = info.get("affinity") or info["cores"]
    return (f"{cfg['default_threads']} threads by default"
            + (f" ({usable} CPUs usable)" if usable != cfg["default_threads"] else ""))


# implementations that are not another library: the memory-copy reference and
# fastlogistic's own other kernel levels
NOT_PEERS = frozenset({"fastlogistic", "copy", "cython"})


def summary_line(info, results):
    """One line a user can quote: per case, fastlogistic's speed against the
    fastest other library measured in that case, at the case's lowest thread
    count (the paired ratio of the table)."""
    cases = {}
    for r in results:
        cases.setdefault((r["function"], tuple(r["shape"]), r["dtype"]), []).append(r)
    parts = []
    for (function, shape, dtype), rows in cases.items():
        k = min(r["threads"] for r in rows)
        ours = [r for r in rows if r["implementation"] == "fastlogistic" and r["threads"] == k]
        others = [r for r in rows if r["implementation"] not in NOT_PEERS and r["threads"] == k]
        if not ours or not others:
            continue
        best = min(others, key=lambda r: r["seconds_per_call"])
        short = {"float64": "f64", "float32": "f32"}[dtype]
        threads = "" if k == 1 else f" {k} threads"
        parts.append(f"{function} {short} {_fmt_shape(shape)}{threads}: "
                     f"{paired_ratio(best, ours[0]):.2f}x {best['implementation']}")
    cfg = info["fastlogistic_config"]
    where = f"{info['cpu']} ({cfg['simd_level']}, 1 thread unless said)"
    if not parts:
        return f"fastlogistic {info['versions']['fastlogistic']} on {where}: no other library measured"
    return (f"fastlogistic {info['versions']['fastlogistic']} on {where}; speed vs the fastest "
            f"other installed library: " + "; ".join(parts))


def print_header(info, file):
    v = info["versions"]
    cfg = info["fastlogistic_config"]
    print(f"fastlogistic {v['fastlogistic']} bench -- {info['cpu']} "
          f"({info['cores']} cores; {info['cpu_flags'] or 'no avx2'})", file=file)
    print(f"  SIMD level {cfg['simd_level']}, OpenMP {'on' if cfg['openmp'] else 'off'}, "
          f"{_threads_text(info)}, {cfg['compiler']}; " + ", ".join(f"{k} {val}" for k, val in v.items()
                                               if k != "fastlogistic"), file=file)
    load = info["load_average"]
    if load is not None:
        print(f"  1-minute load average before the run: {load:.2f} (other work on the cores "
              f"disturbs the timings, multi-threaded ones most)", file=file)
    if info.get("malloc"):
        print(f"  malloc: {info['malloc']}", file=file)
    print(f"  median of rounds alternating implementations, ~{ROUND_SECONDS * 1e3:.0f} ms per "
          f"round after ~{WARM_SECONDS * 1e3:.0f} ms of untimed calls; speed-up = median over "
          f"rounds of other's time / fastlogistic's in the same round, at the same thread "
          f"count", file=file)


def plot(results, path):
    plt = _pyplot()
    if plt is None:
        return False
    panels = {}
    for r in results:
        # multi-class shapes with different C do not share a curve
        key = (r["function"], r["dtype"], r["shape"][1] if len(r["shape"]) > 1 else None)
        panels.setdefault(key, []).append(r)
    keys = sorted(panels, key=lambda k: (list(FUNCTIONS).index(k[0]), k[1], k[2] or 0))
    impl_names = list(dict.fromkeys(list(DEFAULT_IMPLS) + list(REFERENCE_IMPLS)))
    palette = ["C3", "C0", "C2", "C1", "C4", "C5", "C6", "C8", "C9", "C7"]
    colors = {name: palette[i % len(palette)] for i, name in enumerate(impl_names)}
    ncol = min(2, len(keys))
    nrow = math.ceil(len(keys) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.6 * nrow), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        lines = {}
        for r in panels[key]:
            lines.setdefault((r["implementation"], r["threads"]), []).append(
                (r["n_elements"], r["ns_per_element"]))
        for (impl, k), pts in sorted(lines.items(), key=lambda it: (impl_names.index(it[0][0]),
                                                                    it[0][1])):
            pts.sort()
            ax.plot(*zip(*pts), "-" if k == 1 else "--", color=colors[impl], marker="o", ms=3,
                    lw=2 if impl == "fastlogistic" else 1.2, label=f"{impl} ({k}t)")
        title = f"{key[0]} {key[1]}" + (f", C={_fmt_n(key[2])}" if key[2] else "")
        _style(ax, title, "elements per call" + (" (N*C)" if key[2] else ""))
    _save(plt, fig, axes, len(keys), path)
    return True


def _pyplot():
    """matplotlib's pyplot on the Agg backend, or None (said on stderr)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot: matplotlib is not installed; no plot written", file=sys.stderr)
        return None
    return plt


def _style(ax, title, xlabel):
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("ns / element (lower is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _save(plt, fig, axes, used, path):
    for ax in list(axes.flat)[used:]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
