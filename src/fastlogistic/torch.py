"""PyTorch adapter (layer 4): ``torch.nn.functional``'s sigmoid family and
losses, and ``torch.nn``'s loss modules, computed by fastlogistic on CPU.

    import fastlogistic.torch as flt
    loss_fn = flt.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0]))
    loss = loss_fn(model(x), y)          # a torch tensor, in the autograd graph
    loss.backward()

Every function has the signature and defaults of its ``torch.nn.functional``
namesake (the legacy ``size_average``/``reduce`` arguments included, mapped to
``reduction`` as torch maps them) and every module subclasses its ``torch.nn``
namesake, so constructor, buffers, ``state_dict`` and ``repr`` are torch's.

How it runs
-----------
* CPU float32/float64 tensors are viewed as NumPy arrays without a copy
  (``tensor.detach().numpy()``; non-contiguous tensors are passed with their
  strides) and handed to the NumPy-level functions of fastlogistic.
* When the input needs a gradient, a ``torch.autograd.Function`` computes the
  loss **and** its gradient in one fused pass in the forward (for
  ``binary_cross_entropy`` on probabilities: two passes), keeps the gradient,
  and the backward only scales it by ``grad_output`` (elementwise for
  ``reduction="none"``).  Without a gradient (``torch.no_grad()``, inputs
  that do not require grad) only the loss is computed.
* **Small batches run torch's own function**: below the size where the
  fused kernel wins (``TORCH_BELOW[(function, dtype, requires_grad)]``
  input elements, measured by ``scripts/torch_crossing.py``) the NumPy round
  trip costs more than it saves, so torch computes the result (its value,
  its gradient, its ``grad_fn``).  Set an entry to 0 to always take the
  fused path.
* **TorchScript**: every function and module scripts (``torch.jit.script``
  on a model that contains one); the scripted code is torch's own loss.
  ``torch.jit.trace`` records torch's own function too, without
  ``TracerWarning``s.
* Threads follow ``torch.get_num_threads()`` (so ``torch.set_num_threads(1)``
  makes both libraries use one thread).
* **Fallback to torch's own function**, silently and with torch's own result
  or error, for everything else: tensors on another device (CUDA, MPS, meta:
  a model moves to the GPU unchanged), other dtypes (float16, bfloat16,
  complex), mixed dtypes, sparse tensors and tensor subclasses other than
  ``nn.Parameter``, ``requires_grad`` on ``target``, ``weight`` or
  ``pos_weight`` (torch then differentiates the target, and refuses a
  weight or pos_weight that requires grad with its own error), shapes torch would
  reject or broadcast differently, ``softplus`` with ``beta != 1`` or
  ``threshold != 20``, TorchScript, tracing, ``torch.compile`` and
  ``torch.func`` transforms, and any input fastlogistic rejects (e.g. a
  probability outside [0, 1], a class index out of range: torch raises its
  own error).

Double backward (``create_graph=True``, e.g. a gradient penalty or a
Hessian-vector product) falls back to torch: a backward that runs with grad
mode on differentiates torch's own function at the saved input instead of
returning the saved gradient, so second derivatives are torch's and exact
(``torch.autograd.gradgradcheck`` passes).  Plain ``backward()`` never pays
for this.  The saved gradient is handed over at the first backward (autograd
may keep it as ``.grad`` without a copy); a second backward through the same
graph (``retain_graph=True``) recomputes it.

Differences from torch, all in the accurate direction:
* ``softplus`` (threshold 20): torch returns ``x`` and gradient 1 for x > 20;
  here ``log1p(exp(x))`` and ``sigmoid(x)`` (they differ by ``exp(-x)``, below
  float32 rounding, visible in float64).
* ``sigmoid``'s gradient is ``exp(-|x|) / (1 + exp(-|x|))**2`` from the saved
  input, not ``s (1 - s)`` from the output (which is 0 for x > 17 in float32
  and loses all digits of the tail); the input is saved instead of the output.
* ``binary_cross_entropy_with_logits`` with soft targets is exact to a few ULP
  (torch's form loses digits there), and its gradient at target 1 is
  ``-pos_weight s(-x)``, where torch's ``pos_weight s(x) - pos_weight``
  cancels for large x.
"""
import warnings
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as _F
from torch import Tensor
from torch.nn import _reduction as _Reduction

from . import _api, _multiclass

__all__ = [
    "sigmoid", "logsigmoid", "softplus",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "TORCH_BELOW",
]

_FLOATS = (torch.float32, torch.float64)
_PLAIN = (torch.Tensor, torch.nn.Parameter)
_REDUCTIONS = ("mean", "sum", "none")
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", None)
_is_tracing = torch._C._is_tracing          # torch.jit.is_tracing() in eager mode
_is_compiling = torch.compiler.is_compiling

# Below this many input elements torch's own function is as fast or faster
# than the NumPy round trip (the fused kernel's per-call cost dominates a
# small batch), so it runs instead: {(function, dtype, with_grad): elements}.
# with_grad: the input requires grad (a training step, forward and backward
# timed together); otherwise the forward alone.  The values are the crossing
# sizes of a batch-size sweep on one thread (the sweep and its table:
# docs/torch.md); set an entry to 0 to always take the fused path.
_F32, _F64 = torch.float32, torch.float64
TORCH_BELOW = {
    ("sigmoid", _F32, False): 65536, ("sigmoid", _F64, False): 16384,
    ("sigmoid", _F32, True): 1000000, ("sigmoid", _F64, True): 1000000,
    ("logsigmoid", _F32, False): 4096, ("logsigmoid", _F64, False): 2048,
    ("logsigmoid", _F32, True): 65536, ("logsigmoid", _F64, True): 16384,
    ("softplus", _F32, False): 4096, ("softplus", _F64, False): 2048,
    ("softplus", _F32, True): 65536, ("softplus", _F64, True): 16384,
    ("binary_cross_entropy", _F32, False): 512, ("binary_cross_entropy", _F64, False): 512,
    ("binary_cross_entropy", _F32, True): 4096, ("binary_cross_entropy", _F64, True): 4096,
    ("binary_cross_entropy_with_logits", _F32, False): 2048,
    ("binary_cross_entropy_with_logits", _F64, False): 512,
    ("binary_cross_entropy_with_logits", _F32, True): 4096,
    ("binary_cross_entropy_with_logits", _F64, True): 512,
    ("cross_entropy", _F32, False): 2048, ("cross_entropy", _F64, False): 4096,
    ("cross_entropy", _F32, True): 4096, ("cross_entropy", _F64, True): 4096,
}


# ---------------------------------------------------------------------------
# when the fastlogistic path applies
# ---------------------------------------------------------------------------

def _eager():
    """False under TorchScript, tracing, torch.compile or torch.func transforms,
    where a NumPy call would be baked in as a constant or cannot run.  Checked
    before anything looks at a tensor (a shape or size read while tracing is
    recorded, with a TracerWarning)."""
    if _is_tracing() or _is_compiling():
        return False
    return not (_functorch_active is not None and _functorch_active())


def _torch_quiet(fallback):
    """torch's own function, called while tracing: its shape checks read
    sizes as Python values, which the trace records as constants with a
    TracerWarning each (a traced graph is specialised to its example shapes
    either way); the warnings are silenced so that tracing a model that uses
    these losses is as quiet as tracing one without them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return fallback()


def _torch_first(name, input):
    """True when torch's own function computes this call: `input` is not a
    plain CPU float32/float64 tensor, or is smaller than the crossing size
    (TORCH_BELOW), or a transform or compiler is active.  The cheap checks
    come first: a small training batch pays little for the choice."""
    if not (type(input) in _PLAIN and input.dtype in _FLOATS and input.is_cpu
            and input.layout is torch.strided):
        return True
    if input.numel() < TORCH_BELOW.get(
            (name, input.dtype, input.requires_grad and torch.is_grad_enabled()), 0):
        return True
    return not _eager()


def _ok(t, dtype=None):
    """A CPU strided float32/float64 tensor (of `dtype` if given) that NumPy can view."""
    return (type(t) in _PLAIN and t.dtype in _FLOATS and (dtype is None or t.dtype is dtype)
            and t.is_cpu and t.layout is torch.strided)


def _ok_operand(t, input):
    """weight / pos_weight: absent, or a tensor like `input` without requires_grad
    that broadcasts to input's shape without enlarging it."""
    if t is None:
        return True
    if not _ok(t, input.dtype) or t.requires_grad or t.dim() > input.dim():
        return False
    try:
        return torch.broadcast_shapes(t.shape, input.shape) == input.shape
    except RuntimeError:
        return False


def _np(t):
    return None if t is None else t.detach().numpy()


def _tensor(a):
    """NumPy result (array or scalar, 0-d included) -> tensor, without a copy."""
    return torch.from_numpy(np.asarray(a))


def _threads():
    return torch.get_num_threads()


def _plain_pair(input, target):
    """input and target: contiguous CPU float tensors of one dtype and shape,
    not empty, target without requires_grad (the case _api._bcel_plain
    takes); eager mode is checked by the caller."""
    return (_ok(input) and _ok(target, input.dtype) and not target.requires_grad
            and input.shape == target.shape and input.numel() > 0
            and input.is_contiguous() and target.is_contiguous())


def _plain_bcel(x, t, reduction, want_grad):
    return _api._bcel_plain(x, t, reduction, want_grad, _threads())


def _reduction(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        return _Reduction.legacy_get_string(size_average, reduce)
    return reduction


def _wants_grad(input):
    return input.requires_grad and torch.is_grad_enabled()


# ---------------------------------------------------------------------------
# autograd
# ---------------------------------------------------------------------------

def _torch_grad(torch_fn, input, grad_output):
    """The gradient through torch's own function, differentiable (double
    backward: create_graph=True makes the backward run with grad mode on)."""
    with torch.enable_grad():
        (g,) = torch.autograd.grad(torch_fn(input), input, grad_output, create_graph=True)
    return g


class _FusedLoss(torch.autograd.Function):
    """Loss whose gradient with respect to `input` is computed in the forward.

    forward(input, compute, unsqueeze, torch_fn): `compute()` returns (loss,
    grad) as NumPy arrays; the gradient is kept and the backward scales it by
    grad_output (for reduction="none" grad_output has the loss's shape; with
    `unsqueeze` (cross-entropy, class axis 1) it gets the class axis back).
    A backward with create_graph=True (double backward) differentiates
    `torch_fn(input)`, torch's own loss, instead."""

    @staticmethod
    def forward(ctx, input, compute, unsqueeze, torch_fn):
        loss, grad = compute()
        ctx.save_for_backward(input)
        ctx.grad = _tensor(grad)
        ctx.compute = compute
        ctx.unsqueeze = unsqueeze
        ctx.torch_fn = torch_fn
        return _tensor(loss)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors      # raises if input was modified in place
        if torch.is_grad_enabled():
            return _torch_grad(ctx.torch_fn, input, grad_output), None, None, None
        # hand the saved gradient over (so that autograd may keep it as .grad
        # without a copy); a second backward (retain_graph=True) recomputes it
        grad = ctx.__dict__.pop("grad", None)
        if grad is None:
            grad = _tensor(ctx.compute()[1])
        if grad_output.dim() == 0:
            if grad_output.item() == 1.0:
                return grad, None, None, None          # loss.backward()
            return grad.mul_(grad_output), None, None, None
        if ctx.unsqueeze:
            grad_output = grad_output.unsqueeze(1)
        return grad.mul_(grad_output), None, None, None


class _Elementwise(torch.autograd.Function):
    """y = f(x) elementwise; the backward evaluates ``grad_output * f'(x)`` at
    the saved input (accurate in the tails) in one pass (`chain(x, g)`);
    double backward differentiates torch's own function (torch_fn)."""

    @staticmethod
    def forward(ctx, input, f, chain, torch_fn):
        ctx.save_for_backward(input)
        ctx.chain = chain
        ctx.torch_fn = torch_fn
        return _tensor(f(_np(input), num_threads=_threads()))

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        if torch.is_grad_enabled() or not _ok(grad_output, input.dtype):
            # double backward, or a grad_output NumPy cannot view (sparse, a
            # subclass): torch's own derivative
            return _torch_grad(ctx.torch_fn, input, grad_output), None, None, None
        return _tensor(ctx.chain(_np(input), _np(grad_output))), None, None, None


# ---------------------------------------------------------------------------
# elementwise functions
# ---------------------------------------------------------------------------
#
# Each public function is TorchScript-compatible: scripted, it is torch's
# own function (the fastlogistic path, NumPy inside, is marked unused for
# the compiler); eager, it takes the fastlogistic path where that applies.

# The backward of each elementwise function, g * f'(x): the derivative from
# the input by the elementwise kernels (accurate in both tails), then one
# multiplication in place.
#   sigmoid:    s'(x) = exp(-|x|) / (1 + exp(-|x|))**2   (sigmoid_grad)
#   logsigmoid: s(-x)                                    (sigmoid of -x)
#   softplus:   s(x)

def _times(d, g):
    d = np.asarray(d)
    return np.multiply(d, g, out=d)


def _chain_sigmoid(x, g):
    return _times(_api.sigmoid_grad(x, num_threads=_threads()), g)


def _chain_logsigmoid(x, g):
    d = np.negative(x)
    return _times(_api.sigmoid(d, out=d if d.ndim else None, num_threads=_threads()), g)


def _chain_softplus(x, g):
    return _times(_api.sigmoid(x, num_threads=_threads()), g)


def _unary(name, input, f, chain, torch_fn):
    if _is_tracing() or _torch_first(name, input):
        return torch_fn(input)
    if _wants_grad(input):
        return _Elementwise.apply(input, f, chain, torch_fn)
    return _tensor(f(_np(input), num_threads=_threads()))


@torch.jit.unused
def _sigmoid_eager(input: Tensor) -> Tensor:
    return _unary("sigmoid", input, _api.sigmoid, _chain_sigmoid, torch.sigmoid)


@torch.jit.unused
def _logsigmoid_eager(input: Tensor) -> Tensor:
    return _unary("logsigmoid", input, _api.log_sigmoid, _chain_logsigmoid, _F.logsigmoid)


@torch.jit.unused
def _softplus_eager(input: Tensor) -> Tensor:
    return _unary("softplus", input, _api.softplus, _chain_softplus, _F.softplus)


def sigmoid(input: Tensor) -> Tensor:
    """``torch.sigmoid(input)``; the gradient is evaluated from the input
    (accurate where ``s (1 - s)`` underflows)."""
    if torch.jit.is_scripting():
        return torch.sigmoid(input)
    return _sigmoid_eager(input)


def logsigmoid(input: Tensor) -> Tensor:
    """``torch.nn.functional.logsigmoid(input) = -softplus(-input)``."""
    if torch.jit.is_scripting():
        return _F.logsigmoid(input)
    return _logsigmoid_eager(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``torch.nn.functional.softplus``.  With the defaults (beta=1,
    threshold=20) fastlogistic computes ``log(1 + exp(x))`` without the
    threshold (the exact value, also for x > 20); other values go to torch."""
    if torch.jit.is_scripting():
        return _F.softplus(input, beta, threshold)
    if beta != 1 or threshold != 20:
        return _F.softplus(input, beta, threshold)
    return _softplus_eager(input)


# ---------------------------------------------------------------------------
# binary cross-entropy
# ---------------------------------------------------------------------------

def _binary_args_ok(input, target, weight, pos_weight, reduction):
    return (_ok(input) and _ok(target, input.dtype) and not target.requires_grad
            and target.shape == input.shape and _ok_operand(weight, input)
            and _ok_operand(pos_weight, input) and reduction in _REDUCTIONS)


@torch.jit.unused
def _bcel_eager(input: Tensor, target: Tensor, weight: Optional[Tensor], reduction: str,
                pos_weight: Optional[Tensor]) -> Tensor:
    def fallback(x=input):
        return _F.binary_cross_entropy_with_logits(x, target, weight, reduction=reduction,
                                                   pos_weight=pos_weight)

    if _is_tracing():
        return _torch_quiet(fallback)
    if _torch_first("binary_cross_entropy_with_logits", input):
        return fallback()
    if (weight is None and pos_weight is None and (reduction == "mean" or reduction == "sum")
            and _plain_pair(input, target)):
        # the common case (a training loop's loss), on the shortest path
        x, t = input.detach().numpy(), target.numpy()
        if _wants_grad(input):
            return _FusedLoss.apply(input, lambda: _plain_bcel(x, t, reduction, True),
                                    False, fallback)
        return _tensor(_plain_bcel(x, t, reduction, False)[0])
    if not _binary_args_ok(input, target, weight, pos_weight, reduction):
        return fallback()
    x, t, w, pw = _np(input), _np(target), _np(weight), _np(pos_weight)
    try:
        if _wants_grad(input):
            return _FusedLoss.apply(input, lambda: _api.binary_cross_entropy_with_logits_loss_and_grad(
                x, t, w, pw, reduction, num_threads=_threads()), False, fallback)
        return _tensor(_api.binary_cross_entropy_with_logits(x, t, w, pw, reduction,
                                                             num_threads=_threads()))
    except ValueError:
        return fallback()


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Optional[Tensor] = None,
                                     size_average: Optional[bool] = None,
                                     reduce: Optional[bool] = None, reduction: str = "mean",
                                     pos_weight: Optional[Tensor] = None) -> Tensor:
    """``torch.nn.functional.binary_cross_entropy_with_logits``: loss and
    gradient from one fused pass, ``w (pos_weight t softplus(-x) + (1 - t)
    softplus(x))`` (exact for soft targets too)."""
    if torch.jit.is_scripting():
        return _F.binary_cross_entropy_with_logits(input, target, weight, size_average,
                                                   reduce, reduction, pos_weight)
    return _bcel_eager(input, target, weight, _reduction(size_average, reduce, reduction),
                       pos_weight)


@torch.jit.unused
def _bce_eager(input: Tensor, target: Tensor, weight: Optional[Tensor],
               reduction: str) -> Tensor:
    def fallback(x=input):
        return _F.binary_cross_entropy(x, target, weight, reduction=reduction)

    if _is_tracing():
        return _torch_quiet(fallback)
    if _torch_first("binary_cross_entropy", input) \
            or not _binary_args_ok(input, target, weight, None, reduction):
        return fallback()
    p, t, w = _np(input), _np(target), _np(weight)
    n = _threads()
    try:
        if _wants_grad(input):
            def compute():
                loss = _api.binary_cross_entropy(p, t, w, reduction, num_threads=n)
                return loss, _api.binary_cross_entropy_grad(p, t, w, reduction, num_threads=n)
            return _FusedLoss.apply(input, compute, False, fallback)
        return _tensor(_api.binary_cross_entropy(p, t, w, reduction, num_threads=n))
    except ValueError:
        return fallback()


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                         size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                         reduction: str = "mean") -> Tensor:
    """``torch.nn.functional.binary_cross_entropy`` on probabilities (each log
    clamped at -100, the gradient ``w (p - t) / max(p (1 - p), 1e-12)`` as
    torch).  A probability outside [0, 1] raises torch's own error."""
    if torch.jit.is_scripting():
        return _F.binary_cross_entropy(input, target, weight, size_average, reduce, reduction)
    return _bce_eager(input, target, weight, _reduction(size_average, reduce, reduction))


# ---------------------------------------------------------------------------
# cross-entropy
# ---------------------------------------------------------------------------

@torch.jit.unused
def _cross_entropy_eager(input: Tensor, target: Tensor, weight: Optional[Tensor],
                         ignore_index: int, reduction: str, label_smoothing: float) -> Tensor:
    def fallback(x=input):
        return _F.cross_entropy(x, target, weight, ignore_index=ignore_index,
                                reduction=reduction, label_smoothing=label_smoothing)

    if _is_tracing():
        return _torch_quiet(fallback)
    if _torch_first("cross_entropy", input) or not (
            input.dim() >= 1 and isinstance(target, torch.Tensor)
            and not target.requires_grad and reduction in _REDUCTIONS):
        return fallback()
    axis = 1 if input.dim() >= 2 else 0
    batch = input.shape[:axis] + input.shape[axis + 1:]
    if target.dtype is torch.int64:
        if not (type(target) in _PLAIN and target.device.type == "cpu"
                and target.layout is torch.strided and target.shape == batch):
            return fallback()
    elif not (_ok(target, input.dtype) and target.shape == input.shape):
        return fallback()
    if weight is not None and not (_ok(weight, input.dtype) and not weight.requires_grad
                                   and weight.shape == (input.shape[axis],)):
        return fallback()
    if not isinstance(ignore_index, int) or not isinstance(label_smoothing, (int, float)):
        return fallback()
    z, t, w = _np(input), _np(target), _np(weight)
    kw = dict(axis=axis, weight=w, ignore_index=ignore_index,
              label_smoothing=float(label_smoothing), reduction=reduction,
              num_threads=_threads())
    try:
        if _wants_grad(input):
            return _FusedLoss.apply(
                input, lambda: _multiclass.cross_entropy_loss_and_grad(z, t, **kw),
                axis == 1 and reduction == "none", fallback)
        return _tensor(_multiclass.cross_entropy(z, t, **kw))
    except ValueError:
        return fallback()


def cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                  size_average: Optional[bool] = None, ignore_index: int = -100,
                  reduce: Optional[bool] = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """``torch.nn.functional.cross_entropy``: logits ``(C,)``, ``(N, C)`` or
    ``(N, C, d1, ...)`` (class axis 1, as torch); target int64 class indices
    (input's shape without the class axis) or class probabilities (input's
    shape and dtype); ``weight`` per class, ``ignore_index``,
    ``label_smoothing`` and "mean" exactly as torch.  Loss and gradient come
    from one pass over the rows."""
    if torch.jit.is_scripting():
        return _F.cross_entropy(input, target, weight, size_average, ignore_index, reduce,
                                reduction, label_smoothing)
    return _cross_entropy_eager(input, target, weight, ignore_index,
                                _reduction(size_average, reduce, reduction), label_smoothing)


# ---------------------------------------------------------------------------
# modules: torch.nn's classes with the forward replaced (they script: under
# TorchScript the forward is torch's own loss)
# ---------------------------------------------------------------------------

class BCELoss(torch.nn.BCELoss):
    """``torch.nn.BCELoss`` computed by :func:`binary_cross_entropy`."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(torch.nn.BCEWithLogitsLoss):
    """``torch.nn.BCEWithLogitsLoss`` computed by
    :func:`binary_cross_entropy_with_logits` (fused loss and gradient)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, self.weight,
                                                pos_weight=self.pos_weight,
                                                reduction=self.reduction)


class CrossEntropyLoss(torch.nn.CrossEntropyLoss):
    """``torch.nn.CrossEntropyLoss`` computed by :func:`cross_entropy`
    (fused loss and gradient)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)
