"""fl.patch() and scikit-learn's HalfMultinomialLoss on the layouts its
estimators pass (C order from LogisticRegression, Fortran order from
HistGradientBoosting): values equal scikit-learn's own."""
import numpy as np
import pytest

import fastlogistic as fl

sk_loss = pytest.importorskip("sklearn._loss.loss")


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("with_sw", [False, True])
def test_multinomial_layouts_match_sklearn(order, with_sw):
    rng = np.random.default_rng(0)
    N, K = 203, 7
    y = rng.integers(0, K, N).astype(np.float64)
    raw = np.asarray(rng.standard_normal((N, K)) * 3, order=order)
    sw = rng.uniform(0.5, 2.0, N) if with_sw else None
    loss = sk_loss.HalfMultinomialLoss(n_classes=K)
    ref = {}
    for patched in (False, True):
        if patched:
            fl.patch()
        try:
            g, h = np.empty((N, K), order=order), np.empty((N, K), order=order)
            loss.gradient_hessian(y, raw, sw, g, h)
            g2, p = np.empty((N, K), order=order), np.empty((N, K), order=order)
            loss.gradient_proba(y, raw, sw, g2, p)
            lv, g3 = loss.loss_gradient(y, raw, sw)
            ref[patched] = (g, h, g2, p, lv, g3)
            if patched:
                hp = type(loss).gradient_hessian
                assert getattr(hp, "__fastlogistic__", False)
        finally:
            if patched:
                fl.unpatch()
    for a, b in zip(ref[False], ref[True]):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)
        # the outputs scikit-learn was given are the ones written, in its layout
    for a in ref[True][:4]:
        assert a.flags.f_contiguous if order == "F" else a.flags.c_contiguous
