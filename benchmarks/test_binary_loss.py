"""Binary cross-entropy with logits: the mean loss, the fused loss-and-gradient
(torch: forward + backward through autograd), gradient-and-hessian."""
import pytest

from conftest import DTYPES, implementations, run_case


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [10**4, 10**6])
@pytest.mark.parametrize("function,impl", implementations(
    "bce_logits", "bce_logits_loss_and_grad", "bce_logits_grad_hess"))
def test_bce_logits(benchmark, function, impl, n, dtype):
    run_case(benchmark, function, impl, (n,), dtype)
