"""pytest plugin: scikit-learn's own tests with ``fastlogistic.patch()`` active.

    PYTHONPATH=src:tests python -m pytest -p plugins.fl_sklearn_patch \
        --pyargs sklearn._loss.tests.test_loss sklearn.linear_model.tests.test_logistic

patch() runs when the plugin is loaded (before collection); the session
fails at the start if it did not patch scikit-learn.
"""
import warnings

import fastlogistic

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)   # SciPy half may be pending
    _STATE = fastlogistic.patch(scipy=True, sklearn=True)
if not _STATE["sklearn"]:
    raise RuntimeError("fastlogistic.patch() did not patch scikit-learn")


def pytest_report_header(config):
    return f"fastlogistic.patch() active: {_STATE}"


def pytest_sessionstart(session):
    from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
    for cls in (HalfBinomialLoss, HalfMultinomialLoss):
        assert getattr(cls.loss_gradient, "__fastlogistic__", False), cls
