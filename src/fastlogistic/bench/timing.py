"""Timing: one helper serves every case.

Each implementation is a prepared zero-argument call (`Timed`), warmed up and
calibrated so that one round of calls takes about ROUND_SECONDS; the rounds
alternate between the implementations, and ratios are taken between rounds
measured a few tens of milliseconds apart (`paired_ratio`), so that a change
of the machine's load cancels out.
"""
import ctypes
import dataclasses
import gc
import statistics
import sys
import time

ROUND_SECONDS = 0.03          # length of one round of calls of one implementation
WARM_SECONDS = 0.01           # untimed calls of an implementation just before each of its rounds
CALIBRATE_SECONDS = 0.005     # calls are repeated until this long to estimate one call


@dataclasses.dataclass
class Timed:
    """A prepared call: `call()` is timed; `before()` runs untimed before each
    round (it sets the library's thread count)."""
    call: object
    before: object = None


def _run(call, n):
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return time.perf_counter() - t0


def time_case(entries, rounds):
    """entries: {key: Timed}.  Returns {key: (median seconds per call, calls
    per round, [seconds per call of each round])}.

    Each entry is warmed up once and calibrated to ROUND_SECONDS per round;
    the rounds then alternate between the entries, each round starting one
    entry further along and preceded by WARM_SECONDS of untimed calls of its
    entry, and the median over the rounds is reported.
    """
    keys = list(entries)
    calls, warm = {}, {}
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        for key in keys:
            t = entries[key]
            if t.before:
                t.before()
            t.call()                                   # warm up
            n, elapsed = 1, _run(t.call, 1)
            while elapsed < CALIBRATE_SECONDS:
                n *= 4 if elapsed < CALIBRATE_SECONDS / 8 else 2
                elapsed = _run(t.call, n)
            calls[key] = max(1, round(ROUND_SECONDS * n / elapsed))
            warm[key] = max(1, round(WARM_SECONDS * n / elapsed))
        samples = {key: [] for key in keys}
        for r in range(rounds):
            for i in range(len(keys)):
                key = keys[(i + r) % len(keys)]
                t = entries[key]
                if t.before:
                    t.before()
                _run(t.call, warm[key])
                samples[key].append(_run(t.call, calls[key]) / calls[key])
    finally:
        if gc_was_on:
            gc.enable()
    return {key: (statistics.median(s), calls[key], s) for key, s in samples.items()}


def paired_ratios(num, den):
    """num's time / den's time in each round (rows of one case; their rounds
    line up), or the one ratio of their medians where they do not."""
    a, b = num["rounds_seconds_per_call"], den["rounds_seconds_per_call"]
    if len(a) != len(b) or not a:
        return [num["seconds_per_call"] / den["seconds_per_call"]]
    return [x / y for x, y in zip(a, b)]


def paired_ratio(num, den):
    """Median over rounds of num's time / den's time in the same round."""
    return statistics.median(paired_ratios(num, den))


def quartiles(values):
    """(first, third) quartile; both the value itself for a single one."""
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


MALLOC_MMAP_BYTES = 32 << 20
MALLOC_TRIM_BYTES = 128 << 20


def steady_malloc():
    """Fix glibc's mmap and trim thresholds where its dynamic scheme settles
    (mmap threshold up to 32 MiB, trim threshold twice that or more), and
    return a description, or None where this is not glibc.

    With the defaults, whether an output of a few MB comes from recycled heap
    memory or from fresh pages that the kernel clears first (a cost that
    shows in the timings, see docs/design-measurements.md) depends on what
    the process freed just before: a round of the NumPy formula frees its
    temporaries, the heap is trimmed, and the next round, whichever
    implementation it is, pays for fresh pages.  Fixed thresholds take that
    out of the comparison.  Above 32 MiB (N = 1e7 float64) the other
    libraries' outputs are fresh pages on every call, as in any process;
    fastlogistic reuses its own (the output cache, set_output_cache)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    m_trim_threshold, m_mmap_threshold = -1, -3
    if mallopt(m_mmap_threshold, MALLOC_MMAP_BYTES) != 1 or \
            mallopt(m_trim_threshold, MALLOC_TRIM_BYTES) != 1:
        return None
    return (f"glibc mmap threshold {MALLOC_MMAP_BYTES >> 20} MiB, trim threshold "
            f"{MALLOC_TRIM_BYTES >> 20} MiB (fixed where its dynamic thresholds settle, so that "
            f"which round pays for fresh pages does not depend on the order of rounds; "
            f"--malloc-default keeps the defaults)")
