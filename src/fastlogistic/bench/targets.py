"""The project's speed targets, checked on ratios measured in one run."""
import dataclasses
import statistics

from .timing import paired_ratios, quartiles


@dataclasses.dataclass
class Target:
    text: str
    function: str
    shape: tuple
    threads: int          # thread count of the slow side ("base")
    base: str             # implementation whose time is divided ...
    minimum: float = None  # base time / fastlogistic time >= minimum
    maximum: float = None  # fastlogistic time / base time <= maximum
    fl_threads: int = None  # fastlogistic's thread count (default: threads)


TARGETS = [
    Target("sigmoid, 1 thread, N=1e6: >= 1.5x torch", "sigmoid", (10**6,), 1, "torch", minimum=1.5),
    Target("bce_logits mean, 1 thread, N=1e6: >= 4x torch", "bce_logits", (10**6,), 1, "torch",
           minimum=4),
    Target("bce_logits loss_and_grad, 1 thread, N=1e6: >= 5x torch fwd+bwd",
           "bce_logits_loss_and_grad", (10**6,), 1, "torch", minimum=5),
    Target("sigmoid, N=1e7: 2 threads >= 1.7x 1 thread", "sigmoid", (10**7,), 1, "fastlogistic",
           minimum=1.7, fl_threads=2),
    Target("sigmoid, N=16: time <= 1.5x scipy expit", "sigmoid", (16,), 1, "scipy", maximum=1.5),
    Target("cross_entropy loss_and_grad, 1 thread, (1e5, 10): >= 3x torch fwd+bwd",
           "cross_entropy_loss_and_grad", (10**5, 10), 1, "torch", minimum=3),
    Target("cross_entropy loss_and_grad, 1 thread, (1e4, 1000): >= 3x torch fwd+bwd",
           "cross_entropy_loss_and_grad", (10**4, 1000), 1, "torch", minimum=3),
    Target("cross_entropy loss_and_grad, (1e4, 1000): 2 threads >= 1.7x 1 thread",
           "cross_entropy_loss_and_grad", (10**4, 1000), 1, "fastlogistic", minimum=1.7,
           fl_threads=2),
]


def find_row(results, function, shape, dtype, impl, threads):
    """The result row of one implementation at one case and thread count, or None."""
    key = (function, tuple(shape), dtype, impl, threads)
    for r in results:
        if (r["function"], tuple(r["shape"]), r["dtype"], r["implementation"],
                r["threads"]) == key:
            return r
    return None


def check_targets(results):
    def find(*key):
        return find_row(results, *key)

    checks = []
    for tg in TARGETS:
        for dtype in ("float64", "float32"):
            fl_r = find(tg.function, tg.shape, dtype, "fastlogistic", tg.fl_threads or tg.threads)
            base_r = find(tg.function, tg.shape, dtype, tg.base, tg.threads)
            if fl_r is None:
                continue
            if base_r is None:
                checks.append({"target": tg.text, "dtype": dtype, "ratio": None, "pass": None,
                               "shown": f"not measured ({tg.base} not run)"})
                continue
            if tg.minimum is not None:
                ratios = paired_ratios(base_r, fl_r)
                bar, what = tg.minimum, "speed-up"
            else:
                ratios = paired_ratios(fl_r, base_r)
                bar, what = tg.maximum, "time ratio"
            ratio = statistics.median(ratios)
            q1, q3 = quartiles(ratios)
            ok = ratio >= bar if tg.minimum is not None else ratio <= bar
            # within this run's noise: the middle half of the rounds straddles the bar
            close = q1 < bar < q3
            shown = (f"{what} {ratio:.2f}x  [{q1:.2f}, {q3:.2f}]" +
                     ("  (bar within the middle half)" if close else ""))
            checks.append({"target": tg.text, "dtype": dtype, "ratio": ratio, "pass": bool(ok),
                           "ratio_q1": q1, "ratio_q3": q3, "within_noise": close,
                           "shown": shown})
    return checks


def print_targets(checks, file):
    if not checks:
        print("\nTargets of the project's reference machine (--targets): none of their cases "
              "ran (--quick runs them)", file=file)
        return
    print("\nTargets of the project's reference machine (--targets): the bars were set for\n"
          "  the 2-core CI VM kind (AMD EPYC, Zen 4, AVX-512); on another CPU, or with other\n"
          "  work on the cores, a ratio under a bar says how this machine differs, not that\n"
          "  the library is broken.  Ratios from this run; [q1, q3]: the middle half of the\n"
          "  per-round ratios:", file=file)
    for c in checks:
        verdict = {True: "PASS", False: "FAIL", None: "SKIP"}[c["pass"]]
        print(f"  {verdict}  {c['target']:<66} {c['dtype']:<8} "
              f"{c['shown']}", file=file)
