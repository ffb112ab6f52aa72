"""pytest plugin: SciPy's own tests judge fastlogistic.

Loaded with ``-p fl_scipy_swap`` (this folder on sys.path).  Before SciPy's
test modules are collected (they import the names from scipy.special at
import), scipy.special's expit, log_expit, logit, softmax and log_softmax
are replaced by fastlogistic's.  With FL_SCIPY_MODE=patch, SciPy keeps its
own objects and its ufuncs run fastlogistic's loops instead
(fastlogistic.patch(scipy=True, sklearn=False))."""
import os

import scipy.special

import fastlogistic as fl

NAMES = ("expit", "log_expit", "logit", "softmax", "log_softmax")


def pytest_configure(config):
    if os.environ.get("FL_SCIPY_MODE", "swap") == "patch":
        from fastlogistic import _kernels
        patched = _kernels.patch_scipy_ufuncs()
        assert sorted(patched) == ["expit", "log_expit", "logit"], patched
        return
    # SciPy's array-API test decorators look each function up in a table
    # of capabilities keyed by the function object: ours take SciPy's entries
    # (the NumPy backend is what fastlogistic serves)
    from scipy._lib import _array_api
    table = getattr(_array_api, "xp_capabilities_table", {})   # SciPy >= 1.15
    for name in NAMES:
        theirs = getattr(scipy.special, name)
        if theirs in table:
            table[getattr(fl, name)] = table[theirs]
        setattr(scipy.special, name, getattr(fl, name))


def pytest_report_header(config):
    mode = os.environ.get("FL_SCIPY_MODE", "swap")
    return f"fastlogistic in SciPy's place ({mode}): {', '.join(NAMES)}"
