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


@pytest.mark.parametrize("stream", ["default", "never"])
@pytest.mark.parametrize("function", ["sigmoid", "bce_logits", "bce_logits_loss_and_grad"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_streaming_stores(benchmark, function, dtype, stream):
    """N = 1e6, beyond the stream threshold: outputs streamed and inputs
    prefetched (default) against plain loads and stores (threshold -1)."""
    import fastlogistic as fl
    fl.set_stream_threshold(None if stream == "default" else -1)
    try:
        run_case(benchmark, function, "fastlogistic", (10**6,), dtype)
    finally:
        fl.set_stream_threshold(None)


@pytest.mark.parametrize("cache", ["default", "off"])
@pytest.mark.parametrize("threads", [1, 2])
def test_output_cache(benchmark, cache, threads):
    """N = 1e7 float64 (an 80 MB output): the freed output reused (default)
    against fresh pages from the kernel on every call (set_output_cache(0))."""
    import fastlogistic as fl
    fl.set_output_cache(None if cache == "default" else 0)
    try:
        run_case(benchmark, "sigmoid", "fastlogistic", (10**7,), "float64", threads)
    finally:
        fl.set_output_cache(None)
