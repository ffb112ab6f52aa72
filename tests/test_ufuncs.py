"""expit, log_expit and logit as numpy.ufunc objects; the library's
elementwise functions with ufunc keywords and containers; use_threads; SciPy's
loops patched; softmax/log_softmax with SciPy's axis semantics."""
import os
import threading
import warnings

import mpmath
import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels

sc = pytest.importorskip("scipy.special")

SCIPY_NAMES = ["expit", "log_expit", "logit"]
LIB_NAMES = ["sigmoid", "log_sigmoid", "softplus", "sigmoid_grad"]
DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint64,
          np.float16, np.float32, np.float64, np.longdouble]


def _inputs(name, n=257, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    if name == "logit":
        return rng.uniform(0, 1, n).astype(dtype)
    return rng.normal(0, 8, n).astype(dtype)


@pytest.mark.parametrize("name", SCIPY_NAMES)
def test_scipy_names_are_ufuncs_with_scipys_types(name):
    ours, theirs = getattr(fl, name), getattr(sc, name)
    assert isinstance(ours, np.ufunc)
    assert ours.__name__ == name and ours.nin == 1 and ours.nout == 1
    assert sorted(ours.types) == sorted(theirs.types)
    if ours.types != theirs.types:
        # SciPy before 1.14 lists f->f first, so there float16 and small
        # integers resolve to float32; ours follow the current SciPy's order
        assert theirs.types == ["f->f", "d->d", "g->g"], theirs.types
        return
    for dt in DTYPES:
        x = np.ones(3, dt) if name != "logit" else np.full(3, 0.25).astype(dt)
        if np.dtype(dt).kind in "biu" and name == "logit":
            x = np.zeros(3, dt)
        assert ours(x).dtype == theirs(x).dtype, dt
    assert type(ours(0.25)) is type(theirs(0.25)) is np.float64
    assert type(ours(np.float32(0.25))) is np.float32


@pytest.mark.parametrize("name", LIB_NAMES)
def test_library_ufunc_types(name):
    """the library's convention: float16 stays float16, integers -> float64"""
    uf = _kernels.LIB_UFUNCS[getattr(_kernels, name.upper())]
    assert isinstance(uf, np.ufunc)
    for dt, want in [(np.float16, np.float16), (np.float32, np.float32), (np.int8, np.float64),
                     (np.uint32, np.float64), (np.bool_, np.float64),
                     (np.longdouble, np.longdouble)]:
        assert uf(np.ones(2, dt)).dtype == want, dt
        fn = getattr(fl, name)
        assert fn(np.ones(2, dt), where=True).dtype == want, dt


@pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid", "softplus", "sigmoid_grad", "logit"])
def test_float16_loop_is_float32_kernel_rounded(name):
    """every float16 value: the float16 loop equals the float32 kernel's result
    rounded to float16 by NumPy (the conversions are exact / nearest-even)"""
    uf = _kernels.LIB_UFUNCS[getattr(_kernels, name.upper())]
    h = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    got = uf(h)
    if name == "logit":
        assert got.dtype == np.float64                       # SciPy's types
        return
    want = uf(h.astype(np.float32)).astype(np.float16)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    assert np.array_equal(got[~nan].view(np.uint16), want[~nan].view(np.uint16))


@pytest.mark.parametrize("name", SCIPY_NAMES)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_values_match_the_library_functions(name, dt):
    """the ufunc loops are the same kernels as the library's own calls, for
    contiguous, strided, zero-stride and threaded calls"""
    lib = {"expit": fl.sigmoid, "log_expit": fl.log_sigmoid, "logit": None}[name]
    x = _inputs(name, 50_000, dt)
    got = getattr(fl, name)(x)
    if lib is not None:
        np.testing.assert_array_equal(got, lib(x))
    np.testing.assert_array_equal(getattr(fl, name)(x[::-3]), got[::-3])
    np.testing.assert_array_equal(getattr(fl, name)(np.broadcast_to(x[5], (70,))),
                                  np.full(70, got[5]))
    for nt in (1, 2):
        with fl.use_threads(nt):
            np.testing.assert_array_equal(getattr(fl, name)(x), got)
    rtol = 1e-6 if dt == np.float32 else 1e-14
    if name == "logit":
        # a closed form exact near 1/2 (d = 2p - 1 is exact): SciPy's logit
        # before 1.14 lost digits there
        d = 2 * x.astype(np.float64) - 1
        with np.errstate(divide="ignore"):
            ref = np.log1p(d) - np.log1p(-d)
    else:
        ref = getattr(sc, name)(x)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=1e-300)


def _mp_ref(name, v):
    v = mpmath.mpf(v)
    if name == "expit":
        return 1 / (1 + mpmath.exp(-v))
    if name == "log_expit":
        return -mpmath.log1p(mpmath.exp(-v))
    return mpmath.log(v / (1 - v))


@pytest.mark.parametrize("name", SCIPY_NAMES)
def test_long_double_loop_against_mpmath(name):
    """g->g computes in long double (as SciPy's), not through float64"""
    if np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("long double is double here")
    if name == "logit":
        pts = [1e-30, 1e-5, 0.1, 0.3, 0.4999, 0.5, 0.5001, 0.7, 0.9, 1 - 1e-10]
    else:
        pts = [-11000.0, -700.0, -40.0, -5.5, -1e-3, 0.0, 1e-10, 0.75, 9.0, 40.0, 800.0]
    x = np.array([np.longdouble(p) for p in pts])
    got = getattr(fl, name)(x)
    assert got.dtype == np.longdouble
    eps = float(np.finfo(np.longdouble).eps)
    with mpmath.workprec(128):
        _check_ld(name, x, got, eps)


def _check_ld(name, x, got, eps):
    def exact(v):                      # the long double's exact value
        num, den = v.as_integer_ratio()
        return mpmath.mpf(num) / den
    for xi, gi in zip(x, got):
        ref = _mp_ref(name, exact(xi))
        if ref == 0:
            assert gi == 0
            continue
        rel = abs((exact(gi) - ref) / ref)
        assert rel <= 8 * eps, (name, xi, gi, ref)


@pytest.mark.parametrize("name", SCIPY_NAMES + LIB_NAMES)
def test_ufunc_keywords_as_scipy(name):
    """where=, out= (array or tuple), dtype=, casting=, order=, subok: the
    same outcome as SciPy's ufunc (or NumPy's own for the library names)"""
    fn = getattr(fl, name)
    ref = getattr(sc, name) if name in SCIPY_NAMES else fn
    x = _inputs(name, 12).reshape(3, 4)
    full = ref(x)
    m = x > np.median(x)
    o = np.full((3, 4), -7.0)
    r = fn(x, where=m, out=o)
    assert r is o
    np.testing.assert_allclose(o[m], full[m], rtol=1e-14)
    assert np.all(o[~m] == -7.0)
    o2 = np.empty((3, 4))
    r = fn(x, out=(o2,))
    assert r is o2
    np.testing.assert_allclose(o2, full, rtol=1e-14)
    r32 = fn(x, dtype=np.float32)
    assert r32.dtype == np.float32
    np.testing.assert_allclose(r32, full, rtol=1e-5, atol=1e-30)
    with pytest.raises(TypeError):          # NumPy's own casting error
        fn(x.astype(np.float32), out=np.empty((3, 4), np.float16), casting="safe")
    f = fn(np.asfortranarray(x), order="K")
    assert f.flags.f_contiguous
    c = fn(np.asfortranarray(x), order="C")
    assert c.flags.c_contiguous
    np.testing.assert_allclose(c, full, rtol=1e-14)

    class Sub(np.ndarray):
        pass
    xs = x.view(Sub)
    assert type(fn(xs)) is Sub
    assert type(fn(xs, subok=False)) is np.ndarray


@pytest.mark.parametrize("name", LIB_NAMES)
def test_library_names_take_keywords_and_num_threads(name):
    fn = getattr(fl, name)
    x = _inputs(name, 40_000)
    m = np.arange(x.size) % 3 == 0
    o = np.zeros_like(x)
    assert fn(x, out=o, where=m, num_threads=2) is o
    np.testing.assert_array_equal(o[m], fn(x)[m])
    assert np.all(o[~m] == 0)
    with pytest.raises(ValueError, match="num_threads must be >= 1"):
        fn(x, where=m, num_threads=0)
    with pytest.raises(TypeError):
        fn(x, bogus=1)


def test_no_floating_point_warnings():
    """overflowing exp inside the kernels and logit outside [0, 1] are the
    intended results: no RuntimeWarning (SciPy gives none either)"""
    big = np.array([1e308, -1e308, 800.0, -800.0, np.inf, -np.inf, np.nan])
    with np.errstate(over="ignore"):
        cases = [(big.astype(dt), np.array([2.0, -1.0, 0.0, 1.0, np.nan]).astype(dt))
                 for dt in (np.float16, np.float32, np.float64, np.longdouble)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for xb, pb in cases:
                fl.expit(xb)
                fl.log_expit(xb)
                fl.logit(pb)
                for name in LIB_NAMES:
                    getattr(fl, name)(xb, where=True)
    # the caller's own flags survive a call
    with np.errstate(all="ignore"):
        np.float64(1e308) * 10        # sets overflow
    np.testing.assert_equal(fl.logit(np.array([0.0, 1.0, 2.0])), [-np.inf, np.inf, np.nan])


def test_masked_array_keeps_mask():
    x = np.ma.array([-1.0, 0.0, 3.0, 1e3], mask=[0, 1, 0, 0])
    for fn in (fl.expit, fl.sigmoid, fl.log_expit, fl.softplus):
        r = fn(x)
        assert isinstance(r, np.ma.MaskedArray)
        np.testing.assert_array_equal(r.mask, x.mask)
    np.testing.assert_allclose(fl.sigmoid(x).compressed(), sc.expit(x.compressed()))


def test_pandas_containers():
    pd = pytest.importorskip("pandas")
    s = pd.Series([-1.0, 0.5, 4.0], index=["a", "b", "c"], name="logits")
    for fn, ref in ((fl.expit, sc.expit), (fl.sigmoid, sc.expit), (fl.log_expit, sc.log_expit),
                    (fl.softplus, lambda v: np.logaddexp(0, v))):
        r = fn(s)
        assert isinstance(r, pd.Series) and r.name == "logits"
        assert list(r.index) == ["a", "b", "c"]
        np.testing.assert_allclose(r.to_numpy(), ref(s.to_numpy()), rtol=1e-15)
    df = pd.DataFrame({"u": [0.1, 0.9], "v": [0.5, 0.25]}, index=[10, 20])
    r = fl.logit(df)
    assert isinstance(r, pd.DataFrame) and list(r.columns) == ["u", "v"]
    assert list(r.index) == [10, 20]
    np.testing.assert_allclose(r.to_numpy(), sc.logit(df.to_numpy()), rtol=1e-15)
    r = fl.sigmoid_grad(df, num_threads=1)
    assert isinstance(r, pd.DataFrame)


def test_xarray_container():
    xr = pytest.importorskip("xarray")
    da = xr.DataArray(np.linspace(-3, 3, 6).reshape(2, 3), dims=("row", "col"),
                      coords={"row": [1, 2], "col": ["a", "b", "c"]}, name="z")
    for fn in (fl.expit, fl.sigmoid):
        r = fn(da)
        assert isinstance(r, xr.DataArray) and r.dims == ("row", "col")
        assert list(r.coords["col"].values) == ["a", "b", "c"]
        np.testing.assert_allclose(r.values, sc.expit(da.values), rtol=1e-15)


def test_dask_is_lazy_and_right():
    da = pytest.importorskip("dask.array")
    calls = []

    def block(b):
        calls.append(1)
        return b
    x = da.from_array(np.linspace(-20, 20, 1000), chunks=250).map_blocks(
        block, meta=np.empty((0,)))
    for fn in (fl.expit, fl.sigmoid, fl.log_sigmoid):
        r = fn(x)
        assert type(r).__module__.startswith("dask")
        assert r.chunks == x.chunks
    assert not calls, "computed before .compute()"
    np.testing.assert_allclose(fl.expit(x).compute(), sc.expit(np.linspace(-20, 20, 1000)),
                               rtol=1e-15)


def test_use_threads_is_per_thread_and_nests():
    fl.set_num_threads(None)
    base = fl.get_num_threads()
    with fl.use_threads(1):
        assert fl.get_num_threads() == 1
        with fl.use_threads(3):
            assert fl.get_num_threads() == 3
            seen = []
            t = threading.Thread(target=lambda: seen.append(fl.get_num_threads()))
            t.start()
            t.join()
            assert seen == [base]            # another Python thread: not affected
        assert fl.get_num_threads() == 1
    assert fl.get_num_threads() == base
    with pytest.raises(ValueError, match="num_threads must be >= 1"):
        fl.use_threads(0)
    with pytest.raises(TypeError, match="num_threads must be an int"):
        fl.use_threads(2.5)


def test_scipy_patch_and_unpatch_bit_for_bit():
    from scipy.special import expit as expit_imported_before   # noqa: N813
    x = np.concatenate([np.linspace(-745, 745, 20_001), [np.nan, np.inf, -np.inf]])
    p = np.linspace(0, 1, 20_001)
    before = {n: getattr(sc, n)(p if n == "logit" else x) for n in SCIPY_NAMES}
    before32 = {n: getattr(sc, n)((p if n == "logit" else x).astype(np.float32))
                for n in SCIPY_NAMES}
    try:
        assert sorted(_kernels.patch_scipy_ufuncs()) == SCIPY_NAMES
        assert _kernels.patch_scipy_ufuncs() == []                 # idempotent
        for n in SCIPY_NAMES:
            v = p if n == "logit" else x
            np.testing.assert_array_equal(getattr(sc, n)(v), getattr(fl, n)(v))
            np.testing.assert_array_equal(getattr(sc, n)(v.astype(np.float32)),
                                          getattr(fl, n)(v.astype(np.float32)))
        np.testing.assert_array_equal(expit_imported_before(x), fl.expit(x))
        assert sc.expit(np.array([-720.0]))[0] > 0       # ours: the subnormal result
    finally:
        assert sorted(_kernels.unpatch_scipy_ufuncs()) == SCIPY_NAMES
    for n in SCIPY_NAMES:
        v = p if n == "logit" else x
        np.testing.assert_array_equal(getattr(sc, n)(v), before[n])
        np.testing.assert_array_equal(getattr(sc, n)(v.astype(np.float32)), before32[n])


# --- softmax / log_softmax with SciPy's semantics ------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [((7,), None), ((3, 4), None), ((3, 4), 0), ((3, 4), -1),
                                        ((2, 3, 4), (0, 2)), ((2, 3, 4), (2, 0)),
                                        ((2, 3, 4), (0, 1, 2)), ((2, 3, 4), None),
                                        ((5, 1, 3), (1,)), ((2, 3, 4), (-1, -2))])
def test_softmax_axes_as_scipy(name, shape, axis):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 30, shape)
    kw = {} if axis is None else {"axis": axis}
    got = getattr(fl, name)(x, **kw)
    want = getattr(sc, name)(x, **kw)
    assert got.shape == want.shape and got.dtype == want.dtype
    # log_softmax: a few ULP of the largest magnitude (ours keeps -1e-21 where
    # SciPy rounds to 0: the exact value is -log1p(tiny))
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13 * np.max(np.abs(want)))
    out = np.empty(shape)
    assert getattr(fl, name)(x, out=out, **kw) is out
    np.testing.assert_array_equal(out, got)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_scalars_lists_dtypes_as_scipy(name):
    f, g = getattr(fl, name), getattr(sc, name)
    for v in (1000, 3.5, np.float32(2.0), [1000, 0, 0, 0], [[1, 2], [3, 4]], (0.5, 1.5)):
        a, b = f(v), g(v)
        assert type(a) is type(b), v
        assert np.asarray(a).dtype == np.asarray(b).dtype, v
        np.testing.assert_allclose(a, b, rtol=1e-13)
    for dt in (np.int32, np.float16, np.float32):
        x = np.arange(6).reshape(2, 3).astype(dt)
        assert f(x).dtype == g(x).dtype
    with pytest.raises(ValueError, match=f"{name}: repeated axis"):
        f(np.zeros((2, 2)), axis=(0, 0))
    with pytest.raises(ValueError, match=f"{name}: axis 3 is out of bounds"):
        f(np.zeros((2, 2)), axis=(0, 3))
    with pytest.raises(TypeError, match=f"{name}: axis must be None, an int or a tuple"):
        f(np.zeros((2, 2)), axis=(0, "a"))
    with pytest.raises(ValueError, match=f"{name}: axis 1 of x with shape \\(2, 0\\) is empty"):
        f(np.zeros((2, 0)))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [None, (0, 1)])
def test_softmax_over_several_axes_leaves_masked_entries_out(name, axis):
    x = np.ma.array(np.linspace(-3, 4, 12).reshape(3, 4), mask=np.arange(12).reshape(3, 4) % 5 == 1)
    r = getattr(fl, name)(x, axis=axis)
    assert isinstance(r, np.ma.MaskedArray)
    np.testing.assert_array_equal(r.mask, x.mask)
    np.testing.assert_allclose(r.compressed(), getattr(sc, name)(x.compressed()), rtol=1e-13)
    assert np.all(np.ma.getdata(x) == np.linspace(-3, 4, 12).reshape(3, 4))     # unchanged


# --- out overlapping the input (not the same elements): the answer of the input
# before the call, on any thread count -------------------------------------------

def _overlap_ufuncs():
    ufs = [(n, getattr(fl, n)) for n in SCIPY_NAMES]
    ufs += [(n, _kernels.LIB_UFUNCS[op]) for n, op in
            (("sigmoid", _kernels.SIGMOID), ("log_sigmoid", _kernels.LOG_SIGMOID),
             ("softplus", _kernels.SOFTPLUS), ("sigmoid_grad", _kernels.SIGMOID_GRAD))]
    # the public functions with a ufunc keyword go through the same loops
    ufs += [(n + "(where=True)", (lambda f: lambda x, out: f(x, out=out, where=True))(
        getattr(fl, n))) for n in LIB_NAMES]
    return ufs


OVERLAP_N = 3 * fl.show_config(file=open(os.devnull, "w"))["parallel_threshold"] + 4099


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name,uf", _overlap_ufuncs(), ids=[u[0] for u in _overlap_ufuncs()])
def test_out_overlapping_input_shifted_any_thread_count(name, uf, dt):
    """out = x shifted by k elements (backward: out before the input, the
    overlap NumPy hands to the loop uncopied; forward: out after it), on
    arrays big enough to run threaded: every element is f of the input as it
    was before the call."""
    assert OVERLAP_N > 2 * _kernels.PARALLEL_THRESHOLD
    x0 = _inputs("logit" if name.startswith("logit") else name, OVERLAP_N, dt, seed=3)
    for threads in (1, 2, 3, 8):
        for k in (1, 4099):
            for direction in ("backward", "forward"):
                x = x0.copy()
                src, dst = (x[k:], x[:-k]) if direction == "backward" else (x[:-k], x[k:])
                want = uf(src.copy(), np.empty_like(src))
                with fl.use_threads(threads):
                    uf(src, dst)
                got = x[:-k] if direction == "backward" else x[k:]
                bad = np.flatnonzero(~((got == want) | (np.isnan(got) & np.isnan(want))))
                assert bad.size == 0, (threads, k, direction, bad[:5])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_out_overlapping_strided_and_reversed(dt):
    """Strided and reversed overlapping views, any thread count."""
    x0 = _inputs("expit", OVERLAP_N, dt, seed=4)
    views = [lambda x: (x[2::2], x[:-2:2]), lambda x: (x[:-2:2], x[2::2]),
             lambda x: (x[::-1], x), lambda x: (x[1:], x[-2::-1]),
             lambda x: (x[::2], x[: (x.size + 1) // 2])]
    for threads in (1, 2, 4):
        for view in views:
            for uf in (fl.expit, fl.log_expit):
                x = x0.copy()
                src, dst = view(x)
                want = uf(src.copy())
                with fl.use_threads(threads):
                    uf(src, out=dst)
                np.testing.assert_array_equal(dst, want)


def test_out_overlapping_with_scipy_patched():
    x0 = np.random.default_rng(0).random(OVERLAP_N)
    try:
        _kernels.patch_scipy_ufuncs()
        for uf in (sc.expit, sc.log_expit, sc.logit):
            for dt in (np.float32, np.float64):
                x = x0.astype(dt)
                want = uf(x[1:].copy())
                with fl.use_threads(4):
                    uf(x[1:], out=x[:-1])
                np.testing.assert_array_equal(x[:-1], want)
    finally:
        _kernels.unpatch_scipy_ufuncs()


def test_in_place_is_still_in_place():
    """Exact identity (out is the input) is not an overlap: computed in place."""
    for dt in (np.float32, np.float64):
        x = _inputs("expit", OVERLAP_N, dt, seed=5)
        want = fl.expit(x)
        with fl.use_threads(4):
            r = fl.expit(x, out=x)
        assert r is x
        np.testing.assert_array_equal(x, want)
