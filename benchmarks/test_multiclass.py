"""log_softmax and cross-entropy loss-and-gradient on (N, C) logits;
skipped until fastlogistic has them."""
import pytest

from conftest import DTYPES, implementations, run_case


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5 * 10**5, 2), (2 * 10**5, 5), (10**5, 10), (10**4, 1000)],
                         ids=["5e5x2", "2e5x5", "1e5x10", "1e4x1000"])
@pytest.mark.parametrize("function,impl", implementations(
    "log_softmax", "cross_entropy_loss_and_grad"))
def test_multiclass(benchmark, function, impl, shape, dtype):
    run_case(benchmark, function, impl, shape, dtype)


@pytest.mark.parametrize("impl", ["fastlogistic", "torch"])
@pytest.mark.parametrize("threads", [1, 2])
def test_cross_entropy_threads(benchmark, threads, impl):
    """Thread scaling at N*C = 1e7 (the 2-vs-1-thread target)."""
    run_case(benchmark, "cross_entropy_loss_and_grad", impl, (10**4, 1000), "float64", threads)
