"""Every public object survives pickle and cloudpickle (what a Dask cluster,
multiprocessing and joblib need): the package's names, the ufuncs behind the
elementwise functions, fastlogistic.objectives and fastlogistic.torch
(modules and instances); unpickled in a fresh process, each computes the
same result."""
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels, _registry

cloudpickle = pytest.importorskip("cloudpickle")
PICKLERS = [pickle, cloudpickle]


def _public_objects():
    objs = [(f"fastlogistic.{n}", getattr(fl, n)) for n in fl.__all__ if n != "__version__"]
    objs += [(f"_kernels.LIB_UFUNCS[{k}]", u) for k, u in sorted(_kernels.LIB_UFUNCS.items())]
    import fastlogistic.objectives as objectives
    objs += [(f"fastlogistic.objectives.{n}", getattr(objectives, n))
             for n in objectives.__all__]
    return objs


@pytest.mark.parametrize("mod", PICKLERS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("label,obj", _public_objects(), ids=lambda v: v if isinstance(v, str)
                         else "")
def test_public_object_round_trips(label, obj, mod):
    assert mod.loads(mod.dumps(obj)) is obj, label     # by reference: the same object


def test_every_registered_name_is_covered():
    labels = {label for label, _ in _public_objects()}
    assert {f"fastlogistic.{p.name}" for p in _registry.PUBLIC} <= labels


@pytest.mark.parametrize("mod", PICKLERS, ids=lambda m: m.__name__)
def test_unpickled_in_a_fresh_process(mod):
    """The elementwise functions' ufuncs and the wrapped losses, pickled here,
    compute in a new interpreter the result computed here."""
    x = np.linspace(-20, 20, 101)
    t = (x > 0).astype(np.float64)
    calls = [(u, (x,)) for u in _kernels.LIB_UFUNCS.values() if u.__name__ != "logit"]
    calls += [(fl.logit, (np.linspace(0, 1, 101),)),
              (fl.sigmoid, (x,)), (fl.binary_cross_entropy_with_logits_loss_and_grad, (x, t)),
              (fl.softmax, (x.reshape(-1, 1) * [1.0, -1.0],)),
              (fl.log_loss, (t.astype(int), fl.sigmoid(x)))]
    payload = mod.dumps([(f, a) for f, a in calls])
    code = ("import pickle, sys; calls = pickle.loads(sys.stdin.buffer.read()); "
            "sys.stdout.buffer.write(pickle.dumps([f(*a) for f, a in calls]))")
    r = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True,
                       check=True)
    got = pickle.loads(r.stdout)
    for (f, a), g in zip(calls, got):
        want = f(*a)
        for gi, wi in zip(g if isinstance(g, tuple) else (g,),
                          want if isinstance(want, tuple) else (want,)):
            assert np.asarray(gi).tobytes() == np.asarray(wi).tobytes(), f


def test_use_threads_instance_and_results_pickle():
    for mod in PICKLERS:
        ctx = mod.loads(mod.dumps(fl.use_threads(2)))
        with ctx:
            assert fl.get_num_threads() == 2 or not _kernels.have_openmp()
    r = fl.cross_entropy_loss_and_grad(np.eye(3, dtype=np.float32), np.arange(3))
    back = pickle.loads(pickle.dumps(r))
    assert back[0] == r[0] and back[1].tobytes() == r[1].tobytes()


def test_torch_adapter_pickles():
    torch = pytest.importorskip("torch")
    import fastlogistic.torch as flt
    for n in flt.__all__:
        obj = getattr(flt, n)
        for mod in PICKLERS:
            back = mod.loads(mod.dumps(obj))
            # functions and classes by reference; plain data (a table of
            # sizes) by value
            assert back is obj if callable(obj) else back == obj, n
    for cls in (flt.BCELoss, flt.BCEWithLogitsLoss, flt.CrossEntropyLoss):
        m = cls()
        x = torch.linspace(-3, 3, 12).reshape(4, 3)
        t = torch.zeros(4, dtype=torch.long) if cls is flt.CrossEntropyLoss else \
            torch.rand(4, 3, generator=torch.Generator().manual_seed(0))
        x = torch.sigmoid(x) if cls is flt.BCELoss else x
        for mod in PICKLERS:
            back = mod.loads(mod.dumps(m))
            assert type(back) is cls
            torch.testing.assert_close(back(x, t), m(x, t), rtol=0, atol=0)
