"""pytest plugin: scikit-learn's own log_loss tests with fastlogistic.log_loss
in scikit-learn's place.

    PYTHONPATH=src:tests python -m pytest -p plugins.fl_sklearn_log_loss \
        --pyargs sklearn.metrics.tests.test_classification -k log_loss

The swap happens when the plugin is loaded, before collection, so that the
test module's ``from sklearn.metrics import log_loss`` binds ours.
"""
import sklearn.metrics
import sklearn.metrics._classification as _classification

import fastlogistic

_classification.log_loss = fastlogistic.log_loss
sklearn.metrics.log_loss = fastlogistic.log_loss


def pytest_report_header(config):
    return "fastlogistic: sklearn.metrics.log_loss is fastlogistic.log_loss"


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        mod = getattr(item, "module", None)
        if mod is not None and getattr(mod, "log_loss", None) is not None:
            assert mod.log_loss is fastlogistic.log_loss, "log_loss was not swapped"
