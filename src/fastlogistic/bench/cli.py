"""The command line: ``python -m fastlogistic bench`` (or ``fastlogistic bench``)."""
import argparse
import json
import sys
import time

from . import peers
from .cases import (DEFAULT_IMPLS, FUNCTIONS, REFERENCE_IMPLS, SWEEP_CLASSES, _fmt_n, build_cases,
                    class_sweep_cases, quick_cases, run_case)
from .memory import MEMORY_N, print_memory, run_memory
from .report import (class_table, machine_info, plot, plot_classes, print_case,
                     print_class_table, print_header, summary_line)
from .targets import check_targets, print_targets
from .timing import ROUND_SECONDS, steady_malloc


def _list(conv):
    def parse(text):
        try:
            return [conv(v) for v in text.split(",") if v.strip()]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _size(text):
    value = float(text)
    if value < 1 or value != int(value):
        raise ValueError(f"size must be a positive integer, got {text!r}")
    return int(value)


def _shape(text):
    parts = text.lower().split("x")
    if len(parts) != 2:
        raise ValueError(f"shape must look like 1e5x10, got {text!r}")
    return tuple(_size(p) for p in parts)


def _choice(valid, what):
    def conv(text):
        text = text.strip()
        if text not in valid:
            raise ValueError(f"unknown {what} {text!r}; valid: {', '.join(valid)}")
        return text
    return conv


DESCRIPTION = ("Time fastlogistic against NumPy, SciPy, PyTorch, scikit-learn, numexpr and "
               "numba (those installed) and print ns/element, speed-ups, the machine and a "
               "one-line summary.")


_IMPL_NAMES = list(dict.fromkeys(list(DEFAULT_IMPLS) + list(REFERENCE_IMPLS)))


def add_arguments(p):
    """The bench's options, on parser p (its own, or the `bench` subcommand's)."""
    p.add_argument("--quick", action="store_true",
                   help="a small fixed set (< 1 minute): sigmoid f64/f32 and BCE-with-logits at "
                        "N=1e6, call overhead at N=16, 1 vs 2 threads at N=1e7, "
                        "cross-entropy (when present), memory; replaces the case options")
    p.add_argument("--functions", type=_list(_choice(list(FUNCTIONS), "function")),
                   default=["sigmoid", "bce_logits", "bce_logits_loss_and_grad"],
                   help="comma-separated, from: " + ", ".join(FUNCTIONS))
    p.add_argument("--sizes", type=_list(_size), default=[16, 10**4, 10**6],
                   help="elements per call for the binary/elementwise functions (e.g. 16,1e4,1e6)")
    p.add_argument("--shapes", type=_list(_shape), default=[(10**5, 10), (10**4, 1000)],
                   help="(N, C) shapes for log_softmax and cross_entropy_loss_and_grad "
                        "(default 1e5x10,1e4x1000)")
    p.add_argument("--classes", type=_list(_size), nargs="?", const=list(SWEEP_CLASSES),
                   default=None, metavar="K,...",
                   help="the class-count sweep: softmax and cross-entropy loss+gradient at "
                        "(TOTAL/K, K) for each K (default K = "
                        + ",".join(map(str, SWEEP_CLASSES)) + "), beside the binary "
                        "loss+gradient at N = TOTAL, with a table of ratios (and --plot: "
                        "ns/element against K); replaces the case options")
    p.add_argument("--total", type=_size, default=10**6,
                   help="elements per call of the class-count sweep (default 1e6)")
    p.add_argument("--dtypes", type=_list(_choice(["float64", "float32"], "dtype")),
                   default=["float64", "float32"],
                   help="comma-separated element types, from: float64, float32 "
                        "(default both)")
    p.add_argument("--threads", type=_list(int), default=[1],
                   help="thread counts for the threaded libraries (e.g. 1,2)")
    p.add_argument("--impls", type=_list(_choice(_IMPL_NAMES, "implementation")),
                   default=list(DEFAULT_IMPLS),
                   help="comma-separated implementations to run, where installed "
                        "(fastlogistic always runs), from: "
                        + ", ".join(_IMPL_NAMES)
                        + "; default all ('copy' is a NumPy copy of the input's bytes beside the "
                          "elementwise and binary functions: their memory limit)")
    p.add_argument("--repeat", type=int, default=9,
                   help="rounds per implementation (default 9)")
    p.add_argument("--memory", action="store_true",
                   help="also report peak allocation per call at N=1e7 float64 (tracemalloc)")
    p.add_argument("--targets", action="store_true",
                   help="also print the PASS/FAIL check of the project's speed targets; the "
                        "bars are for its reference machine (the 2-core AMD Zen 4 CI VM), "
                        "not for yours")
    p.add_argument("--json", metavar="PATH",
                   help="write raw results, machine info and the target checks as JSON")
    p.add_argument("--plot", metavar="PATH", help="write ns/element vs N (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--malloc-default", action="store_true",
                   help="keep glibc's dynamic mmap/trim thresholds (by default the bench fixes "
                        "them at their steady state, 32 MiB / 128 MiB, so that fresh-page costs "
                        "do not depend on the order of rounds)")
    return p


def check_args(p, args):
    """The checks argparse's types cannot make; p.error exits with status 2."""
    if any(k < 1 for k in args.threads):
        p.error("--threads must be positive")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def parse_args(argv, prog="python -m fastlogistic bench"):
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(p)
    return check_args(p, p.parse_args(argv))


def main(argv=None, args=None, command="python -m fastlogistic bench"):
    """Run the bench: options from argv (a list of strings), or already
    parsed in args (the `bench` subcommand of __main__); command is how the
    report's first line names the command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if args is None:
        args = parse_args(argv, prog=command)
    malloc = None if args.malloc_default else steady_malloc()
    libs = peers.init()
    out = sys.stdout
    info = machine_info()
    info["malloc"] = malloc
    print(f"$ {command} {' '.join(argv)}".rstrip(), file=out)
    print_header(info, out)
    missing = libs.missing()
    if missing:
        print(f"  not installed, skipped: {', '.join(missing)}", file=out)

    sweep = args.classes is not None
    if args.quick:
        cases, skipped = quick_cases()
        memory = True
    elif sweep:
        cases, skipped = class_sweep_cases(args.classes, args.total, args.dtypes, [1],
                                           args.impls)
        memory = args.memory
    else:
        cases, skipped = build_cases(args.functions, args.sizes, args.shapes, args.dtypes,
                                     args.threads, args.impls)
        memory = args.memory
    rounds = args.repeat
    for msg in skipped:
        print(f"  skipped {msg}", file=out)
    out.flush()

    results = []
    start = time.perf_counter()
    for i, case in enumerate(cases, 1):
        if not args.quiet:
            print(f"[{i}/{len(cases)}] {case.label()}  ({time.perf_counter() - start:.0f} s)",
                  file=sys.stderr, flush=True)
        rows = run_case(case, rounds)
        results += rows
        print_case(case, rows, out)
        out.flush()

    classes = class_table(results) if sweep else []
    if classes:
        print_class_table(classes, out)
    checks = check_targets(results)
    if args.targets:
        print_targets(checks, out)
    memory_rows = []
    if memory:
        if not args.quiet:
            print(f"[memory] N={_fmt_n(MEMORY_N)}  ({time.perf_counter() - start:.0f} s)",
                  file=sys.stderr, flush=True)
        memory_rows = run_memory()
        print_memory(memory_rows, out)
    print(f"\ntotal {time.perf_counter() - start:.1f} s", file=out)
    summary = summary_line(info, results)
    print(f"\nsummary: {summary}", file=out)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "argv": argv,
                       "rounds": rounds, "round_seconds": ROUND_SECONDS,
                       "results": results, "targets": checks, "memory": memory_rows,
                       "classes": classes,
                       "summary": summary,
                       "skipped": skipped + [f"{m}: not installed" for m in missing]},
                      f, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot and (plot_classes if sweep else plot)(results, args.plot):
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
