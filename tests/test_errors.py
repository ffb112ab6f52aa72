"""Bad input: the exception type and that the message says what was wrong,
with which values (docs/api.md, "Errors")."""
import numpy as np
import pytest

import fastlogistic as fl

UNARY = [fl.sigmoid, fl.log_sigmoid, fl.softplus, fl.sigmoid_grad, fl.logit]
BCEL = [fl.binary_cross_entropy_with_logits, fl.binary_cross_entropy_with_logits_grad,
        fl.binary_cross_entropy_with_logits_loss_and_grad,
        fl.binary_cross_entropy_with_logits_grad_hess]
BCE = [fl.binary_cross_entropy, fl.binary_cross_entropy_grad]
BINARY = BCEL + BCE

BAD_ARRAYS = [
    (np.ones(3, np.complex128), "complex128"),
    (np.ones(3, np.complex64), "complex64"),
    (np.array([1.0, None], dtype=object), "object"),
    (np.array(["a", "b"]), "<U1"),
    (np.array([b"a"]), r"\|S1"),
    (1 + 2j, "complex128"),
    ("abc", "<U3"),
]


@pytest.mark.parametrize("f", UNARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad,dtname", BAD_ARRAYS, ids=[d for _, d in BAD_ARRAYS])
def test_unary_rejects_non_real_dtypes(f, bad, dtname):
    # the ufuncs (logit) say it as NumPy does for any ufunc, naming themselves
    with pytest.raises(TypeError, match=rf"unsupported dtype {dtname}|"
                                        rf"ufunc '{f.__name__}' not supported for the input types"):
        f(bad)


@pytest.mark.parametrize("f", BINARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("arg", ["input", "target", "weight"])
def test_binary_rejects_non_real_dtypes(f, arg):
    good = np.full(3, 0.5)
    kw = {"input": good, "target": good, "weight": None}
    kw[arg] = np.ones(3, np.complex128)
    with pytest.raises(TypeError, match=rf"{arg} has unsupported dtype complex128"):
        f(kw["input"], kw["target"], weight=kw["weight"])
    kw[arg] = np.array(["x", "y", "z"])
    with pytest.raises(TypeError, match=rf"{arg} has unsupported dtype <U1"):
        f(kw["input"], kw["target"], weight=kw["weight"])


@pytest.mark.parametrize("f", BCEL, ids=lambda f: f.__name__)
def test_pos_weight_dtype(f):
    with pytest.raises(TypeError, match=r"pos_weight has unsupported dtype object"):
        f(np.zeros(3), np.zeros(3), pos_weight=np.array([None] * 3, dtype=object))


def test_ragged_list_is_a_type_error():
    with pytest.raises(TypeError, match=r"sigmoid: cannot convert x to an array"):
        fl.sigmoid([1.0, [2.0, 3.0]])


@pytest.mark.parametrize("f", BINARY, ids=lambda f: f.__name__)
def test_shapes_that_do_not_broadcast(f):
    with pytest.raises(ValueError, match=f"{f.__name__}: target of shape \\(4,\\) does not "
                                         r"broadcast to the input's shape \(2, 3\)"):
        f(np.full((2, 3), 0.5), np.zeros(4))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) does not broadcast to the "
                                         r"input's shape \(2, 3\)"):
        f(np.full((2, 3), 0.5), np.zeros((2, 3)), weight=np.ones(2))


def test_pos_weight_shape_named():
    with pytest.raises(ValueError, match=r"pos_weight of shape \(5,\)"):
        fl.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 3)), pos_weight=np.ones(5))


@pytest.mark.parametrize("f", BINARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("red", ["avg", "MEAN", None, "", 1])
def test_unknown_reduction_lists_valid_ones(f, red):
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none'; got " + repr(red).replace("(", r"\(")):
        f(np.full(3, 0.5), np.zeros(3), reduction=red)


@pytest.mark.parametrize("f", [f for f in UNARY if not isinstance(f, np.ufunc)],
                         ids=lambda f: f.__name__)
def test_wrong_out_unary(f):
    x = np.full(3, 0.5)
    with pytest.raises(ValueError, match=r"out has shape \(4,\), expected \(3,\)"):
        f(x, out=np.empty(4))
    with pytest.raises(ValueError, match=r"out has shape \(3, 1\), expected \(3,\)"):
        f(x, out=np.empty((3, 1)))
    with pytest.raises(TypeError, match=r"out has dtype float32, expected float64"):
        f(x, out=np.empty(3, np.float32))
    with pytest.raises(TypeError, match=r"out has dtype float64, expected float32"):
        f(x.astype(np.float32), out=np.empty(3))
    with pytest.raises(TypeError, match=r"out must be a numpy.ndarray, got list"):
        f(x, out=[0.0, 0.0, 0.0])
    ro = np.empty(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"read-only"):
        f(x, out=ro)


def test_wrong_out_binary():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"out has shape \(3,\), expected \(2, 3\)"):
        fl.binary_cross_entropy_with_logits(x, x, reduction="none", out=np.empty(3))
    with pytest.raises(TypeError, match=r"out has dtype float32, expected float64"):
        fl.binary_cross_entropy_with_logits(x, x, reduction="none", out=np.empty((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"out has shape \(6,\), expected \(2, 3\)"):
        fl.binary_cross_entropy(x + 0.5, x, reduction="none", out=np.empty(6))
    with pytest.raises(ValueError, match=r"out has shape \(6,\), expected \(2, 3\)"):
        fl.binary_cross_entropy_with_logits_grad(x, x, out=np.empty(6))
    with pytest.raises(ValueError, match=r"(grad_)?out has shape \(1, 3\), expected \(2, 3\)"):
        fl.binary_cross_entropy_with_logits_loss_and_grad(x, x, out=(None, np.empty((1, 3))))
    with pytest.raises(TypeError, match=r"hess_out has dtype float32, expected float64"):
        fl.binary_cross_entropy_with_logits_grad_hess(x, x, out=(np.empty((2, 3)), np.empty((2, 3), np.float32)))
    with pytest.raises(TypeError, match=r"out must be a tuple of 2 arrays"):
        fl.binary_cross_entropy_with_logits_grad_hess(x, x, out=np.empty((2, 3)))
    with pytest.raises(ValueError, match=r"out is only used with reduction='none' \(got 'mean'\)"):
        fl.binary_cross_entropy_with_logits(x, x, out=np.empty((2, 3)))
    with pytest.raises(ValueError, match=r"loss_out given but that output is not computed"):
        fl.binary_cross_entropy_with_logits_loss_and_grad(x, x, reduction="sum", out=(np.empty((2, 3)), None))


@pytest.mark.parametrize("n", [0, -1, -100])
def test_num_threads_below_one(n):
    with pytest.raises(ValueError, match=rf"num_threads must be >= 1, got {n}"):
        fl.sigmoid(np.ones(3), num_threads=n)
    with pytest.raises(ValueError, match=rf"num_threads must be >= 1, got {n}"):
        fl.binary_cross_entropy_with_logits(np.ones(3), np.ones(3), num_threads=n)
    with pytest.raises(ValueError, match=rf"num_threads must be >= 1, got {n}"):
        fl.set_num_threads(n)


def test_num_threads_wrong_type():
    with pytest.raises(TypeError, match=r"num_threads must be an int or None, got float"):
        fl.sigmoid(np.ones(3), num_threads=2.5)
    with pytest.raises(TypeError, match=r"got str"):
        fl.set_num_threads("4")


@pytest.mark.parametrize("f", BCE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_probability_outside_unit_interval(f, dt):
    p = np.array([[0.5, 0.0], [1.0, 0.25]], dt)
    t = np.ones_like(p)
    for bad, shown, where in [(1.5, "1.5", r"\(1, 0\)"), (-0.25, "-0.25", r"\(1, 0\)"),
                              (np.nan, "nan", r"\(1, 0\)"), (np.inf, "inf", r"\(1, 0\)"),
                              (-1e-30, "-1e-30", r"\(1, 0\)")]:
        q = p.copy()
        q[1, 0] = bad
        q[1, 1] = 7.0      # a later bad value: the first one is reported
        with pytest.raises(ValueError, match=rf"probabilities must be in \[0, 1\]; found .*{shown}.* at index {where}"):
            f(q, t)
    # every reduction and a large input (many chunks, several threads)
    big = np.full(100_003, 0.5, dt)
    big[77_777] = 2.0
    big[90_000] = 3.0
    for red in ("none", "sum", "mean"):
        with pytest.raises(ValueError, match=r"found .*2\.0.* at index \(77777,\)"):
            f(big, np.ones_like(big), reduction=red, num_threads=2)


def test_probability_zero_one_and_minus_zero_are_valid():
    p = np.array([0.0, -0.0, 1.0])
    assert np.isfinite(fl.binary_cross_entropy(p, np.array([0.0, 0.0, 1.0]), reduction="none")).all()


@pytest.mark.parametrize("call", [
    lambda: fl.sigmoid([]),
    lambda: fl.sigmoid([[]]),
    lambda: fl.sigmoid(True),
    lambda: fl.sigmoid(np.uint64(2**64 - 1)),
    lambda: fl.sigmoid(np.ones(5), num_threads=10**9),
    lambda: fl.sigmoid(np.ones(100_000), num_threads=2**62),
    lambda: fl.binary_cross_entropy_with_logits([0.5, 2], [1, 0], num_threads=10**6),
    lambda: fl.binary_cross_entropy_with_logits(3, 1),
    lambda: fl.binary_cross_entropy_with_logits(np.ones(100_000), 1, weight=2, pos_weight=[3.0],
                                                num_threads=4096),
    lambda: fl.binary_cross_entropy([0.5], [1]),
    lambda: fl.sigmoid(np.ones((0, 10**6))),
    lambda: fl.logit(np.ones(3, np.longdouble) / 2),
    lambda: fl.sigmoid(np.array([1e308, -1e308, 5e-324])),
])
def test_weird_input_does_not_crash(call):
    r = call()
    assert np.all(np.isfinite(np.asarray(r, dtype=np.float64)) | (np.asarray(r).size == 0))


def test_set_num_threads_huge_is_capped_and_works():
    fl.set_num_threads(10**9)
    try:
        assert 1 <= fl.get_num_threads() <= 1 << 16
        x = np.linspace(-5, 5, 100_000)
        np.testing.assert_allclose(fl.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    finally:
        fl.set_num_threads(None)


@pytest.mark.parametrize("name", ["expit", "log_expit", "logit"])
def test_wrong_out_ufunc_as_scipy(name):
    """SciPy's names are ufuncs: a wrong `out` is what SciPy's ufunc says,
    with the same exception type, and a same-kind output dtype is cast."""
    sc = pytest.importorskip("scipy.special")
    x = np.full(3, 0.5)
    for out in (np.empty(4), np.empty((3, 1)), [0.0, 0.0, 0.0], np.empty(3, np.int64)):
        with pytest.raises(Exception) as ours:
            getattr(fl, name)(x, out=out)
        with pytest.raises(Exception) as theirs:
            getattr(sc, name)(x, out=out)
        assert type(ours.value) is type(theirs.value)
        assert str(ours.value) == str(theirs.value)
    o32 = np.empty(3, np.float32)
    assert getattr(fl, name)(x, out=o32) is o32
    np.testing.assert_allclose(o32, getattr(sc, name)(x), rtol=1e-6)
    ro = np.empty(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        getattr(fl, name)(x, out=ro)


# --- unsigned class labels beyond int64 ----------------------------------------

@pytest.mark.parametrize("dtype", [np.uint64, np.uint32, np.uint8])
@pytest.mark.parametrize("fname", ["cross_entropy", "cross_entropy_grad",
                                   "cross_entropy_loss_and_grad",
                                   "categorical_cross_entropy", "categorical_cross_entropy_grad"])
def test_out_of_range_unsigned_labels_name_the_value_passed(fname, dtype):
    """Every unsigned label that is not a class is a ValueError naming the
    value as passed: uint64 above int64's range must not wrap to a negative
    index (2**64 - 100 would become ignore_index = -100)."""
    f = getattr(fl, fname)
    z = np.full((3, 4), 0.25) if fname.startswith("categorical") else np.zeros((3, 4))
    top = int(np.iinfo(dtype).max)
    bad_values = [4, top] + ([2**64 - 100, 2**64 - 1, 2**63] if dtype is np.uint64 else [])
    for v in bad_values:
        for pos in (0, 2):
            t = np.array([0, 1, 2], dtype=dtype)
            t[pos] = v
            kw = {} if fname.endswith("_grad") else {"reduction": "none"}
            with pytest.raises(ValueError, match=rf"{fname}: target class index {v} at "
                                                 rf"position \({pos},\) is out of range"):
                f(z, t, **kw)
    # in range: the same values as int64 labels
    t = np.array([0, 3, 2], dtype=dtype)
    got = f(z, t)
    want = f(z, t.astype(np.int64))
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)


def test_out_of_range_unsigned_label_in_a_batch_with_more_axes():
    z = np.zeros((2, 4, 3))               # class axis 1 of (N, C, d)
    t = np.zeros((2, 3), np.uint64)
    t[1, 2] = 2**64 - 100
    with pytest.raises(ValueError, match=r"index 18446744073709551516 at position \(1, 2\)"):
        fl.cross_entropy(z, t, axis=1)


# --- log_loss: non-finite y_true, as scikit-learn says it ---------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("layout", ["1d", "2d-indicator", "column", "float32", "list"])
def test_log_loss_non_finite_y_true_as_scikit_learn(bad, layout):
    metrics = pytest.importorskip("sklearn.metrics")
    y = np.array([0.0, 1.0, 1.0, 0.0])
    p = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.9, 0.1]])
    if layout == "2d-indicator":
        y = np.stack([1 - y, y], axis=1)
        y[2, 0] = bad
    else:
        y[2] = bad
        if layout == "column":
            y = y[:, None]
        elif layout == "float32":
            y = y.astype(np.float32)
        elif layout == "list":
            y = y.tolist()
    with pytest.raises(ValueError) as theirs:
        metrics.log_loss(y, p)
    with pytest.raises(ValueError) as ours:
        fl.log_loss(y, p)
    assert str(theirs.value).startswith("Input y contains")
    assert str(ours.value).endswith(str(theirs.value))
