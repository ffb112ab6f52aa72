"""The registry of the public names: it is what ``fastlogistic`` exports, each
record's module defines its object, the container rule is what the public
object does, and the layers below the face reach the functions through it
(no import of the package face)."""
import ast
import glob
import os

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _registry
from fastlogistic._integrations import containers

ROOT = os.path.dirname(os.path.abspath(fl.__file__))
KINDS = {"ufunc", "elementwise", "binary", "softmax", "multiclass", "log_loss", "config",
         "patch"}


def test_records_are_well_formed():
    names = [p.name for p in _registry.PUBLIC]
    assert len(names) == len(set(names))
    for p in _registry.PUBLIC:
        assert p.kind in KINDS, p
        assert set(p.outputs) <= {"value", "loss", "grad", "hess"}, p
        assert p.containers in ("", "ufunc", "wrap", "positional"), p
        assert bool(p.outputs) == bool(p.containers), p
        assert _registry.by_name(p.name) is p
    with pytest.raises(KeyError):
        _registry.by_name("nope")


def test_all_is_the_registry():
    assert fl.__all__ == [p.name for p in _registry.PUBLIC] + ["__version__"]
    assert set(_registry.names()) == set(fl.__all__) - {"__version__"}


@pytest.mark.parametrize("rec", _registry.PUBLIC, ids=lambda p: p.name)
def test_public_object_follows_its_record(rec):
    obj = getattr(fl, rec.name)
    assert obj is containers.public(rec.name)
    inner = containers.numpy_function(rec.name)
    if rec.containers in ("wrap", "positional"):
        assert obj.__wrapped__ is inner and obj.__wrapped_containers__
    else:
        assert obj is inner
    if rec.kind == "ufunc":
        assert isinstance(obj, np.ufunc)


@pytest.mark.parametrize("rec", [p for p in _registry.PUBLIC
                                 if p.kind in ("binary", "multiclass")], ids=lambda p: p.name)
def test_outputs_are_what_the_function_returns(rec):
    f = getattr(fl, rec.name)
    if rec.kind == "binary":
        res = f(np.full((3, 2), 0.25), np.full((3, 2), 0.5), reduction="none")
    elif rec.name.startswith("categorical"):
        res = f(np.full((3, 2), 0.5), np.full((3, 2), 0.5), reduction="none")
    else:
        res = f(np.zeros((3, 2)), np.array([0, 1, 0]), reduction="none")
    res = res if isinstance(res, tuple) else (res,)
    assert len(res) == len(rec.outputs)


def _face_imports(path, package):
    """Imports of the package face in a module: `import fastlogistic` or
    `from fastlogistic import X` / `from .. import X` where X is not a
    submodule."""
    with open(path) as fh:
        tree = ast.parse(fh.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "fastlogistic"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package[:len(package) - node.level + 1]
                mod = ".".join(parts + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "fastlogistic":
                found += [a.name for a in node.names
                          if not os.path.exists(os.path.join(ROOT, a.name + ".py"))
                          and not os.path.isdir(os.path.join(ROOT, a.name))
                          and not a.name.startswith("_kernels")]
    return found


# every module below the face: the NumPy API, the registry, the adapters
_BELOW_FACE = sorted(
    os.path.relpath(p, ROOT)
    for p in glob.glob(os.path.join(ROOT, "*.py")) + glob.glob(os.path.join(ROOT, "_integrations", "*.py"))
    if os.path.basename(p) not in ("__init__.py", "__main__.py"))


@pytest.mark.parametrize("rel", _BELOW_FACE)
def test_no_import_of_the_face(rel):
    package = ["fastlogistic"] + rel.split("/")[:-1]
    assert _face_imports(os.path.join(ROOT, rel), package) == []


def test_registry_imports_nothing_of_the_package():
    with open(os.path.join(ROOT, "_registry.py")) as fh:
        tree = ast.parse(fh.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("fastlogistic")
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("fastlogistic") for a in node.names)
