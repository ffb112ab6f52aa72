# Type stub of fastlogistic._api (the binary functions).  Dtype rules: float16,
# float32 and float64 arrays keep their dtype; integers and booleans compute in
# float64.  A 0-d array gives a NumPy scalar at run time (as NumPy's own ufuncs
# do; their stubs say array too).
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from ._typing import F, FloatArray, NoReduction, Reduced, Reduction, Scalar

__all__ = [
    "sigmoid", "expit", "log_sigmoid", "log_expit", "logit", "softplus",
    "sigmoid_grad",
    "binary_cross_entropy", "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad",
    "binary_cross_entropy_with_logits_loss_and_grad",
    "binary_cross_entropy_with_logits_grad_hess",
]

# --- elementwise -----------------------------------------------------------
# sigmoid, log_sigmoid, softplus, sigmoid_grad also take NumPy's ufunc keywords
# (where, dtype, casting, order, subok, a tuple out) and array containers
# (pandas, xarray, dask: then the container type comes back; typed Any here).
# expit, log_expit and logit are numpy.ufunc objects (SciPy's loops and types).
# A Python or NumPy scalar is also array-like, and from Python 3.12 NumPy's
# stubs make its scalars buffers, which mypy then reports as an unsafe overlap
# of the scalar and array-like overloads; the first match (the scalar one) is
# what a scalar gets, as at run time.

@overload
def sigmoid(x: npt.NDArray[F], out: npt.NDArray[F] | None = None, *,
        num_threads: int | None = None) -> npt.NDArray[F]: ...
@overload
def sigmoid(x: Scalar, out: None = None, *, num_threads: int | None = None) -> np.floating[Any]: ...  # type: ignore[overload-overlap]
@overload
def sigmoid(x: npt.ArrayLike, out: FloatArray | None = None, *,
        num_threads: int | None = None) -> FloatArray: ...
@overload
def sigmoid(x: Any, out: Any = None, *, num_threads: int | None = None, **ufunc_kwargs: Any) -> Any: ...

@overload
def log_sigmoid(x: npt.NDArray[F], out: npt.NDArray[F] | None = None, *,
        num_threads: int | None = None) -> npt.NDArray[F]: ...
@overload
def log_sigmoid(x: Scalar, out: None = None, *, num_threads: int | None = None) -> np.floating[Any]: ...  # type: ignore[overload-overlap]
@overload
def log_sigmoid(x: npt.ArrayLike, out: FloatArray | None = None, *,
        num_threads: int | None = None) -> FloatArray: ...
@overload
def log_sigmoid(x: Any, out: Any = None, *, num_threads: int | None = None, **ufunc_kwargs: Any) -> Any: ...

@overload
def softplus(x: npt.NDArray[F], out: npt.NDArray[F] | None = None, *,
        num_threads: int | None = None) -> npt.NDArray[F]: ...
@overload
def softplus(x: Scalar, out: None = None, *, num_threads: int | None = None) -> np.floating[Any]: ...  # type: ignore[overload-overlap]
@overload
def softplus(x: npt.ArrayLike, out: FloatArray | None = None, *,
        num_threads: int | None = None) -> FloatArray: ...
@overload
def softplus(x: Any, out: Any = None, *, num_threads: int | None = None, **ufunc_kwargs: Any) -> Any: ...

@overload
def sigmoid_grad(x: npt.NDArray[F], out: npt.NDArray[F] | None = None, *,
        num_threads: int | None = None) -> npt.NDArray[F]: ...
@overload
def sigmoid_grad(x: Scalar, out: None = None, *, num_threads: int | None = None) -> np.floating[Any]: ...  # type: ignore[overload-overlap]
@overload
def sigmoid_grad(x: npt.ArrayLike, out: FloatArray | None = None, *,
        num_threads: int | None = None) -> FloatArray: ...
@overload
def sigmoid_grad(x: Any, out: Any = None, *, num_threads: int | None = None, **ufunc_kwargs: Any) -> Any: ...

expit: np.ufunc
log_expit: np.ufunc
logit: np.ufunc

# --- binary cross-entropy --------------------------------------------------
# reduction "mean" (the default) or "sum": a NumPy scalar; "none": an array of
# the input's shape.  Gradients are arrays of the input's shape.

@overload
def binary_cross_entropy_with_logits(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None = None,
        pos_weight: npt.ArrayLike | None = None, reduction: Reduced = "mean", out: None = None,
        *, num_threads: int | None = None) -> np.floating[Any]: ...
@overload
def binary_cross_entropy_with_logits(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None,
        pos_weight: npt.ArrayLike | None, reduction: NoReduction, out: FloatArray | None = None,
        *, num_threads: int | None = None) -> FloatArray: ...
@overload
def binary_cross_entropy_with_logits(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None = None,
        pos_weight: npt.ArrayLike | None = None, *, reduction: NoReduction,
        out: FloatArray | None = None, num_threads: int | None = None) -> FloatArray: ...

def binary_cross_entropy_with_logits_grad(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None = None,
        pos_weight: npt.ArrayLike | None = None, reduction: Reduction = "mean",
        out: FloatArray | None = None, *, num_threads: int | None = None) -> FloatArray: ...

@overload
def binary_cross_entropy_with_logits_loss_and_grad(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None = None,
        pos_weight: npt.ArrayLike | None = None, reduction: Reduced = "mean",
        out: tuple[None, FloatArray | None] | None = None, *,
        num_threads: int | None = None) -> tuple[np.floating[Any], FloatArray]: ...
@overload
def binary_cross_entropy_with_logits_loss_and_grad(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None,
        pos_weight: npt.ArrayLike | None, reduction: NoReduction,
        out: tuple[FloatArray | None, FloatArray | None] | None = None, *,
        num_threads: int | None = None) -> tuple[FloatArray, FloatArray]: ...
@overload
def binary_cross_entropy_with_logits_loss_and_grad(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None = None,
        pos_weight: npt.ArrayLike | None = None, *, reduction: NoReduction,
        out: tuple[FloatArray | None, FloatArray | None] | None = None,
        num_threads: int | None = None) -> tuple[FloatArray, FloatArray]: ...

def binary_cross_entropy_with_logits_grad_hess(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None = None,
        pos_weight: npt.ArrayLike | None = None, reduction: Reduction = "none",
        out: tuple[FloatArray | None, FloatArray | None] | None = None, *,
        num_threads: int | None = None) -> tuple[FloatArray, FloatArray]: ...

@overload
def binary_cross_entropy(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None = None,
        reduction: Reduced = "mean", out: None = None, *,
        num_threads: int | None = None) -> np.floating[Any]: ...
@overload
def binary_cross_entropy(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None,
        reduction: NoReduction, out: FloatArray | None = None, *,
        num_threads: int | None = None) -> FloatArray: ...
@overload
def binary_cross_entropy(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None = None, *,
        reduction: NoReduction, out: FloatArray | None = None,
        num_threads: int | None = None) -> FloatArray: ...

def binary_cross_entropy_grad(
        input: npt.ArrayLike, target: npt.ArrayLike, weight: npt.ArrayLike | None = None,
        reduction: Reduction = "mean", out: FloatArray | None = None, *,
        num_threads: int | None = None) -> FloatArray: ...
