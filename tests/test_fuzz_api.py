"""API fuzzer: every public function, random arguments, in child
processes so that a crash fails this test (naming the call) instead of
killing the test run.  See tests/fuzz_api_worker.py for what is drawn and
checked.

FASTLOGISTIC_FUZZ_CALLS=n runs n calls (default 3000, a few seconds);
FASTLOGISTIC_FUZZ_SEED=s another seed (default 14).  A failure prints the
command that replays the failing call alone.
"""
import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import fastlogistic as fl

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "fuzz_api_worker.py")
CALLS = int(os.environ.get("FASTLOGISTIC_FUZZ_CALLS", "3000"))
SEED = int(os.environ.get("FASTLOGISTIC_FUZZ_SEED", "14"))
BATCH = 750
TIMEOUT = float(os.environ.get("FASTLOGISTIC_FUZZ_TIMEOUT", "300"))


def _env():
    env = dict(os.environ)
    # the child imports the same fastlogistic as this process
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(fl.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


def _batch(first, count, tmp_path):
    log = str(tmp_path / f"fuzz_{first}.log")
    try:
        r = subprocess.run([sys.executable, WORKER, str(SEED), str(first), str(count), log],
                           capture_output=True, text=True, timeout=TIMEOUT, env=_env())
    except subprocess.TimeoutExpired:
        return [f"batch {first}..{first + count - 1} hung for {TIMEOUT} s; last call started: "
                f"{_last(log)}"]
    problems = []
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            problems.append(f"call {d['i']}: {d['call']}\n    -> {d['failure']}\n    replay: "
                            f"python {WORKER} --one {d['seed']} {d['i']}")
    if r.returncode != 0:
        sig = -r.returncode
        what = signal.Signals(sig).name if r.returncode < 0 and sig in signal.Signals._value2member_map_ \
            else f"exit status {r.returncode}"
        last = _last(log)
        i = last.split(" ", 1)[0]
        problems.append(f"the child process died ({what}) in call: {last}\n    replay: "
                        f"python {WORKER} --one {SEED} {i}\n    stderr: {r.stderr[-3000:]}")
    return problems


def _last(log):
    try:
        with open(log) as f:
            lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(none)"


def test_worker_discovers_every_public_function():
    sys.path.insert(0, HERE)
    try:
        import fuzz_api_worker as w
    finally:
        sys.path.remove(HERE)
    public = sorted(n for n in fl.__all__ if callable(getattr(fl, n)))
    assert w.FUNCS == public
    # every known function has its own spec; only new ones take the generic one
    generic = [n for n in public if w.spec_for(n) is w.spec_generic]
    assert generic == [], generic


def test_fuzz_api(tmp_path):
    starts = list(range(0, CALLS, BATCH))
    with ThreadPoolExecutor(max_workers=2) as ex:
        results = list(ex.map(lambda s: _batch(s, min(BATCH, CALLS - s), tmp_path), starts))
    problems = [p for r in results for p in r]
    if problems:
        pytest.fail(f"{len(problems)} fuzzer failure(s) (seed {SEED}):\n" + "\n".join(problems[:25]))
