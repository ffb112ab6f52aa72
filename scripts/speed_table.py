"""The README's speed tables: the main one from one `bench --quick --json`
run, with the range of each target's ratio over several runs, and the
multi-class one from a class-count sweep.

    python -m fastlogistic bench --quick --json q1.json > docs/bench/quick.txt
    python scripts/speed_table.py q1.json [q2.json ...]

    python -m fastlogistic bench --classes --json k.json > docs/bench/classes.txt
    python scripts/speed_table.py --classes k.json

The table (ns per element; microseconds per call at N = 16) comes from the
first file; the target ranges from all of them.
"""
import json
import sys

from fastlogistic.bench import find_row, paired_ratio
from fastlogistic.bench.report import class_markdown

IMPLS = ["fastlogistic", "numpy", "scipy", "torch", "sklearn"]
ROWS = [  # label, function, shape, dtype, threads, per call
    ("sigmoid f64, N = 1e6", "sigmoid", [10**6], "float64", 1, False),
    ("sigmoid f32, N = 1e6", "sigmoid", [10**6], "float32", 1, False),
    ("BCE-with-logits f64, mean, N = 1e6", "bce_logits", [10**6], "float64", 1, False),
    ("BCE-with-logits f64, loss + grad, N = 1e6", "bce_logits_loss_and_grad", [10**6],
     "float64", 1, False),
    ("sigmoid f64, N = 16 (µs per call)", "sigmoid", [16], "float64", 1, True),
    ("sigmoid f64, N = 1e7, 2 threads (speed-up vs 1 thread)", "sigmoid", [10**7], "float64", 2,
     False),
    ("cross_entropy loss + grad f64, (N, C) = (1e5, 10)", "cross_entropy_loss_and_grad",
     [10**5, 10], "float64", 1, False),
]
FWD_BWD = {"bce_logits_loss_and_grad", "cross_entropy_loss_and_grad"}


def _num(v):
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def table(results):
    def find(*key):
        return find_row(results, *key)

    lines = ["| case (1 thread unless said) | " + " | ".join(
        ["fastlogistic", "NumPy", "SciPy", "PyTorch", "scikit-learn"]) + " |",
        "| --- |" + " ---: |" * len(IMPLS)]
    for label, function, shape, dtype, threads, per_call in ROWS:
        cells = []
        for impl in IMPLS:
            r = find(function, shape, dtype, impl, threads if impl in ("fastlogistic", "torch")
                     else 1)
            if r is None or (threads > 1 and impl not in ("fastlogistic", "torch")):
                cells.append("—")
                continue
            v = r["seconds_per_call"] * 1e6 if per_call else r["ns_per_element"]
            text = _num(v)
            if threads > 1:
                one = find(function, shape, dtype, impl, 1)
                if one is not None:
                    text += f" ({paired_ratio(one, r):.2f}x)"
            if impl == "torch" and function in FWD_BWD:
                text += " (fwd + bwd)"
            cells.append(f"**{text}**" if impl == "fastlogistic" else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(paths):
    if paths[0] == "--classes":
        print(class_markdown(json.load(open(paths[1]))["results"]))
        return
    runs = [json.load(open(p)) for p in paths]
    print(table(runs[0]["results"]))
    print()
    ranges = {}
    for run in runs:
        for t in run["targets"]:
            if t["ratio"] is not None:
                ranges.setdefault((t["target"], t["dtype"]), []).append(t["ratio"])
    for (target, dtype), values in ranges.items():
        print(f"- {target} ({dtype}): {min(values):.2f}–{max(values):.2f}x over {len(values)} runs")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
