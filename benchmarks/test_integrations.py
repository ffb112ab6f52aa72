"""pytest-benchmark cases of the integrations, small settings:
the torch loss's forward + backward (torch's vs fastlogistic.torch's, one
thread), a linear-layer training step, and one gradient-boosting objective
call (NumPy vs fastlogistic.objectives).

    PYTHONPATH=src python -m pytest benchmarks/test_integrations.py --benchmark-only -q

The alternated-rounds figures of the README come from
``benchmarks/bench_integrations.py``.  No timing assertions here.
"""
import numpy as np
import pytest

N = 100_000


@pytest.fixture
def one_torch_thread():
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(n)


@pytest.mark.parametrize("impl", ["torch", "fastlogistic"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_bce_logits_fwd_bwd(benchmark, one_torch_thread, impl, dtype):
    torch = one_torch_thread
    import fastlogistic.torch as flt
    fn = (torch.nn.functional.binary_cross_entropy_with_logits if impl == "torch"
          else flt.binary_cross_entropy_with_logits)
    dt = getattr(torch, dtype)
    x = torch.randn(N, 1, dtype=dt, requires_grad=True)
    y = (torch.rand(N, 1) < 0.5).to(dt)

    def step():
        fn(x, y).backward()
        x.grad = None
    benchmark.group = f"torch BCE-with-logits fwd+bwd {dtype} {N}"
    benchmark(step)


@pytest.mark.parametrize("impl", ["torch", "fastlogistic"])
def test_torch_cross_entropy_fwd_bwd(benchmark, one_torch_thread, impl):
    torch = one_torch_thread
    import fastlogistic.torch as flt
    fn = torch.nn.functional.cross_entropy if impl == "torch" else flt.cross_entropy
    z = torch.randn(N // 10, 10, requires_grad=True)
    c = torch.randint(0, 10, (N // 10,))

    def step():
        fn(z, c).backward()
        z.grad = None
    benchmark.group = f"torch cross_entropy fwd+bwd float32 {N // 10}x10"
    benchmark(step)


@pytest.mark.parametrize("impl", ["torch", "fastlogistic"])
def test_torch_linear_training_step(benchmark, one_torch_thread, impl):
    torch = one_torch_thread
    import fastlogistic.torch as flt
    torch.manual_seed(0)
    X = torch.randn(N // 5, 100)
    Y = (torch.rand(N // 5, 1) < 0.5).float()
    model = torch.nn.Linear(100, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.BCEWithLogitsLoss() if impl == "torch" else flt.BCEWithLogitsLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(X), Y).backward()
        opt.step()
    benchmark.group = f"torch training step, linear 100->1, batch {N // 5}"
    benchmark(step)


class _Data:
    def __init__(self, label):
        self.label = label

    def get_label(self):
        return self.label

    def get_weight(self):
        return None


@pytest.mark.parametrize("impl", ["numpy", "fastlogistic"])
def test_objective_call(benchmark, impl):
    import fastlogistic.objectives as flo
    rng = np.random.default_rng(0)
    margin = rng.standard_normal(N).astype(np.float32)
    data = _Data((rng.random(N) < 0.5).astype(np.float32))

    def numpy_binary(preds, d):
        y = d.get_label()
        p = 1.0 / (1.0 + np.exp(-preds))
        return p - y, np.maximum(p * (1.0 - p), 1e-16)
    fn = numpy_binary if impl == "numpy" else flo.binary_logistic
    benchmark.group = f"binary logistic objective (grad, hess) float32 {N}"
    benchmark(fn, margin, data)
