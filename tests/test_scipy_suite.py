"""SciPy's own tests judge fastlogistic's SciPy names.

SciPy ships its tests in its wheel.  They run in a child pytest with the
plugin tests/plugins/fl_scipy_swap.py, which puts fastlogistic's expit,
log_expit, logit, softmax and log_softmax in scipy.special's place before the
test modules are collected ("swap"), or leaves SciPy's objects in place and
replaces their float32/float64 loops with fastlogistic's ("patch").
"""
import os
import re
import subprocess
import sys

import pytest

sc = pytest.importorskip("scipy.special")
pytest.importorskip("scipy.special.tests.test_logit", reason="this SciPy ships no tests")

PLUGINS = os.path.join(os.path.dirname(__file__), "plugins")
SCIPY_DIR = os.path.dirname(os.path.dirname(os.path.dirname(sc.__file__)))


def _run_scipy_tests(mode, modules, select):
    env = dict(os.environ, FL_SCIPY_MODE=mode)
    import fastlogistic
    src = os.path.dirname(os.path.dirname(fastlogistic.__file__))
    env["PYTHONPATH"] = os.pathsep.join([PLUGINS, src, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "pytest", "-p", "fl_scipy_swap", "-p", "no:cacheprovider",
           "-q", "-W", "error::RuntimeWarning", "--rootdir", os.path.join(SCIPY_DIR, "scipy"),
           "--pyargs", *modules, "-k", select]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=PLUGINS, env=env)
    tail = (r.stdout + r.stderr)[-3000:]
    summary = re.search(r"(\d+) passed", r.stdout)
    return r.returncode, int(summary.group(1)) if summary else 0, tail


def test_scipy_own_tests_with_fastlogistic_in_its_place():
    rc, passed, tail = _run_scipy_tests(
        "swap", ["scipy.special.tests.test_logit", "scipy.special.tests.test_logsumexp"],
        # (SciPy before 1.15 has the softmax tests as functions, not classes)
        "TestLogit or TestExpit or TestLogExpit or TestSoftmax or TestLogSoftmax"
        " or test_softmax or test_log_softmax")
    assert rc == 0, tail
    assert " failed" not in tail and passed >= 12, tail


def test_scipy_own_tests_with_its_loops_patched():
    rc, passed, tail = _run_scipy_tests("patch", ["scipy.special.tests.test_logit"],
                                        "TestLogit or TestExpit or TestLogExpit")
    assert rc == 0, tail
    assert " failed" not in tail and passed >= 9, tail
