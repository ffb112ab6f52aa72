"""sigmoid, log_sigmoid, softplus, sigmoid_grad: fastlogistic vs the rest."""
import pytest

from conftest import DTYPES, implementations, run_case


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [16, 10**4, 10**6])
@pytest.mark.parametrize("function,impl", implementations(
    "sigmoid", "log_sigmoid", "softplus", "sigmoid_grad"))
def test_elementwise(benchmark, function, impl, n, dtype):
    run_case(benchmark, function, impl, (n,), dtype)


@pytest.mark.parametrize("impl", ["fastlogistic", "torch"])
@pytest.mark.parametrize("threads", [1, 2])
def test_sigmoid_threads(benchmark, threads, impl):
    """Thread scaling at N = 1e7 (the 2-vs-1-thread target)."""
    run_case(benchmark, "sigmoid", impl, (10**7,), "float64", threads)
