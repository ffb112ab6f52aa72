"""Typed use of the public API, checked by mypy against the package's type
information (py.typed, the .pyi stubs): `python -m mypy tests/typing/usage.py`
(tests/test_typing.py runs it).  Never imported by the tests; each
assert_type is a check of the stubs, not of values."""
import sys
from typing import Any

if sys.version_info >= (3, 11):
    from typing import assert_type
else:                                   # mypy's own dependency on older Pythons
    from typing_extensions import assert_type

import numpy as np
import numpy.typing as npt

import fastlogistic as fl

# (dtype given: without it, NumPy 2.0-2.2's stubs type linspace as floating[Any])
x64 = np.linspace(-5.0, 5.0, 11, dtype=np.float64)
x32 = x64.astype(np.float32)
y = (x64 > 0).astype(np.float64)

# elementwise: the dtype follows the input; a scalar gives a NumPy scalar
assert_type(fl.sigmoid(x64), npt.NDArray[np.float64])
assert_type(fl.sigmoid(x32), npt.NDArray[np.float32])
assert_type(fl.sigmoid(x32, num_threads=2), npt.NDArray[np.float32])
assert_type(fl.log_sigmoid(x64, out=np.empty_like(x64)), npt.NDArray[np.float64])
assert_type(fl.softplus([0.5, 1.5]), npt.NDArray[np.floating[Any]])
assert_type(fl.sigmoid_grad(0.5), np.floating[Any])
fl.logit(np.float32(0.25))           # a numpy.ufunc: its result is Any
assert_type(fl.log_sigmoid(x32, where=x32 > 0), Any)   # ufunc keywords

# binary cross-entropy: "mean"/"sum" give a scalar, "none" an array
loss: np.floating[Any] = fl.binary_cross_entropy_with_logits(x64, y)
per_elem = fl.binary_cross_entropy_with_logits(x64, y, reduction="none")
assert_type(per_elem, npt.NDArray[np.floating[Any]])
assert_type(fl.binary_cross_entropy_with_logits(x64, y, None, None, "sum"), np.floating[Any])
assert_type(fl.binary_cross_entropy_with_logits_grad(x64, y, pos_weight=2.0),
            npt.NDArray[np.floating[Any]])
l, g = fl.binary_cross_entropy_with_logits_loss_and_grad(x64, y, weight=y)
assert_type(l, np.floating[Any])
assert_type(g, npt.NDArray[np.floating[Any]])
grad, hess = fl.binary_cross_entropy_with_logits_grad_hess(x64, y)
assert_type(hess, npt.NDArray[np.floating[Any]])
p = fl.sigmoid(x64)
assert_type(fl.binary_cross_entropy(p, y), np.floating[Any])
assert_type(fl.binary_cross_entropy_grad(p, y, reduction="sum"), npt.NDArray[np.floating[Any]])

# multi-class
z = np.zeros((4, 3))
labels = np.array([0, 2, 1, 0])
assert_type(fl.softmax(z), npt.NDArray[np.float64])
assert_type(fl.log_softmax(z.astype(np.float32), axis=1), npt.NDArray[np.float32])
assert_type(fl.softmax(z, axis=(0, 1)), npt.NDArray[np.float64])
assert_type(fl.cross_entropy(z, labels, label_smoothing=0.1), np.floating[Any])
assert_type(fl.cross_entropy(z, labels, reduction="none"), npt.NDArray[np.floating[Any]])
ce, ce_grad = fl.cross_entropy_loss_and_grad(z, labels, weight=[1.0, 2.0, 1.0])
assert_type(ce_grad, npt.NDArray[np.floating[Any]])
assert_type(fl.categorical_cross_entropy(fl.softmax(z), labels), np.floating[Any])

# configuration
fl.set_num_threads(2)
fl.set_num_threads(None)
assert_type(fl.get_num_threads(), int)
assert_type(fl.get_stream_threshold(), int)
assert_type(fl.show_config(), dict[str, Any])
assert_type(fl.__version__, str)
with fl.use_threads(1):
    assert_type(fl.expit(x64), Any)
