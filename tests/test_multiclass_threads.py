"""The row-per-lane multi-class kernels at threaded sizes: a Fortran-order
(N, C) array and a strided class axis, above the parallel threshold, on 1, 2
and 3 threads: the same bits for every thread count, the same bits as the
C-order array (the class counts where both layouts use lane kernels), and
values against a float64 NumPy reference."""
import numpy as np
import pytest

import fastlogistic as fl

N = 200_000          # x 10 classes: 2e6 elements, well above the parallel threshold


def _ref_softmax(z):
    z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _threads_agree(z, y, ref, rtol):
    """softmax and cross_entropy_loss_and_grad of z on 1, 2 and 3 threads:
    values against the float64 reference `ref` on one thread, the same bits
    on the others; returns the one-thread (p, loss, grad)."""
    n = len(y)
    first = None
    for k in (1, 2, 3):
        p = fl.softmax(z, axis=1, num_threads=k)
        loss, grad = fl.cross_entropy_loss_and_grad(z, y, num_threads=k)
        if first is None:
            first = (p, loss, grad)
            np.testing.assert_allclose(p, ref, rtol=rtol, atol=1e-30)
            want = -np.mean(np.log(ref[np.arange(n), y]))
            np.testing.assert_allclose(float(loss), want, rtol=rtol)
            g = ref.copy()
            g[np.arange(n), y] -= 1
            np.testing.assert_allclose(grad, g / n, rtol=rtol * 10, atol=1e-12 / n)
        else:
            np.testing.assert_array_equal(p, first[0])
            assert loss.tobytes() == first[1].tobytes()
            np.testing.assert_array_equal(grad, first[2])
    return first


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_lane_kernels_threaded(dt, layout):
    rng = np.random.default_rng(11)
    zc = (3 * rng.standard_normal((N, 10))).astype(dt)
    y = rng.integers(0, 10, N)
    if layout == "fortran":
        z = np.asfortranarray(zc)
    else:
        big = np.zeros((N, 20), dt)
        big[:, ::2] = zc
        z = big[:, ::2]
    assert not z.flags.c_contiguous
    rtol = 2e-6 if dt == np.float32 else 1e-13
    first = _threads_agree(z, y, _ref_softmax(zc), rtol)
    # 10 classes: the C-order array goes through the same lane kernel
    np.testing.assert_array_equal(fl.softmax(zc, axis=1), first[0])
    lc, gc = fl.cross_entropy_loss_and_grad(zc, y)
    assert lc.tobytes() == first[1].tobytes()
    np.testing.assert_array_equal(gc, first[2])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("view", ["nd4", "sliced1"])
def test_nd_class_axis_threaded(simd_level, dt, view):
    """(N, C, d1, d2) with the class axis 1, about 2e6 elements: the rows of
    a sample (d1 x d2 = 9999, not a multiple of a vector's lanes) and the
    fixed blocks of rows cut across samples, so lane blocks span two
    samples.  Same bits for every thread count and as the class-last
    C-order array, at every level; values against float64 NumPy.  Then
    categorical cross-entropy on the probabilities in the same layout."""
    rng = np.random.default_rng(12)
    shape = (21, 10, 99, 101)
    zc = (3 * rng.standard_normal(shape)).astype(dt)
    y = rng.integers(0, 10, (21, 99, 101))
    if view == "nd4":
        z = zc
    else:                  # a sample's rows not contiguous with the next's
        big = np.zeros((21, 10, 101, 101), dt)
        big[:, :, 1:-1] = zc
        z = big[:, :, 1:-1]
    zl = np.ascontiguousarray(np.moveaxis(zc, 1, -1))
    rtol = 2e-6 if dt == np.float32 else 1e-13
    first = None
    for k in (1, 2, 3):
        p = fl.softmax(z, axis=1, num_threads=k)
        loss, grad = fl.cross_entropy_loss_and_grad(z, y, axis=1, num_threads=k)
        if first is None:
            first = (p, loss, grad)
            ref = np.moveaxis(_ref_softmax(zl.reshape(-1, 10)).reshape(zl.shape), -1, 1)
            np.testing.assert_allclose(p, ref, rtol=rtol, atol=1e-30)
            py = np.take_along_axis(ref, y[:, None], axis=1)
            want = -np.mean(np.log(py))
            np.testing.assert_allclose(float(loss), want, rtol=rtol)
            g = ref.copy()
            np.put_along_axis(g, y[:, None], py - 1, axis=1)
            np.testing.assert_allclose(grad, g / y.size, rtol=rtol * 10, atol=1e-12 / y.size)
        else:
            np.testing.assert_array_equal(p, first[0])
            assert loss.tobytes() == first[1].tobytes()
            np.testing.assert_array_equal(grad, first[2])
    np.testing.assert_array_equal(np.moveaxis(fl.softmax(zl, axis=-1), -1, 1), first[0])
    lc, gc = fl.cross_entropy_loss_and_grad(zl, y)
    assert lc.tobytes() == first[1].tobytes()
    np.testing.assert_array_equal(np.moveaxis(gc, -1, 1), first[2])
    # categorical cross-entropy on the probabilities, the same layout
    if view == "nd4":
        p = first[0]
    else:
        big[:, :, 1:-1] = first[0]
        p = big[:, :, 1:-1]
    cce = [(fl.categorical_cross_entropy(p, y, axis=1, num_threads=k),
            fl.categorical_cross_entropy_grad(p, y, axis=1, reduction="sum", num_threads=k))
           for k in (1, 2, 3)]
    for c, g in cce[1:]:
        assert c.tobytes() == cce[0][0].tobytes()
        np.testing.assert_array_equal(g, cce[0][1])
    np.testing.assert_allclose(float(cce[0][0]), float(loss), rtol=rtol)
    py = np.take_along_axis(p, y[:, None], axis=1)
    g = np.zeros(p.shape)
    np.put_along_axis(g, y[:, None], -1 / py, axis=1)
    np.testing.assert_allclose(cce[0][1], g, rtol=4 * np.finfo(dt).eps)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("C", [2, 40, 300])
def test_wide_rows_threaded(dt, C):
    """Above 1e6 elements on 1 to 3 threads: C-order rows of 2 classes (the
    binary form, its loss summed lazily) and of 40 classes (row
    per lane at AVX-512, blocks moved by register transposes) and
    Fortran-order rows of 300 (row per lane at any class count): the same
    bits for every thread count, into a strided `out` and in place; values
    against float64; C and Fortran order the same bits where C order runs
    row per lane too."""
    from fastlogistic import _kernels
    n = 1_200_000 // C
    rng = np.random.default_rng(C)
    zc = (4 * rng.standard_normal((n, C))).astype(dt)
    y = rng.integers(0, C, n)
    ref = _ref_softmax(zc)
    rtol = 2e-6 if dt == np.float32 else 1e-13
    got = {}
    for name, z in (("C", zc), ("F", np.asfortranarray(zc))):
        first = _threads_agree(z, y, ref, rtol)
        big = np.full((n, 2 * C), np.nan, dt)
        fl.softmax(z, axis=1, out=big[:, 1::2], num_threads=2)
        np.testing.assert_array_equal(big[:, 1::2], first[0])
        assert np.all(np.isnan(big[:, ::2]))
        b = z.copy(order="K")
        assert fl.softmax(b, axis=1, out=b, num_threads=2) is b
        np.testing.assert_array_equal(b, first[0])
        got[name] = first
    if C <= _kernels.lanes_maxc(dt == np.float64):
        for a, b in zip(got["C"], got["F"]):
            assert a.tobytes() == b.tobytes() if a.ndim == 0 else np.array_equal(a, b)
