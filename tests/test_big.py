"""More than 2^31 elements, marked slow: skipped unless
FASTLOGISTIC_SLOW_TESTS=1.  The inputs are zero-stride broadcasts, so no
memory is needed; each element's loss is exactly 100 (BCE with logits at
x = -100, t = 1: 100 + log1p(e^-100) rounds to 100; BCE on probabilities at
p = 1, t = 0: the log clamped at -100), so every partial sum is an integer
below 2^53 and the sum must be exact: a count or an index that wrapped at
2^31 would show."""
import os

import numpy as np
import pytest

import fastlogistic as fl

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("FASTLOGISTIC_SLOW_TESTS", "") != "1",
                       reason="slow (a minute): set FASTLOGISTIC_SLOW_TESTS=1"),
]

N = 2**31 + 1000


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_reduction_over_more_than_2_31_zero_stride_elements(dt):
    x = np.broadcast_to(dt(-100.0), (N,))
    t = np.broadcast_to(dt(1.0), (N,))
    assert x.strides == (0,)
    total = fl.binary_cross_entropy_with_logits(x, t, reduction="sum")
    assert float(total) == 100.0 * N if dt == np.float64 else np.float32(100.0 * N)
    assert fl.binary_cross_entropy_with_logits(x, t) == 100.0


def test_bce_probabilities_over_more_than_2_31_elements():
    p = np.broadcast_to(np.float64(1.0), (N,))
    t = np.broadcast_to(np.float64(0.0), (N,))
    assert fl.binary_cross_entropy(p, t, reduction="sum") == 100.0 * N
    assert fl.binary_cross_entropy(p, t, reduction="mean") == 100.0
