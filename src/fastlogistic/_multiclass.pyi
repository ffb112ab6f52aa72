# Type stub of fastlogistic._multiclass (softmax and the multi-class losses).
# Class targets: integer class indices (the input's shape without the class
# axis) or class probabilities (the input's shape).  Reduction "mean" (the
# default) or "sum": a NumPy scalar; "none": an array of the input's shape
# without the class axis.  Gradients have the input's shape.
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from ._typing import Axis, F, FloatArray, NoReduction, Reduced, Reduction

__all__ = [
    "softmax", "log_softmax",
    "cross_entropy", "cross_entropy_grad", "cross_entropy_loss_and_grad",
    "categorical_cross_entropy", "categorical_cross_entropy_grad",
]

@overload
def softmax(x: npt.NDArray[F], axis: Axis = None, out: npt.NDArray[F] | None = None, *,
            num_threads: int | None = None) -> npt.NDArray[F]: ...
@overload
def softmax(x: npt.ArrayLike, axis: Axis = None, out: FloatArray | None = None, *,
            num_threads: int | None = None) -> FloatArray: ...

@overload
def log_softmax(x: npt.NDArray[F], axis: Axis = None, out: npt.NDArray[F] | None = None, *,
                num_threads: int | None = None) -> npt.NDArray[F]: ...
@overload
def log_softmax(x: npt.ArrayLike, axis: Axis = None, out: FloatArray | None = None, *,
                num_threads: int | None = None) -> FloatArray: ...

@overload
def cross_entropy(z: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                  weight: npt.ArrayLike | None = None, ignore_index: int = -100,
                  label_smoothing: float = 0.0, reduction: Reduced = "mean",
                  num_threads: int | None = None) -> np.floating[Any]: ...
@overload
def cross_entropy(z: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                  weight: npt.ArrayLike | None = None, ignore_index: int = -100,
                  label_smoothing: float = 0.0, reduction: NoReduction,
                  num_threads: int | None = None) -> FloatArray: ...

def cross_entropy_grad(z: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                       weight: npt.ArrayLike | None = None, ignore_index: int = -100,
                       label_smoothing: float = 0.0, reduction: Reduction = "mean",
                       num_threads: int | None = None) -> FloatArray: ...

@overload
def cross_entropy_loss_and_grad(
        z: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
        weight: npt.ArrayLike | None = None, ignore_index: int = -100,
        label_smoothing: float = 0.0, reduction: Reduced = "mean",
        num_threads: int | None = None) -> tuple[np.floating[Any], FloatArray]: ...
@overload
def cross_entropy_loss_and_grad(
        z: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
        weight: npt.ArrayLike | None = None, ignore_index: int = -100,
        label_smoothing: float = 0.0, reduction: NoReduction,
        num_threads: int | None = None) -> tuple[FloatArray, FloatArray]: ...

@overload
def categorical_cross_entropy(p: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                              weight: npt.ArrayLike | None = None, ignore_index: int = -100,
                              reduction: Reduced = "mean",
                              num_threads: int | None = None) -> np.floating[Any]: ...
@overload
def categorical_cross_entropy(p: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                              weight: npt.ArrayLike | None = None, ignore_index: int = -100,
                              reduction: NoReduction,
                              num_threads: int | None = None) -> FloatArray: ...

def categorical_cross_entropy_grad(p: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                                   weight: npt.ArrayLike | None = None,
                                   ignore_index: int = -100, reduction: Reduction = "mean",
                                   num_threads: int | None = None) -> FloatArray: ...

# shared with _dask: SciPy's axis argument as a sorted tuple of distinct axes
def _axes(ndim: int, axis: int | tuple[int, ...] | None, fname: str) -> tuple[int, ...]: ...
