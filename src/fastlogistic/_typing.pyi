# Type aliases shared by the stubs (this module exists only for the type checker).
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

# a float array of the result's dtype (float16 in, float16 out; float32 in,
# float32 out; float64, integers and booleans in, float64 out)
FloatArray = npt.NDArray[np.floating[Any]]
# float dtypes kept as they are
F = TypeVar("F", np.float16, np.float32, np.float64)
# a scalar (Python or NumPy) in; a NumPy scalar out, as from a ufunc
Scalar = float | int | bool | np.number[Any] | np.bool_
Reduced = Literal["mean", "sum"]
NoReduction = Literal["none"]
Reduction = Literal["mean", "sum", "none"]
# softmax, log_softmax: scipy.special's axis (None: every element; an int; a
# tuple of ints); a scalar in gives a NumPy scalar at run time
Axis = int | tuple[int, ...] | None
